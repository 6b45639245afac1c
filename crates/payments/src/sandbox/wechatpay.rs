//! The WeChat Pay stand-in: API v3 for Native payments (`POST
//! /v3/pay/transactions/native`, `GET /v3/pay/transactions/out-trade-no/{no}?mchid=`,
//! `POST /v3/refund/domestic/refunds`). Every request's `Authorization` is checked as
//! WeChat Pay checks it (scheme, mchid, certificate serial, 5-minute timestamp, the
//! SHA256withRSA signature by the merchant's key over method, path and query, timestamp,
//! nonce and body; a failure is `401 SIGN_ERROR`), and every answer is signed with the
//! stand-in's platform key in the `Wechatpay-*` headers. The buyer "scans" the
//! `code_url` (`{mount}/scan/{out_trade_no}`); Pay sends the `TRANSACTION.SUCCESS`
//! notification, its resource AEAD_AES_256_GCM-encrypted with the APIv3 key, signed,
//! resent until the shop answers 2xx; Cancel closes the trade (no notification, as
//! WeChat Pay sends none for a trade the buyer abandons). Keys are made at start.

use crate::keys::{SigningKey, VerifyingKey};
use crate::wechatpay::{
    answer_message, authorization_params, encrypt_resource, nonce, request_message,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const MCHID: &str = "1900000109";
pub const APPID: &str = "wxd678efh567hg6787";
pub const SERIAL_NO: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
pub const KEY_ID: &str = "PUB_KEY_ID_0119000001092026112500000000000001";
/// 32 characters, as the APIv3 key is set in the merchant platform.
pub const API_V3_KEY: &str = "simrenewSandboxApiV3Key000000000";

#[derive(Debug, Clone)]
struct Trade {
    total: i64,
    description: String,
    notify_url: String,
    /// NOTPAY, SUCCESS, CLOSED, REFUND
    state: &'static str,
    transaction_id: String,
    refunds: HashMap<String, (i64, String)>,
    back: Option<String>,
}

#[derive(Clone)]
struct Stand {
    merchant: VerifyingKey,
    platform: Arc<SigningKey>,
    public_base: String,
    trades: Arc<Mutex<HashMap<String, Trade>>>,
    http: reqwest::Client,
}

/// A running stand-in and the merchant settings that talk to it.
pub struct Sandbox {
    pub router: Router,
    /// The merchant's API certificate key, PEM (what the shop is configured with).
    pub merchant_private_key: String,
    /// The platform ("WeChat Pay public key"), PEM, with id [`KEY_ID`].
    pub wechat_public_key: String,
    /// The stand-in's signing key: tests use it to send notifications of their own.
    pub platform_key: Arc<SigningKey>,
}

pub fn wechatpay(public_base: &str) -> Sandbox {
    crate::install_crypto();
    let merchant = SigningKey::generate();
    let platform = Arc::new(SigningKey::generate());
    let stand = Stand {
        merchant: merchant.verifying_key(),
        platform: platform.clone(),
        public_base: public_base.trim_end_matches('/').to_string(),
        trades: Arc::default(),
        http: reqwest::Client::new(),
    };
    let router = Router::new()
        .route("/v3/pay/transactions/native", post(native))
        .route("/v3/pay/transactions/out-trade-no/{no}", get(query))
        .route("/v3/refund/domestic/refunds", post(refund))
        .route("/scan/{no}", get(scan_page).post(scan))
        .with_state(stand);
    Sandbox {
        router,
        merchant_private_key: merchant.to_pem(),
        wechat_public_key: platform.verifying_key().to_pem(),
        platform_key: platform,
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The `Wechatpay-*` headers signing `body`.
pub fn signed_headers(key: &SigningKey, body: &str) -> Vec<(&'static str, String)> {
    let ts = now().to_string();
    let n = nonce();
    let sig = key.sign(answer_message(&ts, &n, body).as_bytes());
    vec![
        ("wechatpay-timestamp", ts),
        ("wechatpay-nonce", n),
        ("wechatpay-signature", sig),
        ("wechatpay-serial", KEY_ID.to_string()),
        (
            "wechatpay-signature-type",
            crate::wechatpay::SIGNATURE_TYPE.to_string(),
        ),
        ("request-id", crate::wechatpay::nonce()),
    ]
}

fn signed(key: &SigningKey, status: StatusCode, body: Value) -> Response {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut res = (status, text.clone()).into_response();
    for (k, v) in signed_headers(key, &text) {
        if let Ok(v) = v.parse() {
            res.headers_mut().insert(k, v);
        }
    }
    if !text.is_empty() {
        res.headers_mut().insert(
            "content-type",
            axum::http::HeaderValue::from_static("application/json"),
        );
    }
    res
}

fn fail(key: &SigningKey, status: StatusCode, code: &str, message: &str) -> Response {
    signed(key, status, json!({"code": code, "message": message}))
}

/// Checks the merchant's `Authorization` on a request.
fn authorized(s: &Stand, method: &Method, path_and_query: &str, h: &HeaderMap, body: &str) -> bool {
    let Some(p) = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(authorization_params)
    else {
        return false;
    };
    let field = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let fresh = field("timestamp")
        .parse::<i64>()
        .is_ok_and(|t| (now() - t).abs() <= crate::wechatpay::TOLERANCE_SECS);
    field("mchid") == MCHID
        && field("serial_no") == SERIAL_NO
        && fresh
        && s.merchant.verify(
            request_message(
                method.as_str(),
                path_and_query,
                field("timestamp"),
                field("nonce_str"),
                body,
            )
            .as_bytes(),
            field("signature"),
        )
}

fn transaction(no: &str, t: &Trade) -> Value {
    let mut v = json!({
        "appid": APPID, "mchid": MCHID, "out_trade_no": no,
        "trade_state": t.state, "trade_state_desc": t.state,
        "amount": {"total": t.total, "currency": "CNY"},
    });
    if matches!(t.state, "SUCCESS" | "REFUND") {
        v["transaction_id"] = json!(t.transaction_id);
        v["trade_type"] = json!("NATIVE");
        v["bank_type"] = json!("OTHERS");
        v["success_time"] = json!("2026-11-25T10:00:00+08:00");
        v["payer"] = json!({"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"});
        v["amount"]["payer_total"] = json!(t.total);
        v["amount"]["payer_currency"] = json!("CNY");
    }
    v
}

async fn native(State(s): State<Stand>, h: HeaderMap, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).to_string();
    if !authorized(&s, &Method::POST, "/v3/pay/transactions/native", &h, &text) {
        return fail(
            &s.platform,
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "签名错误",
        );
    }
    let Ok(b) = serde_json::from_str::<Value>(&text) else {
        return fail(
            &s.platform,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "body is not JSON",
        );
    };
    let f = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let total = b
        .pointer("/amount/total")
        .and_then(Value::as_i64)
        .filter(|t| *t > 0);
    let (Some(total), false) = (
        total,
        f("out_trade_no").is_empty() || f("description").is_empty() || f("notify_url").is_empty(),
    ) else {
        return fail(
            &s.platform,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "缺少参数",
        );
    };
    if f("mchid") != MCHID || f("appid") != APPID {
        return fail(
            &s.platform,
            StatusCode::BAD_REQUEST,
            "APPID_MCHID_NOT_MATCH",
            "appid和mch_id不匹配",
        );
    }
    if b.pointer("/amount/currency")
        .and_then(Value::as_str)
        .unwrap_or("CNY")
        != "CNY"
    {
        return fail(
            &s.platform,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "currency",
        );
    }
    let no = f("out_trade_no");
    let mut trades = s.trades.lock().unwrap_or_else(|p| p.into_inner());
    let n = trades.len() + 1;
    let t = trades.entry(no.clone()).or_insert_with(|| Trade {
        total,
        description: f("description"),
        notify_url: f("notify_url"),
        state: "NOTPAY",
        transaction_id: format!("42000026{n:020}"),
        refunds: HashMap::new(),
        back: None,
    });
    if t.total != total || t.state != "NOTPAY" {
        return fail(
            &s.platform,
            StatusCode::FORBIDDEN,
            "OUT_TRADE_NO_USED",
            "商户订单号重复",
        );
    }
    signed(
        &s.platform,
        StatusCode::OK,
        json!({"code_url": format!("{}/scan/{no}", s.public_base)}),
    )
}

async fn query(
    State(s): State<Stand>,
    h: HeaderMap,
    Path(no): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let path = format!(
        "/v3/pay/transactions/out-trade-no/{no}?{}",
        q.clone().unwrap_or_default()
    );
    if !authorized(&s, &Method::GET, &path, &h, "") {
        return fail(
            &s.platform,
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "签名错误",
        );
    }
    if q.as_deref() != Some(&format!("mchid={MCHID}")) {
        return fail(&s.platform, StatusCode::BAD_REQUEST, "PARAM_ERROR", "mchid");
    }
    let trades = s.trades.lock().unwrap_or_else(|p| p.into_inner());
    match trades.get(&no) {
        Some(t) => signed(&s.platform, StatusCode::OK, transaction(&no, t)),
        None => fail(
            &s.platform,
            StatusCode::NOT_FOUND,
            "ORDER_NOT_EXIST",
            "订单不存在",
        ),
    }
}

async fn refund(State(s): State<Stand>, h: HeaderMap, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).to_string();
    if !authorized(&s, &Method::POST, "/v3/refund/domestic/refunds", &h, &text) {
        return fail(
            &s.platform,
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "签名错误",
        );
    }
    let b: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let f = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (no, key) = (f("out_trade_no"), f("out_refund_no"));
    let amount = b
        .pointer("/amount/refund")
        .and_then(Value::as_i64)
        .filter(|a| *a > 0);
    let total = b.pointer("/amount/total").and_then(Value::as_i64);
    let mut trades = s.trades.lock().unwrap_or_else(|p| p.into_inner());
    let Some(t) = trades.get_mut(&no) else {
        return fail(
            &s.platform,
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "订单不存在",
        );
    };
    let (Some(amount), false) = (amount, key.is_empty()) else {
        return fail(
            &s.platform,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "缺少参数",
        );
    };
    let answer = |id: &str, t: &Trade, amount: i64| {
        json!({"refund_id": id, "out_refund_no": key, "transaction_id": t.transaction_id,
               "out_trade_no": no, "channel": "ORIGINAL", "status": "SUCCESS",
               "amount": {"refund": amount, "total": t.total, "currency": "CNY"}})
    };
    if let Some((a, id)) = t.refunds.get(&key).cloned() {
        return signed(&s.platform, StatusCode::OK, answer(&id, t, a));
    }
    let refunded: i64 = t.refunds.values().map(|(a, _)| a).sum();
    if total != Some(t.total) {
        return fail(
            &s.platform,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "订单金额不一致",
        );
    }
    if !matches!(t.state, "SUCCESS" | "REFUND") || refunded + amount > t.total {
        return fail(
            &s.platform,
            StatusCode::FORBIDDEN,
            "NOT_ENOUGH",
            "退款金额超过可退金额",
        );
    }
    let id = format!("50300{:024}", t.refunds.len() + 1);
    t.refunds.insert(key.clone(), (amount, id.clone()));
    t.state = "REFUND";
    signed(&s.platform, StatusCode::OK, answer(&id, t, amount))
}

/// A `TRANSACTION.SUCCESS` notification for `transaction` (the decrypted resource), as
/// WeChat Pay sends it: the body and its signed headers.
pub fn notification(
    key: &SigningKey,
    api_v3_key: &str,
    transaction: &Value,
) -> (String, Vec<(&'static str, String)>) {
    let resource = encrypt_resource(
        transaction.to_string().as_bytes(),
        api_v3_key.as_bytes(),
        &nonce()[..12],
        "transaction",
    )
    .unwrap_or(Value::Null);
    let body = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "create_time": "2026-11-25T10:00:00+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": resource,
    })
    .to_string();
    let headers = signed_headers(key, &body);
    (body, headers)
}

/// The transaction object of a stand-in payment (tests send it with other amounts).
pub fn transaction_of(out_trade_no: &str, total: i64, state: &str) -> Value {
    json!({
        "appid": APPID, "mchid": MCHID, "out_trade_no": out_trade_no,
        "transaction_id": "4200002600000000000000000001", "trade_type": "NATIVE",
        "trade_state": state, "trade_state_desc": state, "bank_type": "OTHERS",
        "success_time": "2026-11-25T10:00:00+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"},
    })
}

async fn scan_page(State(s): State<Stand>, Path(no): Path<String>, h: HeaderMap) -> Response {
    let mut trades = s.trades.lock().unwrap_or_else(|p| p.into_inner());
    let Some(t) = trades.get_mut(&no) else {
        return (StatusCode::NOT_FOUND, "no such trade").into_response();
    };
    if let Some(r) = h.get("referer").and_then(|v| v.to_str().ok()) {
        t.back = Some(r.to_string());
    }
    let amount = format!("{}.{:02} CNY", t.total / 100, t.total % 100);
    super::buyer_page("WeChat Pay", &no, &amount, &t.description)
}

async fn scan(
    State(s): State<Stand>,
    Path(no): Path<String>,
    Form(a): Form<super::Action>,
) -> Response {
    let (note, url, back) = {
        let mut trades = s.trades.lock().unwrap_or_else(|p| p.into_inner());
        let Some(t) = trades.get_mut(&no) else {
            return (StatusCode::NOT_FOUND, "no such trade").into_response();
        };
        if t.state == "NOTPAY" {
            t.state = if a.action == "pay" {
                "SUCCESS"
            } else {
                "CLOSED"
            };
        }
        let note = (t.state == "SUCCESS")
            .then(|| notification(&s.platform, API_V3_KEY, &transaction(&no, t)));
        (note, t.notify_url.clone(), t.back.clone())
    };
    if let Some((body, headers)) = note {
        let http = s.http.clone();
        tokio::spawn(async move {
            for attempt in 0..5u64 {
                let mut req = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                for (k, v) in &headers {
                    req = req.header(*k, v);
                }
                if req.send().await.is_ok_and(|r| r.status().is_success()) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(500 * (attempt + 1))).await;
            }
        });
    }
    match back {
        Some(b) => Redirect::to(&b).into_response(),
        None => Html("<!doctype html><title>WeChat Pay sandbox</title><p>Done. You can close this page; the shop's page updates by itself.</p>").into_response(),
    }
}
