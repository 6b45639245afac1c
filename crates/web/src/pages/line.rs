//! Renewing a line (anyone, by its number or ICCID, as anyone may pay for a phone number
//! in Russia) and the owner's page of a line (data left, days left, balance, plans, orders).

use super::i18n::Tr;
use super::plans::{PlanCard, price_for};
use super::{CheckedForm, Ctx, line_link_valid, render, render_status, see_other, site};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use simrenew_core::{Currency, LineRef, Money, Plan, PlanKind, StartMode, advice};
use simrenew_store::StoreError;
use simrenew_store::catalog::PlanFilter;
use simrenew_store::idempotency::{Idem, IdemClaim};
use simrenew_store::lines::{Line, LineDetail};
use simrenew_store::orders::{ItemRequest, Order, OrderRequest, Payment};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/renew", get(renew_lookup))
        .route("/renew/{line}", get(renew_page).post(renew_submit))
        .route("/lines/{line}", get(line_page))
}

/// The path segment that names a line: its MSISDN digits or its ICCID.
pub fn line_key(r: &LineRef) -> String {
    match r {
        LineRef::Msisdn(m) => m.as_str().to_string(),
        LineRef::Iccid(i) => i.as_str().to_string(),
    }
}

/// A typed line reference, or the reason it is not one in the reader's language.
pub fn parse_line(t: &Tr, input: &str) -> Result<LineRef, String> {
    LineRef::parse(input).map_err(|e| super::id_error_text(t, &e))
}

/// `GET /renew?line=…` (the home form): to the line's canonical page, or back home with
/// the reason beside the box.
async fn renew_lookup(
    State(s): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let input = q.get("line").map_or("", |v| v.trim());
    let r = match parse_line(&ctx.t, input) {
        Ok(r) => r,
        Err(e) => return site::home_with_error(ctx, input, e),
    };
    match s.store.find_line(&r).await {
        Ok(_) => see_other(&format!("/renew/{}", line_key(&r))),
        Err(StoreError::LineNotFound(_)) => {
            let e = ctx.t.t("err-line-not-found");
            site::home_with_error(ctx, input, e)
        }
        Err(e) => {
            tracing::error!(error = %e, "line lookup");
            site::unavailable(&ctx)
        }
    }
}

#[derive(Template)]
#[template(path = "renew.html")]
struct RenewPage {
    ctx: Ctx,
    key: String,
    number: String,
    operator: String,
    esim: bool,
    owner: bool,
    balance: String,
    current_until: Option<String>,
    base: Vec<PlanCard>,
    addons: Vec<PlanCard>,
    /// Payment choices: (value, label, checked)
    methods: Vec<(String, String, bool)>,
    start_now: bool,
    link_key: String,
    idem: String,
    errors: Errors,
    /// The top-up amount typed, kept when refused.
    topup: String,
    promo: String,
    topup_idem: String,
    topup_methods: Vec<(String, String, bool)>,
}

/// Errors shown beside the fields of the renewal page's forms.
#[derive(Default)]
struct Errors {
    plan: Option<String>,
    pay: Option<String>,
    amount: Option<String>,
    promo: Option<String>,
}

/// What the renewal form sent back, to show again with its errors.
#[derive(Default)]
struct Chosen {
    plan: Option<String>,
    pay: Option<String>,
    start_now: bool,
    k: String,
    /// A top-up of the balance instead of a plan: the amount as typed.
    topup: Option<String>,
    /// Keep the card for later charges (signed-in buyers).
    save: bool,
    /// The promo code as typed.
    promo: String,
}

async fn renew_page(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let chosen = Chosen {
        plan: q.get("plan").cloned(),
        pay: None,
        start_now: false,
        k: q.get("k").cloned().unwrap_or_default(),
        topup: None,
        save: false,
        promo: q.get("promo").cloned().unwrap_or_default(),
    };
    renew_view(&s, ctx, &key, chosen, Errors::default(), StatusCode::OK).await
}

async fn renew_view(
    s: &AppState,
    ctx: Ctx,
    key: &str,
    chosen: Chosen,
    errors: Errors,
    status: StatusCode,
) -> Response {
    let r = match parse_line(&ctx.t, key) {
        Ok(r) => r,
        Err(e) => return site::home_with_error(ctx, key, e),
    };
    let line = match s.store.find_line(&r).await {
        Ok(l) => l,
        Err(StoreError::LineNotFound(_)) => {
            let e = ctx.t.t("err-line-not-found");
            return site::home_with_error(ctx, key, e);
        }
        Err(e) => {
            tracing::error!(error = %e, "line lookup");
            return site::unavailable(&ctx);
        }
    };
    if line.is_suspended() {
        return site::message(
            ctx,
            StatusCode::CONFLICT,
            "line-suspended-title",
            "err-line-suspended",
        );
    }
    let owner = is_owner(&ctx, &line);
    let filter = PlanFilter {
        operator: Some(line.operator),
        channel: Some("web".into()),
        ..PlanFilter::default()
    };
    let now = simrenew_store::db::now();
    let (detail, plans, campaigns) = match tokio::try_join!(
        s.store.line_detail(&line),
        s.store.list_plans(&filter),
        s.store.running_campaigns(now)
    ) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "renewal page");
            return site::unavailable(&ctx);
        }
    };
    let t = ctx.t;
    let current = detail.current_period();
    // The line's own plan is preselected for its owner and for its own signed link.
    let may_preselect = owner || line_link_valid(&s.config.secret, &line.id, &chosen.k);
    let wanted = chosen.plan.clone().or_else(|| {
        may_preselect
            .then(|| current.map(|p| p.plan_id.clone()))
            .flatten()
    });
    let spans: Vec<_> = detail.periods.iter().map(|p| p.span()).collect();
    let at = detail.as_of;
    let mut base = Vec::new();
    let mut addons = Vec::new();
    let offer = super::plans::Offer {
        campaigns: &campaigns,
        channel: "web",
        at: now,
    };
    for p in &plans {
        let Some(mut card) = PlanCard::new(&t, p, ctx.currency, &offer) else {
            continue;
        };
        card.checked = wanted.as_deref() == Some(p.id.as_str());
        match p.kind {
            PlanKind::Base if p.renewable => {
                let mode = if chosen.start_now {
                    StartMode::Now
                } else {
                    StartMode::Queued
                };
                if let Ok(g) = simrenew_core::renewal::plan_renewal(at, &spans, p, mode) {
                    card.when = when_text(&t, g.period.start, g.period.end, at);
                }
                base.push(card);
            }
            PlanKind::AddOn => {
                if let Ok(g) = simrenew_core::renewal::plan_addon(at, &spans, p) {
                    card.when = t.s("until", "date", &t.date(g.valid_until));
                    addons.push(card);
                }
            }
            PlanKind::Base => {}
        }
    }
    let saved = match &ctx.user {
        Some(u) => s.store.saved_methods(&u.id).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let methods = methods(s, &ctx, owner, chosen.pay.as_deref(), &saved);
    // A top-up cannot be paid from the balance it tops up.
    let topup_methods = methods
        .iter()
        .filter(|(v, _, _)| v != "balance")
        .enumerate()
        .map(|(i, (v, l, _))| (v.clone(), l.clone(), i == 0))
        .collect();
    let page = RenewPage {
        key: line_key(&r),
        number: line.msisdn.display(),
        operator: line.operator.name(t.locale).to_string(),
        esim: line.kind == "esim",
        owner,
        balance: if owner {
            t.money(detail.balance)
        } else {
            String::new()
        },
        current_until: current.filter(|_| may_preselect).map(|p| t.date(p.end)),
        base,
        addons,
        methods,
        start_now: chosen.start_now,
        link_key: chosen.k,
        idem: uuid::Uuid::new_v4().to_string(),
        errors,
        topup: chosen.topup.clone().unwrap_or_default(),
        promo: chosen.promo.clone(),
        topup_idem: uuid::Uuid::new_v4().to_string(),
        topup_methods,
        ctx,
    };
    render_status(status, &page)
}

fn when_text(
    t: &Tr,
    start: time::OffsetDateTime,
    end: time::OffsetDateTime,
    now: time::OffsetDateTime,
) -> String {
    if start <= now {
        t.s("starts-now-until", "date", &t.date(end))
    } else {
        t.args(
            "starts-from-until",
            &[("from", t.date(start).into()), ("date", t.date(end).into())],
        )
    }
}

fn is_owner(ctx: &Ctx, line: &Line) -> bool {
    ctx.user
        .as_ref()
        .is_some_and(|u| line.owner_id.as_deref() == Some(u.id.as_str()))
}

/// The ways this reader can pay here: the line's balance (its owner), the demo card (demo
/// shops), or later (the order waits for a payment provider).
fn methods(
    s: &AppState,
    ctx: &Ctx,
    owner: bool,
    chosen: Option<&str>,
    saved: &[simrenew_store::payments::SavedMethod],
) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    if owner {
        out.push(("balance".to_string(), ctx.t.t("pay-balance")));
    }
    // The reader's saved methods (no trip to the provider), where the provider is on.
    for m in saved
        .iter()
        .filter(|m| crate::payments::provider(s, &m.provider).is_some())
    {
        out.push((
            format!("saved:{}", m.id),
            ctx.t.s("pay-saved", "title", &m.title),
        ));
    }
    // Providers' methods, those in the reader's currency first (an order paid through
    // one is priced in the method's currency: RUB for YooKassa, CNY for Alipay/WeChat).
    let mut offered = crate::payments::methods(s, None);
    offered.sort_by_key(|m| m.currency != ctx.currency);
    for m in offered {
        out.push((m.value.to_string(), ctx.t.t(m.label)));
    }
    if ctx.demo {
        out.push(("demo".to_string(), ctx.t.t("pay-demo")));
    }
    if !ctx.demo && out.is_empty() {
        out.push(("later".to_string(), ctx.t.t("pay-later")));
    }
    let pick = chosen
        .filter(|c| out.iter().any(|(v, _)| v == c))
        .map(str::to_string)
        .or_else(|| out.first().map(|(v, _)| v.clone()));
    out.into_iter()
        .map(|(v, l)| {
            let checked = pick.as_deref() == Some(v.as_str());
            (v, l, checked)
        })
        .collect()
}

/// Why a renewal form was not turned into an order.
enum Refused {
    /// Shown beside the plans.
    Plan(String),
    /// Shown beside the payment choices.
    Pay(String),
    /// Shown beside the top-up amount.
    Amount(String),
    /// Shown beside the promo code.
    Promo(String),
    /// A whole page instead (unknown line, outage).
    Page(Response),
}

/// `POST /renew/{line}`: places the order and pays it the chosen way; then to the order.
async fn renew_submit(
    State(s): State<AppState>,
    Path(key): Path<String>,
    form: CheckedForm,
) -> Response {
    let chosen = Chosen {
        plan: Some(form.get("plan").to_string()).filter(|p| !p.is_empty()),
        pay: Some(form.get("pay").to_string()),
        start_now: form.get("start") == "now",
        k: form.get("k").to_string(),
        topup: (form.get("what") == "topup").then(|| form.get("amount").to_string()),
        save: form.get("save") == "1",
        promo: form.get("promo").trim().to_string(),
    };
    let ctx = form.ctx.clone();
    let mut errors = Errors::default();
    match place(&s, &ctx, &key, &chosen, form.get("idem")).await {
        Ok(location) => return see_other(&location),
        Err(Refused::Page(res)) => return res,
        Err(Refused::Plan(e)) => errors.plan = Some(e),
        Err(Refused::Pay(e)) if chosen.topup.is_some() => errors.amount = Some(e),
        Err(Refused::Pay(e)) => errors.pay = Some(e),
        Err(Refused::Amount(e)) => errors.amount = Some(e),
        Err(Refused::Promo(e)) => errors.promo = Some(e),
    }
    renew_view(
        &s,
        ctx,
        &key,
        chosen,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// Places the order a renewal form asks for, once per form (its `idem` key), and pays it
/// when it can be paid at once; returns where the buyer goes next (the order's page, or
/// the provider's page to confirm the payment).
async fn place(
    s: &AppState,
    ctx: &Ctx,
    key: &str,
    chosen: &Chosen,
    idem_key: &str,
) -> Result<String, Refused> {
    let t = ctx.t;
    let outage = |e: StoreError, what: &str| {
        tracing::error!(error = %e, "{what}");
        Refused::Page(site::unavailable(ctx))
    };
    let r = parse_line(&t, key)
        .map_err(|e| Refused::Page(site::home_with_error(ctx.clone(), key, e)))?;
    let what = match &chosen.topup {
        Some(amount) => format!("topup:{amount}"),
        None => chosen
            .plan
            .clone()
            .ok_or_else(|| Refused::Plan(t.t("err-choose-plan")))?,
    };
    let claim = IdemClaim {
        scope: "page".into(),
        key: if (16..=64).contains(&idem_key.len()) {
            idem_key.to_string()
        } else {
            uuid::Uuid::new_v4().to_string()
        },
        request_hash: simrenew_store::db::sha256_hex(
            format!(
                "renew\n{key}\n{what}\n{:?}\n{:?}\n{}",
                chosen.pay, chosen.start_now, chosen.promo
            )
            .as_bytes(),
        ),
    };
    // The same form sent twice (a double tap, a reload) leads to the same order.
    match s.store.stored_response(&claim.scope, &claim.key).await {
        Ok(Some(prev)) if prev.request_hash == claim.request_hash => {
            return Ok(format!("/orders/{}", prev.body));
        }
        Ok(_) => {}
        Err(e) => return Err(outage(e, "idempotency lookup")),
    }
    let pay = chosen.pay.as_deref().unwrap_or_default();
    let from_balance = pay == "balance";
    // Top-ups take no promotion; a code typed for a plan is checked before any order.
    let promo_code = match &chosen.topup {
        Some(_) => None,
        None => simrenew_core::promotion::PromoCode::typed(&chosen.promo)
            .map_err(|_| Refused::Promo(t.t("err-promo-format")))?,
    };
    if pay == "demo" && !ctx.demo {
        return Err(Refused::Pay(t.t("err-choose-payment")));
    }
    let (item, currency) = match &chosen.topup {
        Some(amount) => {
            if from_balance {
                return Err(Refused::Amount(t.t("err-choose-payment")));
            }
            // Typed in the reader's currency; converted to the line's at the configured rate.
            let in_currency = crate::payments::method_currency(s, ctx, pay)
                .await
                .unwrap_or(ctx.currency);
            let m = Money::parse_major(&amount.replace(',', "."), in_currency)
                .ok()
                .filter(|m| m.minor > 0)
                .ok_or_else(|| Refused::Amount(t.t("err-amount")))?;
            (
                ItemRequest::TopUp {
                    amount_minor: m.minor,
                },
                Some(in_currency),
            )
        }
        None => {
            let plan = match s.store.plan(&what).await {
                Ok(p) => p,
                Err(StoreError::PlanNotFound(_)) => {
                    return Err(Refused::Plan(t.t("err-choose-plan")));
                }
                Err(e) => return Err(outage(e, "plan lookup")),
            };
            // The buyer pays in their currency when the plan is sold in it; from the
            // balance, in the line's currency.
            let currency = if from_balance {
                None
            } else if let Some(c) = crate::payments::method_currency(s, ctx, pay).await {
                Some(c)
            } else {
                price_for(&plan, ctx.currency).map(|m| m.currency)
            };
            let item = if plan.kind == PlanKind::AddOn {
                ItemRequest::AddOn { plan_id: what }
            } else {
                ItemRequest::Renew {
                    plan_id: what,
                    start: if chosen.start_now {
                        StartMode::Now
                    } else {
                        StartMode::Queued
                    },
                }
            };
            (item, currency)
        }
    };
    let req = OrderRequest {
        line: r,
        items: vec![item],
        currency,
        channel: "web".into(),
        buyer: ctx.user.as_ref().map(|u| u.id.clone()),
        payment: if from_balance {
            Payment::Balance
        } else {
            Payment::External
        },
        promo_code,
    };
    let render_id = |o: &Order| (303u16, o.id.clone());
    let idem = Idem {
        claim: &claim,
        render: &render_id,
    };
    let order = match s.store.create_order(&req, Some(&idem)).await {
        Ok(o) => o,
        Err(e) if e.is_unique_violation() => {
            return match s.store.stored_response(&claim.scope, &claim.key).await {
                Ok(Some(prev)) => Ok(format!("/orders/{}", prev.body)),
                Ok(None) => Err(outage(e, "renewal order")),
                Err(e) => Err(outage(e, "idempotency lookup")),
            };
        }
        Err(e) => {
            return Err(match super::store_error_text(&t, &e) {
                (Some("pay"), text) => Refused::Pay(text),
                (Some("amount"), text) => Refused::Amount(text),
                (Some("promo"), text) => Refused::Promo(text),
                (Some(_), text) => Refused::Plan(text),
                (None, _) => outage(e, "renewal order"),
            });
        }
    };
    if pay == "demo" {
        // The demo card: no money moves outside; the order is settled as a provider's
        // verified payment would settle it.
        if let Err(e) = s.store.settle_external(&order.id, "demo", None).await {
            tracing::warn!(error = %e, order = %order.id, "demo payment");
        }
    }
    if let (Some(id), Some(u)) = (pay.strip_prefix("saved:"), &ctx.user) {
        // Charged at once; the order page shows the outcome either way.
        if let Err(e) =
            crate::payments::pay_saved(s, &order.id, &u.id, id, &order_description(&order)).await
        {
            tracing::warn!(error = %e, order = %order.id, "saved method not charged");
        }
        return Ok(format!("/orders/{}", order.id));
    }
    if crate::payments::method(s, pay).is_some() {
        let email = ctx.user.as_ref().map(|u| u.email.as_str());
        return match crate::payments::start(
            s,
            &order.id,
            pay,
            email,
            &order_description(&order),
            chosen.save,
        )
        .await
        {
            Ok(next) => Ok(crate::payments::next_url(&order.id, &next)),
            Err(e) => {
                // The order stays; its page offers to pay again.
                tracing::warn!(error = %e, order = %order.id, "payment not started");
                Ok(format!("/orders/{}", order.id))
            }
        };
    }
    Ok(format!("/orders/{}", order.id))
}

#[derive(Template)]
#[template(path = "line.html")]
struct LinePage {
    /// The line's eSIM profile: (state text, as of, install page of its order).
    esim_profile: Option<(String, String, Option<String>)>,
    ctx: Ctx,
    key: String,
    number: String,
    operator: String,
    esim: bool,
    iccid: String,
    status: String,
    balance: String,
    data_left: String,
    data_total: String,
    data_percent: u64,
    unlimited: bool,
    days_left: Option<String>,
    current_plan: Option<String>,
    current_until: Option<String>,
    queued: Vec<(String, String, String)>,
    buckets: Vec<(String, String, String)>,
    forecast: Option<String>,
    advice: Option<String>,
    as_of: String,
    as_of_ago: String,
    usage_as_of: Option<String>,
    orders: Vec<super::orders::OrderRow>,
}

/// `GET /lines/{line}`: the owner's view; others are sent to the renewal page.
async fn line_page(State(s): State<AppState>, ctx: Ctx, Path(key): Path<String>) -> Response {
    let r = match parse_line(&ctx.t, &key) {
        Ok(r) => r,
        Err(e) => return site::home_with_error(ctx, &key, e),
    };
    if ctx.user.is_none() {
        return see_other(&format!(
            "/account/sign-in?next={}",
            super::urlencode(&ctx.here)
        ));
    }
    let lookup = match s.store.line_for(&r, ctx.session.as_deref()).await {
        Ok(l) => l,
        Err(StoreError::LineNotFound(_)) => return site::not_found(ctx),
        Err(e) => {
            tracing::error!(error = %e, "line page");
            return site::unavailable(&ctx);
        }
    };
    let Some(detail) = lookup.detail else {
        return see_other(&format!("/renew/{}", line_key(&r)));
    };
    let filter = PlanFilter {
        operator: Some(detail.line.operator),
        ..PlanFilter::default()
    };
    let window = detail.as_of - time::Duration::days(i64::from(advice::WINDOW_DAYS));
    let (catalog, orders, usage, used_30d) = match tokio::try_join!(
        s.store.catalog(),
        s.store.orders_of_line(&detail.line.id, 20),
        s.store.usage_of_line(&detail.line.id, 200),
        s.store.usage_since(&detail.line.id, window),
    ) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "line page");
            return site::unavailable(&ctx);
        }
    };
    // One read of the catalog: the plans on sale for the advice, every plan (retired
    // ones too) for naming the line's periods and orders.
    let plans: Vec<_> = catalog
        .iter()
        .filter(|e| e.active && filter.matches(&e.plan))
        .map(|e| e.plan.clone())
        .collect();
    let t = ctx.t;
    let advice = advice_text(&t, &detail, &plans, used_30d, ctx.currency);
    let names =
        super::plans::PlanNames::new(catalog.into_iter().map(|e| e.plan).collect(), t.locale);
    let view = line_view(&t, &detail, &names, &usage);
    let esim_profile = match s.store.profile_of_line(detail.line.iccid.as_str()).await {
        Ok(Some(p)) => Some((
            t.t(&format!("esim-state-{}", p.state.code())),
            t.datetime(p.state_at),
            p.order_id.map(|o| format!("/orders/{o}/esim")),
        )),
        _ => None,
    };
    let page = LinePage {
        esim_profile,
        key: line_key(&r),
        number: detail.line.msisdn.display(),
        operator: detail.line.operator.name(t.locale).to_string(),
        esim: detail.line.kind == "esim",
        iccid: detail.line.iccid.as_str().to_string(),
        status: detail.line.status.clone(),
        balance: t.money(detail.balance),
        orders: orders
            .iter()
            .map(|o| super::orders::OrderRow::new(&t, o, &names))
            .collect(),
        usage_as_of: detail.line.usage_as_of.map(|u| t.ago(u, detail.as_of)),
        as_of: t.datetime(detail.as_of),
        as_of_ago: t.ago(detail.as_of, simrenew_store::db::now()),
        data_left: view.data_left,
        data_total: view.data_total,
        data_percent: view.percent,
        unlimited: view.unlimited,
        days_left: view.days_left,
        current_plan: view.current_plan,
        current_until: view.current_until,
        queued: view.queued,
        buckets: view.buckets,
        forecast: view.forecast,
        advice,
        ctx,
    };
    render(&page)
}

/// What the line page and the account's line cards show about one line.
pub struct LineView {
    pub data_left: String,
    pub data_total: String,
    pub percent: u64,
    pub unlimited: bool,
    pub days_left: Option<String>,
    pub current_plan: Option<String>,
    pub current_until: Option<String>,
    /// (plan, from, until)
    pub queued: Vec<(String, String, String)>,
    /// (what, left, until)
    pub buckets: Vec<(String, String, String)>,
    pub forecast: Option<String>,
}

/// The figures of a line for its owner; `usage` is its recent usage, newest first
/// (event id, bytes, overage, at), for the forecast.
pub fn line_view(
    t: &Tr,
    d: &LineDetail,
    names: &super::plans::PlanNames,
    usage: &[(String, u64, u64, time::OffsetDateTime)],
) -> LineView {
    let at = d.as_of;
    let live: Vec<_> = d
        .buckets
        .iter()
        .filter(|b| b.valid_from <= at && b.valid_until > at)
        .collect();
    let left = d.data_left_bytes();
    let total: u64 = live.iter().map(|b| b.initial_bytes).sum();
    let percent = if total == 0 {
        0
    } else {
        (left.min(total) as u128 * 100 / total as u128) as u64
    };
    let current = d.current_period();
    let queued = d
        .periods
        .iter()
        .filter(|p| p.start > at)
        .map(|p| (names.name(&p.plan_id), t.date(p.start), t.date(p.end)))
        .collect();
    let buckets = live
        .iter()
        .map(|b| {
            let what = b
                .plan_id
                .as_deref()
                .map_or_else(|| b.kind.clone(), |p| names.name(p));
            (what, t.bytes(b.remaining_bytes), t.date(b.valid_until))
        })
        .collect();
    // The pace of the last 7 days of reported usage, projected on what is left.
    let week_ago = at - time::Duration::days(7);
    let used_week: u64 = usage.iter().filter(|u| u.3 > week_ago).map(|u| u.1).sum();
    let forecast = (used_week > 0 && left > 0).then(|| {
        let per_day = used_week as f64 / 7.0;
        let days = (left as f64 / per_day).floor() as i64;
        let runs_out = at + time::Duration::days(days);
        match current {
            Some(p) if runs_out >= p.end => t.t("forecast-enough"),
            _ => t.s("forecast-runs-out", "date", &t.date(runs_out)),
        }
    });
    LineView {
        data_left: t.bytes(left),
        data_total: t.bytes(total),
        percent,
        unlimited: live.iter().any(|b| b.unlimited),
        days_left: current.map(|p| t.n("days-left", Tr::days_until(p.end, at))),
        current_plan: current.map(|p| names.name(&p.plan_id)),
        current_until: current.map(|p| t.date(p.end)),
        queued,
        buckets,
        forecast,
    }
}

/// "Plan X would have carried your last 30 days for less", when one would have: priced in
/// the reader's currency when the plans are sold in it, else in the line's.
fn advice_text(
    t: &Tr,
    d: &LineDetail,
    plans: &[Plan],
    used: u64,
    reader: Currency,
) -> Option<String> {
    let current_id = &d.current_period()?.plan_id;
    let current = plans.iter().find(|p| &p.id == current_id)?;
    let currency = if current.price(reader).is_some() {
        reader
    } else {
        d.line.currency
    };
    let a = advice::cheaper_plan(current, plans, used, currency)?;
    let advised = plans.iter().find(|p| p.id == a.plan_id)?;
    Some(t.args(
        "advice-cheaper",
        &[
            ("plan", advised.names.get(t.locale).to_string().into()),
            ("cost", t.money(a.cost).into()),
            ("current", t.money(a.current_cost).into()),
            ("used", t.bytes(used).into()),
        ],
    ))
}

/// What a provider shows the buyer and puts on the receipt: the number and what it buys.
pub fn order_description(o: &Order) -> String {
    let what: Vec<&str> = o
        .items
        .iter()
        .map(|i| i.plan_id.as_deref().unwrap_or("top-up"))
        .collect();
    format!("+{}: {}", o.msisdn, what.join(", "))
}
