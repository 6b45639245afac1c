//! Local stand-ins for providers, for the demo shop and the tests: they speak the
//! provider's API as documented (here YooKassa API v3: Basic auth, Idempotence-Key, the
//! payment and error objects, the 54-FZ receipt checks) and add the page the buyer would
//! see at the provider, where a person clicks "Pay" or "Cancel"; the stand-in then sends
//! the provider's notification to the shop. Clearly labelled; mounted only in demo shops.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub mod alipay;
pub mod paypal;
pub mod stripe;
pub mod wechatpay;

/// The credentials the stand-in accepts (a YooKassa test shop's form).
pub const SHOP_ID: &str = "100500";
pub const SECRET_KEY: &str = "test_sandbox_secret_key";

#[derive(Default)]
struct Shop {
    payments: HashMap<String, Value>,
    by_key: HashMap<String, String>,
    refunds: HashMap<String, Value>,
    return_urls: HashMap<String, String>,
    /// Payment methods kept for later charges.
    saved: std::collections::HashSet<String>,
}

#[derive(Clone)]
struct Stand {
    shop: Arc<Mutex<Shop>>,
    /// Where this stand-in is mounted, as the buyer's browser reaches it.
    public_base: String,
    /// The shop's notification URL.
    notify_url: String,
    http: reqwest::Client,
}

/// The YooKassa stand-in, to be mounted at `mount` (for example `/sandbox/yookassa`):
/// its API is at `{mount}/v3`, its buyer pages at `{mount}/confirm/{id}`.
pub fn yookassa(public_base: &str, notify_url: &str) -> Router {
    crate::install_crypto();
    let stand = Stand {
        shop: Arc::default(),
        public_base: public_base.trim_end_matches('/').to_string(),
        notify_url: notify_url.to_string(),
        http: reqwest::Client::new(),
    };
    Router::new()
        .route("/v3/payments", post(create))
        .route("/v3/payments/{id}", get(fetch))
        .route("/v3/refunds", post(refund))
        .route("/confirm/{id}", get(confirm_page).post(confirm))
        .with_state(stand)
}

fn authorized(h: &HeaderMap) -> bool {
    use base64::Engine;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SHOP_ID}:{SECRET_KEY}"))
    );
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str())
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"type": "error", "id": "sandbox", "code": code, "description": description})),
    )
        .into_response()
}

/// A decimal amount of the API ("750.00") in minor units.
fn cents(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    let (a, b) = s.split_once('.').unwrap_or((s, "0"));
    Some(a.parse::<i64>().ok()? * 100 + format!("{b:0<2}")[..2].parse::<i64>().ok()?)
}

/// Whether a payment body is one the API accepts: amount, capture, redirect, and a receipt
/// whose items add up to the amount, each with a VAT code, for a customer with an e-mail
/// or a phone.
fn acceptable(body: &Value) -> bool {
    let items = body["receipt"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let sum: Option<i64> = items.iter().map(|i| cents(&i["amount"]["value"])).sum();
    let customer = &body["receipt"]["customer"];
    !items.is_empty()
        && sum.is_some()
        && sum == cents(&body["amount"]["value"])
        && items.iter().all(|i| i["vat_code"].as_u64().is_some())
        && !(customer["email"].is_null() && customer["phone"].is_null())
        && body["capture"] == json!(true)
        // A charge to a saved method has no confirmation (the buyer is not there).
        && (body["confirmation"]["type"] == "redirect" || body["payment_method_id"].is_string())
}

/// What every POST of the API requires: the shop's credentials and an Idempotence-Key;
/// the key, or the API's error answer.
fn post_key(h: &HeaderMap) -> Result<&str, Response> {
    if !authorized(h) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Authentication error",
        ));
    }
    h.get("idempotence-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Idempotence key is missing",
            )
        })
}

async fn create(State(s): State<Stand>, h: HeaderMap, Json(body): Json<Value>) -> Response {
    let key = match post_key(&h) {
        Ok(k) => k,
        Err(res) => return res,
    };
    let mut shop = s.shop.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(id) = shop.by_key.get(key) {
        return Json(shop.payments[id].clone()).into_response();
    }
    if !acceptable(&body) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Payment or receipt is invalid",
        );
    }
    let id = format!(
        "2e{:06x}-000f-5000-9000-1b68e7b15f3f",
        shop.payments.len() + 1
    );
    let mut payment = json!({
        "id": id,
        "status": "pending",
        "paid": false,
        "amount": body["amount"],
        "confirmation": {"type": "redirect", "confirmation_url": format!("{}/confirm/{id}", s.public_base)},
        "created_at": "2026-01-01T00:00:00.000Z",
        "description": body["description"],
        "metadata": body["metadata"],
        "payment_method": {"type": body["payment_method_data"]["type"], "id": id, "saved": false},
        "recipient": {"account_id": SHOP_ID, "gateway_id": "100700"},
        "refundable": false,
        "test": true
    });
    if body["save_payment_method"] == json!(true) {
        // Kept once the payment succeeds (see confirm).
        payment["x_save"] = json!(true);
    }
    if let Some(token) = body["payment_method_id"].as_str() {
        // An auto-payment: charged at once to a method kept earlier, or refused.
        if !shop.saved.contains(token) {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Payment method is not saved or doesn't exist",
            );
        }
        if let Some(o) = payment.as_object_mut() {
            o.remove("confirmation");
        }
        payment["status"] = json!("succeeded");
        payment["paid"] = json!(true);
        payment["payment_method"] =
            json!({"type": "bank_card", "id": token, "saved": true, "title": "Bank card *4444"});
    }
    shop.return_urls.insert(
        id.clone(),
        body["confirmation"]["return_url"]
            .as_str()
            .unwrap_or("/")
            .to_string(),
    );
    shop.payments.insert(id.clone(), payment.clone());
    shop.by_key.insert(key.to_string(), id);
    Json(payment).into_response()
}

async fn fetch(State(s): State<Stand>, h: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&h) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Authentication error",
        );
    }
    match s
        .shop
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .payments
        .get(&id)
    {
        Some(p) => Json(p.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Payment doesn't exist or access denied",
        ),
    }
}

/// "Create a refund": of a succeeded payment, at most what is left of it.
async fn refund(State(s): State<Stand>, h: HeaderMap, Json(body): Json<Value>) -> Response {
    let key = match post_key(&h) {
        Ok(k) => k,
        Err(res) => return res,
    };
    let mut shop = s.shop.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(r) = shop.refunds.get(key) {
        return Json(r.clone()).into_response();
    }
    let pid = body["payment_id"].as_str().unwrap_or("").to_string();
    let cents = |v: &Value| cents(v).unwrap_or(0);
    let Some(p) = shop.payments.get(&pid).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Payment doesn't exist or access denied",
        );
    };
    let already: i64 = shop
        .refunds
        .values()
        .filter(|r| r["payment_id"] == pid.as_str())
        .map(|r| cents(&r["amount"]["value"]))
        .sum();
    let asked = cents(&body["amount"]["value"]);
    // The shop sends receipts: a refund carries its refund receipt (54-FZ), adding up.
    let receipt_sum: i64 = body["receipt"]["items"]
        .as_array()
        .map(|items| items.iter().map(|i| cents(&i["amount"]["value"])).sum())
        .unwrap_or(-1);
    let customer = &body["receipt"]["customer"];
    if receipt_sum != asked || (customer["email"].is_null() && customer["phone"].is_null()) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Receipt is missing or does not add up to the refund",
        );
    }
    if p["status"] != "succeeded"
        || body["amount"]["currency"] != p["amount"]["currency"]
        || asked <= 0
        || asked + already > cents(&p["amount"]["value"])
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Refund amount exceeds the payment",
        );
    }
    let refund = json!({
        "id": format!("2f{:06x}-0015-5000-8000-1b68e7b15f3f", shop.refunds.len() + 1),
        "payment_id": pid,
        "status": "succeeded",
        "amount": body["amount"],
        "created_at": "2026-01-01T00:00:00.000Z"
    });
    shop.refunds.insert(key.to_string(), refund.clone());
    Json(refund).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The buyer's page at the "provider": the amount, and Pay / Cancel.
async fn confirm_page(State(s): State<Stand>, Path(id): Path<String>) -> Response {
    let shop = s.shop.lock().unwrap_or_else(|p| p.into_inner());
    let Some(p) = shop.payments.get(&id) else {
        return (StatusCode::NOT_FOUND, "no such payment").into_response();
    };
    let amount = format!(
        "{} {}",
        p["amount"]["value"].as_str().unwrap_or(""),
        p["amount"]["currency"].as_str().unwrap_or("")
    );
    buyer_page(
        "YooKassa",
        &id,
        &amount,
        p["payment_method"]["type"].as_str().unwrap_or(""),
    )
}

/// The page a stand-in shows the buyer: clearly not a real payment; Pay and Cancel.
pub(crate) fn buyer_page(provider: &str, id: &str, amount: &str, method: &str) -> Response {
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{provider} sandbox</title></head>
<body><main><h1>{provider} sandbox — not a real payment</h1>
<p>This stand-in replaces {provider} in the demo shop. No money moves.</p>
<p>Payment <code>{id}</code>: <strong id="amount">{amount}</strong> by <span id="method">{method}</span>.</p>
<form method="post"><button name="action" value="pay" id="sandbox-pay">Pay</button> <button name="action" value="cancel" id="sandbox-cancel">Cancel</button></form>
</main></body></html>"#,
        provider = escape(provider),
        id = escape(id),
        amount = escape(amount),
        method = escape(method),
    ))
    .into_response()
}

#[derive(serde::Deserialize)]
pub(crate) struct Action {
    pub(crate) action: String,
}

/// Pay or cancel: the payment changes, the shop is notified as YooKassa notifies (the
/// payment object in a `notification`), and the buyer goes back to the shop.
async fn confirm(
    State(s): State<Stand>,
    Path(id): Path<String>,
    Form(a): Form<Action>,
) -> Response {
    let (payment, back) = {
        let mut shop = s.shop.lock().unwrap_or_else(|p| p.into_inner());
        let back = shop
            .return_urls
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "/".into());
        let Some(p) = shop.payments.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such payment").into_response();
        };
        let mut kept = None;
        if p["status"] == "pending" {
            let paid = a.action == "pay";
            p["status"] = json!(if paid { "succeeded" } else { "canceled" });
            p["paid"] = json!(paid);
            if paid && p["x_save"] == json!(true) {
                p["payment_method"]["saved"] = json!(true);
                p["payment_method"]["title"] = json!("Bank card *4444");
                kept = p["payment_method"]["id"].as_str().map(str::to_string);
            }
        }
        let p = p.clone();
        if let Some(k) = kept {
            shop.saved.insert(k);
        }
        (p, back)
    };
    let event = format!(
        "payment.{}",
        payment["status"].as_str().unwrap_or("pending")
    );
    let body = json!({"type": "notification", "event": event, "object": payment});
    // As YooKassa would: the notification goes out on its own; the buyer does not wait.
    let (http, url) = (s.http.clone(), s.notify_url.clone());
    tokio::spawn(async move {
        let _ = http.post(url).json(&body).send().await;
    });
    Redirect::to(&back).into_response()
}

/// Every stand-in, mounted under `<public>/sandbox/<provider>`, and the connectors
/// pointed at them, as `serve --demo` and the tests run them. `webhooks` is where the
/// providers configured in a dashboard (YooKassa, Stripe) send notifications,
/// `<webhooks>/<provider>` (Alipay and WeChat Pay take theirs from each payment).
pub struct Stands {
    pub router: Router,
    pub providers: Vec<Arc<dyn crate::provider::Provider>>,
    /// The stand-ins' signing keys, so tests can send notifications of their own.
    pub alipay_key: Arc<crate::keys::SigningKey>,
    pub alipay_app_id: String,
    pub wechat_key: Arc<crate::keys::SigningKey>,
    pub paypal_key: Arc<crate::keys::SigningKey>,
}

pub fn all(public: &str, webhooks: &str) -> Result<Stands, crate::PaymentError> {
    use crate::keys::{SigningKey, VerifyingKey};
    let public = public.trim_end_matches('/');
    let bad = |e: crate::keys::KeyError| crate::PaymentError::Config(e.to_string());
    let ali = alipay::alipay(&format!("{public}/sandbox/alipay"));
    let wx = wechatpay::wechatpay(&format!("{public}/sandbox/wechatpay"));
    let (paypal_router, paypal_key) = paypal::paypal(
        &format!("{public}/sandbox/paypal"),
        &format!("{webhooks}/paypal"),
    );
    let providers: Vec<Arc<dyn crate::provider::Provider>> = vec![
        Arc::new(crate::yookassa::YooKassa::new(
            &format!("{public}/sandbox/yookassa/v3"),
            SHOP_ID,
            SECRET_KEY,
        )?),
        Arc::new(crate::alipay::Alipay::new(
            &format!("{public}/sandbox/alipay/gateway.do"),
            &ali.app_id,
            &ali.app_private_key,
            &ali.alipay_public_key,
        )?),
        Arc::new(crate::wechatpay::WeChatPay::new(
            &format!("{public}/sandbox/wechatpay"),
            crate::wechatpay::Credentials {
                mchid: wechatpay::MCHID.into(),
                appid: wechatpay::APPID.into(),
                serial_no: wechatpay::SERIAL_NO.into(),
                private_key: SigningKey::parse(&wx.merchant_private_key).map_err(bad)?,
                wechat_key_id: wechatpay::KEY_ID.into(),
                wechat_key: VerifyingKey::parse(&wx.wechat_public_key).map_err(bad)?,
                api_v3_key: wechatpay::API_V3_KEY.into(),
            },
        )?),
        Arc::new(crate::stripe::Stripe::new(
            &format!("{public}/sandbox/stripe"),
            stripe::SECRET_KEY,
            stripe::WEBHOOK_SECRET,
        )?),
        Arc::new(crate::paypal::PayPal::new(
            &format!("{public}/sandbox/paypal"),
            paypal::CLIENT_ID,
            paypal::SECRET,
            paypal::WEBHOOK_ID,
        )?),
    ];
    let router = Router::new()
        .nest(
            "/sandbox/yookassa",
            yookassa(
                &format!("{public}/sandbox/yookassa"),
                &format!("{webhooks}/yookassa"),
            ),
        )
        .nest(
            "/sandbox/stripe",
            stripe::stripe(
                &format!("{public}/sandbox/stripe"),
                &format!("{webhooks}/stripe"),
            ),
        )
        .nest("/sandbox/alipay", ali.router)
        .nest("/sandbox/wechatpay", wx.router)
        .nest("/sandbox/paypal", paypal_router);
    Ok(Stands {
        router,
        providers,
        alipay_key: ali.alipay_key,
        alipay_app_id: ali.app_id,
        wechat_key: wx.platform_key,
        paypal_key,
    })
}
