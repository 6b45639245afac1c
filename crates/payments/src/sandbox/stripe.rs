//! The Stripe stand-in: `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`,
//! `POST /v1/refunds`, form-encoded as Stripe's API takes them, `Authorization: Bearer`
//! with the test secret key, `Idempotency-Key` honoured (the same key returns the first
//! answer), errors as `{"error": {"type", "code", "message"}}`. The buyer's page is
//! `{mount}/pay/{id}`; Pay completes the session and sends `checkout.session.completed`
//! (Cancel: `checkout.session.expired`) to the endpoint configured, as in Stripe's
//! dashboard, signed in `Stripe-Signature` (`t=…,v1=…`) with the endpoint secret.

use super::Action;
use axum::body::Bytes;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const SECRET_KEY: &str = "sk_test_simrenewSandbox0000000000";
pub const WEBHOOK_SECRET: &str = "whsec_simrenewSandbox000000000000";

#[derive(Default)]
struct Account {
    sessions: HashMap<String, Value>,
    /// Idempotency-Key → the answer first given.
    answers: HashMap<String, Value>,
    /// payment_intent → refunded so far.
    refunded: HashMap<String, i64>,
    /// Payment intents (with their payment method expanded).
    intents: HashMap<String, Value>,
    /// (customer, payment method) pairs set up for off-session charges.
    off_session: std::collections::HashSet<(String, String)>,
    /// Session id → asked for a customer and an off-session setup.
    setup: std::collections::HashSet<String>,
}

#[derive(Clone)]
struct Stand {
    account: Arc<Mutex<Account>>,
    public_base: String,
    notify_url: String,
    http: reqwest::Client,
}

/// The stand-in mounted at `public_base`; events go to `notify_url`.
pub fn stripe(public_base: &str, notify_url: &str) -> Router {
    let stand = Stand {
        account: Arc::default(),
        public_base: public_base.trim_end_matches('/').to_string(),
        notify_url: notify_url.to_string(),
        http: reqwest::Client::new(),
    };
    Router::new()
        .route("/v1/checkout/sessions", post(create))
        .route("/v1/checkout/sessions/{id}", get(retrieve))
        .route("/v1/refunds", post(refund))
        .route("/v1/payment_intents", post(create_intent))
        .route("/v1/payment_intents/{id}", get(intent))
        .route("/pay/{id}", get(page).post(pay))
        .with_state(stand)
}

fn error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"type": kind, "code": code, "message": message}})),
    )
        .into_response()
}

fn authorized(h: &HeaderMap) -> Result<(), Response> {
    let want = format!("Bearer {SECRET_KEY}");
    if h.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str()) {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided",
        ))
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn idempotency_key(h: &HeaderMap) -> Option<String> {
    h.get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

type Begun<'a> = (
    HashMap<String, String>,
    Option<String>,
    std::sync::MutexGuard<'a, Account>,
);

/// What every POST starts with: the key checked, the form read, and the first answer
/// again when the Idempotency-Key was seen.
fn begin<'a>(s: &'a Stand, h: &HeaderMap, body: &[u8]) -> Result<Begun<'a>, Response> {
    authorized(h)?;
    let key = idempotency_key(h);
    let acct = s.account.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(prev) = key.as_ref().and_then(|k| acct.answers.get(k)) {
        return Err(Json(prev.clone()).into_response());
    }
    Ok((form(body), key, acct))
}

async fn create(State(s): State<Stand>, h: HeaderMap, body: Bytes) -> Response {
    let (f, key, mut acct) = match begin(&s, &h, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut total = 0i64;
    let mut currency: Option<String> = None;
    for n in 0.. {
        let p = format!("line_items[{n}]");
        let Some(unit) = f.get(&format!("{p}[price_data][unit_amount]")) else {
            break;
        };
        let q: i64 = f
            .get(&format!("{p}[quantity]"))
            .and_then(|q| q.parse().ok())
            .unwrap_or(0);
        let c = f
            .get(&format!("{p}[price_data][currency]"))
            .cloned()
            .unwrap_or_default();
        match (unit.parse::<i64>(), &currency) {
            (Ok(u), None) if u > 0 && q > 0 => {
                total += u * q;
                currency = Some(c);
            }
            (Ok(u), Some(cur)) if u > 0 && q > 0 && *cur == c => total += u * q,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "parameter_invalid_integer",
                    "Invalid line item",
                );
            }
        }
    }
    let (Some(currency), Some("payment"), Some(success), Some(cancel)) = (
        currency,
        f.get("mode").map(String::as_str),
        f.get("success_url"),
        f.get("cancel_url"),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_missing",
            "Missing required param: line_items, mode, success_url or cancel_url.",
        );
    };
    let id = format!("cs_test_a1{:030}", acct.sessions.len() + 1);
    let session = json!({
        "id": id, "object": "checkout.session", "livemode": false,
        "url": format!("{}/pay/{id}", s.public_base),
        "mode": "payment", "status": "open", "payment_status": "unpaid",
        "amount_total": total, "currency": currency,
        "client_reference_id": f.get("client_reference_id"),
        "customer_email": f.get("customer_email"),
        "metadata": {"order_id": f.get("metadata[order_id]"), "attempt_id": f.get("metadata[attempt_id]"), "save": f.get("metadata[save]")},
        "customer": null,
        "success_url": success, "cancel_url": cancel,
        "payment_intent": null,
    });
    if f.get("customer_creation").map(String::as_str) == Some("always")
        && f.get("payment_intent_data[setup_future_usage]")
            .map(String::as_str)
            == Some("off_session")
    {
        acct.setup.insert(id.clone());
    }
    acct.sessions.insert(id, session.clone());
    if let Some(k) = key {
        acct.answers.insert(k, session.clone());
    }
    Json(session).into_response()
}

async fn retrieve(
    State(s): State<Stand>,
    h: HeaderMap,
    Path(id): Path<String>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    if let Err(r) = authorized(&h) {
        return r;
    }
    let acct = s.account.lock().unwrap_or_else(|p| p.into_inner());
    // `expand[]=payment_intent.payment_method` (URL-encoded or not) nests the objects.
    let expand = q
        .unwrap_or_default()
        .replace("%5B%5D", "[]")
        .contains("expand[]=payment_intent");
    match acct.sessions.get(&id) {
        Some(v) => {
            let mut v = v.clone();
            if let (true, Some(pi)) = (expand, v["payment_intent"].as_str()) {
                v["payment_intent"] = acct.intents.get(pi).cloned().unwrap_or(Value::Null);
            }
            Json(v).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            &format!("No such checkout.session: '{id}'"),
        ),
    }
}

async fn refund(State(s): State<Stand>, h: HeaderMap, body: Bytes) -> Response {
    let (f, key, mut acct) = match begin(&s, &h, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let pi = f.get("payment_intent").cloned().unwrap_or_default();
    let Some(total) = acct
        .intents
        .get(&pi)
        .and_then(|p| p["amount_received"].as_i64())
    else {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            &format!("No such payment_intent: '{pi}'"),
        );
    };
    let done = acct.refunded.get(&pi).copied().unwrap_or(0);
    let amount = match f.get("amount") {
        Some(a) => a.parse::<i64>().unwrap_or(0),
        None => total - done,
    };
    if amount <= 0 || done + amount > total {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "amount_too_large",
            "Refund amount is greater than unrefunded amount on charge",
        );
    }
    acct.refunded.insert(pi.clone(), done + amount);
    let r = json!({
        "id": format!("re_3{:030}", acct.answers.len() + 1), "object": "refund",
        "amount": amount, "currency": acct.intents[&pi]["currency"], "payment_intent": pi,
        "status": "succeeded",
    });
    if let Some(k) = key {
        acct.answers.insert(k, r.clone());
    }
    Json(r).into_response()
}

async fn page(State(s): State<Stand>, Path(id): Path<String>) -> Response {
    let acct = s.account.lock().unwrap_or_else(|p| p.into_inner());
    let Some(v) = acct.sessions.get(&id) else {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    };
    let total = v["amount_total"].as_i64().unwrap_or(0);
    let amount = format!(
        "{}.{:02} {}",
        total / 100,
        total % 100,
        v["currency"].as_str().unwrap_or("").to_uppercase()
    );
    super::buyer_page("Stripe", &id, &amount, "card")
}

/// The event Stripe sends for a session, signed for the endpoint: (body, header).
pub fn event(kind: &str, session: &Value, secret: &str) -> (String, String) {
    let t = time::OffsetDateTime::now_utc().unix_timestamp();
    let body = json!({
        "id": format!("evt_{}", crate::wechatpay::nonce()),
        "object": "event", "api_version": "2025-10-29.clover", "created": t,
        "type": kind, "livemode": false,
        "data": {"object": session},
    })
    .to_string();
    let sig = crate::stripe::sign(secret, t, body.as_bytes());
    (body, format!("t={t},v1={sig}"))
}

async fn pay(State(s): State<Stand>, Path(id): Path<String>, Form(a): Form<Action>) -> Response {
    let (session, back) = {
        let mut acct = s.account.lock().unwrap_or_else(|p| p.into_inner());
        let Some(v) = acct.sessions.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such session").into_response();
        };
        let mut paid_now = None;
        if v["status"] == "open" {
            if a.action == "pay" {
                let pi = format!("pi_3{}", &id[10..]);
                v["status"] = json!("complete");
                v["payment_status"] = json!("paid");
                v["payment_intent"] = json!(pi);
                paid_now = Some((pi, v["amount_total"].clone(), v["currency"].clone()));
            } else {
                v["status"] = json!("expired");
            }
        }
        if let Some((pi, amount, currency)) = paid_now {
            let n = acct.intents.len() + 1;
            let pm = format!("pm_1Sandbox{n:014}");
            let customer = acct
                .setup
                .contains(&id)
                .then(|| format!("cus_Sandbox{n:08}"));
            if let Some(c) = &customer {
                acct.off_session.insert((c.clone(), pm.clone()));
            }
            acct.intents.insert(
                pi.clone(),
                json!({"id": pi, "object": "payment_intent", "status": "succeeded",
                       "amount": amount, "amount_received": amount, "currency": currency,
                       "customer": customer,
                       "payment_method": {"id": pm, "object": "payment_method", "type": "card",
                                          "card": {"brand": "visa", "last4": "4242"}}}),
            );
            if let Some(v) = acct.sessions.get_mut(&id) {
                v["customer"] = json!(customer);
            }
        }
        let Some(v) = acct.sessions.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such session").into_response();
        };
        let back = if v["payment_status"] == "paid" {
            v["success_url"].clone()
        } else {
            v["cancel_url"].clone()
        };
        (v.clone(), back.as_str().unwrap_or("/").to_string())
    };
    let kind = if session["payment_status"] == "paid" {
        "checkout.session.completed"
    } else {
        "checkout.session.expired"
    };
    let (body, header) = event(kind, &session, WEBHOOK_SECRET);
    let (http, url) = (s.http.clone(), s.notify_url.clone());
    tokio::spawn(async move {
        let _ = http
            .post(url)
            .header("content-type", "application/json")
            .header("stripe-signature", header)
            .body(body)
            .send()
            .await;
    });
    Redirect::to(&back).into_response()
}

/// An off-session charge: to a customer's payment method set up for it, confirmed at
/// once; a method never set up is refused as Stripe refuses it.
async fn create_intent(State(s): State<Stand>, h: HeaderMap, body: Bytes) -> Response {
    let (f, key, mut acct) = match begin(&s, &h, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    let amount = g("amount").parse::<i64>().unwrap_or(0);
    if !acct
        .off_session
        .contains(&(g("customer"), g("payment_method")))
        || g("off_session") != "true"
        || g("confirm") != "true"
        || amount <= 0
    {
        return error(
            StatusCode::PAYMENT_REQUIRED,
            "card_error",
            "authentication_required",
            "The payment method was not set up for off-session use by this customer.",
        );
    }
    let id = format!("pi_3Off{:024}", acct.intents.len() + 1);
    let pi = json!({"id": id, "object": "payment_intent", "status": "succeeded",
                    "amount": amount, "amount_received": amount, "currency": g("currency"),
                    "customer": g("customer"),
                    "payment_method": {"id": g("payment_method"), "object": "payment_method", "type": "card",
                                       "card": {"brand": "visa", "last4": "4242"}},
                    "metadata": {"order_id": g("metadata[order_id]"), "attempt_id": g("metadata[attempt_id]")}});
    acct.intents.insert(id, pi.clone());
    if let Some(k) = key {
        acct.answers.insert(k, pi.clone());
    }
    Json(pi).into_response()
}

async fn intent(State(s): State<Stand>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authorized(&h) {
        return r;
    }
    match s
        .account
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .intents
        .get(&id)
    {
        Some(v) => Json(v.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            &format!("No such payment_intent: '{id}'"),
        ),
    }
}
