//! The Alipay stand-in: the open platform gateway (`POST {mount}/gateway.do`) for
//! `alipay.trade.precreate`, `alipay.trade.query` and `alipay.trade.refund`, in
//! public-key RSA2 mode both ways (the request's `sign` is checked with the app's public
//! key, every answer is signed with the stand-in's own "Alipay" key), and the page the
//! buyer reaches by scanning the `qr_code` (`{mount}/scan/{out_trade_no}`), where Pay or
//! Cancel sends the asynchronous notification, form-encoded and signed as Alipay signs
//! it, to the `notify_url` of the trade, resent until the shop answers `success`.
//!
//! As at Alipay, a precreated trade does not exist for `alipay.trade.query` until the
//! buyer has scanned it (`ACQ.TRADE_NOT_EXIST`). Keys are made when the stand-in starts.

use crate::alipay::sign_content;
use crate::keys::{SigningKey, VerifyingKey};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
struct Trade {
    total_cents: i64,
    subject: String,
    notify_url: String,
    /// NEW (precreated, not scanned), WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_CLOSED.
    status: &'static str,
    trade_no: String,
    refunds: HashMap<String, i64>,
    back: Option<String>,
}

#[derive(Clone)]
struct Stand {
    app_id: String,
    app_key: VerifyingKey,
    alipay_key: Arc<SigningKey>,
    public_base: String,
    trades: Arc<Mutex<HashMap<String, Trade>>>,
    http: reqwest::Client,
}

/// A running stand-in and the merchant settings that talk to it.
pub struct Sandbox {
    pub router: Router,
    pub app_id: String,
    /// The application's private key, PEM (what the shop is configured with).
    pub app_private_key: String,
    /// The stand-in's public key, PEM (the shop's `alipay_public_key`).
    pub alipay_public_key: String,
    /// The stand-in's signing key: tests use it to send notifications of their own.
    pub alipay_key: Arc<SigningKey>,
}

/// The stand-in, to be mounted at `public_base` (for example `<public_url>/sandbox/alipay`).
pub fn alipay(public_base: &str) -> Sandbox {
    crate::install_crypto();
    let app = SigningKey::generate();
    let alipay_key = Arc::new(SigningKey::generate());
    let app_id = "9021000000000001".to_string();
    let stand = Stand {
        app_id: app_id.clone(),
        app_key: app.verifying_key(),
        alipay_key: alipay_key.clone(),
        public_base: public_base.trim_end_matches('/').to_string(),
        trades: Arc::default(),
        http: reqwest::Client::new(),
    };
    let router = Router::new()
        .route("/gateway.do", post(gateway))
        .route("/scan/{id}", get(scan_page).post(scan))
        .with_state(stand);
    Sandbox {
        router,
        app_id,
        app_private_key: app.to_pem(),
        alipay_public_key: alipay_key.verifying_key().to_pem(),
        alipay_key,
    }
}

/// An answer as the gateway writes it: the node, and the signature over its exact text.
fn answer(key: &SigningKey, method: &str, node: &Value) -> Response {
    let name = format!("{}_response", method.replace('.', "_"));
    let text = node.to_string();
    let sign = key.sign(text.as_bytes());
    (
        [("content-type", "application/json;charset=utf-8")],
        format!("{{\"{name}\":{text},\"sign\":\"{sign}\"}}"),
    )
        .into_response()
}

fn failure(code: &str, msg: &str, sub_code: &str, sub_msg: &str) -> Value {
    json!({"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg})
}

/// "88.88" → 8888; None unless a positive amount with at most two decimals.
fn cents(s: &str) -> Option<i64> {
    let (a, b) = s.split_once('.').unwrap_or((s, ""));
    if a.is_empty() || b.len() > 2 || !a.chars().chain(b.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v = a.parse::<i64>().ok()?.checked_mul(100)? + format!("{b:0<2}").parse::<i64>().ok()?;
    (v > 0).then_some(v)
}

fn yuan(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

async fn gateway(State(s): State<Stand>, uri: axum::http::Uri, body: Bytes) -> Response {
    // The gateway takes the parameters from the query string and the form body alike:
    // Alipay's own SDKs send the common ones (app_id, method, sign…) in the URL and
    // biz_content in the body; ours sends all in the body.
    let query = uri.query().unwrap_or("").as_bytes();
    let (Ok(mut pairs), Ok(form)) = (
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(query),
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body),
    ) else {
        return (StatusCode::BAD_REQUEST, "not a form").into_response();
    };
    pairs.extend(form);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let method = get("method").to_string();
    // Common parameters, then the signature, as the gateway checks them.
    if get("app_id") != s.app_id {
        let node = failure(
            "40002",
            "Invalid Arguments",
            "isv.invalid-app-id",
            "无效的AppID参数",
        );
        return (
            [("content-type", "application/json;charset=utf-8")],
            json!({"error_response": node}).to_string(),
        )
            .into_response();
    }
    let invalid = |sub_code: &str, sub_msg: &str| {
        answer(
            &s.alipay_key,
            &method,
            &failure("40002", "Invalid Arguments", sub_code, sub_msg),
        )
    };
    // `format` is "JSON" in the documentation and "json" from Alipay's SDKs.
    let format_json = get("format").is_empty() || get("format").eq_ignore_ascii_case("json");
    if get("sign_type") != "RSA2" || !get("charset").eq_ignore_ascii_case("utf-8") || !format_json {
        return invalid("isv.invalid-parameter", "sign_type, charset or format");
    }
    let content = sign_content(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &["sign"],
    );
    if !s.app_key.verify(content.as_bytes(), get("sign")) {
        return invalid("isv.invalid-signature", "验签出错");
    }
    let fresh = time::PrimitiveDateTime::parse(get("timestamp"), crate::alipay::TIMESTAMP)
        .map(|t| t.assume_offset(time::macros::offset!(+8)))
        .is_ok_and(|t| (time::OffsetDateTime::now_utc() - t).abs() < time::Duration::minutes(30));
    if !fresh {
        return invalid("isv.invalid-timestamp", "timestamp");
    }
    let Ok(biz) = serde_json::from_str::<Value>(get("biz_content")) else {
        return invalid("isv.invalid-parameter", "biz_content");
    };
    let f = |k: &str| biz.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut trades = s.trades.lock().unwrap_or_else(|p| p.into_inner());
    let node = match method.as_str() {
        "alipay.trade.precreate" => {
            let no = f("out_trade_no");
            match (
                cents(&f("total_amount")),
                no.is_empty() || f("subject").is_empty(),
            ) {
                (Some(total), false) => match trades.get(&no) {
                    Some(t) if t.total_cents != total || t.status == "TRADE_SUCCESS" => failure(
                        "40004",
                        "Business Failed",
                        "ACQ.TRADE_HAS_SUCCESS",
                        "交易已被支付或金额不一致",
                    ),
                    _ => {
                        let n = trades.len() + 1;
                        trades.entry(no.clone()).or_insert_with(|| Trade {
                            total_cents: total,
                            subject: f("subject"),
                            notify_url: get("notify_url").to_string(),
                            status: "NEW",
                            trade_no: format!("2026112522001{n:015}"),
                            refunds: HashMap::new(),
                            back: None,
                        });
                        json!({"code": "10000", "msg": "Success", "out_trade_no": no,
                               "qr_code": format!("{}/scan/{no}", s.public_base)})
                    }
                },
                _ => failure(
                    "40004",
                    "Business Failed",
                    "ACQ.INVALID_PARAMETER",
                    "参数无效",
                ),
            }
        }
        "alipay.trade.query" => match trades.get(&f("out_trade_no")) {
            Some(t) if t.status != "NEW" => json!({
                "code": "10000", "msg": "Success", "trade_no": t.trade_no,
                "out_trade_no": f("out_trade_no"), "buyer_logon_id": "sandbox***@example.com",
                "trade_status": t.status, "total_amount": yuan(t.total_cents),
            }),
            _ => failure(
                "40004",
                "Business Failed",
                "ACQ.TRADE_NOT_EXIST",
                "交易不存在",
            ),
        },
        "alipay.trade.refund" => {
            let no = f("out_trade_no");
            let key = f("out_request_no");
            let key = if key.is_empty() { no.clone() } else { key };
            match (trades.get_mut(&no), cents(&f("refund_amount"))) {
                (Some(t), Some(amount)) => {
                    let refunded: i64 = t.refunds.values().sum();
                    if t.refunds.contains_key(&key) {
                        json!({"code": "10000", "msg": "Success", "trade_no": t.trade_no, "out_trade_no": no,
                               "refund_fee": yuan(refunded), "fund_change": "N"})
                    } else if t.status != "TRADE_SUCCESS" {
                        failure(
                            "40004",
                            "Business Failed",
                            "ACQ.TRADE_STATUS_ERROR",
                            "交易状态不合法",
                        )
                    } else if refunded + amount > t.total_cents {
                        failure(
                            "40004",
                            "Business Failed",
                            "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                            "退款金额超限",
                        )
                    } else {
                        t.refunds.insert(key, amount);
                        if refunded + amount == t.total_cents {
                            t.status = "TRADE_CLOSED";
                        }
                        json!({"code": "10000", "msg": "Success", "trade_no": t.trade_no, "out_trade_no": no,
                               "refund_fee": yuan(refunded + amount), "fund_change": "Y"})
                    }
                }
                (None, _) => failure(
                    "40004",
                    "Business Failed",
                    "ACQ.TRADE_NOT_EXIST",
                    "交易不存在",
                ),
                (_, None) => failure(
                    "40004",
                    "Business Failed",
                    "ACQ.INVALID_PARAMETER",
                    "refund_amount",
                ),
            }
        }
        _ => failure(
            "40004",
            "Business Failed",
            "isv.invalid-method",
            "不存在的方法名",
        ),
    };
    answer(&s.alipay_key, &method, &node)
}

/// The asynchronous notification for a trade, signed by `key` as Alipay signs it (every
/// parameter but `sign` and `sign_type`); the form's pairs.
pub fn notification(
    key: &SigningKey,
    app_id: &str,
    out_trade_no: &str,
    trade_no: &str,
    status: &str,
    total_amount: &str,
) -> Vec<(String, String)> {
    let now = crate::alipay::beijing_now();
    let mut p: Vec<(String, String)> = [
        ("notify_time", now.as_str()),
        ("notify_type", "trade_status_sync"),
        ("notify_id", &crate::wechatpay::nonce()),
        ("charset", "utf-8"),
        ("version", "1.0"),
        ("app_id", app_id),
        ("auth_app_id", app_id),
        ("trade_no", trade_no),
        ("out_trade_no", out_trade_no),
        ("trade_status", status),
        ("total_amount", total_amount),
        ("receipt_amount", total_amount),
        ("buyer_pay_amount", total_amount),
        ("buyer_id", "2088102177846880"),
        ("seller_id", "2088102177296610"),
        ("gmt_create", now.as_str()),
        ("gmt_payment", now.as_str()),
        ("subject", "simrenew"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sign = key.sign(
        sign_content(
            p.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &["sign", "sign_type"],
        )
        .as_bytes(),
    );
    p.push(("sign_type".into(), "RSA2".into()));
    p.push(("sign".into(), sign));
    p
}

async fn scan_page(State(s): State<Stand>, Path(id): Path<String>, h: HeaderMap) -> Response {
    let mut trades = s.trades.lock().unwrap_or_else(|p| p.into_inner());
    let Some(t) = trades.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, "no such trade").into_response();
    };
    // Scanned: from now on the trade exists for alipay.trade.query.
    if t.status == "NEW" {
        t.status = "WAIT_BUYER_PAY";
    }
    if let Some(r) = h.get("referer").and_then(|v| v.to_str().ok()) {
        t.back = Some(r.to_string());
    }
    super::buyer_page(
        "Alipay",
        &id,
        &format!("{} CNY", yuan(t.total_cents)),
        &t.subject,
    )
}

async fn scan(
    State(s): State<Stand>,
    Path(id): Path<String>,
    Form(a): Form<super::Action>,
) -> Response {
    let (form, url, back) = {
        let mut trades = s.trades.lock().unwrap_or_else(|p| p.into_inner());
        let Some(t) = trades.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such trade").into_response();
        };
        if matches!(t.status, "NEW" | "WAIT_BUYER_PAY") {
            t.status = if a.action == "pay" {
                "TRADE_SUCCESS"
            } else {
                "TRADE_CLOSED"
            };
        }
        let form = notification(
            &s.alipay_key,
            &s.app_id,
            &id,
            &t.trade_no,
            t.status,
            &yuan(t.total_cents),
        );
        (form, t.notify_url.clone(), t.back.clone())
    };
    // Resent until the shop answers `success` (Alipay keeps trying for a day; here a few times).
    let http = s.http.clone();
    tokio::spawn(async move {
        for attempt in 0..5u64 {
            let ok = match http
                .post(&url)
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded;charset=utf-8",
                )
                .body(serde_urlencoded::to_string(&form).unwrap_or_default())
                .send()
                .await
            {
                Ok(r) => r.text().await.is_ok_and(|t| t.trim() == "success"),
                Err(_) => false,
            };
            if ok {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500 * (attempt + 1))).await;
        }
    });
    match back {
        Some(b) => Redirect::to(&b).into_response(),
        None => Html("<!doctype html><title>Alipay sandbox</title><p>Done. You can close this page; the shop's page updates by itself.</p>").into_response(),
    }
}
