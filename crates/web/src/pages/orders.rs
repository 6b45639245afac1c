//! An order's page: its status, which refreshes itself while a payment is pending, then
//! its receipt, printable on A4 and on a phone, in the reader's language. The order id is
//! the capability, as in the API: whoever placed the order can follow it.

use super::i18n::Tr;
use super::{CheckedForm, Ctx, render, see_other, site};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use simrenew_core::OrderStatus;
use simrenew_store::StoreError;
use simrenew_store::orders::Order;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders/{id}", get(order_page))
        .route("/orders/{id}/pay", post(pay))
}

/// One order in a list.
pub struct OrderRow {
    pub id: String,
    pub date: String,
    pub what: String,
    pub total: String,
    pub status: String,
    pub status_code: &'static str,
}

pub fn status_text(t: &Tr, s: OrderStatus) -> String {
    t.t(&format!("status-{}", s.code().replace('_', "-")))
}

/// What an order bought, in words: plan names, add-ons and top-ups.
pub fn what_text(t: &Tr, o: &Order, names: &super::plans::PlanNames) -> String {
    o.items
        .iter()
        .map(|i| match (i.kind.as_str(), &i.plan_id) {
            ("topup", _) => t.s(
                "item-topup",
                "amount",
                &t.money(i.credit.unwrap_or(i.price)),
            ),
            _ => names.item(i),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One item of an order as a receipt or the order page shows it.
pub struct ItemRow {
    pub what: String,
    /// The period it grants, or the credit a top-up brings.
    pub period: String,
    pub data: String,
    pub price: String,
    /// The list price when a promotion lowered it (struck through beside the price).
    pub was: String,
}

/// A number as stored (E.164 digits, no `+`) as people read it (`+7 916 123-45-67`);
/// the stored digits when they do not read as a number.
pub fn shown_number(stored: &str) -> String {
    simrenew_core::Msisdn::parse(&format!("+{stored}"))
        .map(|m| m.display())
        .unwrap_or_else(|_| stored.to_string())
}

/// An order's receipt as an e-mail in the reader's language (`t`): the line, the order,
/// when and how it was paid, each item with its period and price, the total, and the
/// order's page. Support sends it again on request.
pub fn receipt_mail(
    t: &Tr,
    order: &Order,
    names: &super::plans::PlanNames,
    public_url: &str,
    to: &str,
) -> simrenew_store::outbox::Message {
    let number = shown_number(&order.msisdn);
    let mut body = vec![
        t.t("mail-receipt-intro"),
        String::new(),
        format!("{}: {number}", t.t("receipt-number")),
        format!("{}: {}", t.t("receipt-order"), order.id),
        format!(
            "{}: {}",
            t.t("receipt-created"),
            t.datetime(order.created_at)
        ),
    ];
    if let Some(p) = order.paid_at {
        body.push(format!("{}: {}", t.t("receipt-paid"), t.datetime(p)));
    }
    if let Some(m) = &order.payment_method {
        let method = t
            .t_opt(&format!("method-{m}"))
            .unwrap_or_else(|| m.to_string());
        body.push(format!("{}: {method}", t.t("receipt-method")));
    }
    body.push(String::new());
    for i in item_rows(t, order, names) {
        let was = if i.was.is_empty() {
            String::new()
        } else {
            format!(" ({} {})", t.t("mail-receipt-was"), i.was)
        };
        body.push(format!("- {}, {}: {}{was}", i.what, i.period, i.price));
    }
    body.push(format!("{}: {}", t.t("col-total"), t.money(order.total)));
    body.push(String::new());
    body.push(format!(
        "{}/orders/{}",
        public_url.trim_end_matches('/'),
        order.id
    ));
    simrenew_store::outbox::Message {
        to: to.to_string(),
        subject: t.s("mail-receipt-subject", "number", &number),
        body: body.join("\n"),
        ..Default::default()
    }
}

/// An order's items for a receipt.
pub fn item_rows(t: &Tr, order: &Order, names: &super::plans::PlanNames) -> Vec<ItemRow> {
    order
        .items
        .iter()
        .map(|i| {
            let what = match i.kind.as_str() {
                "topup" => t.t("item-topup-title"),
                "addon" => format!("{} ({})", names.item(i), t.t("addon")),
                _ => names.item(i),
            };
            let period = match (i.valid_from, i.valid_until, i.credit) {
                (Some(f), Some(u), _) => format!("{} – {}", t.date(f), t.date(u)),
                (_, _, Some(c)) => t.s("credit", "amount", &t.money(c)),
                _ => String::new(),
            };
            let data = i.data_bytes.map(|b| t.bytes(b)).unwrap_or_default();
            let was = if i.list_price == i.price {
                String::new()
            } else {
                t.money(i.list_price)
            };
            ItemRow {
                what,
                period,
                data,
                price: t.money(i.price),
                was,
            }
        })
        .collect()
}

impl OrderRow {
    pub fn new(t: &Tr, o: &Order, names: &super::plans::PlanNames) -> Self {
        Self {
            id: o.id.clone(),
            date: t.date(o.created_at),
            what: what_text(t, o, names),
            total: t.money(o.total),
            status: status_text(t, o.status),
            status_code: o.status.code(),
        }
    }
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    ctx: Ctx,
    id: String,
    number: String,
    line_key: String,
    status: String,
    status_code: &'static str,
    pending: bool,
    fulfilled: bool,
    /// Paid, and a supplier is adding the plan (a resold plan): the page refreshes.
    activating: bool,
    /// The supplier refused, and the money went back.
    supplier_refused: bool,
    created: String,
    paid: Option<String>,
    method: Option<String>,
    total: String,
    /// (what, period or credit, data, price)
    items: Vec<ItemRow>,
    owner: bool,
    /// Provider methods this order can be paid with: (value, label).
    providers: Vec<(String, String)>,
    /// Money that arrived and is held for review (the buyer is told).
    held: bool,
    /// A code to scan for the payment under way (Alipay, WeChat Pay).
    scan: Option<Scan>,
    /// The order has an eSIM profile: its install page.
    esim: bool,
}

struct Scan {
    title: String,
    /// The code as an inline SVG (rendered here; no script, no image request).
    svg: String,
    /// A link that opens the provider's app or page on this device, where there is one
    /// (Alipay's `qr.alipay.com` links are; WeChat's `weixin://` codes open only by scanning).
    link: Option<String>,
    open: String,
}

/// The code to scan for the newest pending attempt paid by scanning, if any.
fn scan_of(
    s: &AppState,
    t: &crate::pages::i18n::Tr,
    attempts: &[simrenew_store::payments::Payment],
) -> Option<Scan> {
    let a = attempts
        .iter()
        .filter(|a| a.status == "pending")
        .filter(|a| {
            crate::payments::method(s, &format!("{}:{}", a.provider, a.method))
                .is_some_and(|(_, m)| m.scan)
        })
        .max_by_key(|a| a.created_at)?;
    let code = a.confirmation_url.as_deref()?;
    let svg = super::qr_svg(code)?;
    let link =
        (code.starts_with("https://") || code.starts_with("http://")).then(|| code.to_string());
    Some(Scan {
        title: t.t(&format!("scan-title-{}", a.provider)),
        svg,
        link,
        open: t.t(&format!("scan-open-{}", a.provider)),
    })
}

async fn order_page(State(s): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    // Back from the provider, perhaps before its notification: ask it.
    crate::payments::refresh_order(&s, &id).await;
    let order = match s.store.order(&id).await {
        Ok(o) => o,
        Err(StoreError::OrderNotFound(_)) => return site::not_found(ctx),
        Err(e) => {
            tracing::error!(error = %e, "order page");
            return site::unavailable(&ctx);
        }
    };
    let plans = match s.store.all_plans().await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "order page");
            return site::unavailable(&ctx);
        }
    };
    let t = ctx.t;
    let names = super::plans::PlanNames::new(plans, t.locale);
    let items = item_rows(&t, &order, &names);
    let owner = ctx.user.is_some() && order.buyer_id == ctx.user.as_ref().map(|u| u.id.clone());
    let number = shown_number(&order.msisdn);
    let providers = crate::payments::methods(&s, Some(order.total.currency))
        .into_iter()
        .map(|m| (m.value.to_string(), t.t(m.label)))
        .collect();
    let attempts = s
        .store
        .payments_of_order(&order.id)
        .await
        .unwrap_or_default();
    let held = attempts.iter().any(|p| p.status == "held");
    let scan = scan_of(&s, &t, &attempts);
    // Paid for a new eSIM: its profile is released now, so the install page has the code.
    crate::esim::release_if_new_esim(&s, &order).await;
    let esim = matches!(s.store.profile_of_order(&order.id).await, Ok(Some(_)));
    let supplier = s.store.upstream_state(&order.id).await.ok().flatten();
    let supplier = supplier.as_ref().map(|(state, _)| state.as_str());
    let page = OrderPage {
        providers,
        held,
        scan,
        esim,
        id: order.id.clone(),
        number,
        line_key: order.msisdn.clone(),
        status: status_text(&t, order.status),
        status_code: order.status.code(),
        pending: order.status == OrderStatus::PendingPayment,
        fulfilled: order.status == OrderStatus::Fulfilled,
        activating: order.status == OrderStatus::Paid && supplier == Some("pending"),
        supplier_refused: supplier == Some("refused"),
        created: t.datetime(order.created_at),
        paid: order.paid_at.map(|p| t.datetime(p)),
        method: order.payment_method.as_deref().map(|m| {
            t.t_opt(&format!("method-{m}"))
                .unwrap_or_else(|| m.to_string())
        }),
        total: t.money(order.total),
        items,
        owner,
        ctx,
    };
    render(&page)
}

/// `POST /orders/{id}/pay`: pays a pending order with the demo card (demo shops) or
/// from the line's balance (its owner).
async fn pay(State(s): State<AppState>, Path(id): Path<String>, form: CheckedForm) -> Response {
    let ctx = form.ctx.clone();
    let method = form.get("pay");
    if crate::payments::method(&s, method).is_some() {
        let email = ctx.user.as_ref().map(|u| u.email.as_str());
        let description = match s.store.order(&id).await {
            Ok(o) => super::line::order_description(&o),
            Err(_) => return site::not_found(ctx),
        };
        return match crate::payments::start(&s, &id, method, email, &description, false).await {
            Ok(next) => see_other(&crate::payments::next_url(&id, &next)),
            Err(e) => {
                tracing::warn!(error = %e, order = %id, "payment not started");
                site::message(
                    ctx,
                    StatusCode::BAD_GATEWAY,
                    "pay-failed-title",
                    "err-provider",
                )
            }
        };
    }
    let result = match method {
        "demo" if ctx.demo => s.store.settle_external(&id, "demo", None).await,
        "balance" => match &ctx.user {
            Some(u) => s.store.pay_from_balance(&id, &u.id, None).await,
            None => Err(StoreError::NotOwner),
        },
        _ => {
            return site::message(
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                "pay-failed-title",
                "err-choose-payment",
            );
        }
    };
    match result {
        // Paid twice (a double tap): the order page shows what happened.
        Ok(_) | Err(StoreError::OrderNotPending(_)) => see_other(&format!("/orders/{id}")),
        Err(StoreError::OrderNotFound(_)) => site::not_found(ctx),
        Err(e) => {
            let (field, text) = super::store_error_text(&ctx.t, &e);
            if field.is_none() {
                tracing::error!(error = %e, "order payment");
                return site::unavailable(&ctx);
            }
            let page = site::Message {
                title: ctx.t.t("pay-failed-title"),
                text,
                back: format!("/orders/{id}"),
                ctx,
            };
            super::render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
