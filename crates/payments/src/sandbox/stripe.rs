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
        "metadata": {"order_id": f.get("metadata[order_id]"), "attempt_id": f.get("metadata[attempt_id]")},
        "success_url": success, "cancel_url": cancel,
        "payment_intent": null,
    });
    acct.sessions.insert(id, session.clone());
    if let Some(k) = key {
        acct.answers.insert(k, session.clone());
    }
    Json(session).into_response()
}

async fn retrieve(State(s): State<Stand>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = authorized(&h) {
        return r;
    }
    let acct = s.account.lock().unwrap_or_else(|p| p.into_inner());
    match acct.sessions.get(&id) {
        Some(v) => Json(v.clone()).into_response(),
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
    let Some(session) = acct
        .sessions
        .values()
        .find(|v| v["payment_intent"] == pi.as_str())
        .cloned()
    else {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            &format!("No such payment_intent: '{pi}'"),
        );
    };
    let total = session["amount_total"].as_i64().unwrap_or(0);
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
        "amount": amount, "currency": session["currency"], "payment_intent": pi,
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
        if v["status"] == "open" {
            if a.action == "pay" {
                v["status"] = json!("complete");
                v["payment_status"] = json!("paid");
                v["payment_intent"] = json!(format!("pi_3{}", &id[10..]));
            } else {
                v["status"] = json!("expired");
            }
        }
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
