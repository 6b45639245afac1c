//! A stand-in of the eSIM Access Partner API for the demo and the tests: the same paths,
//! envelope and request signing as [`super::esimaccess`] documents, checked on every call
//! (a missing header, an unknown access code or a wrong signature is refused the way the
//! API refuses: `success: false` with an error code), a prepaid balance that orders and
//! top-ups draw from, profiles with their packages and usage, and `transactionId` kept so
//! a repeated order or top-up is answered as the first one and charged once.
//!
//! Error codes here are the stand-in's own (the adapter reads only `success`, and
//! `errorCode` 200010 "not ready yet" of `esim/query`). Tests can make the next call of a
//! path fail ([`EsimAccessSandbox::fail_next`]) and move a profile's usage.

use super::esimaccess::{NOT_READY, signature};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The access code and secret key the stand-in accepts.
pub const ACCESS_CODE: &str = "sandbox-access-code";
pub const SECRET_KEY: &str = "sandbox-secret-key";

/// What the next call of a path answers instead of its work.
#[derive(Debug, Clone)]
pub enum Trouble {
    /// An HTTP error without the API's envelope (a proxy's 502, say).
    Http(u16),
    /// The API's own refusal.
    Refuse { code: String, message: String },
    /// The call is done, then its answer is lost (a 502 from a proxy on the way back).
    LoseAnswer,
}

#[derive(Debug, Clone)]
struct SandboxProfile {
    esim_tran_no: String,
    iccid: String,
    ac: String,
    order_no: String,
    total: u64,
    used: u64,
    expires: String,
}

#[derive(Default)]
struct Account {
    /// Package code -> (bytes, price in the API's unit: USD × 10 000).
    packages: HashMap<String, (u64, i64)>,
    balance: i64,
    profiles: Vec<SandboxProfile>,
    /// transactionId -> the answer's `obj`, so a repeat is the same transaction.
    transactions: HashMap<String, Value>,
    trouble: HashMap<String, Trouble>,
    /// Each call's path, in order, for the tests.
    calls: Vec<String>,
    next: u64,
}

/// The stand-in; cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct EsimAccessSandbox {
    inner: Arc<Mutex<Account>>,
}

fn ok(obj: Value) -> Response {
    Json(json!({"success": true, "errorCode": "0", "errorMsg": null, "obj": obj})).into_response()
}

fn refuse(code: &str, message: &str) -> Response {
    Json(json!({"success": false, "errorCode": code, "errorMsg": message, "obj": null}))
        .into_response()
}

impl EsimAccessSandbox {
    /// A stand-in with a balance of 1 000 USD.
    pub fn new() -> Self {
        let s = Self::default();
        s.lock().balance = 1_000 * 10_000;
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Account> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Offers a package of `bytes` at `price_usd_cents`.
    pub fn add_package(&self, code: &str, bytes: u64, price_usd_cents: i64) {
        self.lock()
            .packages
            .insert(code.to_string(), (bytes, price_usd_cents * 100));
    }

    /// A profile already sold to this account (a traveller's eSIM bought earlier).
    pub fn add_profile(&self, iccid: &str, bytes: u64) -> String {
        let mut a = self.lock();
        a.next += 1;
        let n = a.next;
        let esim_tran_no = format!("2406{n:010}");
        a.profiles.push(SandboxProfile {
            esim_tran_no: esim_tran_no.clone(),
            iccid: iccid.to_string(),
            ac: format!("LPA:1$rsp.sandbox.esimaccess.example${n:032X}"),
            order_no: format!("B{n:010}"),
            total: bytes,
            used: 0,
            expires: "2027-01-01T00:00:00+0000".into(),
        });
        esim_tran_no
    }

    /// Sets the data used on a profile, as the supplier's usage feed would report it.
    pub fn set_usage(&self, iccid: &str, used: u64) {
        if let Some(p) = self.lock().profiles.iter_mut().find(|p| p.iccid == iccid) {
            p.used = used;
        }
    }

    /// The profile's allowance now.
    pub fn total_bytes(&self, iccid: &str) -> Option<u64> {
        self.lock()
            .profiles
            .iter()
            .find(|p| p.iccid == iccid)
            .map(|p| p.total)
    }

    pub fn set_balance(&self, usd_cents: i64) {
        self.lock().balance = usd_cents * 100;
    }

    /// The next call of `path` (`esim/topup`…) answers `trouble` instead.
    pub fn fail_next(&self, path: &str, trouble: Trouble) {
        self.lock().trouble.insert(path.to_string(), trouble);
    }

    /// The paths called so far.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// The API under `/api/v1/open/`; nest or serve it at the base URL given to the client.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v1/open/{*path}", post(handle))
            .with_state(self.clone())
    }

    fn profile_json(p: &SandboxProfile) -> Value {
        json!({
            "esimTranNo": p.esim_tran_no,
            "orderNo": p.order_no,
            "iccid": p.iccid,
            "ac": p.ac,
            "qrCodeUrl": "",
            "smdpStatus": "RELEASED",
            "esimStatus": if p.used >= p.total { "USED_UP" } else { "IN_USE" },
            "totalVolume": p.total,
            "orderUsage": p.used,
            "expiredTime": p.expires,
        })
    }
}

/// Checks the four `RT-` headers and the signature over the raw body.
fn authenticate(headers: &HeaderMap, body: &str) -> Result<(), Response> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(code), Some(id), Some(ts), Some(sign)) = (
        get("RT-AccessCode"),
        get("RT-RequestID"),
        get("RT-Timestamp"),
        get("RT-Signature"),
    ) else {
        return Err(refuse("101001", "a header of the signature is missing"));
    };
    if code != ACCESS_CODE {
        return Err(refuse("101002", "unknown RT-AccessCode"));
    }
    if ts.len() != 13 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse("101003", "RT-Timestamp must be milliseconds"));
    }
    let expected = signature(SECRET_KEY, ts, id, code, body);
    if !sign.eq_ignore_ascii_case(&expected) {
        return Err(refuse("101004", "signature mismatch"));
    }
    Ok(())
}

async fn handle(
    State(s): State<EsimAccessSandbox>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Err(r) = authenticate(&headers, &body) {
        return r;
    }
    let trouble = {
        let mut a = s.lock();
        a.calls.push(path.clone());
        a.trouble.remove(&path)
    };
    match trouble {
        Some(Trouble::Http(code)) => {
            return StatusCode::from_u16(code)
                .unwrap_or(StatusCode::BAD_GATEWAY)
                .into_response();
        }
        Some(Trouble::Refuse { code, message }) => return refuse(&code, &message),
        Some(Trouble::LoseAnswer) => {
            let _ = work(&s, &path, &body);
            return StatusCode::BAD_GATEWAY.into_response();
        }
        None => {}
    }
    work(&s, &path, &body)
}

/// What a call does and answers, once authenticated.
fn work(s: &EsimAccessSandbox, path: &str, body: &str) -> Response {
    let mut a = s.lock();
    let Ok(req) = serde_json::from_str::<Value>(body) else {
        return refuse("101005", "the body is not JSON");
    };
    let text = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_string);
    match path {
        "esim/query" => {
            if req.get("pager").is_none() {
                return refuse("101006", "pager is mandatory");
            }
            let list: Vec<Value> = a
                .profiles
                .iter()
                .filter(|p| {
                    text("iccid").is_none_or(|i| p.iccid == i)
                        && text("orderNo").is_none_or(|o| p.order_no == o)
                        && text("esimTranNo").is_none_or(|t| p.esim_tran_no == t)
                })
                .map(EsimAccessSandbox::profile_json)
                .collect();
            if list.is_empty() && text("orderNo").is_some() {
                return refuse(NOT_READY, "the profiles are being allocated");
            }
            let n = list.len();
            ok(json!({"esimList": list, "pager": {"pageNum": 1, "pageSize": 20, "total": n}}))
        }
        "esim/order" => {
            let Some(tx) = text("transactionId").filter(|t| !t.is_empty() && t.len() <= 50) else {
                return refuse("101007", "transactionId: 1 to 50 characters");
            };
            if let Some(done) = a.transactions.get(&tx) {
                return ok(done.clone());
            }
            let Some(code) = req
                .pointer("/packageInfoList/0/packageCode")
                .and_then(Value::as_str)
            else {
                return refuse("101008", "packageInfoList: a packageCode is needed");
            };
            let Some(&(bytes, price)) = a.packages.get(code) else {
                return refuse("200002", "package not found");
            };
            if a.balance < price {
                return refuse("200007", "the account balance is insufficient");
            }
            a.balance -= price;
            a.next += 1;
            let n = a.next;
            let order_no = format!("B{n:010}");
            a.profiles.push(SandboxProfile {
                esim_tran_no: format!("2406{n:010}"),
                iccid: format!("8985200{n:012}"),
                ac: format!("LPA:1$rsp.sandbox.esimaccess.example${n:032X}"),
                order_no: order_no.clone(),
                total: bytes,
                used: 0,
                expires: "2027-01-01T00:00:00+0000".into(),
            });
            let obj = json!({"orderNo": order_no, "transactionId": tx});
            a.transactions.insert(tx, obj.clone());
            ok(obj)
        }
        "esim/topup" => {
            let Some(tx) = text("transactionId").filter(|t| !t.is_empty() && t.len() <= 50) else {
                return refuse("101007", "transactionId: 1 to 50 characters");
            };
            if let Some(done) = a.transactions.get(&tx) {
                return ok(done.clone());
            }
            let Some(code) = text("packageCode") else {
                return refuse("101008", "packageCode is needed");
            };
            let Some(&(bytes, price)) = a.packages.get(&code) else {
                return refuse("200002", "package not found");
            };
            let Some(iccid) = text("iccid") else {
                return refuse("101009", "iccid or esimTranNo is needed");
            };
            let Some(i) = a.profiles.iter().position(|p| p.iccid == iccid) else {
                return refuse("200011", "no profile with this iccid in the account");
            };
            if a.balance < price {
                return refuse("200007", "the account balance is insufficient");
            }
            a.balance -= price;
            let p = &mut a.profiles[i];
            p.total += bytes;
            let obj = json!({
                "transactionId": tx,
                "iccid": p.iccid,
                "expiredTime": p.expires,
                "totalVolume": p.total,
                "totalDuration": 30,
                "orderUsage": p.used,
            });
            a.transactions.insert(tx, obj.clone());
            ok(obj)
        }
        "esim/usage/query" => {
            let Some(list) = req.get("esimTranNoList").and_then(Value::as_array) else {
                return refuse("101010", "esimTranNoList is needed");
            };
            if list.is_empty() || list.len() > 10 {
                return refuse("101011", "esimTranNoList: 1 to 10 numbers");
            }
            let usage: Vec<Value> = list
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|t| a.profiles.iter().find(|p| p.esim_tran_no == t))
                .map(|p| {
                    json!({
                        "esimTranNo": p.esim_tran_no,
                        "dataUsage": p.used,
                        "totalData": p.total,
                        "lastUpdateTime": "2026-12-06T00:00:00+0000",
                    })
                })
                .collect();
            ok(json!({ "esimUsageList": usage }))
        }
        "balance/query" => {
            let balance = a.balance;
            ok(json!({ "balance": balance }))
        }
        _ => (StatusCode::NOT_FOUND, "no such call").into_response(),
    }
}
