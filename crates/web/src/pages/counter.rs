//! Selling at an operator's shop counter: the clerk finds the line (`/admin/counter`),
//! opens its sale page, chooses a renewal, an add-on or a top-up and how the customer
//! pays — cash (what they handed over; the change is worked out) or a card on the
//! shop's own terminal (the slip's reference) — and prints the receipt in the
//! customer's language, on A4 or an 80 mm receipt printer. The order (channel
//! `counter`) follows the same renewal rules as every channel; a double-click or a
//! resent form sells once (the form's idempotency key); the payment and who took it are
//! recorded and audited in the order's own transaction.

use super::admin::StaffCtx;
use super::{Ctx, render, render_status, site};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use simrenew_core::staff::Permission;
use simrenew_core::{Currency, Locale, Money};
use simrenew_store::StoreError;
use simrenew_store::idempotency::Idem;
use simrenew_store::orders::{ItemRequest, Order, OrderRequest, Payment};
use simrenew_store::payments::CounterPayment;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/counter/lines/{id}", get(sale_page).post(sell))
        .route("/admin/receipts/{id}", get(receipt))
        .route("/admin/till", get(till_page).post(till_action))
        .route("/admin/counter/sims", get(sim_page).post(issue_sim))
}

#[derive(Template)]
#[template(path = "admin_sale.html")]
struct SalePage {
    ctx: Ctx,
    line_id: String,
    number: String,
    operator: String,
    balance: String,
    /// The plan running now and until when, if any.
    current: Option<(String, String)>,
    /// (plan id, name, kind text, price)
    plans: Vec<(String, String, String, String)>,
    form: SaleForm,
    errors: Vec<(&'static str, String)>,
    idem: String,
}

impl SalePage {
    fn error(&self, field: &str) -> Option<&String> {
        field_error(&self.errors, field)
    }
}

/// The message for `field` among a form's errors.
fn field_error<'a>(errors: &'a [(&'static str, String)], field: &str) -> Option<&'a String> {
    errors.iter().find(|(f, _)| *f == field).map(|(_, e)| e)
}

/// What the clerk typed, shown again with the errors.
#[derive(Clone, Default)]
struct SaleForm {
    plan: String,
    amount: String,
    currency: String,
    lang: String,
    pay: String,
    received: String,
    reference: String,
    /// A promo code the customer gives (priced by the same rule as every channel).
    promo: String,
    /// `now` changes the line's plan today (a renewal that starts now); anything else
    /// queues the renewal after the current plan.
    start: String,
}

async fn sale_view(
    s: &AppState,
    st: &StaffCtx,
    line_id: &str,
    form: SaleForm,
    errors: Vec<(&'static str, String)>,
    idem: String,
    status: StatusCode,
) -> Response {
    let ctx = st.ctx.clone();
    let t = ctx.t;
    let line = match s.store.line(line_id).await {
        Ok(l) => l,
        Err(StoreError::LineNotFound(_)) => return site::not_found(ctx),
        Err(e) => {
            tracing::error!(error = %e, "counter sale");
            return site::unavailable(&ctx);
        }
    };
    let filter = simrenew_store::catalog::PlanFilter {
        operator: Some(line.operator),
        channel: Some("counter".into()),
        ..Default::default()
    };
    let at = simrenew_store::db::now();
    let (plans, detail, campaigns) = match (
        s.store.list_plans(&filter).await,
        s.store.line_detail(&line).await,
        s.store.running_campaigns(at).await,
    ) {
        (Ok(p), Ok(d), Ok(c)) => (p, d, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::error!(error = %e, "counter sale");
            return site::unavailable(&ctx);
        }
    };
    let current = match detail.current_period() {
        None => None,
        Some(p) => {
            let name = match s.store.plan(&p.plan_id).await {
                Ok(plan) => plan.names.get(t.locale).to_string(),
                Err(_) => p.plan_id.clone(),
            };
            Some((name, t.datetime(p.end)))
        }
    };
    let currency = form.currency.parse().unwrap_or(line.currency);
    let plans = plans
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                p.names.get(t.locale).to_string(),
                t.t(if p.kind == simrenew_core::PlanKind::AddOn {
                    "addon"
                } else {
                    "admin-renewal"
                }),
                // While a campaign runs for the counter, the price it makes, beside the list price.
                simrenew_core::promotion::price_item(p, currency, "counter", at, &campaigns, None)
                    .map(|q| match q.promotion {
                        Some(_) => format!("{} ({})", t.money(q.price), t.money(q.list)),
                        None => t.money(q.price),
                    })
                    .unwrap_or_default(),
            )
        })
        .collect();
    render_status(
        status,
        &SalePage {
            line_id: line.id.clone(),
            number: line.msisdn.display(),
            operator: line.operator.name(t.locale).to_string(),
            balance: t.money(detail.balance),
            current,
            plans,
            form: SaleForm {
                currency: currency.code().to_string(),
                lang: if form.lang.is_empty() {
                    t.lang().to_string()
                } else {
                    form.lang
                },
                ..form
            },
            errors,
            idem,
            ctx,
        },
    )
}

async fn sale_page(State(s): State<AppState>, st: StaffCtx, Path(id): Path<String>) -> Response {
    if let Err(r) = st.require(Permission::Counter) {
        return r;
    }
    let form = SaleForm {
        pay: "cash".into(),
        ..Default::default()
    };
    let idem = simrenew_store::db::new_secret();
    sale_view(&s, &st, &id, form, Vec::new(), idem, StatusCode::OK).await
}

/// What the customer buys: a plan (a renewal or an add-on, as the plan is) or a top-up.
enum Chosen {
    Plan(String),
    TopUp(i64),
}

/// The checked sale: what to order, how it is paid, the receipt's language.
struct Sale {
    chosen: Chosen,
    currency: Currency,
    how: CounterPayment,
    lang: Locale,
    start: simrenew_core::StartMode,
}

fn check(t: &super::i18n::Tr, f: &SaleForm) -> Result<Sale, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let currency = f.currency.parse::<Currency>().unwrap_or(Currency::Rub);
    let chosen = match f.plan.as_str() {
        "" => {
            errors.push(("plan", t.t("err-choose-plan")));
            Chosen::TopUp(0)
        }
        "topup" => match Money::parse_major(&f.amount, currency) {
            Ok(m) if m.minor > 0 => Chosen::TopUp(m.minor),
            _ => {
                errors.push(("amount", t.t("err-amount")));
                Chosen::TopUp(0)
            }
        },
        id => Chosen::Plan(id.to_string()),
    };
    let how = match f.pay.as_str() {
        "terminal" => CounterPayment::Terminal {
            reference: f.reference.clone(),
        },
        _ => match Money::parse_major(&f.received, currency) {
            Ok(received) => CounterPayment::Cash { received },
            Err(_) => {
                errors.push(("received", t.t("admin-received-needed")));
                CounterPayment::Cash {
                    received: Money::zero(currency),
                }
            }
        },
    };
    if matches!(&how, CounterPayment::Terminal { reference } if reference.trim().is_empty()) {
        errors.push(("reference", t.t("admin-reference-needed")));
    }
    // Only a plan's renewal has a start: an add-on starts now and ends with the current
    // plan whatever is chosen, and a top-up is money.
    let start = if f.start == "now" {
        simrenew_core::StartMode::Now
    } else {
        simrenew_core::StartMode::Queued
    };
    let lang = f.lang.parse::<Locale>().unwrap_or(t.locale);
    if errors.is_empty() {
        Ok(Sale {
            chosen,
            currency,
            how,
            lang,
            start,
        })
    } else {
        Err(errors)
    }
}

async fn sell(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let (st, form) = match super::admin::staff_form(&s, req, Permission::Counter).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = st.ctx.t;
    let typed = SaleForm {
        plan: form.get("plan").to_string(),
        amount: form.get("amount").to_string(),
        currency: form.get("currency").to_string(),
        lang: form.get("lang").to_string(),
        pay: form.get("pay").to_string(),
        received: form.get("received").to_string(),
        reference: form.get("reference").to_string(),
        promo: form.get("promo").trim().to_string(),
        start: form.get("start").to_string(),
    };
    let idem = form.get("idem").to_string();
    let again = |errors: Vec<(&'static str, String)>, status| {
        sale_view(&s, &st, &id, typed.clone(), errors, idem.clone(), status)
    };
    let sale = match check(&t, &typed) {
        Ok(sale) => sale,
        Err(errors) => return again(errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let line = match s.store.line(&id).await {
        Ok(l) => l,
        Err(_) => return site::not_found(st.ctx.clone()),
    };
    let item = match &sale.chosen {
        Chosen::TopUp(minor) => ItemRequest::TopUp {
            amount_minor: *minor,
        },
        Chosen::Plan(id) => match s.store.plan(id).await {
            Ok(p) if p.kind == simrenew_core::PlanKind::AddOn => ItemRequest::AddOn {
                plan_id: id.clone(),
            },
            // A change of plan: the new one starts now; the old one's data stays usable
            // until its own end (the renewal rule of every channel).
            Ok(_) => ItemRequest::Renew {
                plan_id: id.clone(),
                start: sale.start,
            },
            Err(_) => {
                return again(
                    vec![("plan", t.t("err-choose-plan"))],
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        },
    };
    let req = OrderRequest {
        line: simrenew_core::LineRef::Iccid(line.iccid.clone()),
        items: vec![item],
        currency: Some(sale.currency),
        channel: "counter".into(),
        buyer: None,
        payment: Payment::External,
        promo_code: match simrenew_core::promotion::PromoCode::typed(&typed.promo) {
            Ok(code) => code,
            Err(_) => {
                let e = vec![("promo", t.t("err-promo-format"))];
                return again(e, StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        },
    };
    // Cash short of the total is said before any order exists.
    match s.store.quote(&req).await {
        Ok(q) => {
            if let CounterPayment::Cash { received } = &sale.how
                && received.minor < q.total.minor
            {
                let short = Money::new(q.total.minor - received.minor, q.total.currency);
                let e = t.s("admin-cash-short", "missing", &t.money(short));
                return again(vec![("received", e)], StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        }
        Err(e) => {
            let (field, text) = super::store_error_text(&t, &e);
            let field = match field {
                Some("amount") => "amount",
                Some("promo") => "promo",
                Some("form") | None => "form",
                _ => "plan",
            };
            return again(vec![(field, text)], StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    }
    // One order per form: the same key again (a double-click, a resent form) finds it.
    let what = format!(
        "{}|{}|{}|{}|{}|{}",
        line.id,
        typed.plan,
        typed.amount,
        sale.currency.code(),
        typed.promo,
        sale.start.code()
    );
    let claim = crate::routes::claim(
        format!("staff:{}", st.staff.id),
        if idem.is_empty() {
            simrenew_store::db::new_secret()
        } else {
            idem.clone()
        },
        "POST /admin/counter/lines",
        &simrenew_store::db::sha256_hex(what.as_bytes()),
    );
    let render = |o: &Order| (201u16, serde_json::json!({"order": o.id}).to_string());
    let order_id = match s.store.stored_response(&claim.scope, &claim.key).await {
        Ok(Some(stored)) if stored.request_hash == claim.request_hash => {
            serde_json::from_str::<serde_json::Value>(&stored.body)
                .ok()
                .and_then(|v| v["order"].as_str().map(str::to_string))
        }
        Ok(Some(_)) => {
            // The form was changed after a sale with this key: a new sale needs a new form.
            return again(
                vec![("form", t.t("admin-sale-changed"))],
                StatusCode::CONFLICT,
            )
            .await;
        }
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "counter sale");
            return site::unavailable(&st.ctx);
        }
    };
    let order_id = match order_id {
        Some(o) => o,
        None => match s
            .store
            .create_order(
                &req,
                Some(&Idem {
                    claim: &claim,
                    render: &render,
                }),
            )
            .await
        {
            Ok(o) => o.id,
            Err(e) => {
                let (_, text) = super::store_error_text(&t, &e);
                return again(vec![("form", text)], StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        },
    };
    let change = match s
        .store
        .pay_at_counter(&order_id, &st.staff.actor(), &sale.how)
        .await
    {
        Ok((_, change)) => change.minor,
        // Paid already (the same form sent twice): its receipt.
        Err(StoreError::OrderNotPending(_)) => 0,
        Err(StoreError::Invalid { field, .. }) if field == "till" => {
            return again(
                vec![("form", t.t("admin-till-needed"))],
                StatusCode::CONFLICT,
            )
            .await;
        }
        Err(e) => {
            let (_, text) = super::store_error_text(&t, &e);
            return again(vec![("form", text)], StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    super::see_other(&format!(
        "/admin/receipts/{order_id}?lang={}&change={change}",
        sale.lang.tag()
    ))
}

#[derive(serde::Deserialize)]
struct ReceiptQuery {
    lang: Option<String>,
    /// 80mm: a receipt printer's paper; otherwise A4.
    paper: Option<String>,
    /// The change given, in minor units (shown on the first print).
    change: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin_receipt.html")]
struct ReceiptPage {
    ctx: Ctx,
    id: String,
    number: String,
    operator: String,
    created: String,
    paid_with: String,
    clerk: String,
    total: String,
    change: Option<String>,
    /// `&change=…` for the other paper's link, so the change shows there too.
    change_query: String,
    items: Vec<super::orders::ItemRow>,
    paper_80: bool,
    lang: String,
    shop: String,
}

/// The receipt of a counter sale, in the language asked (the customer's), for A4 or an
/// 80 mm receipt printer.
async fn receipt(
    State(s): State<AppState>,
    st: StaffCtx,
    Path(id): Path<String>,
    Query(q): Query<ReceiptQuery>,
) -> Response {
    if let Err(r) = st.require(Permission::Counter) {
        return r;
    }
    let mut ctx = st.ctx.clone();
    if let Some(l) = q.lang.as_deref().and_then(|l| l.parse::<Locale>().ok()) {
        ctx.t = super::i18n::Tr::new(l);
    }
    let t = ctx.t;
    let order = match s.store.order(&id).await {
        // Paid is enough for a receipt: a plan a supplier adds follows within seconds.
        Ok(o)
            if matches!(
                o.status,
                simrenew_core::OrderStatus::Fulfilled | simrenew_core::OrderStatus::Paid
            ) =>
        {
            o
        }
        Ok(_) | Err(StoreError::OrderNotFound(_)) => return site::not_found(ctx),
        Err(e) => {
            tracing::error!(error = %e, "receipt");
            return site::unavailable(&ctx);
        }
    };
    let (line, plans, payments) = match (
        s.store.line(&order.line_id).await,
        s.store.all_plans().await,
        s.store.payments_of_order(&id).await,
    ) {
        (Ok(l), Ok(p), Ok(pay)) => (l, p, pay),
        _ => return site::unavailable(&ctx),
    };
    let names = super::plans::PlanNames::new(plans, t.locale);
    let paid = payments.iter().find(|p| p.status == "succeeded");
    let paid_with = match paid.map(|p| (p.provider.as_str(), p.provider_payment_id.as_deref())) {
        Some(("cash", _)) => t.t("admin-paid-cash"),
        Some(("terminal", r)) => t.s("admin-paid-card", "reference", r.unwrap_or("")),
        Some((p, _)) => p.to_string(),
        None => String::new(),
    };
    let page = ReceiptPage {
        items: super::orders::item_rows(&t, &order, &names),
        number: line.msisdn.display(),
        operator: line.operator.name(t.locale).to_string(),
        created: t.datetime(order.fulfilled_at.unwrap_or(order.created_at)),
        paid_with,
        clerk: paid
            .and_then(|p| p.recorded_by.clone())
            .unwrap_or_default()
            .trim_start_matches("staff:")
            .to_string(),
        total: t.money(order.total),
        change: q
            .change
            .filter(|c| *c > 0)
            .map(|c| t.money(Money::new(c, order.total.currency))),
        change_query: q
            .change
            .filter(|c| *c > 0)
            .map(|c| format!("&change={c}"))
            .unwrap_or_default(),
        paper_80: q.paper.as_deref() == Some("80mm"),
        lang: t.lang().to_string(),
        shop: s.config.support.email.clone().unwrap_or_default(),
        id: order.id,
        ctx,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "admin_till.html")]
struct TillPage {
    ctx: Ctx,
    /// (float, cash taken, sales, expected, opened)
    open: Option<(String, String, i64, String, String)>,
    /// The till just closed: (expected, counted, difference, short or over)
    closed: Option<(String, String, String, &'static str)>,
    error: Option<String>,
}

async fn till_view(
    s: &AppState,
    st: &StaffCtx,
    closed: Option<simrenew_store::tills::Till>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let t = st.ctx.t;
    let open = match s.store.open_till_of(&st.staff.actor()).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "till");
            return site::unavailable(&st.ctx);
        }
    };
    render_status(
        status,
        &TillPage {
            ctx: st.ctx.clone(),
            open: open.map(|o| {
                (
                    t.money(o.float),
                    t.money(o.cash_taken),
                    o.sales,
                    t.money(o.expected),
                    t.datetime(o.opened_at),
                )
            }),
            closed: closed.and_then(|c| {
                let (counted, diff) = (c.counted?, c.difference?);
                Some((
                    t.money(c.expected),
                    t.money(counted),
                    t.money(Money::new(diff.minor.abs(), diff.currency)),
                    match diff.minor {
                        0 => "even",
                        d if d < 0 => "short",
                        _ => "over",
                    },
                ))
            }),
            error,
        },
    )
}

/// The clerk's till: open it with the float, see the cash taken this shift, close it by
/// counting.
async fn till_page(State(s): State<AppState>, st: StaffCtx) -> Response {
    if let Err(r) = st.require(Permission::Counter) {
        return r;
    }
    till_view(&s, &st, None, None, StatusCode::OK).await
}

async fn till_action(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match super::admin::staff_form(&s, req, Permission::Counter).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = st.ctx.t;
    let currency = form.get("currency").parse().unwrap_or(Currency::Rub);
    let amount = |field: &str, c: Currency| Money::parse_major(form.get(field), c);
    let clerk = st.staff.actor();
    // Open with the float, or close with the count (in the open till's currency).
    let (field, till_currency) = match form.get("action") {
        "open" => ("float", currency),
        _ => match s.store.open_till_of(&clerk).await {
            Ok(Some(o)) => ("counted", o.float.currency),
            _ => ("counted", currency),
        },
    };
    let Ok(money) = amount(field, till_currency) else {
        let e = t.t("err-amount");
        return till_view(&s, &st, None, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let result = if field == "float" {
        s.store.open_till(&clerk, money).await.map(|_| None)
    } else {
        s.store
            .close_till(&clerk, money, form.get("note"))
            .await
            .map(Some)
    };
    match result {
        Ok(closed) => till_view(&s, &st, closed, None, StatusCode::OK).await,
        Err(StoreError::Invalid { reason, .. }) => {
            till_view(
                &s,
                &st,
                None,
                Some(reason),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "till");
            site::unavailable(&st.ctx)
        }
    }
}

#[derive(Template)]
#[template(path = "admin_sim.html")]
struct SimPage {
    ctx: Ctx,
    /// (operator code, name, cards on the shelf)
    stock: Vec<(String, String, i64)>,
    form: SimForm,
    errors: Vec<(&'static str, String)>,
}

impl SimPage {
    fn error(&self, field: &str) -> Option<&String> {
        field_error(&self.errors, field)
    }
}

#[derive(Clone, Default)]
struct SimForm {
    operator: String,
    doc_type: String,
    doc_country: String,
    doc_number: String,
    full_name: String,
    imei: String,
}

async fn sim_view(
    s: &AppState,
    st: &StaffCtx,
    form: SimForm,
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> Response {
    let t = st.ctx.t;
    let counts = match s.store.sim_stock_counts().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "SIM stock");
            return site::unavailable(&st.ctx);
        }
    };
    let stock = simrenew_core::Operator::ALL
        .iter()
        .map(|op| {
            let n = counts
                .iter()
                .find(|(o, _)| o == op.code())
                .map_or(0, |(_, n)| *n);
            (op.code().to_string(), op.name(t.locale).to_string(), n)
        })
        .collect();
    render_status(
        status,
        &SimPage {
            ctx: st.ctx.clone(),
            stock,
            form,
            errors,
        },
    )
}

/// Handing out a new physical SIM: the person's identity document and the phone's IMEI,
/// as the law requires them recorded.
async fn sim_page(State(s): State<AppState>, st: StaffCtx) -> Response {
    if let Err(r) = st.require(Permission::Counter) {
        return r;
    }
    let form = SimForm {
        doc_type: "passport".into(),
        ..Default::default()
    };
    sim_view(&s, &st, form, Vec::new(), StatusCode::OK).await
}

async fn issue_sim(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match super::admin::staff_form(&s, req, Permission::Counter).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = st.ctx.t;
    let typed = SimForm {
        operator: form.get("operator").to_string(),
        doc_type: form.get("doc_type").to_string(),
        doc_country: form.get("doc_country").to_string(),
        doc_number: form.get("doc_number").to_string(),
        full_name: form.get("full_name").to_string(),
        imei: form.get("imei").to_string(),
    };
    let mut errors = Vec::new();
    let operator = typed.operator.parse::<simrenew_core::Operator>().ok();
    if operator.is_none() {
        errors.push(("operator", t.t("esim-new-choose-operator")));
    }
    let imei = match simrenew_core::Imei::parse(&typed.imei) {
        Ok(i) => Some(i),
        Err(e) => {
            errors.push(("imei", super::id_error_text(&t, &e)));
            None
        }
    };
    let (Some(operator), Some(imei)) = (operator, imei) else {
        return sim_view(&s, &st, typed, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let doc = simrenew_store::sims::HolderDoc {
        doc_type: typed.doc_type.clone(),
        doc_country: typed.doc_country.clone(),
        doc_number: typed.doc_number.clone(),
        full_name: typed.full_name.clone(),
    };
    match s
        .store
        .issue_sim(
            &st.staff.actor(),
            operator,
            &doc,
            &imei,
            s.config.max_numbers_per_person,
        )
        .await
    {
        Ok(issued) => super::see_other(&format!("/admin/counter/lines/{}", issued.line_id)),
        Err(StoreError::Invalid { field, reason }) => {
            let field: &'static str = match field.as_str() {
                "doc_type" => "doc_type",
                "doc_country" => "doc_country",
                "full_name" => "full_name",
                "operator" => "operator",
                _ => "doc_number",
            };
            let text = match field {
                "doc_type" => t.t("admin-sim-doc-type-wrong"),
                "doc_country" => t.t("admin-sim-country-wrong"),
                "full_name" => t.t("admin-sim-name-wrong"),
                "operator" => t.t("admin-sim-none-left"),
                _ if reason.contains("maximum") => {
                    t.n("admin-sim-limit", s.config.max_numbers_per_person)
                }
                _ => t.t("admin-sim-number-wrong"),
            };
            sim_view(
                &s,
                &st,
                typed,
                vec![(field, text)],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "issuing a SIM");
            site::unavailable(&st.ctx)
        }
    }
}
