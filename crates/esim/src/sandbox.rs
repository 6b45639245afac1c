//! A stand-in SM-DP+ for the demo and the tests: ES2+ over HTTPS with mutual TLS
//! (certificates made at start by a CA of its own, client certificates required and
//! checked), the `X-Admin-Protocol` header and the function requester checked, a pool of
//! profiles moving through downloadOrder / confirmOrder / cancelOrder / releaseProfile as
//! SGP.22 §5.3 describes, and answers with `functionExecutionStatus` — including, when
//! told to, each documented way of failing (`Failed` with subject/reason codes,
//! `Executed-WithWarning`, `Expired`, an HTTP error).

use crate::es2plus::{StatusCodeData, Tls, header_only};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The requester identifier the stand-in accepts.
pub const REQUESTER: &str = "simrenew-sandbox";
/// The address it gives in activation codes.
pub const SMDP_ADDRESS: &str = "smdp.sandbox.simrenew.example";
/// Its own function requester identifier when it calls the operator.
pub const SMDP_ID: &str = "simrenew-sandbox-smdp";
/// Wrong confirmation codes a phone may type before the order fails.
pub const CONFIRMATION_TRIES: u32 = 3;

/// What the next call of a function answers instead of doing its work.
#[derive(Debug, Clone)]
pub enum Trouble {
    Failed(StatusCodeData),
    Warning(StatusCodeData),
    Expired,
    Http(u16),
}

#[derive(Debug, Clone)]
struct Profile {
    iccid: String,
    profile_type: String,
    /// available, allocated, confirmed, released, downloaded, installed, unavailable,
    /// failed (the download order ended in error: the operator cancels it)
    state: &'static str,
    eid: Option<String>,
    matching_id: Option<String>,
    /// The confirmation code of confirmOrder, when the operator gave one.
    confirmation_code: Option<String>,
    wrong_codes: u32,
}

#[derive(Default)]
struct Smdp {
    profiles: Vec<Profile>,
    trouble: HashMap<String, Trouble>,
    calls: Vec<String>,
    /// Where download progress is reported (handleDownloadProgressInfo).
    report_to: Option<Callback>,
}

/// The operator's ES2+ endpoint for handleDownloadProgressInfo and the bearer token
/// agreed with it.
#[derive(Clone)]
pub struct Callback {
    pub url: String,
    pub token: String,
}

/// Why the stand-in phone did not install a code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneError {
    #[error("not an activation code: {0}")]
    Code(String),
    #[error("this code is for another SM-DP+ ({0})")]
    OtherServer(String),
    #[error("no profile is waiting for this code (used, replaced or cancelled)")]
    Unknown,
    #[error("this profile is bound to another phone (EID)")]
    OtherPhone,
    #[error("this code needs its confirmation code")]
    ConfirmationNeeded,
    #[error("wrong confirmation code; {0} tries left")]
    WrongConfirmation(u32),
    #[error("too many wrong confirmation codes: the order failed")]
    Refused,
    #[error("the operator did not take the progress report: {0}")]
    Report(String),
}

/// A running stand-in.
#[derive(Clone)]
pub struct StandIn {
    /// `https://127.0.0.1:<port>`.
    pub base: String,
    /// What a client needs: the stand-in's CA and a client certificate it accepts.
    pub client_tls: Tls,
    state: Arc<Mutex<Smdp>>,
}

fn code(subject: &str, reason: &str, message: &str) -> StatusCodeData {
    StatusCodeData {
        subject_code: subject.into(),
        reason_code: reason.into(),
        subject_identifier: None,
        message: Some(message.into()),
    }
}

impl StandIn {
    /// Makes the next call of `function` answer with `t`.
    pub fn trouble(&self, function: &str, t: Trouble) {
        self.lock().trouble.insert(function.to_string(), t);
    }

    /// Adds profiles of `profile_type` to the pool.
    pub fn stock(&self, profile_type: &str, iccids: &[&str]) {
        let mut s = self.lock();
        for i in iccids {
            s.profiles.push(Profile {
                iccid: (*i).to_string(),
                profile_type: profile_type.to_string(),
                state: "available",
                eid: None,
                matching_id: None,
                confirmation_code: None,
                wrong_codes: 0,
            });
        }
    }

    /// The state of a profile, as the stand-in knows it.
    pub fn state_of(&self, iccid: &str) -> Option<&'static str> {
        self.lock()
            .profiles
            .iter()
            .find(|p| p.iccid == iccid)
            .map(|p| p.state)
    }

    /// The functions called, in order.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// An ES2+ client of this stand-in, as the operator configures one (its CA, our
    /// client certificate, the requester identifier it accepts).
    pub fn client(&self) -> Result<crate::es2plus::Es2Client, crate::es2plus::Es2Error> {
        crate::es2plus::Es2Client::new(&self.base, REQUESTER, &self.client_tls)
    }

    /// Reports download progress to `callback` from now on.
    pub fn report_to(&self, callback: Callback) {
        self.lock().report_to = Some(callback);
    }

    /// What a phone does with an activation code (SGP.22 §3.1.3 as the SM-DP+ sees it):
    /// the code names a profile released here, bound to this EID or to none, and — when
    /// the operator set one — the confirmation code matches (three tries); then the
    /// profile is downloaded and installed, each step reported to the operator with
    /// handleDownloadProgressInfo (points 1, 3 and 4 of §5.3.5; too many wrong codes:
    /// point 2 failed). The profile's ICCID.
    pub async fn install(
        &self,
        activation_code: &str,
        confirmation_code: Option<&str>,
        eid: &str,
        imei: Option<&str>,
    ) -> Result<String, PhoneError> {
        let ac = simrenew_core::esim::ActivationCode::parse(activation_code)
            .map_err(|e| PhoneError::Code(e.to_string()))?;
        if !ac.smdp_address.eq_ignore_ascii_case(SMDP_ADDRESS) {
            return Err(PhoneError::OtherServer(ac.smdp_address));
        }
        let (iccid, profile_type, failed) = {
            let mut st = self.lock();
            let p = st
                .profiles
                .iter_mut()
                .find(|p| {
                    p.state == "released" && p.matching_id.as_deref() == Some(&ac.matching_id)
                })
                .ok_or(PhoneError::Unknown)?;
            if p.eid.as_deref().is_some_and(|bound| bound != eid) {
                return Err(PhoneError::OtherPhone);
            }
            let mut failed = false;
            if let Some(want) = &p.confirmation_code {
                match confirmation_code.map(str::trim) {
                    None | Some("") => return Err(PhoneError::ConfirmationNeeded),
                    Some(given) if given == want => {}
                    Some(_) => {
                        p.wrong_codes += 1;
                        if p.wrong_codes < CONFIRMATION_TRIES {
                            return Err(PhoneError::WrongConfirmation(
                                CONFIRMATION_TRIES - p.wrong_codes,
                            ));
                        }
                        // The download order ends in error; the operator's cancelOrder
                        // makes the profile available again (or not).
                        p.state = "failed";
                        failed = true;
                    }
                }
            }
            if !failed {
                p.state = "installed";
                p.eid = Some(eid.to_string());
            }
            (p.iccid.clone(), p.profile_type.clone(), failed)
        };
        let report = |point: i64, status: Option<StatusCodeData>| {
            self.report(&iccid, &profile_type, eid, imei, point, status)
        };
        if failed {
            report(
                2,
                Some(code(
                    "8.2.7",
                    "6.4",
                    "confirmation code: maximum number of retries exceeded",
                )),
            )
            .await?;
            return Err(PhoneError::Refused);
        }
        for point in [1, 3, 4] {
            report(point, None).await?;
        }
        Ok(iccid)
    }

    /// One handleDownloadProgressInfo call (SGP.22 §5.3.5) to the operator, if one is
    /// set: `status` None is Executed-Success.
    async fn report(
        &self,
        iccid: &str,
        profile_type: &str,
        eid: &str,
        imei: Option<&str>,
        point: i64,
        status: Option<StatusCodeData>,
    ) -> Result<(), PhoneError> {
        let Some(cb) = self.lock().report_to.clone() else {
            return Ok(());
        };
        let mut point_status =
            json!({"status": if status.is_some() { "Failed" } else { "Executed-Success" }});
        if let Some(d) = status {
            point_status["statusCodeData"] = json!(d);
        }
        let mut body = json!({
            "header": {
                "functionRequesterIdentifier": SMDP_ID,
                "functionCallIdentifier": uuid::Uuid::new_v4().to_string(),
            },
            "eid": eid,
            "iccid": iccid,
            "profileType": profile_type,
            "timestamp": time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            "notificationPointId": point,
            "notificationPointStatus": point_status,
        });
        if let Some(i) = imei {
            body["imei"] = json!(i);
        }
        let res = reqwest::Client::new()
            .post(&cb.url)
            .bearer_auth(&cb.token)
            .header("X-Admin-Protocol", crate::es2plus::ADMIN_PROTOCOL)
            .header("content-type", "application/json;charset=UTF-8")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| PhoneError::Report(e.without_url().to_string()))?;
        // A notification taken is answered 204 No Content (SGP.22 §6.5.1); a refusal is
        // a failed function's header.
        if res.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(());
        }
        let answer: Value = res
            .json()
            .await
            .map_err(|e| PhoneError::Report(e.without_url().to_string()))?;
        match answer
            .pointer("/header/functionExecutionStatus/status")
            .and_then(Value::as_str)
        {
            Some("Executed-Success" | "Executed-WithWarning") => Ok(()),
            other => Err(PhoneError::Report(format!("answered {other:?}"))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Smdp> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Certificates: one CA, a server certificate for 127.0.0.1/localhost, a client one.
struct Pki {
    ca_pem: String,
    server_chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    server_key: rustls_pki_types::PrivateKeyDer<'static>,
    client_cert_pem: String,
    client_key_pem: String,
}

fn pki() -> Result<Pki, rcgen::Error> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "simrenew sandbox SM-DP+ CA");
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate()?;
    let server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])?
        .signed_by(&server_key, &issuer)?;
    let client_key = KeyPair::generate()?;
    let mut cp = CertificateParams::new(Vec::<String>::new())?;
    cp.distinguished_name.push(DnType::CommonName, REQUESTER);
    let client = cp.signed_by(&client_key, &issuer)?;
    Ok(Pki {
        ca_pem: ca_cert.pem(),
        server_chain: vec![server.der().clone()],
        server_key: rustls_pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    })
}

/// Starts the stand-in on a random local port.
pub async fn start() -> std::io::Result<StandIn> {
    let p = pki().map_err(|e| std::io::Error::other(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    {
        use rustls_pki_types::pem::PemObject;
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(p.ca_pem.as_bytes()) {
            roots
                .add(c.map_err(|e| std::io::Error::other(e.to_string()))?)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(p.server_chain, p.server_key)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stand = StandIn {
        base: format!("https://{addr}"),
        client_tls: Tls {
            server_ca_pem: p.ca_pem,
            client_cert_pem: p.client_cert_pem,
            client_key_pem: p.client_key_pem,
        },
        state: Arc::default(),
    };
    let app = Router::new()
        .route("/gsma/rsp2/es2plus/{function}", post(function))
        .with_state(stand.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // A client without an accepted certificate fails here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok(stand)
}

fn answer(status: &str, data: Option<&StatusCodeData>, extra: Value) -> Response {
    let mut v = header_only(status, data);
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in e {
            o.insert(k.clone(), val.clone());
        }
    }
    (
        [("content-type", "application/json;charset=UTF-8")],
        v.to_string(),
    )
        .into_response()
}

fn failed(subject: &str, reason: &str, message: &str) -> Response {
    answer("Failed", Some(&code(subject, reason, message)), json!({}))
}

async fn function(
    State(s): State<StandIn>,
    Path(function): Path<String>,
    h: HeaderMap,
    Json(b): Json<Value>,
) -> Response {
    if let Err(r) = crate::es2plus::check_protocol(&h) {
        return r;
    }
    if b.pointer("/header/functionRequesterIdentifier")
        .and_then(Value::as_str)
        != Some(REQUESTER)
        || b.pointer("/header/functionCallIdentifier")
            .and_then(Value::as_str)
            .is_none()
    {
        return failed("8.1", "1.2", "function requester not allowed");
    }
    let mut st = s.lock();
    st.calls.push(function.clone());
    if let Some(t) = st.trouble.remove(&function) {
        return match t {
            Trouble::Failed(d) => answer("Failed", Some(&d), json!({})),
            Trouble::Expired => answer("Expired", None, json!({})),
            Trouble::Http(code) => StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response(),
            Trouble::Warning(d) => {
                drop(st);
                return carry_out(&s, &function, &b, Some(d));
            }
        };
    }
    drop(st);
    carry_out(&s, &function, &b, None)
}

fn carry_out(s: &StandIn, function: &str, b: &Value, warning: Option<StatusCodeData>) -> Response {
    let f = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    let status = if warning.is_some() {
        "Executed-WithWarning"
    } else {
        "Executed-Success"
    };
    let mut st = s.lock();
    match function {
        "downloadOrder" => {
            let found = match (f("iccid"), f("profileType")) {
                (Some(i), _) => st.profiles.iter_mut().find(|p| p.iccid == i),
                (None, Some(t)) => st
                    .profiles
                    .iter_mut()
                    .find(|p| p.profile_type == t && p.state == "available"),
                (None, None) => return failed("8.2.5", "2.2", "profileType or iccid is mandatory"),
            };
            match found {
                Some(p) if p.state == "available" => {
                    p.state = "allocated";
                    p.eid = f("eid");
                    answer(status, warning.as_ref(), json!({"iccid": p.iccid}))
                }
                Some(_) => failed("8.2.1", "3.3", "profile ICCID not available"),
                None if f("iccid").is_some() => failed("8.2.1", "3.9", "profile ICCID unknown"),
                None => failed("8.2.5", "3.7", "no profile of this type available"),
            }
        }
        "confirmOrder" => {
            let iccid = f("iccid").unwrap_or_default();
            let Some(p) = st.profiles.iter_mut().find(|p| p.iccid == iccid) else {
                return failed("8.2.1", "3.9", "profile ICCID unknown");
            };
            if p.state != "allocated" {
                return failed("8.2.1", "3.3", "profile ICCID not available");
            }
            match (&p.eid, f("eid")) {
                (Some(bound), Some(e)) if *bound != e => {
                    return failed("8.1.1", "3.10", "EID differs from the downloadOrder's");
                }
                (None, Some(e)) => p.eid = Some(e),
                _ => {}
            }
            let matching = f("matchingId").unwrap_or_else(|| {
                let u = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
                format!("{}-{}-{}-{}", &u[..5], &u[5..10], &u[10..15], &u[15..20])
            });
            p.matching_id = Some(matching.clone());
            p.confirmation_code = f("confirmationCode");
            p.wrong_codes = 0;
            p.state = if b.get("releaseFlag") == Some(&json!(true)) {
                "released"
            } else {
                "confirmed"
            };
            answer(
                status,
                warning.as_ref(),
                json!({"eid": p.eid, "matchingId": matching, "smdpAddress": SMDP_ADDRESS}),
            )
        }
        "cancelOrder" => {
            let iccid = f("iccid").unwrap_or_default();
            let Some(p) = st.profiles.iter_mut().find(|p| p.iccid == iccid) else {
                return failed("8.2.1", "3.9", "profile ICCID unknown");
            };
            if !matches!(p.state, "allocated" | "confirmed" | "released" | "failed") {
                return failed("8.2.1", "3.3", "profile ICCID not available");
            }
            p.state = match f("finalProfileStatusIndicator").as_deref() {
                Some("Available") => "available",
                Some("Unavailable") => "unavailable",
                _ => return failed("8.2", "2.2", "finalProfileStatusIndicator is mandatory"),
            };
            p.eid = None;
            p.matching_id = None;
            p.confirmation_code = None;
            answer(status, warning.as_ref(), json!({}))
        }
        "releaseProfile" => {
            let iccid = f("iccid").unwrap_or_default();
            match st.profiles.iter_mut().find(|p| p.iccid == iccid) {
                Some(p) if p.state == "confirmed" => {
                    p.state = "released";
                    answer(status, warning.as_ref(), json!({}))
                }
                Some(_) => failed("8.2.1", "3.3", "profile ICCID not available"),
                None => failed("8.2.1", "3.9", "profile ICCID unknown"),
            }
        }
        _ => failed("8.1", "4.8", "function not supported"),
    }
}

/// A demo EID for the stand-in phone (SGP.29 check digits).
pub fn demo_eid() -> String {
    simrenew_core::Eid::with_check_digits("890490320000000000000000001234")
        .map(|e| e.as_str().to_string())
        .unwrap_or_default()
}

#[derive(serde::Deserialize)]
struct PhoneQuery {
    #[serde(default)]
    code: String,
}

#[derive(serde::Deserialize)]
struct PhoneForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    confirmation_code: String,
    #[serde(default)]
    eid: String,
    #[serde(default)]
    imei: String,
}

/// The stand-in phone of a demo shop, as pages: `GET /sandbox/esim/phone?code=LPA:…`
/// shows what a phone's "Add eSIM" screen asks (the code, the confirmation code, the
/// phone's EID), and the POST installs it through [`StandIn::install`] — so the demo
/// reaches "installed" the way a real download does. Clearly labelled; mounted by
/// `serve --demo` only.
pub fn phone_router<S: Clone + Send + Sync + 'static>(stand: StandIn) -> Router<S> {
    Router::new()
        .route(
            "/sandbox/esim/phone",
            axum::routing::get(phone_page).post(phone_install),
        )
        .with_state(stand)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn phone_html(code: &str, eid: &str, outcome: Option<(bool, String)>) -> Response {
    let outcome = outcome.map_or(String::new(), |(ok, text)| {
        format!(
            "<p id=\"phone-result\" class=\"{}\" role=\"status\">{}</p>",
            if ok { "ok" } else { "err" },
            escape(&text)
        )
    });
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sandbox phone — Add eSIM</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:1rem auto;padding:0 1rem;color:#1a1a1a}}.banner{{background:#7a4a00;color:#fff;padding:.5rem;border-radius:.3rem}}label{{display:block;margin-top:.8rem}}input{{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}}button{{margin-top:1rem;padding:.6rem 1rem;font:inherit}}.ok{{color:#0a5c2b}}.err{{color:#a00000}}</style></head>
<body><p class="banner">Sandbox: a stand-in phone and SM-DP+. Nothing is installed anywhere.</p>
<h1>Add eSIM</h1>{outcome}
<form method="post" action="/sandbox/esim/phone">
<label for="code">Activation code</label><input id="code" name="code" value="{code}">
<label for="confirmation_code">Confirmation code (if the operator gave you one)</label><input id="confirmation_code" name="confirmation_code" inputmode="numeric" autocomplete="off">
<label for="eid">This phone's EID</label><input id="eid" name="eid" value="{eid}">
<label for="imei">This phone's IMEI</label><input id="imei" name="imei" value="356938035643809">
<button type="submit" id="phone-install">Download and install</button></form></body></html>"#,
        code = escape(code),
        eid = escape(eid),
    );
    (
        [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
        ],
        html,
    )
        .into_response()
}

async fn phone_page(axum::extract::Query(q): axum::extract::Query<PhoneQuery>) -> Response {
    phone_html(&q.code, &demo_eid(), None)
}

async fn phone_install(
    State(s): State<StandIn>,
    axum::extract::Form(f): axum::extract::Form<PhoneForm>,
) -> Response {
    let imei = Some(f.imei.trim()).filter(|i| !i.is_empty());
    let cc = Some(f.confirmation_code.as_str());
    let outcome = match s.install(&f.code, cc, f.eid.trim(), imei).await {
        Ok(iccid) => (
            true,
            format!("Installed: the eSIM {iccid} is on this phone. Turn it on for mobile data."),
        ),
        Err(e) => (false, e.to_string()),
    };
    phone_html(&f.code, &f.eid, Some(outcome))
}
