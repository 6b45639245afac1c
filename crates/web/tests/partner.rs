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

/// A request signed as a partner's client signs it (`sign_as`: sign another path or
/// body than the one sent, to forge).
impl<'a> Signed<'a> {
    /// Signed now, with `nonce`.
    fn now(key: &'a str, secret: &'a str, nonce: &str) -> Self {
        Signed {
            key,
            secret,
            ts: time::OffsetDateTime::now_utc().unix_timestamp(),
            nonce: nonce.into(),
        }
    }
}

fn signed_request(
    http: &Client,
    base: &str,
    method: Method,
    path: &str,
    body: &[u8],
    s: &Signed<'_>,
    sign_as: Option<(&str, &[u8])>,
) -> reqwest::RequestBuilder {
    let (signed_path, signed_body) = sign_as.unwrap_or((path, body));
    let c = partner::canonical(
        method.as_str(),
        signed_path,
        &s.ts.to_string(),
        &s.nonce,
        signed_body,
    );
    http.request(method, format!("{base}{path}"))
        .header("X-Simrenew-Key", s.key)
        .header("X-Simrenew-Timestamp", s.ts.to_string())
        .header("X-Simrenew-Nonce", &s.nonce)
        .header(
            "X-Simrenew-Signature",
            partner::sign(s.secret.as_bytes(), &c),
        )
        .body(body.to_vec())
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
    let res = signed_request(http, base, method, path, body, s, sign_as)
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

/// A partner with a new key, its secret sealed as the server seals it.
async fn partner_with(
    store: &simrenew_store::Store,
    name: &str,
    scopes: &[&str],
) -> (simrenew_store::partners::Partner, String, String) {
    let (key, secret) = simrenew_web::routes::partner::new_credentials();
    let sealed = simrenew_web::routes::partner::seal(SERVER_SECRET, &secret);
    assert!(
        !sealed.contains(&secret[3..]),
        "the secret is not stored in the clear"
    );
    let p = store
        .add_partner("cli:test", name, &key, &sealed, scopes)
        .await
        .unwrap();
    (p, key, secret)
}

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
        // This partner sold nothing to the line: what anyone sees, not the balance.
        assert_eq!(line["owner_view"], false, "{line}");
        assert!(line.get("balance").is_none(), "{line}");
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

/// The partner API's OpenAPI document as the server serves it.
async fn partner_document(base: &str) -> Value {
    Client::new()
        .get(format!("{base}/partner/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_partner_api_describes_itself_in_openapi() {
    let app = common::serve_all_on(true, |_| {}).await.remove(0);
    let doc = partner_document(&app.base).await;
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
    assert!(!common::openapi::patterns_of(&doc).is_empty());
    common::openapi::assert_line_pattern_reads_as_the_server(&common::openapi::line_param_pattern(
        &doc,
        "/partner/v1/lines/{line}",
    ));
    let undescribed = common::openapi::undescribed_responses(&doc);
    assert!(
        undescribed.is_empty(),
        "responses without a description: {undescribed:?}"
    );
    let open = common::openapi::open_request_objects(&doc);
    assert!(
        open.is_empty(),
        "bodies the server refuses are allowed at {open:?}"
    );
}

#[tokio::test]
async fn the_partner_documents_examples_are_orders_the_server_takes() {
    use simrenew_core::{Currency, Money};
    for app in common::serve_all(|c| c.secret = SERVER_SECRET.to_vec()).await {
        let store = &app._db.store;
        let (_, key, secret) = partner_with(store, "Seller", &["orders:write"]).await;
        store
            .credit_partner("cli:ops", &key, Money::new(100_000_00, Currency::Rub), "t")
            .await
            .unwrap();
        let http = Client::new();
        let doc = partner_document(&app.base).await;
        let example = |schema: &str| common::openapi::example(&doc, schema);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signed = |n: &str| Signed {
            key: &key,
            secret: &secret,
            ts: now,
            nonce: format!("example-{n}"),
        };
        let (st, order, _) = post_signed(
            &http,
            &app.base,
            "/partner/v1/orders",
            &signed("1"),
            Some("ex-1"),
            &example("PartnerOrderInput"),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{}: {order}", app.db);
        assert_eq!(order["status"], "fulfilled", "{}: {order}", app.db);
        let (st, bulk, _) = post_signed(
            &http,
            &app.base,
            "/partner/v1/orders/bulk",
            &signed("2"),
            Some("ex-2"),
            &example("BulkInput"),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{}: {bulk}", app.db);
        let statuses: Vec<i64> = bulk
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["status"].as_i64().unwrap())
            .collect();
        assert_eq!(statuses, [201, 201], "{}: {bulk}", app.db);
        // Paying in a currency the partner never paid in (found by the schema fuzzer: it
        // was a 500): the deposit in it is empty, short by the whole price.
        let mut in_usd = example("PartnerOrderInput");
        in_usd["currency"] = "USD".into();
        let (st, short, _) = post_signed(
            &http,
            &app.base,
            "/partner/v1/orders",
            &signed("3"),
            Some("ex-3"),
            &in_usd,
        )
        .await;
        assert_eq!(
            (st, kind(&short)),
            (StatusCode::PAYMENT_REQUIRED, "partner-deposit-short"),
            "{}: {short}",
            app.db
        );
        assert_eq!(short["available"]["minor"], 0, "{}: {short}", app.db);
        assert_eq!(short["available"]["currency"], "USD", "{}: {short}", app.db);
        // A body over the limit is refused as such, by the type both documents name.
        let mut huge = example("PartnerOrderInput");
        huge["promo_code"] = "X".repeat(300 * 1024).into();
        let (st, big, _) = post_signed(
            &http,
            &app.base,
            "/partner/v1/orders",
            &signed("4"),
            Some("ex-4"),
            &huge,
        )
        .await;
        assert_eq!(
            (st, kind(&big)),
            (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large"),
            "{}: {big}",
            app.db
        );
    }
}

/// A signed JSON POST with an Idempotency-Key: (status, body, replayed).
async fn post_signed(
    http: &Client,
    base: &str,
    path: &str,
    s: &Signed<'_>,
    key: Option<&str>,
    body: &Value,
) -> (StatusCode, Value, bool) {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut req = signed_request(http, base, Method::POST, path, &bytes, s, None)
        .header("Content-Type", "application/json");
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.unwrap();
    let (status, replayed) = (
        res.status(),
        res.headers().contains_key("idempotent-replayed"),
    );
    (status, res.json().await.unwrap_or(Value::Null), replayed)
}

#[tokio::test]
async fn orders_paid_from_the_deposit_once_each_and_refused_when_it_is_short() {
    use simrenew_core::{Currency, Money};
    for app in common::serve_all(|c| c.secret = SERVER_SECRET.to_vec()).await {
        let store = &app._db.store;
        let (p, key, secret) = partner_with(store, "Seller", &["lines:read", "orders:write"]).await;
        let price = store
            .plan("mts-month-30gb")
            .await
            .unwrap()
            .price(Currency::Rub)
            .unwrap();
        // Enough for two months and a bit.
        let credit = Money::new(price.minor * 2 + price.minor / 3, Currency::Rub);
        let after = store
            .credit_partner("cli:ops", &key, credit, "bank transfer 42")
            .await
            .unwrap();
        assert_eq!(after, credit);
        let http = Client::new();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signed = |n: &str| Signed {
            key: &key,
            secret: &secret,
            ts: now,
            nonce: format!("order-{n}"),
        };
        let body = serde_json::json!({"line": "+7 916 123-45-62", "items": [{"type": "renew", "plan_id": "mts-month-30gb"}]});
        let path = "/partner/v1/orders";

        let (st, p0, _) = post_signed(&http, &app.base, path, &signed("0000"), None, &body).await;
        assert_eq!(
            (st, kind(&p0)),
            (StatusCode::BAD_REQUEST, "idempotency-key-missing"),
            "{p0}"
        );
        let (st, first, replayed) =
            post_signed(&http, &app.base, path, &signed("0001"), Some("k-1"), &body).await;
        assert_eq!(st, StatusCode::CREATED, "{}: {first}", app.db);
        assert!(!replayed);
        assert_eq!(first["status"], "fulfilled");
        // The same order again (a retry after a timeout, newly signed): the first answer.
        let (st, again, replayed) =
            post_signed(&http, &app.base, path, &signed("0002"), Some("k-1"), &body).await;
        assert_eq!((st, replayed), (StatusCode::CREATED, true));
        assert_eq!(again["id"], first["id"]);
        let (st, second, _) =
            post_signed(&http, &app.base, path, &signed("0003"), Some("k-2"), &body).await;
        assert_eq!(st, StatusCode::CREATED, "{second}");
        let left = Money::new(credit.minor - 2 * price.minor, Currency::Rub);
        assert_eq!(
            store.partner_deposit(&p.id, Currency::Rub).await.unwrap(),
            left
        );
        // The third is short: refused whole, saying by how much, and nothing changes.
        let line_id = store
            .find_line(&simrenew_core::LineRef::parse("+7 916 123-45-62").unwrap())
            .await
            .unwrap()
            .id;
        let orders_before = store.orders_of_line(&line_id, 100).await.unwrap().len();
        assert!(orders_before >= 2);
        assert_eq!(first["channel"], "partner");
        assert_eq!(first["payment_method"], "deposit");
        let (st, short, _) =
            post_signed(&http, &app.base, path, &signed("0004"), Some("k-3"), &body).await;
        assert_eq!(
            (st, kind(&short)),
            (StatusCode::PAYMENT_REQUIRED, "partner-deposit-short"),
            "{short}"
        );
        assert_eq!(short["missing"]["minor"], price.minor - left.minor);
        assert_eq!(
            store.partner_deposit(&p.id, Currency::Rub).await.unwrap(),
            left
        );
        let orders_after = store.orders_of_line(&line_id, 100).await.unwrap().len();
        assert_eq!(orders_before, orders_after);
        // The deposit as the partner sees it.
        let c = partner::canonical(
            "GET",
            "/partner/v1/deposit",
            &now.to_string(),
            "order-0005",
            b"",
        );
        let dep: Value = http
            .get(format!("{}/partner/v1/deposit", app.base))
            .header("X-Simrenew-Key", &key)
            .header("X-Simrenew-Timestamp", now.to_string())
            .header("X-Simrenew-Nonce", "order-0005")
            .header("X-Simrenew-Signature", partner::sign(secret.as_bytes(), &c))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(dep["balances"][0]["minor"], left.minor, "{dep}");
        // A key without orders:write may not order.
        let (rkey, rsecret) = simrenew_web::routes::partner::new_credentials();
        store
            .add_partner(
                "cli:test",
                "Reader",
                &rkey,
                &simrenew_web::routes::partner::seal(SERVER_SECRET, &rsecret),
                &["lines:read"],
            )
            .await
            .unwrap();
        let s = Signed {
            key: &rkey,
            secret: &rsecret,
            ts: now,
            nonce: "order-0006".into(),
        };
        let (st, p, _) = post_signed(&http, &app.base, path, &s, Some("k-4"), &body).await;
        assert_eq!((st, kind(&p)), (StatusCode::FORBIDDEN, "partner-scope"));
        simrenew_store::testing::assert_sound(store).await;
    }
}

/// What the partner's webhook endpoint received: (headers, body).
type Received = std::sync::Arc<std::sync::Mutex<Vec<(reqwest::header::HeaderMap, String)>>>;

/// A partner's webhook endpoint: fails the first delivery with 500, then accepts.
async fn webhook_endpoint() -> (String, Received) {
    use axum::http::HeaderMap;
    let got: Received = Default::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let mut list = seen.lock().unwrap();
                let mut h = reqwest::header::HeaderMap::new();
                for (k, v) in &headers {
                    h.insert(
                        reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                        reqwest::header::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
                    );
                }
                list.push((h, body));
                if list.len() == 1 {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("{base}/hook?shop=1"), got)
}

/// A delivery to the webhook carries a signature the partner's secret verifies.
fn assert_signed(h: &reqwest::header::HeaderMap, body: &str, secret: &str) {
    let hv = |n: &str| h[n].to_str().unwrap().to_string();
    let c = partner::canonical(
        "POST",
        "/hook?shop=1",
        &hv("x-simrenew-timestamp"),
        &hv("x-simrenew-nonce"),
        body.as_bytes(),
    );
    assert_eq!(
        partner::verify(secret.as_bytes(), &c, &hv("x-simrenew-signature")),
        Ok(())
    );
}

/// The state the webhook sender runs with: the same store and server secret.
fn sender_state(store: &simrenew_store::Store) -> simrenew_web::AppState {
    simrenew_web::AppState::new(
        store.clone(),
        simrenew_web::WebConfig {
            secret: SERVER_SECRET.to_vec(),
            ..Default::default()
        },
    )
}

/// A partner allowed to order, with 5,000 RUB on deposit and its webhook endpoint set.
async fn seller_with_webhook(
    store: &simrenew_store::Store,
) -> (simrenew_store::partners::Partner, String, String, Received) {
    use simrenew_core::{Currency, Money};
    let (p, key, secret) = partner_with(store, "Seller", &["orders:write"]).await;
    let (url, got) = webhook_endpoint().await;
    store
        .set_partner_webhook("cli:test", &key, Some(&url))
        .await
        .unwrap();
    store
        .credit_partner("cli:ops", &key, Money::new(5_000_00, Currency::Rub), "t-1")
        .await
        .unwrap();
    (p, key, secret, got)
}

#[tokio::test]
async fn a_fulfilled_order_is_posted_to_the_partner_signed_retried_and_logged() {
    for app in common::serve_all(|c| c.secret = SERVER_SECRET.to_vec()).await {
        let store = &app._db.store;
        let (_p, key, secret, got) = seller_with_webhook(store).await;
        let http = Client::new();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let s = Signed::now(&key, &secret, "hook-0001");
        let body = serde_json::json!({"line": "+79161234562", "items": [{"type": "renew", "plan_id": "mts-month-30gb"}]});
        let (st, order, _) = post_signed(
            &http,
            &app.base,
            "/partner/v1/orders",
            &s,
            Some("h-1"),
            &body,
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{order}");

        // The sender serve runs, over the same store and server secret.
        let state = sender_state(store);
        let sender = Client::new();
        assert_eq!(
            simrenew_web::routes::partner::deliver_events(&state, &sender).await,
            0,
            "the endpoint failed"
        );
        assert_eq!(
            simrenew_web::routes::partner::deliver_events(&state, &sender).await,
            0,
            "not due again yet"
        );
        simrenew_store::testing::execute(store, "UPDATE partner_events SET available_at = 0")
            .await
            .unwrap();
        assert_eq!(
            simrenew_web::routes::partner::deliver_events(&state, &sender).await,
            1,
            "{}",
            app.db
        );
        simrenew_store::testing::execute(store, "UPDATE partner_events SET available_at = 0")
            .await
            .unwrap();
        assert_eq!(
            simrenew_web::routes::partner::deliver_events(&state, &sender).await,
            0,
            "delivered once"
        );

        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 2);
        let mut nonces = Vec::new();
        for (h, body) in &got {
            let hv = |n: &str| h[n].to_str().unwrap().to_string();
            assert_eq!(hv("x-simrenew-key"), key);
            assert_eq!(hv("x-simrenew-event"), "order.fulfilled");
            assert_signed(h, body, &secret);
            let event: Value = serde_json::from_str(body).unwrap();
            assert_eq!(event["data"]["order_id"], order["id"]);
            assert_eq!(event["data"]["status"], "fulfilled");
            nonces.push(hv("x-simrenew-nonce"));
        }
        assert_ne!(nonces[0], nonces[1], "each attempt signed anew");

        // The partner reads the delivery log.
        let s = Signed {
            key: &key,
            secret: &secret,
            ts: now,
            nonce: "hook-0002".into(),
        };
        let res = signed_request(
            &http,
            &app.base,
            Method::GET,
            "/partner/v1/webhooks/deliveries",
            b"",
            &s,
            None,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let log: Value = res.json().await.unwrap();
        let first = &log[0];
        assert_eq!(first["attempts"], 2, "{log}");
        assert_eq!(first["last_status"], 204);
        assert!(first["delivered_at"].is_string());
        let event: Value = serde_json::from_str(&got[1].1).unwrap();
        assert_eq!(first["event_id"], event["id"]);
    }
}

#[tokio::test]
async fn bulk_orders_report_each_result_and_all_or_nothing_places_none_on_a_refusal() {
    use simrenew_core::{Currency, Money};
    for app in common::serve_all(|c| c.secret = SERVER_SECRET.to_vec()).await {
        let store = &app._db.store;
        let (p, key, secret) = partner_with(store, "Seller", &["orders:write"]).await;
        let price = store
            .plan("mts-month-30gb")
            .await
            .unwrap()
            .price(Currency::Rub)
            .unwrap();
        store
            .credit_partner(
                "cli:ops",
                &key,
                Money::new(price.minor * 5 / 2, Currency::Rub),
                "t",
            )
            .await
            .unwrap();
        let http = Client::new();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut n = 0;
        let mut signed = || {
            n += 1;
            Signed {
                key: &key,
                secret: &secret,
                ts: now,
                nonce: format!("bulk-{n:04}"),
            }
        };
        let month = |line: &str| serde_json::json!({"line": line, "items": [{"type": "renew", "plan_id": "mts-month-30gb"}]});
        let bogus = serde_json::json!({"line": "+79161234562", "items": [{"type": "renew", "plan_id": "no-such-plan"}]});
        let lines = ["+79161234561", "+79161234562", "+79161234563"];
        let batch = serde_json::json!({"orders": [month(lines[0]), month(lines[1]), month(lines[2]), bogus]});
        let path = "/partner/v1/orders/bulk";
        let (st, r, _) = post_signed(&http, &app.base, path, &signed(), Some("b-1"), &batch).await;
        assert_eq!(st, StatusCode::OK, "{}: {r}", app.db);
        let statuses: Vec<i64> = r
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["status"].as_i64().unwrap())
            .collect();
        assert_eq!(&statuses[..3], &[201, 201, 402], "{r}");
        assert!(statuses[3] >= 400 && statuses[3] != 402, "{r}");
        assert_eq!(kind(&r[2]["problem"]), "partner-deposit-short");
        let left = store.partner_deposit(&p.id, Currency::Rub).await.unwrap();
        assert_eq!(left.minor, price.minor / 2);
        // The same batch again: the placed ones replay, nothing more is taken.
        let (st, again, _) =
            post_signed(&http, &app.base, path, &signed(), Some("b-1"), &batch).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(again[0]["order"]["id"], r[0]["order"]["id"]);
        assert_eq!(again[1]["order"]["id"], r[1]["order"]["id"]);
        assert_eq!(again[2]["status"], 402);
        assert_eq!(
            store.partner_deposit(&p.id, Currency::Rub).await.unwrap(),
            left
        );
        // The key of that batch for another batch (its first order for another line):
        // refused whole, nothing placed, not the first batch's orders passed off as these.
        let other = serde_json::json!({"orders": [month(lines[2]), month(lines[1])]});
        let (st, refused, _) =
            post_signed(&http, &app.base, path, &signed(), Some("b-1"), &other).await;
        assert_eq!(st, StatusCode::CONFLICT, "{}: {refused}", app.db);
        assert_eq!(kind(&refused), "idempotency-key-reused");
        assert_eq!(
            store.partner_deposit(&p.id, Currency::Rub).await.unwrap(),
            left
        );

        // All or nothing: enough for one of two, so neither is placed.
        store
            .credit_partner(
                "cli:ops",
                &key,
                Money::new(price.minor - left.minor, Currency::Rub),
                "t2",
            )
            .await
            .unwrap();
        let before = store.partner_deposit(&p.id, Currency::Rub).await.unwrap();
        assert_eq!(before, price);
        let line = store
            .find_line(&simrenew_core::LineRef::parse(lines[0]).unwrap())
            .await
            .unwrap();
        let orders_before = store.orders_of_line(&line.id, 100).await.unwrap().len();
        let both = serde_json::json!({"orders": [month(lines[0]), month(lines[1])], "all_or_nothing": true});
        let (st, r, _) = post_signed(&http, &app.base, path, &signed(), Some("b-2"), &both).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        assert_eq!(r[0]["status"], 409, "{r}");
        assert_eq!(kind(&r[0]["problem"]), "not-placed");
        assert_eq!(r[1]["status"], 402);
        assert_eq!(
            store.partner_deposit(&p.id, Currency::Rub).await.unwrap(),
            before
        );
        assert_eq!(
            store.orders_of_line(&line.id, 100).await.unwrap().len(),
            orders_before
        );
        // A refusal before anything is placed (an unknown plan) places none either.
        let mixed = serde_json::json!({"orders": [month(lines[0]), bogus], "all_or_nothing": true});
        let (_, r, _) = post_signed(&http, &app.base, path, &signed(), Some("b-3"), &mixed).await;
        assert_eq!(r[0]["status"], 409, "{r}");
        assert_eq!(
            store.partner_deposit(&p.id, Currency::Rub).await.unwrap(),
            before
        );
        // One it can afford, all or nothing: placed.
        let one = serde_json::json!({"orders": [month(lines[0])], "all_or_nothing": true});
        let (_, r, _) = post_signed(&http, &app.base, path, &signed(), Some("b-4"), &one).await;
        assert_eq!(r[0]["status"], 201, "{r}");
        assert_eq!(
            store
                .partner_deposit(&p.id, Currency::Rub)
                .await
                .unwrap()
                .minor,
            0
        );
        simrenew_store::testing::assert_sound(store).await;
    }
}

/// A festival campaign and a promo code, added by an admin in the console, price an MTS
/// month the same on every channel: the app API's plans and quote, the site's renewal
/// page and its order, the shop counter's sale, and a partner's order.
#[tokio::test]
async fn a_promo_code_and_a_campaign_price_the_same_on_every_channel() {
    use common::visitor::Visitor;
    use simrenew_core::{Currency, Money};
    use simrenew_store::demo::DEMO_STAFF;
    for app in common::serve_all(|c| c.secret = SERVER_SECRET.to_vec()).await {
        let store = &app._db.store;
        store.seed_demo_staff().await.unwrap();
        let list = store
            .plan("mts-month-30gb")
            .await
            .unwrap()
            .price(Currency::Rub)
            .unwrap();
        let campaign = list.minor - list.minor * 20 / 100;
        let coded = list.minor - 200_00;
        assert!(coded < campaign, "the code is the better price here");

        // The admin adds both through the console; a wrong discount is said beside it.
        let mut admin = Visitor::staff(&app.base, DEMO_STAFF[0].0).await;
        let form = admin.get("/admin/promotions").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.input("csrf");
        let today = time::OffsetDateTime::now_utc()
            .to_offset(time::UtcOffset::from_hms(3, 0, 0).unwrap())
            .date();
        let (from, to) = (
            (today - time::Duration::days(1)).to_string(),
            (today + time::Duration::days(6)).to_string(),
        );
        let add = |fields: &[(&str, &str)]| {
            let mut f: Vec<(String, String)> = vec![
                ("csrf".into(), csrf.clone()),
                ("from".into(), from.clone()),
                ("to".into(), to.clone()),
            ];
            f.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            f
        };
        let bad = add_promotion(
            &mut admin,
            add(&[("name_en", "Oops"), ("kind", "percent"), ("percent", "0")]),
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.has("id=\"discount-error\""), "{}", bad.body);
        let ok = add_promotion(
            &mut admin,
            add(&[
                ("name_en", "Golden Week"),
                ("name_zh", "黄金周"),
                ("kind", "percent"),
                ("percent", "20"),
            ]),
        )
        .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let ok = add_promotion(
            &mut admin,
            add(&[
                ("name_en", "Travellers"),
                ("code", "gw-extra"),
                ("kind", "fixed"),
                ("amount", "200"),
                ("currency", "RUB"),
                ("plans", "mts-month-30gb"),
            ]),
        )
        .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let listed = admin.get("/admin/promotions").await;
        assert!(
            listed.has("GW-EXTRA") && listed.has("Golden Week"),
            "{}",
            listed.body
        );

        // The app API: the plan card's offer, then quotes without and with the code.
        let http = Client::new();
        let plans: Value = http
            .get(format!(
                "{}/api/v1/plans?operator=mts&currency=RUB",
                app.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let month = plans["plans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "mts-month-30gb")
            .unwrap();
        assert_eq!(
            month["offer"]["price"]["minor"], campaign,
            "{}: {month}",
            app.db
        );
        assert_eq!(month["offer"]["name"], "Golden Week");
        let quote = |code: Option<&str>| {
            let body = serde_json::json!({"line": "+7 916 123-45-62", "currency": "RUB",
                "items": [{"type": "renew", "plan_id": "mts-month-30gb"}], "promo_code": code});
            let http = http.clone();
            let url = format!("{}/api/v1/quotes", app.base);
            async move {
                let res = http.post(url).json(&body).send().await.unwrap();
                (res.status(), res.json::<Value>().await.unwrap())
            }
        };
        let (st, q) = quote(None).await;
        assert_eq!(st, StatusCode::OK, "{q}");
        assert_eq!(q["total"]["minor"], campaign);
        assert_eq!(q["items"][0]["list_price"]["minor"], list.minor);
        let (_, q) = quote(Some("GW-extra")).await;
        assert_eq!(q["total"]["minor"], coded, "{q}");
        let (st, q) = quote(Some("NOPE-NOPE")).await;
        assert_eq!(
            (st, kind(&q)),
            (StatusCode::UNPROCESSABLE_ENTITY, "promo-code-unknown"),
            "{q}"
        );
        assert!(
            q.to_string().contains("promo_code"),
            "the field is named: {q}"
        );

        // The site: the renewal page shows the campaign, the order with the code costs the same.
        let mut buyer = Visitor::new(&app.base, "ru");
        let page = buyer.get("/renew/79161234562").await;
        assert!(
            page.has("Golden Week") && page.has("class=\"was\""),
            "{}",
            page.body
        );
        let pay = if page.has("value=\"demo\"") {
            "demo"
        } else {
            "later"
        };
        let wrong = renew_with_code(&mut buyer, &page, pay, "NOPE-NOPE").await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            wrong.has("id=\"promo-error\"") && wrong.has("Акции с таким кодом нет"),
            "{}",
            wrong.body
        );
        let placed = renew_with_code(&mut buyer, &page, pay, "gw-extra").await;
        assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
        let web_order = placed.location().trim_start_matches("/orders/").to_string();
        assert_eq!(
            store.order(&web_order).await.unwrap().total.minor,
            coded,
            "{}",
            app.db
        );

        // The counter: a clerk sells the month with the code for cash.
        let mut clerk = Visitor::staff(&app.base, DEMO_STAFF[1].0).await;
        let opened = clerk.open_till("1000").await;
        assert!(
            opened.status.is_success() || opened.status.is_redirection(),
            "{}",
            opened.body
        );
        let sale_path = clerk.sale_path_at_counter("8 916 123-45-62").await;
        let sale = clerk.get(&sale_path).await;
        let received = Money::new(campaign, Currency::Rub).major_string();
        let sold = clerk
            .post(
                &sale_path,
                &[
                    ("csrf", &sale.input("csrf")),
                    ("idem", &sale.input("idem")),
                    ("plan", "mts-month-30gb"),
                    ("currency", "RUB"),
                    ("lang", "en"),
                    ("pay", "cash"),
                    ("received", &received),
                    ("promo", "GW-EXTRA"),
                ],
            )
            .await;
        assert!(
            sold.status.is_redirection(),
            "{}: {}",
            sold.status,
            sold.body
        );
        let receipt = sold
            .location()
            .trim_start_matches("/admin/receipts/")
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let counter_order = store.order(&receipt).await.unwrap();
        assert_eq!(
            (counter_order.channel.as_str(), counter_order.total.minor),
            ("counter", coded),
            "{}",
            app.db
        );
        // The printed receipt strikes the list price beside what the customer paid.
        let printed = clerk.get(sold.location()).await;
        let list = counter_order.items[0].list_price;
        assert!(list.minor > coded, "{list}");
        assert!(
            printed.has("<s class=\"was\">") && printed.has(&format!("{}</s>", list.minor / 100)),
            "{}",
            printed.body
        );

        // A partner's order with the code, paid from its deposit.
        let (_, key, secret) = partner_with(store, "Seller", &["lines:read", "orders:write"]).await;
        store
            .credit_partner(
                "cli:ops",
                &key,
                Money::new(5000_00, Currency::Rub),
                "transfer",
            )
            .await
            .unwrap();
        let signed = Signed {
            key: &key,
            secret: &secret,
            ts: time::OffsetDateTime::now_utc().unix_timestamp(),
            nonce: "promo-order-1".into(),
        };
        let body = serde_json::json!({"line": "+7 916 123-45-62", "items": [{"type": "renew", "plan_id": "mts-month-30gb"}], "promo_code": "gw-extra"});
        let (st, order, _) = post_signed(
            &http,
            &app.base,
            "/partner/v1/orders",
            &signed,
            Some("promo-1"),
            &body,
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{}: {order}", app.db);
        assert_eq!(order["total"]["minor"], coded);
        assert!(order["items"][0]["promotion_id"].is_string(), "{order}");
        simrenew_store::testing::assert_sound(store).await;
    }
}

/// Posts the console's promotion form with these fields.
async fn add_promotion(
    admin: &mut common::visitor::Visitor,
    f: Vec<(String, String)>,
) -> common::visitor::Page {
    let r: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    admin.post("/admin/promotions", &r).await
}

/// Sends the renewal page's form for a month with a promo code.
async fn renew_with_code(
    buyer: &mut common::visitor::Visitor,
    page: &common::visitor::Page,
    pay: &str,
    code: &str,
) -> common::visitor::Page {
    let fields = [
        ("csrf", page.input("csrf")),
        ("idem", page.input("idem")),
        ("plan", "mts-month-30gb".to_string()),
        ("pay", pay.to_string()),
        ("promo", code.to_string()),
    ];
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    buyer.post("/renew/79161234562", &f).await
}

#[tokio::test]
async fn a_partners_line_crossing_80_percent_using_up_its_data_and_ending_its_plan_is_posted_once_each()
 {
    use simrenew_core::{LineRef, Msisdn};
    use simrenew_store::usage::UsageEvent;
    const GB: u64 = 1 << 30; // the demo's plans count binary gigabytes
    for app in common::serve_all(|c| c.secret = SERVER_SECRET.to_vec()).await {
        let store = &app._db.store;
        let (p, key, secret, got) = seller_with_webhook(store).await;
        // The demo line's own data is used up already: what follows draws from the
        // partner's plan only.
        simrenew_store::testing::execute(store, "UPDATE buckets SET remaining_bytes = 0")
            .await
            .unwrap();
        let http = Client::new();
        let s = Signed::now(&key, &secret, "data-0001");
        let body = serde_json::json!({"line": "+79161234563", "items": [{"type": "renew", "plan_id": "mts-week-10gb", "start": "now"}]});
        let (st, order, _) = post_signed(
            &http,
            &app.base,
            "/partner/v1/orders",
            &s,
            Some("d-1"),
            &body,
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{order}");

        let line = LineRef::Msisdn(Msisdn::parse("+79161234563").unwrap());
        let at = time::OffsetDateTime::now_utc();
        let report = |id: &str, bytes: u64| {
            let line = line.clone();
            let id = id.to_string();
            async move {
                store
                    .record_usage(
                        &[UsageEvent {
                            event_id: id,
                            line,
                            bytes,
                            occurred_at: at,
                            occurred_at_stated: true,
                        }],
                        None,
                    )
                    .await
                    .unwrap()
            }
        };
        let types = || async {
            let mut t: Vec<String> = store
                .partner_events(&p.id, 50)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.kind)
                .collect();
            t.reverse();
            t
        };
        let fulfilled = vec!["order.fulfilled".to_string()];
        report("u-1", 7 * GB).await;
        assert_eq!(types().await, fulfilled, "70% used: nothing yet");
        report("u-2", GB + GB / 2).await;
        assert_eq!(
            types().await,
            ["order.fulfilled", "data.80_percent_used"],
            "85% used, {}",
            app.db
        );
        report("u-2", GB + GB / 2).await; // a retried event draws nothing again
        report("u-3", 3 * GB).await; // 1.5 GB drawn, the rest is overage
        report("u-4", GB).await; // all overage
        assert_eq!(
            types().await,
            ["order.fulfilled", "data.80_percent_used", "data.used_up"]
        );
        let events = store.partner_events(&p.id, 50).await.unwrap();
        let used_up: Value = serde_json::from_str(&events[0].payload).unwrap();
        assert_eq!(used_up["data"]["msisdn"], "+79161234563");
        assert_eq!(used_up["data"]["order_id"], order["id"]);
        assert_eq!(used_up["data"]["plan_id"], "mts-week-10gb");
        assert_eq!(used_up["data"]["remaining_bytes"], 0);

        // The plan's end comes near: the line has nothing after the partner's week.
        let order_id = order["id"].as_str().unwrap();
        simrenew_store::testing::execute(
            store,
            &format!(
                "UPDATE periods SET end_at = start_at + 1 WHERE order_id IS NULL OR order_id <> '{order_id}'"
            ),
        )
        .await
        .unwrap();
        let soon = time::OffsetDateTime::now_utc() + time::Duration::days(6);
        assert_eq!(
            store
                .queue_plan_endings(soon - time::Duration::days(1))
                .await
                .unwrap(),
            0,
            "two days before its end: not yet"
        );
        assert_eq!(store.queue_plan_endings(soon).await.unwrap(), 1);
        assert_eq!(store.queue_plan_endings(soon).await.unwrap(), 0, "once");
        let events = store.partner_events(&p.id, 50).await.unwrap();
        assert_eq!(events[0].kind, "plan.ending");
        let ending: Value = serde_json::from_str(&events[0].payload).unwrap();
        assert_eq!(ending["data"]["order_id"], order["id"]);
        assert_eq!(ending["data"]["plan_id"], "mts-week-10gb");
        assert_eq!(
            ending["data"]["ends_at"], order["items"][0]["valid_until"],
            "{order}"
        );

        // Delivered like every partner event: signed, its type in a header.
        let state = sender_state(store);
        let sender = Client::new();
        simrenew_web::routes::partner::deliver_events(&state, &sender).await;
        simrenew_store::testing::execute(store, "UPDATE partner_events SET available_at = 0")
            .await
            .unwrap();
        simrenew_web::routes::partner::deliver_events(&state, &sender).await;
        let got = got.lock().unwrap().clone();
        let posted: Vec<&str> = got
            .iter()
            .map(|(h, _)| h["x-simrenew-event"].to_str().unwrap())
            .collect();
        assert!(posted.contains(&"data.80_percent_used"), "{posted:?}");
        assert!(posted.contains(&"data.used_up"), "{posted:?}");
        assert!(posted.contains(&"plan.ending"), "{posted:?}");
        for (h, body) in &got {
            assert_signed(h, body, &secret);
        }
    }
}

#[tokio::test]
async fn a_partner_sees_and_pays_its_wholesale_prices_and_others_pay_retail() {
    use simrenew_core::{Currency, Money};
    use simrenew_store::partners::WholesalePrice;
    for app in common::serve_all(|c| c.secret = SERVER_SECRET.to_vec()).await {
        let store = &app._db.store;
        let (seller, key, secret) = partner_with(store, "Seller", &["orders:write"]).await;
        let (_, other_key, other_secret) = partner_with(store, "Other", &["orders:write"]).await;
        let rub = |m| Money::new(m, Currency::Rub);
        store
            .set_wholesale_prices(
                "cli:ops",
                &key,
                &[
                    WholesalePrice {
                        plan_id: "mts-month-30gb",
                        price: rub(500_00),
                    },
                    WholesalePrice {
                        plan_id: "mts-month-30gb",
                        price: Money::new(40_00, Currency::Cny),
                    },
                ],
            )
            .await
            .unwrap();
        store
            .credit_partner("cli:ops", &key, rub(2_000_00), "t-1")
            .await
            .unwrap();
        let http = Client::new();
        let path = "/partner/v1/plans?currency=RUB&lang=ru";
        let list = |k: &'static str, v: &Value| -> Value {
            v.as_array()
                .unwrap()
                .iter()
                .find(|p| p["plan"]["id"] == k)
                .cloned()
                .unwrap_or(Value::Null)
        };
        let (st, mine) = send(
            &http,
            &app.base,
            Method::GET,
            path,
            b"",
            &Signed::now(&key, &secret, "plans-0001"),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{}: {mine}", app._db.name);
        let month = list("mts-month-30gb", &mine);
        assert_eq!(month["your_price"]["price"]["minor"], 500_00, "{month}");
        assert_eq!(month["your_price"]["list_price"]["minor"], 750_00);
        assert_eq!(month["your_price"]["basis"], "wholesale");
        assert_eq!(month["wholesale_prices"].as_array().unwrap().len(), 2);
        assert_eq!(month["plan"]["name"], "МТС Месяц 30 ГБ", "{month}");
        let week = list("mts-week-10gb", &mine);
        assert_eq!(week["your_price"]["price"]["minor"], 390_00);
        assert_eq!(week["your_price"]["basis"], "list");
        // Only plans sold to partners are listed.
        assert!(mine.as_array().unwrap().iter().all(|p| {
            p["plan"]["channels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "partner")
        }));
        // Another partner sees the retail price and nothing of the first one's list.
        let (_, theirs) = send(
            &http,
            &app.base,
            Method::GET,
            path,
            b"",
            &Signed::now(&other_key, &other_secret, "plans-0002"),
            None,
        )
        .await;
        let month_other = list("mts-month-30gb", &theirs);
        assert_eq!(month_other["your_price"]["price"]["minor"], 750_00);
        assert_eq!(month_other["wholesale_prices"], serde_json::json!([]));
        // Bad input and forged signatures are refused by name.
        let (st, bad) = send(
            &http,
            &app.base,
            Method::GET,
            "/partner/v1/plans?currency=GBP",
            b"",
            &Signed::now(&key, &secret, "plans-0003"),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(bad.to_string().contains("currency"), "{bad}");
        let (st, _) = send(
            &http,
            &app.base,
            Method::GET,
            path,
            b"",
            &Signed::now(&key, &secret, "plans-0004"),
            Some(("/partner/v1/plans?currency=CNY", b"")),
        )
        .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);

        // The order charges the deposit what the list said.
        let body = serde_json::json!({"line": "+7 916 123-45-62", "items": [{"type": "renew", "plan_id": "mts-month-30gb"}]});
        let (st, order, _) = post_signed(
            &http,
            &app.base,
            "/partner/v1/orders",
            &Signed::now(&key, &secret, "order-0001"),
            Some("w-1"),
            &body,
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{}: {order}", app._db.name);
        assert_eq!(order["total"]["minor"], 500_00, "{order}");
        assert_eq!(order["items"][0]["list_price"]["minor"], 750_00);
        assert_eq!(
            store
                .partner_deposit(&seller.id, Currency::Rub)
                .await
                .unwrap(),
            rub(1_500_00)
        );
    }
}

#[tokio::test]
async fn a_partner_sees_the_balance_and_usage_only_of_lines_it_sold_to() {
    use simrenew_core::{Currency, Money};
    for app in common::serve_all(|c| c.secret = SERVER_SECRET.to_vec()).await {
        let store = &app._db.store;
        let (_, key, secret) = partner_with(store, "Seller", &["lines:read", "orders:write"]).await;
        let (_, other, other_secret) = partner_with(store, "Other", &["lines:read"]).await;
        store
            .credit_partner("cli:ops", &key, Money::new(2_000_00, Currency::Rub), "t-1")
            .await
            .unwrap();
        let http = Client::new();
        // By ICCID or by number, in the forms people write them.
        let line = store
            .find_line(&simrenew_core::LineRef::parse("+7 916 123-45-63").unwrap())
            .await
            .unwrap();
        let by_iccid = format!("/partner/v1/lines/{}", line.iccid.as_str());
        let usage = "/partner/v1/lines/79161234563/usage";
        let call = |path: String, who: u8, n: &'static str| {
            let http = http.clone();
            let base = app.base.clone();
            let (k, sec) = if who == 0 {
                (key.clone(), secret.clone())
            } else {
                (other.clone(), other_secret.clone())
            };
            async move {
                send(
                    &http,
                    &base,
                    Method::GET,
                    &path,
                    b"",
                    &Signed::now(&k, &sec, n),
                    None,
                )
                .await
            }
        };
        let (st, before) = call(by_iccid.clone(), 0, "line-00001").await;
        assert_eq!(st, StatusCode::OK, "{}: {before}", app._db.name);
        assert_eq!(before["owner_view"], false, "{before}");
        let (st, p) = call(usage.into(), 0, "line-00002").await;
        assert_eq!(
            (st, kind(&p)),
            (StatusCode::FORBIDDEN, "partner-line-not-sold"),
            "{p}"
        );

        // It sells the customer a month, and the customer uses 1.5 GB.
        let body = serde_json::json!({"line": "+7 916 123-45-63", "items": [{"type": "renew", "plan_id": "mts-month-30gb", "start": "now"}]});
        let (st, order, _) = post_signed(
            &http,
            &app.base,
            "/partner/v1/orders",
            &Signed::now(&key, &secret, "order-00001"),
            Some("u-1"),
            &body,
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{order}");
        store
            .record_usage(
                &[simrenew_store::usage::UsageEvent {
                    event_id: "feed-77".into(),
                    line: simrenew_core::LineRef::parse("9161234563").unwrap(),
                    bytes: 3 << 29,
                    occurred_at: time::OffsetDateTime::now_utc(),
                    occurred_at_stated: true,
                }],
                None,
            )
            .await
            .unwrap();
        let (st, after) = call(by_iccid.clone(), 0, "line-00003").await;
        assert_eq!(st, StatusCode::OK);
        assert!(after["balance"].is_object(), "{after}");
        assert!(
            after["periods"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["plan_id"] == "mts-month-30gb"),
            "{after}"
        );
        let (st, used) = call(usage.into(), 0, "line-00004").await;
        assert_eq!(st, StatusCode::OK, "{used}");
        assert_eq!(used["events"][0]["event_id"], "feed-77", "{used}");
        assert_eq!(used["events"][0]["bytes"], 3u64 << 29);
        // The other partner still sees only the public view, and no usage.
        let (_, theirs) = call(by_iccid.clone(), 1, "line-00005").await;
        assert_eq!(theirs["owner_view"], false, "{theirs}");
        let (st, p) = call(usage.into(), 1, "line-00006").await;
        assert_eq!(
            (st, kind(&p)),
            (StatusCode::FORBIDDEN, "partner-line-not-sold")
        );
    }
}
