//! The back office's promotions (`/admin/promotions`, admins): promo codes and festival
//! campaigns — listed with their uses, added from a form whose refusals are said beside
//! the field, ended early. Every change is audited by the store. Pricing is not here: it
//! is the one rule of `simrenew_core::promotion`, applied by the store on every channel.

use super::admin::{StaffCtx, staff_form};
use super::i18n::{MOSCOW, Tr};
use super::{Ctx, render_status, see_other};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use simrenew_core::promotion::{Discount, PromoCode, Promotion};
use simrenew_core::staff::Permission;
use simrenew_core::{Currency, Localized, Money};
use simrenew_store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/promotions", get(page).post(add))
        .route("/admin/promotions/end", post(end))
}

/// What the form sent, kept to show again with its errors.
#[derive(Clone, Default)]
struct PromoForm {
    name_en: String,
    name_ru: String,
    name_zh: String,
    code: String,
    kind: String,
    percent: String,
    amount: String,
    currency: String,
    from: String,
    to: String,
    plans: String,
    channels: Vec<String>,
    per_customer: String,
    total: String,
}

/// One promotion as the table shows it.
struct Row {
    id: String,
    /// The code, or "campaign".
    code: String,
    name: String,
    discount: String,
    window: String,
    /// Plans, channels and the per-customer limit.
    scope: String,
    uses: String,
    running: bool,
}

#[derive(Template)]
#[template(path = "admin_promotions.html")]
struct PromotionsPage {
    ctx: Ctx,
    rows: Vec<Row>,
    form: PromoForm,
    errors: Vec<(&'static str, String)>,
    done: Option<String>,
}

impl PromotionsPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, e)| e)
    }
    fn has_channel(&self, c: &str) -> bool {
        self.form.channels.iter().any(|x| x == c)
    }
}

async fn page(
    State(s): State<AppState>,
    st: StaffCtx,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Err(r) = st.require(Permission::Promotions) {
        return r;
    }
    let done = q
        .contains_key("added")
        .then(|| st.ctx.t.t("admin-promo-added"));
    let form = PromoForm {
        kind: "percent".into(),
        currency: "RUB".into(),
        ..PromoForm::default()
    };
    view(&s, &st, form, Vec::new(), done, StatusCode::OK).await
}

async fn view(
    s: &AppState,
    st: &StaffCtx,
    form: PromoForm,
    errors: Vec<(&'static str, String)>,
    done: Option<String>,
    status: StatusCode,
) -> Response {
    let t = st.ctx.t;
    let list = match s.store.promotions().await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "promotions");
            return super::site::unavailable(&st.ctx);
        }
    };
    let now = simrenew_store::db::now();
    let rows = list
        .iter()
        .map(|r| {
            let p = &r.promotion;
            let uses = match p.total_limit {
                Some(l) => format!("{} / {l}", r.redeemed),
                None => r.redeemed.to_string(),
            };
            let mut scope = if p.plans.is_empty() {
                t.t("admin-promo-all-plans")
            } else {
                p.plans.join(", ")
            };
            if !p.channels.is_empty() {
                scope = format!("{scope} · {}", p.channels.join(", "));
            }
            if let Some(l) = p.per_customer_limit {
                scope = format!(
                    "{scope} · {}",
                    t.n("admin-promo-per-customer-n", i64::from(l))
                );
            }
            Row {
                id: p.id.clone(),
                code: p
                    .code
                    .as_ref()
                    .map_or_else(|| t.t("admin-promo-campaign"), |c| c.to_string()),
                name: p.names.get(t.locale).to_string(),
                discount: discount_text(&t, p.discount),
                window: format!("{} – {}", t.datetime(p.starts_at), t.datetime(p.ends_at)),
                scope,
                uses,
                running: p.is_running(now),
            }
        })
        .collect();
    render_status(
        status,
        &PromotionsPage {
            ctx: st.ctx.clone(),
            rows,
            form,
            errors,
            done,
        },
    )
}

fn discount_text(t: &Tr, d: Discount) -> String {
    match d {
        Discount::Percent { percent } => format!("−{percent}%"),
        Discount::Fixed { amount } => format!("−{}", t.money(amount)),
    }
}

/// Reads the form into a promotion, or says what is wrong beside each field.
fn check(t: &Tr, f: &PromoForm) -> Result<Promotion, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    // Only the languages given: the others fall back to English, then to any given.
    let mut names = Localized(
        [
            (simrenew_core::Locale::En, &f.name_en),
            (simrenew_core::Locale::Ru, &f.name_ru),
            (simrenew_core::Locale::Zh, &f.name_zh),
        ]
        .into_iter()
        .filter(|(_, n)| !n.trim().is_empty())
        .map(|(l, n)| (l, n.trim().to_string()))
        .collect(),
    );
    if !names.0.contains_key(&simrenew_core::Locale::En)
        && let Some(any) = names.0.values().next().cloned()
    {
        names.0.insert(simrenew_core::Locale::En, any);
    }
    if f.name_en.trim().is_empty() && f.name_ru.trim().is_empty() && f.name_zh.trim().is_empty() {
        errors.push(("name", t.t("admin-promo-err-name")));
    }
    let code = match f.code.trim() {
        "" => None,
        c => match PromoCode::parse(c) {
            Ok(c) => Some(c),
            Err(_) => {
                errors.push(("code", t.t("err-promo-format")));
                None
            }
        },
    };
    let discount = if f.kind == "fixed" {
        let currency = f.currency.parse::<Currency>().unwrap_or(Currency::Rub);
        Money::parse_major(&f.amount.replace(',', "."), currency)
            .ok()
            .and_then(|m| Discount::fixed(m).ok())
    } else {
        f.percent
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|p| Discount::percent(p).ok())
    };
    if discount.is_none() {
        errors.push(("discount", t.t("admin-promo-err-discount")));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let day = |v: &str| time::Date::parse(v.trim(), fmt).ok();
    let window = match (day(&f.from), day(&f.to)) {
        (Some(from), Some(to)) if from <= to => Some((
            from.midnight().assume_offset(MOSCOW),
            (to + time::Duration::days(1))
                .midnight()
                .assume_offset(MOSCOW),
        )),
        _ => {
            errors.push(("window", t.t("admin-promo-err-window")));
            None
        }
    };
    let limit =
        |v: &str, field: &'static str, errors: &mut Vec<(&'static str, String)>| match v.trim() {
            "" => None,
            n => match n.parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    errors.push((field, t.t("admin-promo-err-limit")));
                    None
                }
            },
        };
    let per_customer_limit = limit(&f.per_customer, "per_customer", &mut errors);
    let total_limit = limit(&f.total, "total", &mut errors);
    match (discount, window) {
        (Some(discount), Some((starts_at, ends_at))) if errors.is_empty() => Ok(Promotion {
            id: String::new(),
            code,
            names,
            discount,
            starts_at,
            ends_at,
            plans: f
                .plans
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            channels: f.channels.clone(),
            per_customer_limit,
            total_limit,
        }),
        _ => Err(errors),
    }
}

async fn add(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::Promotions).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = st.ctx.t;
    let typed = PromoForm {
        name_en: form.get("name_en").to_string(),
        name_ru: form.get("name_ru").to_string(),
        name_zh: form.get("name_zh").to_string(),
        code: form.get("code").to_string(),
        kind: form.get("kind").to_string(),
        percent: form.get("percent").to_string(),
        amount: form.get("amount").to_string(),
        currency: form.get("currency").to_string(),
        from: form.get("from").to_string(),
        to: form.get("to").to_string(),
        plans: form.get("plans").to_string(),
        channels: simrenew_core::plan::CHANNELS
            .iter()
            .filter(|c| form.get(&format!("ch_{c}")) == "1")
            .map(|c| c.to_string())
            .collect(),
        per_customer: form.get("per_customer").to_string(),
        total: form.get("total").to_string(),
    };
    let promotion = match check(&t, &typed) {
        Ok(p) => p,
        Err(errors) => {
            return view(
                &s,
                &st,
                typed,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match s.store.add_promotion(&st.staff.actor(), &promotion).await {
        Ok(_) => see_other("/admin/promotions?added=1"),
        Err(StoreError::Invalid { field, .. }) => {
            let e = match field.as_str() {
                "code" => ("code", t.t("admin-promo-err-code-taken")),
                "plans" => ("plans", t.t("admin-promo-err-plans")),
                _ => ("form", t.t("err-invalid")),
            };
            view(
                &s,
                &st,
                typed,
                vec![e],
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "adding a promotion");
            super::site::unavailable(&st.ctx)
        }
    }
}

async fn end(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::Promotions).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s
        .store
        .end_promotion(&st.staff.actor(), form.get("id"))
        .await
    {
        Ok(()) => {
            let done = st.ctx.t.t("admin-promo-ended");
            let form = PromoForm {
                kind: "percent".into(),
                currency: "RUB".into(),
                ..PromoForm::default()
            };
            view(&s, &st, form, Vec::new(), Some(done), StatusCode::OK).await
        }
        Err(StoreError::Invalid { .. }) => super::site::not_found(st.ctx.clone()),
        Err(e) => {
            tracing::error!(error = %e, "ending a promotion");
            super::site::unavailable(&st.ctx)
        }
    }
}
