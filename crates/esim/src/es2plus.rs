//! GSMA SGP.22 ES2+ (the operator ↔ SM-DP+ interface), client side: JSON over HTTPS
//! with mutual TLS, `POST <SM-DP+>/gsma/rsp2/es2plus/<function>`, the
//! `X-Admin-Protocol: gsma/rsp/v<x.y.z>` header, a request `header` naming the function
//! requester and the call, and a response `header.functionExecutionStatus`
//! (`Executed-Success`, `Executed-WithWarning`, `Failed` with `statusCodeData`
//! subject/reason codes, `Expired`) — SGP.22 §5.3 (functions) and §6 (transport).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use simrenew_core::esim::ProfileState;
use std::sync::Arc;
use std::time::Duration;

/// The protocol version we speak (SGP.22 v2.2, §6.1: `gsma/rsp/v<major>.<minor>.<rev>`).
pub const ADMIN_PROTOCOL: &str = "gsma/rsp/v2.2.0";

/// `statusCodeData` of a failed (or warned) function: SGP.22 subject and reason codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusCodeData {
    pub subject_code: String,
    pub reason_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl StatusCodeData {
    /// What the codes mean, for logs and staff (SGP.22 §5.3 error tables).
    pub fn meaning(&self) -> &'static str {
        match (self.subject_code.as_str(), self.reason_code.as_str()) {
            ("8.1.1", "3.8") => "EID refused",
            ("8.1.1", "3.10") => "EID differs from the one the profile is bound to",
            ("8.2.1", "1.2") => "profile ICCID not allowed",
            ("8.2.1", "3.3") => "profile ICCID not available",
            ("8.2.1", "3.5") => "profile ICCID refused",
            ("8.2.1", "3.9") => "profile ICCID unknown",
            ("8.2.5", "3.7") => "no profile of this type left",
            ("8.2.6", "3.3") => "matching ID already in use",
            ("8.2.7", "2.2") => "confirmation code missing",
            ("8.2.7", "3.8") => "confirmation code refused",
            ("8.8.5", "4.10") => "download retries exhausted",
            ("8.1", "4.8") => "function not supported",
            _ => "see SGP.22 §5.3",
        }
    }
}

impl std::fmt::Display for StatusCodeData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "subject {} reason {} ({})",
            self.subject_code,
            self.reason_code,
            self.meaning()
        )?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Es2Error {
    #[error("SM-DP+ unreachable: {0}")]
    Transport(String),
    #[error("SM-DP+ answered HTTP {0}")]
    Http(u16),
    #[error("SM-DP+ refused {function}: {data}")]
    Failed {
        function: &'static str,
        data: StatusCodeData,
    },
    #[error("SM-DP+ says {function} expired")]
    Expired { function: &'static str },
    #[error("SM-DP+ answered something unreadable: {0}")]
    Unreadable(String),
    #[error("ES2+ configuration: {0}")]
    Config(String),
}

/// Certificates for mutual TLS, PEM.
#[derive(Clone)]
pub struct Tls {
    /// The CA (or CAs) that issued the SM-DP+'s server certificate.
    pub server_ca_pem: String,
    /// Our client certificate (chain) and its key, issued for ES2+ by the SM-DP+ operator.
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls(…)")
    }
}

/// The rustls client configuration: our certificate, the SM-DP+'s CA, ring.
pub fn client_tls(t: &Tls) -> Result<rustls::ClientConfig, Es2Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str| Es2Error::Config(format!("{what} is not a PEM certificate or key"));
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(t.server_ca_pem.as_bytes()) {
        roots
            .add(c.map_err(|_| bad("esim_smdp_ca"))?)
            .map_err(|_| bad("esim_smdp_ca"))?;
    }
    if roots.is_empty() {
        return Err(bad("esim_smdp_ca"));
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(t.client_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("esim_client_cert"))?;
    let key = PrivateKeyDer::from_pem_slice(t.client_key_pem.as_bytes())
        .map_err(|_| bad("esim_client_key"))?;
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Es2Error::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| Es2Error::Config(format!("client certificate: {e}")))
}

/// An ES2+ client for one SM-DP+.
pub struct Es2Client {
    base: String,
    requester: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Es2Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Es2Client")
            .field("base", &self.base)
            .field("requester", &self.requester)
            .finish_non_exhaustive()
    }
}

/// What confirmOrder returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub eid: Option<String>,
    pub matching_id: String,
    pub smdp_address: Option<String>,
    /// A warning the SM-DP+ attached (`Executed-WithWarning`).
    pub warning: Option<StatusCodeData>,
}

/// cancelOrder's `finalProfileStatusIndicator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalStatus {
    /// The profile may be ordered again.
    Available,
    /// The profile is not to be used again.
    Unavailable,
}

impl Es2Client {
    /// `base`: the SM-DP+'s ES2+ address (`https://smdp.example.com`); `requester`: our
    /// function requester identifier, agreed with the SM-DP+ operator.
    pub fn new(base: &str, requester: &str, tls: &Tls) -> Result<Self, Es2Error> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(client_tls(tls)?)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Es2Error::Config(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            requester: requester.to_string(),
            http,
        })
    }

    /// Calls `function` with `params`; the response body once its status is success (or
    /// success with a warning, returned beside it).
    async fn call(
        &self,
        function: &'static str,
        mut params: Value,
    ) -> Result<(Value, Option<StatusCodeData>), Es2Error> {
        params["header"] = json!({
            "functionRequesterIdentifier": self.requester,
            "functionCallIdentifier": uuid::Uuid::now_v7().to_string(),
        });
        let res = self
            .http
            .post(format!("{}/gsma/rsp2/es2plus/{function}", self.base))
            .header("X-Admin-Protocol", ADMIN_PROTOCOL)
            .header("Content-Type", "application/json;charset=UTF-8")
            .body(params.to_string())
            .send()
            .await
            .map_err(|e| Es2Error::Transport(e.without_url().to_string()))?;
        let status = res.status();
        let text = res
            .text()
            .await
            .map_err(|e| Es2Error::Transport(e.without_url().to_string()))?;
        read_answer(function, status.as_u16(), &text)
    }

    /// downloadOrder: reserves a profile (the given ICCID, or one of `profile_type`),
    /// bound to `eid` when given; the profile's ICCID.
    pub async fn download_order(
        &self,
        eid: Option<&str>,
        iccid: Option<&str>,
        profile_type: Option<&str>,
    ) -> Result<String, Es2Error> {
        let mut p = json!({});
        if let Some(e) = eid {
            p["eid"] = json!(e);
        }
        if let Some(i) = iccid {
            p["iccid"] = json!(i);
        }
        if let Some(t) = profile_type {
            p["profileType"] = json!(t);
        }
        let (v, _) = self.call("downloadOrder", p).await?;
        v.get("iccid")
            .and_then(Value::as_str)
            .map(|i| i.trim_end_matches(['F', 'f']).to_string())
            .ok_or_else(|| Es2Error::Unreadable("no iccid".into()))
    }

    /// confirmOrder: confirms the reserved profile, with our matching ID or one the
    /// SM-DP+ makes, and releases it for download when `release`.
    pub async fn confirm_order(
        &self,
        iccid: &str,
        eid: Option<&str>,
        matching_id: Option<&str>,
        confirmation_code: Option<&str>,
        release: bool,
    ) -> Result<Confirmed, Es2Error> {
        let mut p = json!({"iccid": iccid, "releaseFlag": release});
        if let Some(e) = eid {
            p["eid"] = json!(e);
        }
        if let Some(m) = matching_id {
            p["matchingId"] = json!(m);
        }
        if let Some(c) = confirmation_code {
            // SGP.22: the hash of the confirmation code would travel on ES9+; on ES2+ the
            // operator gives the code itself.
            p["confirmationCode"] = json!(c);
        }
        let (v, warning) = self.call("confirmOrder", p).await?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(Confirmed {
            eid: s("eid"),
            matching_id: s("matchingId")
                .or_else(|| matching_id.map(str::to_string))
                .ok_or_else(|| Es2Error::Unreadable("no matchingId".into()))?,
            smdp_address: s("smdpAddress"),
            warning,
        })
    }

    /// cancelOrder: undoes a downloadOrder/confirmOrder not yet downloaded.
    pub async fn cancel_order(
        &self,
        iccid: &str,
        eid: Option<&str>,
        matching_id: Option<&str>,
        final_status: FinalStatus,
    ) -> Result<(), Es2Error> {
        let mut p = json!({
            "iccid": iccid,
            "finalProfileStatusIndicator": match final_status {
                FinalStatus::Available => "Available",
                FinalStatus::Unavailable => "Unavailable",
            },
        });
        if let Some(e) = eid {
            p["eid"] = json!(e);
        }
        if let Some(m) = matching_id {
            p["matchingId"] = json!(m);
        }
        self.call("cancelOrder", p).await.map(|_| ())
    }

    /// releaseProfile: releases a profile confirmed with `releaseFlag: false`.
    pub async fn release_profile(&self, iccid: &str) -> Result<(), Es2Error> {
        self.call("releaseProfile", json!({"iccid": iccid}))
            .await
            .map(|_| ())
    }
}

/// Reads the SM-DP+'s answer to an ES2+ call (SGP.22 §6, the JSON binding: every response carries
/// `header.functionExecutionStatus`): success, success with a warning (its status code
/// data), or the SM-DP+'s own refusal (`Failed` with status code data, `Expired`); any
/// other HTTP status or body is an error that says what was wrong. Outside input: never
/// panics (fuzzed as `es2plus_input`).
pub fn read_answer(
    function: &'static str,
    status: u16,
    text: &str,
) -> Result<(Value, Option<StatusCodeData>), Es2Error> {
    if !(200..300).contains(&status) {
        return Err(Es2Error::Http(status));
    }
    if text.is_empty() {
        // 204: nothing to say, nothing failed.
        return Ok((Value::Null, None));
    }
    let v: Value = serde_json::from_str(text).map_err(|e| Es2Error::Unreadable(e.to_string()))?;
    let st = v
        .pointer("/header/functionExecutionStatus")
        .ok_or_else(|| Es2Error::Unreadable("no header.functionExecutionStatus".into()))?;
    let data = || -> Option<StatusCodeData> {
        serde_json::from_value(st.get("statusCodeData")?.clone()).ok()
    };
    match st.get("status").and_then(Value::as_str) {
        Some("Executed-Success") => Ok((v, None)),
        Some("Executed-WithWarning") => {
            let w = data();
            tracing::warn!(function, warning = ?w, "ES2+ executed with a warning");
            Ok((v, w))
        }
        Some("Failed") => Err(Es2Error::Failed {
            function,
            data: data()
                .ok_or_else(|| Es2Error::Unreadable("Failed without statusCodeData".into()))?,
        }),
        Some("Expired") => Err(Es2Error::Expired { function }),
        other => Err(Es2Error::Unreadable(format!("status {other:?}"))),
    }
}

/// Checks the `X-Admin-Protocol` header of an ES2+ request (SGP.22 §6.1: the version the
/// caller speaks; we speak v2.x): the 400 answer when it is missing or another major.
pub fn check_protocol(headers: &axum::http::HeaderMap) -> Result<(), axum::response::Response> {
    use axum::response::IntoResponse;
    let protocol = headers
        .get("x-admin-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if protocol.starts_with("gsma/rsp/v2.") {
        Ok(())
    } else {
        Err((
            axum::http::StatusCode::BAD_REQUEST,
            "X-Admin-Protocol missing or unsupported",
        )
            .into_response())
    }
}

/// handleDownloadProgressInfo, as the SM-DP+ sends it to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressInfo {
    pub header: RequestHeader,
    #[serde(default)]
    pub eid: Option<String>,
    pub iccid: String,
    #[serde(default)]
    pub profile_type: Option<String>,
    pub timestamp: String,
    /// An integer in SGP.22's examples; some SM-DP+ implementations (osmocom's pySim)
    /// send it as a string of digits, taken the same.
    #[serde(deserialize_with = "integer_or_digits")]
    pub notification_point_id: i64,
    pub notification_point_status: PointStatus,
    #[serde(default)]
    pub result_data: Option<String>,
    #[serde(default)]
    pub imei: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestHeader {
    pub function_requester_identifier: String,
    pub function_call_identifier: String,
}

/// A JSON integer, or a string of at most 18 decimal digits (no sign, no spaces).
fn integer_or_digits<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Integer(i64),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Integer(n) => Ok(n),
        Either::Text(t) if (1..=18).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()) => {
            t.parse().map_err(serde::de::Error::custom)
        }
        Either::Text(_) => Err(serde::de::Error::custom(
            "notificationPointId: not an integer",
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointStatus {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code_data: Option<StatusCodeData>,
}

/// The notification points of handleDownloadProgressInfo (SGP.22 §5.3.5): 1 eligibility
/// and retry limit check, 2 confirmation failure, 3 bound profile package downloaded,
/// 4 installed, 5 deleted; and for the profile-state notifications the eUICC sends
/// later through the SM-DP+ (ES9+ handleNotification), 100 plus the bit of its
/// ProfileManagementOperation: 100 install, 101 enable, 102 disable, 103 delete.
/// What a point means for the profile: `None` when nothing changes. A failure at a
/// download point (1–4) is the profile's error; a failed later operation (the phone
/// could not turn it on) changes nothing here.
pub fn progress_state(p: &ProgressInfo) -> Option<ProfileState> {
    let ok = p.notification_point_status.status == "Executed-Success";
    match (p.notification_point_id, ok) {
        (1..=4, false) => Some(ProfileState::Error),
        (_, false) => None,
        (3, true) => Some(ProfileState::Downloaded),
        (4 | 100, true) => Some(ProfileState::Installed),
        (101, true) => Some(ProfileState::Enabled),
        (102, true) => Some(ProfileState::Disabled),
        (5 | 103, true) => Some(ProfileState::Deleted),
        _ => None,
    }
}

/// The answer to a handleDownloadProgressInfo we accepted (or refused).
pub fn header_only(status: &str, data: Option<&StatusCodeData>) -> Value {
    let mut st = json!({"status": status});
    if let Some(d) = data {
        st["statusCodeData"] = json!(d);
    }
    json!({"header": {"functionExecutionStatus": st}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reads_as_success_refusal_or_a_named_error() {
        let answer = |status: &str, data: Option<Value>| {
            let mut st = json!({"status": status});
            if let Some(d) = data {
                st["statusCodeData"] = d;
            }
            json!({"header": {"functionExecutionStatus": st}, "iccid": "8970199000100123451"})
                .to_string()
        };
        let (v, warning) =
            read_answer("downloadOrder", 200, &answer("Executed-Success", None)).expect("success");
        assert_eq!(
            (v["iccid"].as_str(), warning),
            (Some("8970199000100123451"), None)
        );
        let codes = json!({"subjectCode": "8.2.1", "reasonCode": "3.9", "message": "Unknown"});
        let (_, warning) = read_answer(
            "confirmOrder",
            200,
            &answer("Executed-WithWarning", Some(codes.clone())),
        )
        .expect("a warning is a success");
        assert_eq!(warning.map(|w| w.reason_code), Some("3.9".to_string()));
        match read_answer("cancelOrder", 200, &answer("Failed", Some(codes))) {
            Err(Es2Error::Failed { function, data }) => {
                assert_eq!(
                    (function, data.subject_code.as_str()),
                    ("cancelOrder", "8.2.1")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_answer("cancelOrder", 200, &answer("Failed", None)),
            Err(Es2Error::Unreadable(m)) if m.contains("statusCodeData")
        ));
        assert!(matches!(
            read_answer("confirmOrder", 200, &answer("Expired", None)),
            Err(Es2Error::Expired {
                function: "confirmOrder"
            })
        ));
        assert!(matches!(
            read_answer("downloadOrder", 200, r#"{"iccid": "1"}"#),
            Err(Es2Error::Unreadable(m)) if m.contains("functionExecutionStatus")
        ));
        assert!(matches!(
            read_answer("downloadOrder", 200, "<html>"),
            Err(Es2Error::Unreadable(_))
        ));
        assert!(matches!(
            read_answer("downloadOrder", 503, &answer("Executed-Success", None)),
            Err(Es2Error::Http(503))
        ));
        assert!(matches!(
            read_answer("releaseProfile", 204, ""),
            Ok((Value::Null, None))
        ));
    }

    fn point(id: i64, status: &str) -> ProgressInfo {
        ProgressInfo {
            header: RequestHeader {
                function_requester_identifier: "smdp".into(),
                function_call_identifier: "1".into(),
            },
            eid: None,
            iccid: "89701990000000000000".into(),
            profile_type: None,
            timestamp: "2026-11-25T10:00:00Z".into(),
            notification_point_id: id,
            notification_point_status: PointStatus {
                status: status.into(),
                status_code_data: None,
            },
            result_data: None,
            imei: None,
        }
    }

    #[test]
    fn a_notification_point_is_an_integer_or_its_digits() {
        let with = |id: Value| {
            let mut v = serde_json::to_value(point(3, "Executed-Success")).unwrap();
            v["notificationPointId"] = id;
            serde_json::from_value::<ProgressInfo>(v).map(|p| p.notification_point_id)
        };
        assert_eq!(with(json!(3)).unwrap(), 3);
        assert_eq!(with(json!("3")).unwrap(), 3);
        assert_eq!(with(json!("101")).unwrap(), 101);
        for bad in [
            json!(""),
            json!("-3"),
            json!(" 3"),
            json!("3a"),
            json!("1e3"),
            json!(3.5),
            json!(null),
            json!("9999999999999999999"),
        ] {
            assert!(with(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_point_moves_the_profile_as_section_5_3_5_says() {
        use ProfileState as S;
        let ok = "Executed-Success";
        let cases = [
            (point(1, ok), None),
            (point(2, ok), None),
            (point(3, ok), Some(S::Downloaded)),
            (point(4, ok), Some(S::Installed)),
            (point(5, ok), Some(S::Deleted)),
            (point(100, ok), Some(S::Installed)),
            (point(101, ok), Some(S::Enabled)),
            (point(102, ok), Some(S::Disabled)),
            (point(103, ok), Some(S::Deleted)),
            (point(2, "Failed"), Some(S::Error)),
            (point(4, "Failed"), Some(S::Error)),
            (point(101, "Failed"), None),
            (point(42, ok), None),
        ];
        for (p, want) in cases {
            assert_eq!(
                progress_state(&p),
                want,
                "point {}",
                p.notification_point_id
            );
        }
    }
}
