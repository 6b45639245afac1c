//! The PayPal stand-in: OAuth client credentials (`/v1/oauth2/token`), Orders v2
//! (create with `PayPal-Request-Id`, get, capture), capture refunds, and
//! `/v1/notifications/verify-webhook-signature`. The buyer approves at
//! `{mount}/checkoutnow?token={order}` and is sent back to the return URL with
//! `token` and `PayerID`; approving also sends `CHECKOUT.ORDER.APPROVED` to the webhook
//! endpoint configured (as in PayPal's developer dashboard), with the `PAYPAL-*`
//! transmission headers: SHA256withRSA, by the stand-in's key, over
//! `<transmission id>|<transmission time>|<webhook id>|<CRC32 of the body, decimal>`, as
//! PayPal signs; the verify API checks exactly that.

use super::Action;
use crate::keys::SigningKey;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "AeSimrenewSandboxClientId0000000000000000";
pub const SECRET: &str = "ESimrenewSandboxSecret000000000000000000";
pub const WEBHOOK_ID: &str = "8PT597110X687430LKGECATA";

#[derive(Default)]
struct Account {
    tokens: HashSet<String>,
    orders: HashMap<String, Value>,
    /// PayPal-Request-Id → the answer first given.
    answers: HashMap<String, Value>,
    /// capture id → refunded so far (cents).
    refunded: HashMap<String, i64>,
}

#[derive(Clone)]
struct Stand {
    account: Arc<Mutex<Account>>,
    key: Arc<SigningKey>,
    public_base: String,
    notify_url: String,
    http: reqwest::Client,
}

/// The stand-in mounted at `public_base`, webhooks to `notify_url`; and its signing key
/// (tests send webhooks of their own with it).
pub fn paypal(public_base: &str, notify_url: &str) -> (Router, Arc<SigningKey>) {
    let key = Arc::new(SigningKey::generate());
    let stand = Stand {
        account: Arc::default(),
        key: key.clone(),
        public_base: public_base.trim_end_matches('/').to_string(),
        notify_url: notify_url.to_string(),
        http: reqwest::Client::new(),
    };
    let router = Router::new()
        .route("/v1/oauth2/token", post(token))
        .route("/v2/checkout/orders", post(create))
        .route("/v2/checkout/orders/{id}", get(fetch))
        .route("/v2/checkout/orders/{id}/capture", post(capture))
        .route("/v2/payments/captures/{id}/refund", post(refund))
        .route("/v1/notifications/verify-webhook-signature", post(verify))
        .route("/checkoutnow", get(page).post(approve))
        .with_state(stand);
    (router, key)
}

/// CRC-32 (IEEE 802.3), as PayPal's signature input uses.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn error(status: StatusCode, name: &str, issue: &str, message: &str) -> Response {
    (
        status,
        Json(
            json!({"name": name, "message": message, "debug_id": "f0sandbox0001",
                    "details": [{"issue": issue, "description": message}]}),
        ),
    )
        .into_response()
}

fn id() -> String {
    crate::wechatpay::nonce()[..17].to_string()
}

/// The signed transmission headers for an event body (what PayPal sends with a webhook).
pub fn transmission(key: &SigningKey, body: &str, cert_url: &str) -> Vec<(&'static str, String)> {
    let tid = uuid::Uuid::new_v4().to_string();
    let time = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let sig = key.sign(format!("{tid}|{time}|{WEBHOOK_ID}|{}", crc32(body.as_bytes())).as_bytes());
    vec![
        ("paypal-auth-algo", "SHA256withRSA".to_string()),
        ("paypal-cert-url", cert_url.to_string()),
        ("paypal-transmission-id", tid),
        ("paypal-transmission-sig", sig),
        ("paypal-transmission-time", time),
    ]
}

/// A webhook event about `order` as PayPal sends it.
pub fn order_event(kind: &str, order: &Value) -> String {
    json!({
        "id": format!("WH-{}", id()), "event_version": "1.0", "create_time": "2026-11-25T10:00:00Z",
        "resource_type": "checkout-order", "resource_version": "2.0", "event_type": kind,
        "summary": "An order has been approved by buyer", "resource": order,
    })
    .to_string()
}

fn bearer(s: &Stand, h: &HeaderMap) -> Result<(), Response> {
    let t = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if s.account
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .tokens
        .contains(t)
    {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_FAILURE",
            "INVALID_TOKEN",
            "Authentication failed due to invalid authentication credentials or a missing Authorization header.",
        ))
    }
}

fn request_id(h: &HeaderMap) -> Option<String> {
    h.get("paypal-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// What every POST starts with: the bearer token checked, and the first answer again
/// when the PayPal-Request-Id was seen.
fn begin<'a>(
    s: &'a Stand,
    h: &HeaderMap,
) -> Result<(Option<String>, std::sync::MutexGuard<'a, Account>), Response> {
    bearer(s, h)?;
    let rid = request_id(h);
    let acct = s.account.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(prev) = rid.as_ref().and_then(|r| acct.answers.get(r)) {
        return Err(Json(prev.clone()).into_response());
    }
    Ok((rid, acct))
}

async fn token(State(s): State<Stand>, h: HeaderMap, body: Bytes) -> Response {
    use base64::Engine;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"))
    );
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str())
        || &body[..] != b"grant_type=client_credentials"
    {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client", "error_description": "Client Authentication failed"}))).into_response();
    }
    let t = format!("A21AA{}", crate::wechatpay::nonce());
    s.account
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .tokens
        .insert(t.clone());
    Json(
        json!({"scope": "https://uri.paypal.com/services/payments/payment", "access_token": t,
                "token_type": "Bearer", "app_id": "APP-80W284485P519543T", "expires_in": 32400}),
    )
    .into_response()
}

async fn create(State(s): State<Stand>, h: HeaderMap, Json(b): Json<Value>) -> Response {
    let (rid, mut acct) = match begin(&s, &h) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let unit = &b["purchase_units"][0];
    let value = unit["amount"]["value"].as_str().unwrap_or("");
    let ok_amount = value
        .split_once('.')
        .is_some_and(|(a, c)| !a.is_empty() && c.len() == 2)
        && value.chars().all(|c| c.is_ascii_digit() || c == '.');
    let ctx = &b["payment_source"]["paypal"]["experience_context"];
    if b["intent"] != "CAPTURE"
        || !ok_amount
        || unit["amount"]["currency_code"].as_str().is_none()
        || ctx["return_url"].as_str().is_none()
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            "INVALID_PARAMETER_VALUE",
            "The value of a field is invalid.",
        );
    }
    let oid = id();
    let order = json!({
        "id": oid, "intent": "CAPTURE", "status": "PAYER_ACTION_REQUIRED",
        "purchase_units": [unit],
        "payment_source": {"paypal": {}},
        "links": [
            {"href": format!("{}/v2/checkout/orders/{oid}", s.public_base), "rel": "self", "method": "GET"},
            {"href": format!("{}/checkoutnow?token={oid}", s.public_base), "rel": "payer-action", "method": "GET"},
        ],
        "x_return_url": ctx["return_url"], "x_cancel_url": ctx["cancel_url"],
    });
    acct.orders.insert(oid, order.clone());
    if let Some(r) = rid {
        acct.answers.insert(r, order.clone());
    }
    Json(order).into_response()
}

async fn fetch(State(s): State<Stand>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = bearer(&s, &h) {
        return r;
    }
    match s
        .account
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .orders
        .get(&id)
    {
        Some(o) => Json(o.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "INVALID_RESOURCE_ID",
            "Specified resource ID does not exist.",
        ),
    }
}

async fn capture(State(s): State<Stand>, h: HeaderMap, Path(id): Path<String>) -> Response {
    let (rid, mut acct) = match begin(&s, &h) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(o) = acct.orders.get_mut(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "INVALID_RESOURCE_ID",
            "Specified resource ID does not exist.",
        );
    };
    match o["status"].as_str() {
        Some("APPROVED") => {}
        Some("COMPLETED") => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "ORDER_ALREADY_CAPTURED",
                "Order already captured.",
            );
        }
        _ => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "ORDER_NOT_APPROVED",
                "Payer has not yet approved the Order for payment.",
            );
        }
    }
    o["status"] = json!("COMPLETED");
    let amount = o["purchase_units"][0]["amount"].clone();
    o["purchase_units"][0]["payments"] = json!({"captures": [{
        "id": format!("CAP{}", id), "status": "COMPLETED", "amount": amount, "final_capture": true,
        "supplementary_data": {"related_ids": {"order_id": id}},
    }]});
    let done = o.clone();
    if let Some(r) = rid {
        acct.answers.insert(r, done.clone());
    }
    (StatusCode::CREATED, Json(done)).into_response()
}

fn cents(v: &str) -> i64 {
    let (a, b) = v.split_once('.').unwrap_or((v, "0"));
    a.parse::<i64>().unwrap_or(0) * 100 + format!("{b:0<2}")[..2].parse::<i64>().unwrap_or(0)
}

async fn refund(
    State(s): State<Stand>,
    h: HeaderMap,
    Path(cap): Path<String>,
    Json(b): Json<Value>,
) -> Response {
    let (rid, mut acct) = match begin(&s, &h) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let captured = acct.orders.values().find_map(|o| {
        let c = &o["purchase_units"][0]["payments"]["captures"][0];
        (c["id"] == cap.as_str()).then(|| c["amount"].clone())
    });
    let Some(captured) = captured else {
        return error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "INVALID_RESOURCE_ID",
            "Specified resource ID does not exist.",
        );
    };
    let total = cents(captured["value"].as_str().unwrap_or("0"));
    let asked = cents(b["amount"]["value"].as_str().unwrap_or("0"));
    let done = acct.refunded.get(&cap).copied().unwrap_or(0);
    if asked <= 0
        || done + asked > total
        || b["amount"]["currency_code"] != captured["currency_code"]
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNPROCESSABLE_ENTITY",
            "REFUND_AMOUNT_EXCEEDED",
            "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
        );
    }
    acct.refunded.insert(cap, done + asked);
    let r = json!({"id": format!("RF{}", id()), "status": "COMPLETED", "amount": b["amount"]});
    if let Some(k) = rid {
        acct.answers.insert(k, r.clone());
    }
    (StatusCode::CREATED, Json(r)).into_response()
}

#[derive(serde::Deserialize)]
struct VerifyRequest<'a> {
    auth_algo: String,
    cert_url: String,
    transmission_id: String,
    transmission_sig: String,
    transmission_time: String,
    webhook_id: String,
    #[serde(borrow)]
    webhook_event: &'a RawValue,
}

async fn verify(State(s): State<Stand>, h: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = bearer(&s, &h) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<VerifyRequest<'_>>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "MISSING_REQUIRED_PARAMETER",
            "Request is not well-formed.",
        );
    };
    let message = format!(
        "{}|{}|{}|{}",
        v.transmission_id,
        v.transmission_time,
        v.webhook_id,
        crc32(v.webhook_event.get().as_bytes())
    );
    let ok = v.auth_algo == "SHA256withRSA"
        && v.cert_url == format!("{}/v1/notifications/certs/CERT-sandbox", s.public_base)
        && v.webhook_id == WEBHOOK_ID
        && s.key
            .verifying_key()
            .verify(message.as_bytes(), &v.transmission_sig);
    Json(json!({"verification_status": if ok { "SUCCESS" } else { "FAILURE" }})).into_response()
}

#[derive(serde::Deserialize)]
struct Token {
    token: String,
}

async fn page(State(s): State<Stand>, Query(t): Query<Token>) -> Response {
    let acct = s.account.lock().unwrap_or_else(|p| p.into_inner());
    let Some(o) = acct.orders.get(&t.token) else {
        return (StatusCode::NOT_FOUND, "no such order").into_response();
    };
    let a = &o["purchase_units"][0]["amount"];
    let amount = format!(
        "{} {}",
        a["value"].as_str().unwrap_or(""),
        a["currency_code"].as_str().unwrap_or("")
    );
    super::buyer_page("PayPal", &t.token, &amount, "PayPal balance")
}

async fn approve(
    State(s): State<Stand>,
    Query(t): Query<Token>,
    Form(a): Form<Action>,
) -> Response {
    let (order, back) = {
        let mut acct = s.account.lock().unwrap_or_else(|p| p.into_inner());
        let Some(o) = acct.orders.get_mut(&t.token) else {
            return (StatusCode::NOT_FOUND, "no such order").into_response();
        };
        let pay = a.action == "pay";
        if pay && o["status"] == "PAYER_ACTION_REQUIRED" {
            o["status"] = json!("APPROVED");
            o["payer"] = json!({"payer_id": "QYR5Z8XDVJNXQ", "email_address": "buyer@example.com"});
        }
        let back = if pay {
            &o["x_return_url"]
        } else {
            &o["x_cancel_url"]
        };
        let back = format!(
            "{}?token={}&PayerID=QYR5Z8XDVJNXQ",
            back.as_str().unwrap_or("/"),
            t.token
        );
        (pay.then(|| o.clone()), back)
    };
    if let Some(order) = order {
        let body = order_event("CHECKOUT.ORDER.APPROVED", &order);
        let headers = transmission(
            &s.key,
            &body,
            &format!("{}/v1/notifications/certs/CERT-sandbox", s.public_base),
        );
        let (http, url) = (s.http.clone(), s.notify_url.clone());
        tokio::spawn(async move {
            let mut req = http
                .post(url)
                .header("content-type", "application/json")
                .body(body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let _ = req.send().await;
        });
    }
    Redirect::to(&back).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_check_value() {
        // The CRC-32/ISO-HDLC check value.
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
