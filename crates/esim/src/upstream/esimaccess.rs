//! The eSIM Access Partner API (docs.esimaccess.com, API v1): JSON over HTTPS, every call
//! a `POST` under `<base>/api/v1/open/…`, every answer the envelope
//! `{"success", "errorCode", "errorMsg", "obj"}`.
//!
//! Requests are signed as its "Authentication" section says: headers `RT-AccessCode`,
//! `RT-RequestID` (a UUID v4), `RT-Timestamp` (milliseconds) and `RT-Signature`, the
//! lower-case hex HMAC-SHA256, keyed with the secret key, of
//! `Timestamp + RequestID + AccessCode + RequestBody`.
//!
//! Calls used: `esim/query` (by `iccid` or `orderNo`, with the mandatory `pager`),
//! `esim/order` (`transactionId`, `packageInfoList`), `esim/topup` (`iccid`,
//! `packageCode`, `transactionId`) and `esim/usage/query` (`esimTranNoList`, at most 10).
//! Volumes are bytes. `transactionId` is ours (at most 50 characters): we send the order's
//! id, so a retried order or top-up is the same transaction to the supplier.

use super::{Profile, ToppedUp, Upstream, UpstreamError, UpstreamFuture, Usage};
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The adapter's name, as plans' fulfilment records it.
pub const NAME: &str = "esimaccess";
/// The production address; the tests and the demo point it at the stand-in.
pub const BASE_URL: &str = "https://api.esimaccess.com";
/// The most profiles one usage query may name.
pub const USAGE_BATCH: usize = 10;
/// `errorCode` of `esim/query` while the profiles of a new order are still being
/// allocated: not a refusal, ask again later.
pub const NOT_READY: &str = "200010";

/// The signature of one request (lower-case hex).
pub fn signature(
    secret: &str,
    timestamp: &str,
    request_id: &str,
    access_code: &str,
    body: &str,
) -> String {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    for part in [timestamp, request_id, access_code, body] {
        mac.update(part.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

/// A client of one eSIM Access partner account.
pub struct EsimAccess {
    base: String,
    access_code: String,
    secret: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for EsimAccess {
    // The secret key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsimAccess")
            .field("base", &self.base)
            .field("access_code", &self.access_code)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    success: bool,
    #[serde(rename = "errorCode", default)]
    error_code: Option<Value>,
    #[serde(rename = "errorMsg", default)]
    error_msg: Option<String>,
    #[serde(default)]
    obj: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EsimItem {
    esim_tran_no: String,
    iccid: String,
    #[serde(default)]
    ac: Option<String>,
    #[serde(default)]
    esim_status: Option<String>,
    #[serde(default)]
    total_volume: Option<u64>,
    #[serde(default)]
    order_usage: Option<u64>,
}

impl From<EsimItem> for Profile {
    fn from(e: EsimItem) -> Self {
        Profile {
            profile_ref: e.esim_tran_no,
            iccid: e.iccid,
            activation_code: e.ac.filter(|a| !a.is_empty()),
            status: e.esim_status.unwrap_or_default(),
            total_bytes: e.total_volume.unwrap_or(0),
            used_bytes: e.order_usage.unwrap_or(0),
        }
    }
}

fn code_of(v: &Option<Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

impl EsimAccess {
    /// `base` is the API's origin (`https://api.esimaccess.com`), without the path.
    pub fn new(base: &str, access_code: &str, secret: &str) -> Result<Self, UpstreamError> {
        if access_code.trim().is_empty() || secret.trim().is_empty() {
            return Err(UpstreamError::Config(
                "esimaccess_access_code and esimaccess_secret_key are both needed".into(),
            ));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| UpstreamError::Config(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            access_code: access_code.to_string(),
            secret: secret.to_string(),
            http,
        })
    }

    /// One signed call; `Ok(obj)` on success, `Refused` with the supplier's code
    /// otherwise. An error code in `soft` comes back as `Ok(Value::Null)`.
    async fn call(&self, path: &str, body: Value, soft: &[&str]) -> Result<Value, UpstreamError> {
        let body = body.to_string();
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let timestamp = timestamp.to_string();
        let request_id = uuid::Uuid::new_v4().to_string();
        let sign = signature(
            &self.secret,
            &timestamp,
            &request_id,
            &self.access_code,
            &body,
        );
        let res = self
            .http
            .post(format!("{}/api/v1/open/{path}", self.base))
            .header("Content-Type", "application/json")
            .header("RT-AccessCode", &self.access_code)
            .header("RT-RequestID", &request_id)
            .header("RT-Timestamp", &timestamp)
            .header("RT-Signature", sign)
            .body(body)
            .send()
            .await
            .map_err(|e| UpstreamError::Unreachable(format!("{path}: {e}")))?;
        let status = res.status().as_u16();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| UpstreamError::Unreachable(format!("{path}: {e}")))?;
        read_answer(path, status, &bytes, soft)
    }

    async fn query(&self, filter: Value) -> Result<Vec<Profile>, UpstreamError> {
        let mut body = filter;
        body["pager"] = json!({"pageNum": 1, "pageSize": 20});
        let obj = self.call("esim/query", body, &[NOT_READY]).await?;
        profiles_in(&obj)
    }
}

/// The `obj` of an answer to `path` (HTTP `status`, raw `body`): `Refused` with the
/// supplier's code when it says no, except a code in `soft` (`Ok(Null)`); `Unreachable`
/// for a server error or anything that is not the API's envelope (the call may not have
/// reached the API at all).
pub fn read_answer(
    path: &str,
    status: u16,
    body: &[u8],
    soft: &[&str],
) -> Result<Value, UpstreamError> {
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(e) if (200..500).contains(&status) => e,
        _ => {
            return Err(UpstreamError::Unreachable(format!(
                "{path}: HTTP {status} without an answer of the API"
            )));
        }
    };
    if envelope.success {
        return Ok(envelope.obj);
    }
    let code = code_of(&envelope.error_code);
    if soft.contains(&code.as_str()) {
        return Ok(Value::Null);
    }
    Err(UpstreamError::Refused {
        code,
        message: envelope.error_msg.unwrap_or_default(),
    })
}

/// The profiles of an `esim/query` answer's `obj` (none while they are being allocated).
pub fn profiles_in(obj: &Value) -> Result<Vec<Profile>, UpstreamError> {
    let list = match obj.get("esimList") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(l) => l.clone(),
    };
    let items: Vec<EsimItem> = serde_json::from_value(list)
        .map_err(|e| UpstreamError::Unreachable(format!("esim/query: {e}")))?;
    Ok(items.into_iter().map(Profile::from).collect())
}

/// What an `esim/topup` answer's `obj` says was done for `transaction_id` on `iccid`.
pub fn topped_up_in(obj: &Value, transaction_id: &str, iccid: &str) -> ToppedUp {
    let text = |k: &str, or: &str| obj.get(k).and_then(Value::as_str).unwrap_or(or).to_string();
    ToppedUp {
        transaction_id: text("transactionId", transaction_id),
        iccid: text("iccid", iccid),
        total_bytes: obj.get("totalVolume").and_then(Value::as_u64).unwrap_or(0),
        expires: obj
            .get("expiredTime")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

/// The usage figures of an `esim/usage/query` answer's `obj`; entries without a profile
/// number are left out.
pub fn usage_in(obj: &Value) -> Vec<Usage> {
    obj.get("esimUsageList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|u| {
            Some(Usage {
                profile_ref: u.get("esimTranNo").and_then(Value::as_str)?.to_string(),
                used_bytes: u.get("dataUsage").and_then(Value::as_u64).unwrap_or(0),
                total_bytes: u.get("totalData").and_then(Value::as_u64).unwrap_or(0),
                as_of: u
                    .get("lastUpdateTime")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect()
}

impl Upstream for EsimAccess {
    fn name(&self) -> &'static str {
        NAME
    }

    fn profile_by_iccid<'a>(&'a self, iccid: &'a str) -> UpstreamFuture<'a, Option<Profile>> {
        Box::pin(async move {
            let list = self.query(json!({ "iccid": iccid })).await?;
            Ok(list.into_iter().find(|p| p.iccid == iccid))
        })
    }

    fn order<'a>(
        &'a self,
        transaction_id: &'a str,
        package: &'a str,
    ) -> UpstreamFuture<'a, String> {
        Box::pin(async move {
            let obj = self
                .call(
                    "esim/order",
                    json!({
                        "transactionId": transaction_id,
                        "packageInfoList": [{"packageCode": package, "count": 1}],
                    }),
                    &[],
                )
                .await?;
            obj.get("orderNo")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| UpstreamError::Unreachable("esim/order: no orderNo".into()))
        })
    }

    fn profiles_of_order<'a>(&'a self, order_no: &'a str) -> UpstreamFuture<'a, Vec<Profile>> {
        Box::pin(self.query(json!({ "orderNo": order_no })))
    }

    fn top_up<'a>(
        &'a self,
        transaction_id: &'a str,
        iccid: &'a str,
        package: &'a str,
    ) -> UpstreamFuture<'a, ToppedUp> {
        Box::pin(async move {
            let obj = self
                .call(
                    "esim/topup",
                    json!({"iccid": iccid, "packageCode": package, "transactionId": transaction_id}),
                    &[],
                )
                .await?;
            Ok(topped_up_in(&obj, transaction_id, iccid))
        })
    }

    fn usage<'a>(&'a self, profile_refs: &'a [String]) -> UpstreamFuture<'a, Vec<Usage>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(profile_refs.len());
            for batch in profile_refs.chunks(USAGE_BATCH) {
                let obj = self
                    .call("esim/usage/query", json!({ "esimTranNoList": batch }), &[])
                    .await?;
                out.extend(usage_in(&obj));
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_request_id_access_code_and_body_in_that_order() {
        let body = r#"{"iccid":"8970100000000000001"}"#;
        let id = "0d2f6a0e-6c3e-4b8e-9a59-3f1f8e4c2b11";
        let s = signature("sk_test", "1700000000000", id, "ac_test", body);
        // Computed apart from this code: Python's hmac.new(secret, ts + id + code + body,
        // hashlib.sha256).hexdigest().
        assert_eq!(
            s,
            "ba8b3bdca79d51b320e3eade1dbe1414c0df1161c921d34596c8fc5b908cd2f6"
        );
        assert_ne!(
            s,
            signature("sk_test", "1700000000000", id, "ac_test", "{}")
        );
        assert_ne!(
            s,
            signature("sk_other", "1700000000000", id, "ac_test", body)
        );
    }

    #[test]
    fn an_answer_is_read_refused_or_not_an_answer() {
        let ok = br#"{"success":true,"errorCode":"0","errorMsg":null,"obj":{"orderNo":"B1"}}"#;
        assert_eq!(
            read_answer("esim/order", 200, ok, &[]).unwrap()["orderNo"],
            "B1"
        );
        let no = br#"{"success":false,"errorCode":200007,"errorMsg":"balance","obj":null}"#;
        assert_eq!(
            read_answer("esim/order", 200, no, &[]),
            Err(UpstreamError::Refused {
                code: "200007".into(),
                message: "balance".into()
            })
        );
        let wait = br#"{"success":false,"errorCode":"200010","errorMsg":"allocating"}"#;
        assert_eq!(
            read_answer("esim/query", 200, wait, &[NOT_READY]),
            Ok(Value::Null)
        );
        assert!(matches!(
            read_answer("esim/query", 502, b"<html>Bad Gateway</html>", &[]),
            Err(UpstreamError::Unreachable(_))
        ));
        // A server error is not the supplier's refusal, even in the API's own words.
        assert!(matches!(
            read_answer("esim/order", 500, no, &[]),
            Err(UpstreamError::Unreachable(_))
        ));
        assert_eq!(profiles_in(&Value::Null), Ok(vec![]));
        let usage = usage_in(
            &json!({"esimUsageList": [{"esimTranNo": "1", "dataUsage": 5, "totalData": 9}, {"dataUsage": 1}]}),
        );
        assert_eq!(usage.len(), 1);
        assert_eq!((usage[0].used_bytes, usage[0].total_bytes), (5, 9));
    }
}
