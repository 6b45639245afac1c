//! The back office's catalog (`/admin/catalog`, admins): every plan and add-on, sold or
//! retired, with its data, period, prices per currency, channels and names in our three
//! languages; a form to add one or change one, whose refusals are said beside the field;
//! retiring a plan and selling it again. The rules a plan must keep are
//! `simrenew_core::Plan::check`, asked again by the store, which audits every change.
//! Orders already placed keep the plan as it was (the store keeps it with the order).
//!
//! Operators are not edited here: an operator is a network (MCC 250 and its MNCs), known
//! to the code that reads IMSIs and ICCIDs, not a catalog entry.

use super::admin::{StaffCtx, staff_form};
use super::i18n::Tr;
use super::{Ctx, render_status, see_other};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use simrenew_core::plan::CHANNELS;
use simrenew_core::staff::Permission;
use simrenew_core::{
    Currency, DataAllowance, Locale, Localized, Money, Operator, Plan, PlanKind, Validity,
};
use simrenew_store::StoreError;
use simrenew_store::upstream::Supplier;
use std::collections::BTreeMap;

const GB: u64 = 1 << 30;
const MB: u64 = 1 << 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/catalog", get(list_page))
        .route("/admin/catalog/new", get(new_page))
        .route("/admin/catalog/plans/{id}", get(edit_page))
        .route("/admin/catalog/plans", post(save))
        .route("/admin/catalog/active", post(set_active))
}

/// One plan as the catalog's table shows it.
struct Row {
    id: String,
    name: String,
    operator: String,
    kind: String,
    period: String,
    data: String,
    prices: String,
    channels: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "admin_catalog.html")]
struct CatalogPage {
    ctx: Ctx,
    rows: Vec<Row>,
    done: Option<String>,
}

/// What the plan form sent (or the plan being edited), kept to show again with errors.
#[derive(Clone, Default)]
struct PlanForm {
    /// Changing a plan that exists (its id, operator and kind are fixed).
    editing: bool,
    id: String,
    operator: String,
    kind: String,
    /// day, week, month, year or days
    unit: String,
    days: String,
    amount: String,
    /// GB or MB
    data_unit: String,
    unlimited: bool,
    renewable: bool,
    names: BTreeMap<&'static str, String>,
    prices: BTreeMap<&'static str, String>,
    channels: Vec<String>,
    sort: String,
    /// The eSIM Access package that fulfils the plan (empty: our own buckets).
    supplier: String,
}

#[derive(Template)]
#[template(path = "admin_plan.html")]
struct PlanPage {
    ctx: Ctx,
    form: PlanForm,
    errors: Vec<(&'static str, String)>,
    operators: Vec<(&'static str, &'static str)>,
    currencies: Vec<&'static str>,
    channels: Vec<&'static str>,
    /// The validity choices: (unit, label).
    units: Vec<(&'static str, String)>,
}

impl PlanPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, e)| e)
    }
    fn has_channel(&self, c: &str) -> bool {
        self.form.channels.iter().any(|x| x == c)
    }
    fn name(&self, lang: &str) -> &str {
        self.form.names.get(lang).map_or("", String::as_str)
    }
    fn price(&self, currency: &str) -> &str {
        self.form.prices.get(currency).map_or("", String::as_str)
    }
}

/// The form's name fields: (field suffix, locale, label).
const NAME_FIELDS: [(&str, Locale, &str); 3] = [
    ("zh", Locale::Zh, "中文"),
    ("ru", Locale::Ru, "Русский"),
    ("en", Locale::En, "English"),
];

fn data_amount(bytes: u64) -> (String, &'static str) {
    if bytes.is_multiple_of(GB) {
        ((bytes / GB).to_string(), "GB")
    } else {
        ((bytes / MB).to_string(), "MB")
    }
}

impl PlanForm {
    fn blank() -> Self {
        Self {
            operator: Operator::Mts.code().into(),
            kind: "base".into(),
            unit: "month".into(),
            data_unit: "GB".into(),
            renewable: true,
            channels: CHANNELS.iter().map(|c| c.to_string()).collect(),
            sort: "100".into(),
            ..Self::default()
        }
    }

    fn of(plan: &Plan, sort_key: i64, supplier: Option<Supplier>) -> Self {
        let (amount, data_unit) = data_amount(plan.data.bucket_bytes());
        Self {
            editing: true,
            id: plan.id.clone(),
            operator: plan.operator.code().into(),
            kind: plan.kind.code().into(),
            unit: plan.validity.unit().into(),
            days: match plan.validity {
                Validity::Days(n) => n.to_string(),
                _ => String::new(),
            },
            amount,
            data_unit: data_unit.into(),
            unlimited: plan.data.is_unlimited(),
            renewable: plan.renewable,
            names: NAME_FIELDS
                .iter()
                .filter_map(|(f, l, _)| plan.names.0.get(l).map(|n| (*f, n.clone())))
                .collect(),
            prices: plan
                .prices
                .iter()
                .map(|(c, m)| (c.code(), Money::new(*m, *c).major_string()))
                .collect(),
            channels: plan.channels.clone(),
            sort: sort_key.to_string(),
            supplier: supplier.map(|s| s.package_code).unwrap_or_default(),
        }
    }

    /// Who the form says fulfils the plan: eSIM Access with the package typed, or us.
    fn supplier(&self) -> Option<Supplier> {
        let code = self.supplier.trim();
        (!code.is_empty()).then(|| Supplier {
            adapter: simrenew_esim::upstream::esimaccess::NAME.into(),
            package_code: code.to_string(),
        })
    }

    fn from_form(form: &super::CheckedForm) -> Self {
        Self {
            editing: form.get("editing") == "1",
            id: form.get("id").to_string(),
            operator: form.get("operator").to_string(),
            kind: form.get("kind").to_string(),
            unit: form.get("unit").to_string(),
            days: form.get("days").to_string(),
            amount: form.get("amount").to_string(),
            data_unit: form.get("data_unit").to_string(),
            unlimited: form.get("unlimited") == "1",
            renewable: form.get("renewable") == "1",
            names: NAME_FIELDS
                .iter()
                .map(|(f, _, _)| (*f, form.get(&format!("name_{f}")).to_string()))
                .filter(|(_, n)| !n.is_empty())
                .collect(),
            prices: Currency::ALL
                .iter()
                .map(|c| {
                    (
                        c.code(),
                        form.get(&format!("price_{}", c.code())).to_string(),
                    )
                })
                .filter(|(_, p)| !p.is_empty())
                .collect(),
            channels: CHANNELS
                .iter()
                .filter(|c| form.get(&format!("ch_{c}")) == "1")
                .map(|c| c.to_string())
                .collect(),
            sort: form.get("sort").to_string(),
            supplier: form.get("supplier").trim().to_string(),
        }
    }

    /// The plan this form describes and where it is listed, or what is wrong, by field.
    fn check(&self, t: &Tr) -> Result<(Plan, i64), Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let operator = self.operator.parse::<Operator>().ok();
        if operator.is_none() {
            errors.push(("operator", t.t("admin-plan-err-operator")));
        }
        let kind = self.kind.parse::<PlanKind>().ok();
        if kind.is_none() {
            errors.push(("kind", t.t("admin-plan-err-kind")));
        }
        let count = match self.unit.as_str() {
            "days" => self.days.trim().parse::<i64>().unwrap_or(0),
            _ => 1,
        };
        let validity = Validity::from_parts(&self.unit, count);
        if validity.is_none() {
            errors.push(("validity", t.t("admin-plan-err-validity")));
        }
        let unit = match self.data_unit.as_str() {
            "MB" => MB,
            _ => GB,
        };
        let bytes = parse_amount(&self.amount, unit);
        if bytes.is_none() {
            errors.push(("data", t.t("admin-plan-err-data")));
        }
        let mut prices = BTreeMap::new();
        for c in Currency::ALL {
            if let Some(text) = self.prices.get(c.code()) {
                match Money::parse_major(&text.replace(',', "."), c) {
                    Ok(m) if m.minor > 0 => {
                        prices.insert(c, m.minor);
                    }
                    _ => errors.push(("prices", t.t("admin-plan-err-price"))),
                }
            }
        }
        let sort_key = match self.sort.trim() {
            "" => 100,
            s => s.parse::<i64>().unwrap_or_else(|_| {
                errors.push(("sort", t.t("admin-plan-err-sort")));
                0
            }),
        };
        let names = Localized(
            NAME_FIELDS
                .iter()
                .filter_map(|(f, l, _)| self.names.get(f).map(|n| (*l, n.trim().to_string())))
                .filter(|(_, n)| !n.is_empty())
                .collect(),
        );
        let (Some(operator), Some(kind), Some(validity), Some(bytes)) =
            (operator, kind, validity, bytes)
        else {
            return Err(errors);
        };
        let plan = Plan {
            id: self.id.trim().to_string(),
            operator,
            kind,
            validity,
            data: if self.unlimited {
                DataAllowance::Unlimited {
                    fair_use_bytes: bytes,
                }
            } else {
                DataAllowance::Bytes { bytes }
            },
            names,
            prices,
            renewable: self.renewable,
            channels: self.channels.clone(),
        };
        if errors.is_empty()
            && let Err(e) = plan.check()
        {
            errors.push(plan_error(t, e.field));
        }
        if errors.is_empty() {
            Ok((plan, sort_key))
        } else {
            Err(errors)
        }
    }
}

/// "30", "0.5", "1,5" of `unit`, in whole bytes.
fn parse_amount(text: &str, unit: u64) -> Option<u64> {
    let text = text.trim().replace(',', ".");
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 3
        || whole.len() > 8
    {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_milli: u64 = format!("{frac:0<3}").parse().ok()?;
    let bytes = whole.checked_mul(unit)? + frac_milli * unit / 1000;
    (bytes > 0).then_some(bytes)
}

/// A refusal of the plan rule (`Plan::check`), said beside its field.
fn plan_error(t: &Tr, field: &str) -> (&'static str, String) {
    match field {
        "id" => ("id", t.t("admin-plan-err-id")),
        "names" => ("names", t.t("admin-plan-err-names")),
        "data" => ("data", t.t("admin-plan-err-data")),
        "prices" => ("prices", t.t("admin-plan-err-price")),
        "channels" => ("channels", t.t("admin-plan-err-channels")),
        "operator" => ("operator", t.t("admin-plan-err-fixed")),
        "kind" => ("kind", t.t("admin-plan-err-fixed")),
        "supplier" => ("supplier", t.t("admin-plan-err-supplier")),
        _ => ("form", t.t("err-invalid")),
    }
}

async fn list_page(
    State(s): State<AppState>,
    st: StaffCtx,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Err(r) = st.require(Permission::Catalog) {
        return r;
    }
    let t = st.ctx.t;
    let done = if let Some(id) = q.get("saved") {
        Some(t.s("admin-plan-saved", "id", id))
    } else if let Some(id) = q.get("retired") {
        Some(t.s("admin-plan-retired", "id", id))
    } else {
        q.get("restored")
            .map(|id| t.s("admin-plan-restored", "id", id))
    };
    let catalog = match s.store.catalog().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "catalog");
            return super::site::unavailable(&st.ctx);
        }
    };
    let rows = catalog
        .iter()
        .map(|e| {
            let p = &e.plan;
            Row {
                id: p.id.clone(),
                name: p.names.get(t.locale).to_string(),
                operator: p.operator.name(t.locale).to_string(),
                kind: if p.kind == PlanKind::AddOn {
                    t.t("addon")
                } else {
                    t.t("admin-plan-base")
                },
                period: super::plans::validity_text(&t, p.validity),
                data: super::plans::data_text(&t, p.data),
                prices: p
                    .prices
                    .iter()
                    .map(|(c, m)| t.money(Money::new(*m, *c)))
                    .collect::<Vec<_>>()
                    .join(" · "),
                channels: p.channels.join(", "),
                active: e.active,
            }
        })
        .collect();
    render_status(
        StatusCode::OK,
        &CatalogPage {
            ctx: st.ctx.clone(),
            rows,
            done,
        },
    )
}

fn plan_view(
    st: &StaffCtx,
    form: PlanForm,
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> Response {
    let t = st.ctx.t;
    render_status(
        status,
        &PlanPage {
            ctx: st.ctx.clone(),
            form,
            errors,
            operators: Operator::ALL
                .iter()
                .map(|o| (o.code(), o.name(t.locale)))
                .collect(),
            currencies: Currency::ALL.iter().map(|c| c.code()).collect(),
            channels: CHANNELS.to_vec(),
            units: vec![
                ("day", t.t("validity-day")),
                ("week", t.t("validity-week")),
                ("month", t.t("validity-month")),
                ("year", t.t("validity-year")),
                ("days", t.t("period-days")),
            ],
        },
    )
}

async fn new_page(st: StaffCtx) -> Response {
    if let Err(r) = st.require(Permission::Catalog) {
        return r;
    }
    plan_view(&st, PlanForm::blank(), Vec::new(), StatusCode::OK)
}

async fn edit_page(State(s): State<AppState>, st: StaffCtx, Path(id): Path<String>) -> Response {
    if let Err(r) = st.require(Permission::Catalog) {
        return r;
    }
    match (s.store.catalog().await, s.store.upstream_plan(&id).await) {
        (Ok(c), Ok(supplier)) => match c.iter().find(|e| e.plan.id == id) {
            Some(e) => plan_view(
                &st,
                PlanForm::of(&e.plan, e.sort_key, supplier),
                Vec::new(),
                StatusCode::OK,
            ),
            None => super::site::not_found(st.ctx.clone()),
        },
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "catalog");
            super::site::unavailable(&st.ctx)
        }
    }
}

async fn save(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::Catalog).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = st.ctx.t;
    let typed = PlanForm::from_form(&form);
    let (plan, sort_key) = match typed.check(&t) {
        Ok(p) => p,
        Err(errors) => return plan_view(&st, typed, errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    match s
        .store
        .save_plan(
            &st.staff.actor(),
            &plan,
            sort_key,
            !typed.editing,
            typed.supplier().as_ref(),
        )
        .await
    {
        Ok(()) => see_other(&format!(
            "/admin/catalog?saved={}",
            super::urlencode(&plan.id)
        )),
        Err(StoreError::Invalid { field, .. }) => {
            // The form asked the plan rule already; what only the store can see is
            // an id another plan has.
            let e = if field == "id" {
                ("id", t.t("admin-plan-err-id-taken"))
            } else {
                plan_error(&t, &field)
            };
            plan_view(&st, typed, vec![e], StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(StoreError::PlanNotFound(_)) => super::site::not_found(st.ctx.clone()),
        Err(e) => {
            tracing::error!(error = %e, "saving a plan");
            super::site::unavailable(&st.ctx)
        }
    }
}

async fn set_active(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::Catalog).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let id = form.get("id");
    let active = form.get("active") == "1";
    match s.store.set_plan_active(&st.staff.actor(), id, active).await {
        Ok(()) => see_other(&format!(
            "/admin/catalog?{}={}",
            if active { "restored" } else { "retired" },
            super::urlencode(id)
        )),
        Err(StoreError::PlanNotFound(_)) => super::site::not_found(st.ctx.clone()),
        Err(e) => {
            tracing::error!(error = %e, "retiring a plan");
            super::site::unavailable(&st.ctx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_amounts_read_as_staff_type_them() {
        assert_eq!(parse_amount("30", GB), Some(30 * GB));
        assert_eq!(parse_amount("1,5", GB), Some(3 * GB / 2));
        assert_eq!(parse_amount(".5", GB), Some(GB / 2));
        assert_eq!(parse_amount("500", MB), Some(500 * MB));
        for bad in ["", "0", "-1", "1e3", "1.2345", "30 GB", "999999999"] {
            assert_eq!(parse_amount(bad, GB), None, "{bad:?}");
        }
        assert_eq!(data_amount(30 * GB), ("30".into(), "GB"));
        assert_eq!(data_amount(500 * MB), ("500".into(), "MB"));
    }
}
