//! The partner API's signatures, spoken to as a seller's client would, on SQLite and
//! PostgreSQL: a signed request answers; the same request replayed, a stale timestamp,
//! a forged signature, a changed body or path, an unknown key, a missing header and a
//! missing scope are each refused with their own problem type.

use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use simrenew_core::partner;

mod common;

const SERVER_SECRET: &[u8] = b"a server secret of at least thirty-two bytes";

struct Signed<'a> {
    key: &'a str,
    secret: &'a str,
    ts: i64,
    nonce: String,
}

async fn send(
    http: &Client,
    base: &str,
    method: Method,
    path: &str,
    body: &[u8],
    s: &Signed<'_>,
    sign_as: Option<(&str, &[u8])>,
) -> (StatusCode, Value) {
    let (signed_path, signed_body) = sign_as.unwrap_or((path, body));
    let c = partner::canonical(
        method.as_str(),
        signed_path,
        &s.ts.to_string(),
        &s.nonce,
        signed_body,
    );
    let sig = partner::sign(s.secret.as_bytes(), &c);
    let res = http
        .request(method, format!("{base}{path}"))
        .header("X-Simrenew-Key", s.key)
        .header("X-Simrenew-Timestamp", s.ts.to_string())
        .header("X-Simrenew-Nonce", &s.nonce)
        .header("X-Simrenew-Signature", sig)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A signed GET of the demo line.
async fn get(http: &Client, base: &str, s: &Signed<'_>) -> (StatusCode, Value) {
    send(http, base, Method::GET, LINE, b"", s, None).await
}

const LINE: &str = "/partner/v1/lines/79161234561";

fn kind(v: &Value) -> &str {
    v["type"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("/problems/")
}

#[tokio::test]
async fn signed_requests_answer_and_each_forgery_is_refused_by_name() {
    for app in common::serve_all(|c| c.secret = SERVER_SECRET.to_vec()).await {
        let store = &app._db.store;
        let (key, secret) = simrenew_web::routes::partner::new_credentials();
        let sealed = simrenew_web::routes::partner::seal(SERVER_SECRET, &secret);
        assert!(
            !sealed.contains(&secret[3..]),
            "the secret is not stored in the clear"
        );
        store
            .add_partner(
                "cli:test",
                "Travel Shop Ltd",
                &key,
                &sealed,
                &["lines:read"],
            )
            .await
            .unwrap();
        let (other_key, other_secret) = simrenew_web::routes::partner::new_credentials();
        store
            .add_partner(
                "cli:test",
                "No scopes",
                &other_key,
                &simrenew_web::routes::partner::seal(SERVER_SECRET, &other_secret),
                &[],
            )
            .await
            .unwrap();
        let http = Client::new();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let path = LINE;
        let fresh = |n: &str| Signed {
            key: &key,
            secret: &secret,
            ts: now,
            nonce: format!("nonce-{n}"),
        };

        let (st, line) = get(&http, &app.base, &fresh("0001")).await;
        assert_eq!(st, StatusCode::OK, "{}: {line}", app.db);
        assert_eq!(line["operator"], "mts");
        assert!(line["balance"].is_object(), "{line}");
        // The same request again: a replay.
        let (st, p) = get(&http, &app.base, &fresh("0001")).await;
        assert_eq!(
            (st, kind(&p)),
            (StatusCode::UNAUTHORIZED, "partner-nonce-reused"),
            "{p}"
        );
        // Six minutes old, or six minutes ahead: stale.
        for skew in [-360, 360] {
            let s = Signed {
                ts: now + skew,
                ..fresh(&format!("skew{skew}"))
            };
            let (st, p) = get(&http, &app.base, &s).await;
            assert_eq!(
                (st, kind(&p)),
                (StatusCode::UNAUTHORIZED, "partner-stale-request"),
                "{p}"
            );
        }
        // Signed with another secret, or for another path: forged.
        let s = Signed {
            secret: "sk_not_the_secret",
            ..fresh("0002")
        };
        let (st, p) = get(&http, &app.base, &s).await;
        assert_eq!(
            (st, kind(&p)),
            (StatusCode::UNAUTHORIZED, "partner-bad-signature")
        );
        let (st, p) = send(
            &http,
            &app.base,
            Method::GET,
            path,
            b"",
            &fresh("0003"),
            Some(("/partner/v1/lines/79031234561", b"")),
        )
        .await;
        assert_eq!(
            (st, kind(&p)),
            (StatusCode::UNAUTHORIZED, "partner-bad-signature")
        );
        // A forged request does not spend the nonce: the genuine one still goes through.
        let (st, _) = get(&http, &app.base, &fresh("0002")).await;
        assert_eq!(st, StatusCode::OK, "{}", app.db);
        // Unknown key, missing header, missing scope.
        let s = Signed {
            key: "pk_nobody",
            ..fresh("0004")
        };
        let (st, p) = get(&http, &app.base, &s).await;
        assert_eq!(
            (st, kind(&p)),
            (StatusCode::UNAUTHORIZED, "partner-unknown-key")
        );
        let bare = http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
        let p: Value = bare.json().await.unwrap();
        assert_eq!(kind(&p), "partner-signature-missing");
        assert!(
            p["detail"].as_str().unwrap().contains("x-simrenew-key"),
            "{p}"
        );
        let s = Signed {
            key: &other_key,
            secret: &other_secret,
            ts: now,
            nonce: "nonce-0005".into(),
        };
        let (st, p) = get(&http, &app.base, &s).await;
        assert_eq!((st, kind(&p)), (StatusCode::FORBIDDEN, "partner-scope"));
        // A wrong line is a clear 404 or 422, signed like any request.
        let (st, p) = send(
            &http,
            &app.base,
            Method::GET,
            "/partner/v1/lines/89701",
            b"",
            &fresh("0006"),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    }
}

#[test]
fn a_secret_sealed_under_one_server_key_opens_only_under_it() {
    use simrenew_web::routes::partner::{open, seal};
    let sealed = seal(SERVER_SECRET, "sk_abc");
    assert_eq!(open(SERVER_SECRET, &sealed).as_deref(), Some("sk_abc"));
    assert_eq!(
        open(b"another server secret, also long enough", &sealed),
        None
    );
    assert_ne!(
        seal(SERVER_SECRET, "sk_abc"),
        sealed,
        "a new nonce each time"
    );
    assert_eq!(open(SERVER_SECRET, "not base64!"), None);
}

#[tokio::test]
async fn a_partner_past_its_rate_waits_and_others_do_not() {
    for app in common::serve_all(|c| c.secret = SERVER_SECRET.to_vec()).await {
        let store = &app._db.store;
        let mut keys = Vec::new();
        for name in ["Busy Seller", "Quiet Seller"] {
            let (key, secret) = simrenew_web::routes::partner::new_credentials();
            let sealed = simrenew_web::routes::partner::seal(SERVER_SECRET, &secret);
            store
                .add_partner("cli:test", name, &key, &sealed, &["lines:read"])
                .await
                .unwrap();
            keys.push((key, secret));
        }
        store
            .set_partner_rate("cli:test", &keys[0].0, 3)
            .await
            .unwrap();
        let http = Client::new();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signed = |i: usize, n: usize| Signed {
            key: &keys[i].0,
            secret: &keys[i].1,
            ts: now,
            nonce: format!("rate-{i}-{n:04}"),
        };
        for n in 0..3 {
            assert_eq!(get(&http, &app.base, &signed(0, n)).await.0, StatusCode::OK);
        }
        let c = partner::canonical("GET", LINE, &now.to_string(), "rate-0-0009", b"");
        let res = http
            .get(format!("{}{LINE}", app.base))
            .header("X-Simrenew-Key", &keys[0].0)
            .header("X-Simrenew-Timestamp", now.to_string())
            .header("X-Simrenew-Nonce", "rate-0-0009")
            .header(
                "X-Simrenew-Signature",
                partner::sign(keys[0].1.as_bytes(), &c),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{}", app.db);
        let wait: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait));
        let p: Value = res.json().await.unwrap();
        assert_eq!(kind(&p), "partner-rate-limited");
        assert_eq!(get(&http, &app.base, &signed(1, 0)).await.0, StatusCode::OK);
        assert!(
            store
                .audit_entries(10, Some(&format!("partner:{}", keys[0].0)))
                .await
                .unwrap()
                .iter()
                .any(|e| e.action == "partner.rate")
        );
    }
}

#[tokio::test]
async fn the_partner_api_describes_itself_in_openapi() {
    let app = common::serve_all_on(true, |_| {}).await.remove(0);
    let doc: Value = Client::new()
        .get(format!("{}/partner/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    let op = &doc["paths"]["/partner/v1/lines/{line}"]["get"];
    let params: Vec<&str> = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for h in [
        "line",
        "X-Simrenew-Timestamp",
        "X-Simrenew-Nonce",
        "X-Simrenew-Signature",
    ] {
        assert!(params.contains(&h), "{params:?}");
    }
    for code in ["200", "401", "403", "429"] {
        assert!(op["responses"][code].is_object(), "{code}: {op}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["partner_key"]["name"],
        "X-Simrenew-Key"
    );
}
