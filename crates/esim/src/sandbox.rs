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
    /// available, allocated, confirmed, released, downloaded, installed, unavailable
    state: &'static str,
    eid: Option<String>,
    matching_id: Option<String>,
}

#[derive(Default)]
struct Smdp {
    profiles: Vec<Profile>,
    trouble: HashMap<String, Trouble>,
    calls: Vec<String>,
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
            if !matches!(p.state, "allocated" | "confirmed" | "released") {
                return failed("8.2.1", "3.3", "profile ICCID not available");
            }
            p.state = match f("finalProfileStatusIndicator").as_deref() {
                Some("Available") => "available",
                Some("Unavailable") => "unavailable",
                _ => return failed("8.2", "2.2", "finalProfileStatusIndicator is mandatory"),
            };
            p.eid = None;
            p.matching_id = None;
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
