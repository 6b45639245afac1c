//! The JSON API spoken over HTTP to the whole app on a random port, on SQLite and on
//! PostgreSQL, each test with a fresh database seeded with the demo data.

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use simrenew_store::testing::TestDb;

mod common;
use common::FEED;
const MTS1: &str = "+79161234561"; // owned by the demo account
const MTS2: &str = "+79161234562"; // nobody's

struct App {
    base: String,
    http: Client,
    db: &'static str,
    _db: TestDb,
}

async fn apps() -> Vec<App> {
    apps_with(|_| {}).await
}

async fn apps_with(config: impl Fn(&mut simrenew_web::WebConfig)) -> Vec<App> {
    common::serve_all(config)
        .await
        .into_iter()
        .map(|s| App {
            base: s.base,
            http: Client::new(),
            db: s.db,
            _db: s._db,
        })
        .collect()
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut r = self.http.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }
    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut r = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        r.send().await.unwrap()
    }
    async fn sign_in(&self, email: &str, password: &str) -> String {
        let r = self
            .post(
                "/api/v1/sessions",
                None,
                None,
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", self.db);
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }
    async fn demo(&self) -> String {
        self.sign_in("demo@simrenew.example", "simrenew-demo").await
    }
    async fn stranger(&self, n: &str) -> String {
        let email = format!("stranger{n}@example.cn");
        let r = self
            .post(
                "/api/v1/accounts",
                None,
                None,
                &json!({"email": email, "password": "long enough"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        self.sign_in(&email, "long enough").await
    }
    async fn balance(&self, token: &str, line: &str) -> i64 {
        let v: Value = self
            .get(&format!("/api/v1/lines/{line}"), Some(token))
            .await
            .json()
            .await
            .unwrap();
        v["balance"]["minor"].as_i64().unwrap()
    }
}

/// Reads a problem response and checks its media type and shape.
async fn problem(r: Response, status: StatusCode, slug: &str) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], format!("/problems/{slug}"), "{v}");
    assert_eq!(v["status"], status.as_u16());
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()));
    v
}

#[tokio::test]
async fn plans_filter_and_speak_three_languages() {
    for app in apps().await {
        let v: Value = app.get("/api/v1/plans", None).await.json().await.unwrap();
        assert_eq!(v["plans"].as_array().unwrap().len(), 32, "{}", app.db);
        let v: Value = app
            .get(
                "/api/v1/plans?operator=beeline&period=month&kind=base&currency=CNY&lang=zh-CN",
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        let plans = v["plans"].as_array().unwrap();
        assert_eq!(plans.len(), 2);
        for p in plans {
            assert_eq!(p["operator"], "beeline");
            assert_eq!(p["price"]["currency"], "CNY");
            assert!(p["name"].as_str().unwrap().contains("月"), "{p}");
        }
        let r = app
            .http
            .get(app.url("/api/v1/plans?unlimited=true"))
            .header("Accept-Language", "ru-RU,ru;q=0.9")
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert!(
            v["plans"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["data"]["type"] == "unlimited"
                    && p["name"].as_str().unwrap().contains("Безлимит"))
        );
        let v: Value = app
            .get(
                &format!(
                    "/api/v1/plans?min_data_bytes={}&unlimited=false",
                    100u64 << 30
                ),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert!(
            v["plans"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["validity"]["unit"] == "year")
        );
        let p = problem(
            app.get("/api/v1/plans?operator=vodafone", None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "operator");
        problem(
            app.get("/api/v1/plans?min_data_bytes=lots", None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        problem(
            app.get("/api/v1/plans/no-such-plan", None).await,
            StatusCode::NOT_FOUND,
            "plan-not-found",
        )
        .await;
    }
}

#[tokio::test]
async fn a_line_is_found_however_it_is_written() {
    for app in apps().await {
        let iccid = simrenew_store::demo::demo_iccid(simrenew_core::Operator::Mts, 2).to_string();
        let spaced = format!("{} {} {}", &iccid[..4], &iccid[4..10], &iccid[10..]);
        for form in [
            "8 916 123-45-62",
            "+7 (916) 123 45 62",
            "9161234562",
            "79161234562",
            &iccid,
            &format!("{iccid}F"),
            &spaced,
        ] {
            let r = app
                .http
                .get(app.url(&format!("/api/v1/lines/{}", urlencode(form))))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{}: {form}", app.db);
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["msisdn_masked"], "+7 916 ***-**-62");
            assert_eq!(v["owner_view"], false);
            assert!(
                v.get("balance").is_none(),
                "strangers never see the balance"
            );
        }
        let mut bad = iccid.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = b'0' + (bad[last] - b'0' + 1) % 10;
        let p = problem(
            app.get(
                &format!("/api/v1/lines/{}", String::from_utf8(bad).unwrap()),
                None,
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "line");
        assert!(p["detail"].as_str().unwrap().contains("check digit"));
        problem(
            app.get("/api/v1/lines/+79990000000", None).await,
            StatusCode::NOT_FOUND,
            "line-not-found",
        )
        .await;
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_owner_sees_balance_and_data_with_their_as_of_times() {
    for app in apps().await {
        let token = app.demo().await;
        let v: Value = app
            .get(&format!("/api/v1/lines/{MTS1}"), Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["owner_view"], true, "{}", app.db);
        assert_eq!(
            v["balance"],
            json!({"minor": 125000, "currency": "RUB", "amount": "1250.00"})
        );
        assert!(v["balance_as_of"].as_str().unwrap().ends_with('Z'));
        assert_eq!(v["current_plan"], "mts-month-30gb");
        let used = 3u64 * (1 << 30) + (1 << 30) / 3;
        assert_eq!(v["data_left"]["bytes"], 30u64 * (1 << 30) - used);
        assert!(v["data_left"]["as_of"].is_string());
        assert_eq!(v["buckets"][0]["remaining_bytes"], 30u64 * (1 << 30) - used);
        let me: Value = app
            .get("/api/v1/me", Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["lines"].as_array().unwrap().len(), 2);
        let orders: Value = app
            .get(&format!("/api/v1/lines/{MTS1}/orders"), Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(orders["orders"][0]["status"], "fulfilled");
        let usage: Value = app
            .get(&format!("/api/v1/lines/{MTS1}/usage"), Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(usage["events"][0]["bytes"], used);
    }
}

#[tokio::test]
async fn owner_only_routes_refuse_anonymous_and_strangers() {
    for app in apps().await {
        let owner = app.demo().await;
        let stranger = app.stranger("m").await;
        for path in [
            format!("/api/v1/lines/{MTS1}/orders"),
            format!("/api/v1/lines/{MTS1}/usage"),
            "/api/v1/me".into(),
        ] {
            problem(
                app.get(&path, None).await,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            )
            .await;
            problem(
                app.get(&path, Some("not-a-token")).await,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            )
            .await;
            let as_stranger = app.get(&path, Some(&stranger)).await;
            if path == "/api/v1/me" {
                assert_eq!(as_stranger.status(), StatusCode::OK);
            } else {
                problem(as_stranger, StatusCode::FORBIDDEN, "not-owner").await;
            }
            assert_eq!(
                app.get(&path, Some(&owner)).await.status(),
                StatusCode::OK,
                "{path}"
            );
        }
        // A wrong token is refused on the line lookup too, not taken for anonymous.
        problem(
            app.get(&format!("/api/v1/lines/{MTS1}"), Some("not-a-token"))
                .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        // The stranger sees only the public view of the owner's line.
        let v: Value = app
            .get(&format!("/api/v1/lines/{MTS1}"), Some(&stranger))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["owner_view"], false);
        // Pay-from-balance is for the owner only.
        let body = json!({"line": MTS1, "items": [{"type": "renew", "plan_id": "mts-week-10gb"}], "pay_with": "balance"});
        problem(
            app.post("/api/v1/orders", Some(&stranger), Some("k1"), &body)
                .await,
            StatusCode::FORBIDDEN,
            "not-owner",
        )
        .await;
        problem(
            app.post("/api/v1/orders", None, Some("k1"), &body).await,
            StatusCode::FORBIDDEN,
            "not-owner",
        )
        .await;
        // Sign out ends the session.
        let r = app
            .http
            .delete(app.url("/api/v1/sessions/current"))
            .bearer_auth(&stranger)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        problem(
            app.get("/api/v1/me", Some(&stranger)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    }
}

#[tokio::test]
async fn renew_from_balance_is_idempotent_and_errors_are_specific() {
    for app in apps().await {
        let token = app.demo().await;
        let before = app.balance(&token, MTS1).await;
        let body = json!({"line": MTS1, "items": [{"type": "renew", "plan_id": "mts-week-10gb"}], "pay_with": "balance"});
        let quote: Value = app
            .post("/api/v1/quotes", Some(&token), None, &body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(quote["total"]["minor"], 39000, "{}: {quote}", app.db);
        let p = problem(
            app.post("/api/v1/orders", Some(&token), None, &body).await,
            StatusCode::BAD_REQUEST,
            "idempotency-key-missing",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "Idempotency-Key");
        let r = app
            .post("/api/v1/orders", Some(&token), Some("renew-1"), &body)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let location = r.headers()["location"].to_str().unwrap().to_string();
        let first: Value = r.json().await.unwrap();
        assert_eq!(first["status"], "fulfilled");
        assert_eq!(
            first["items"][0]["valid_from"], quote["items"][0]["valid_from"],
            "queued where the quote said"
        );
        assert_eq!(
            location,
            format!("/api/v1/orders/{}", first["id"].as_str().unwrap())
        );
        // Same key, same body (reordered keys): the first answer, and no second charge.
        let reordered = json!({"pay_with": "balance", "items": [{"plan_id": "mts-week-10gb", "type": "renew"}], "line": MTS1});
        let r = app
            .post("/api/v1/orders", Some(&token), Some("renew-1"), &reordered)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        assert_eq!(r.json::<Value>().await.unwrap(), first);
        assert_eq!(app.balance(&token, MTS1).await, before - 39000);
        // The key as a Structured Field string (the IETF draft's form) is the same key.
        let r = app
            .post("/api/v1/orders", Some(&token), Some("\"renew-1\""), &body)
            .await;
        assert_eq!(r.headers()["idempotent-replayed"], "true", "{}", app.db);
        assert_eq!(app.balance(&token, MTS1).await, before - 39000);
        // Every key the document's pattern allows is taken, a lone `"` too.
        let quote_only =
            json!({"line": MTS1, "items": [{"type": "renew", "plan_id": "mts-day-unlim"}]});
        let r = app
            .post("/api/v1/orders", Some(&token), Some("\""), &quote_only)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.db);
        // Same key, other body: refused.
        let other = json!({"line": MTS1, "items": [{"type": "renew", "plan_id": "mts-day-unlim"}], "pay_with": "balance"});
        problem(
            app.post("/api/v1/orders", Some(&token), Some("renew-1"), &other)
                .await,
            StatusCode::CONFLICT,
            "idempotency-key-reused",
        )
        .await;
        // Another operator's plan.
        let wrong = json!({"line": MTS1, "items": [{"type": "renew", "plan_id": "t2-month-30gb"}], "pay_with": "balance"});
        let p = problem(
            app.post("/api/v1/orders", Some(&token), Some("w"), &wrong)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "plan-operator-mismatch",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "plan_id");
        // More than the balance holds: says how much is missing, changes nothing.
        let year = json!({"line": MTS1, "items": [{"type": "renew", "plan_id": "mts-year-300gb"}], "pay_with": "balance"});
        let p = problem(
            app.post("/api/v1/orders", Some(&token), Some("y"), &year)
                .await,
            StatusCode::PAYMENT_REQUIRED,
            "insufficient-balance",
        )
        .await;
        let left = before - 39000;
        assert_eq!(p["available"]["minor"], left);
        assert_eq!(p["missing"]["minor"], 7490_00 - left);
        assert_eq!(app.balance(&token, MTS1).await, left);
        // The failed attempt stored nothing: the same key works once the line can pay.
        let p = problem(
            app.post("/api/v1/orders", Some(&token), Some("y"), &year)
                .await,
            StatusCode::PAYMENT_REQUIRED,
            "insufficient-balance",
        )
        .await;
        assert_eq!(p["missing"]["minor"], 7490_00 - left);
        // Bad bodies.
        let r = app
            .http
            .post(app.url("/api/v1/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "b")
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        problem(r, StatusCode::BAD_REQUEST, "malformed-json").await;
        let r = app
            .http
            .post(app.url("/api/v1/orders"))
            .header("Idempotency-Key", "b")
            .body("line=1")
            .send()
            .await
            .unwrap();
        problem(
            r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        )
        .await;
        let p = problem(
            app.post(
                "/api/v1/orders",
                None,
                Some("b"),
                &json!({"line": MTS1, "items": [{"type": "renew"}]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert!(
            p["errors"][0]["field"]
                .as_str()
                .unwrap()
                .starts_with("items"),
            "{p}"
        );
        let p = problem(
            app.post(
                "/api/v1/orders",
                None,
                Some("b"),
                &json!({"line": MTS1, "items": [], "colour": "red"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("colour"));
        problem(
            app.post(
                "/api/v1/orders",
                None,
                Some("b"),
                &json!({"line": MTS1, "items": []}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        problem(
            app.post(
                "/api/v1/orders",
                None,
                Some("b"),
                &json!({"line": MTS1, "items": [{"type": "topup", "amount_minor": -5}]}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        // A retry that could no longer be placed (the line was suspended since) still gets
        // the first answer, and changes nothing; a new order is refused.
        let store = &app._db.store;
        let line = store
            .find_line(&simrenew_core::LineRef::parse(MTS1).unwrap())
            .await
            .unwrap();
        store
            .set_line_status(&line.id, "suspended", "test")
            .await
            .unwrap();
        let balance = app.balance(&token, MTS1).await;
        let r = app
            .post("/api/v1/orders", Some(&token), Some("renew-1"), &body)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.db);
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        assert_eq!(r.json::<Value>().await.unwrap(), first);
        problem(
            app.post("/api/v1/orders", Some(&token), Some("renew-2"), &body)
                .await,
            StatusCode::CONFLICT,
            "line-suspended",
        )
        .await;
        assert_eq!(app.balance(&token, MTS1).await, balance);
    }
}

#[tokio::test]
async fn anyone_may_order_for_a_number_and_the_owner_pays_it_later() {
    for app in apps().await {
        // Anonymous: renew + top-up in CNY for a line they do not own; it waits for payment.
        let body = json!({"line": "8 916 123-45-61", "currency": "CNY", "items": [{"type": "topup", "amount_minor": 10000}, {"type": "renew", "plan_id": "mts-week-10gb", "start": "now"}]});
        let r = app
            .post("/api/v1/orders", None, Some("anon-1"), &body)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", app.db);
        let o: Value = r.json().await.unwrap();
        assert_eq!(o["status"], "pending_payment");
        assert_eq!(o["items"][0]["credit"]["minor"], 125000);
        assert_eq!(o["items"][0]["fx_rate"], "12.5");
        let fetched: Value = app
            .get(
                &format!("/api/v1/orders/{}", o["id"].as_str().unwrap()),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(fetched, o);
        // The owner pays a pending order of their own from the balance.
        let token = app.demo().await;
        let own = json!({"line": MTS1, "items": [{"type": "addon", "plan_id": "mts-addon-1gb"}]});
        let pending: Value = app
            .post("/api/v1/orders", Some(&token), Some("own-1"), &own)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(pending["status"], "pending_payment");
        let pay = format!("/api/v1/orders/{}/pay", pending["id"].as_str().unwrap());
        problem(
            app.post(&pay, None, Some("p1"), &json!({"method": "balance"}))
                .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        let r = app
            .post(
                &pay,
                Some(&token),
                Some("p1"),
                &json!({"method": "balance"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let paid: Value = r.json().await.unwrap();
        assert_eq!(paid["status"], "fulfilled");
        assert_eq!(paid["items"][0]["data_bytes"], 1u64 << 30);
        problem(
            app.post(
                &pay,
                Some(&token),
                Some("p2"),
                &json!({"method": "balance"}),
            )
            .await,
            StatusCode::CONFLICT,
            "order-not-pending",
        )
        .await;
        // A top-up cannot be paid from the balance it tops up.
        let anon_pay = format!("/api/v1/orders/{}/pay", o["id"].as_str().unwrap());
        problem(
            app.post(
                &anon_pay,
                Some(&token),
                Some("p3"),
                &json!({"method": "balance"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "balance-currency",
        )
        .await;
        problem(
            app.get("/api/v1/orders/nope", None).await,
            StatusCode::NOT_FOUND,
            "order-not-found",
        )
        .await;
    }
}

#[tokio::test]
async fn usage_feeds_are_authenticated_and_idempotent() {
    for app in apps().await {
        let token = app.demo().await;
        let before: Value = app
            .get(&format!("/api/v1/lines/{MTS1}"), Some(&token))
            .await
            .json()
            .await
            .unwrap();
        let left = before["data_left"]["bytes"].as_u64().unwrap();
        let report = json!({"events": [{"event_id": "cdr-1", "line": MTS1, "bytes": 1000000}, {"event_id": "cdr-2", "line": MTS1, "bytes": 500}]});
        problem(
            app.post("/api/v1/usage-events", None, Some("u1"), &report)
                .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        problem(
            app.post("/api/v1/usage-events", Some(&token), Some("u1"), &report)
                .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        let r = app
            .post("/api/v1/usage-events", Some(FEED), Some("u1"), &report)
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.db);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["results"][0]["recorded"], true);
        assert_eq!(v["results"][1]["drawn_bytes"], 500);
        let r = app
            .post("/api/v1/usage-events", Some(FEED), Some("u1"), &report)
            .await;
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        // Same events under a new key, a second later (they carry no time, so the server
        // stamps them anew): recorded once all the same.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let v: Value = app
            .post("/api/v1/usage-events", Some(FEED), Some("u2"), &report)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["results"][0]["recorded"], false, "{}: {v}", app.db);
        let after: Value = app
            .get(&format!("/api/v1/lines/{MTS1}"), Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            after["data_left"]["bytes"].as_u64().unwrap(),
            left - 1_000_500
        );
        let changed = json!({"events": [{"event_id": "cdr-1", "line": MTS1, "bytes": 7}]});
        problem(
            app.post("/api/v1/usage-events", Some(FEED), Some("u3"), &changed)
                .await,
            StatusCode::CONFLICT,
            "usage-event-conflict",
        )
        .await;
        let bad = json!({"events": [{"event_id": "cdr-9", "line": MTS1, "bytes": 7, "occurred_at": "yesterday"}]});
        let p = problem(
            app.post("/api/v1/usage-events", Some(FEED), Some("u4"), &bad)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "events[0].occurred_at");
        // The document's bounds hold: at most 1,000 events, an event id of 1 to 200
        // characters; a full report larger than other bodies (256 KiB) is still read.
        let event = |id: String| json!({"event_id": id, "line": MTS1, "bytes": 1, "occurred_at": "2026-12-06T10:00:00+03:00"});
        let too_many =
            json!({"events": (0..1001).map(|i| event(format!("e{i}"))).collect::<Vec<_>>()});
        let p = problem(
            app.post("/api/v1/usage-events", Some(FEED), Some("u5"), &too_many)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "events", "{p}");
        let long_id = json!({"events": [event("x".repeat(201))]});
        let p = problem(
            app.post("/api/v1/usage-events", Some(FEED), Some("u6"), &long_id)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "events[0].event_id", "{p}");
        let big: Vec<Value> = (0..1000).map(|i| event(format!("{i:0>200}"))).collect();
        let big = json!({"events": big});
        assert!(big.to_string().len() > 256 * 1024);
        let r = app
            .post("/api/v1/usage-events", Some(FEED), Some("u7"), &big)
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.db);
    }
}

#[tokio::test]
async fn accounts_attach_lines_by_puk() {
    for app in apps().await {
        let token = app.stranger("a").await;
        let r = app
            .post(
                "/api/v1/accounts",
                None,
                None,
                &json!({"email": "strangera@example.cn", "password": "long enough"}),
            )
            .await;
        problem(r, StatusCode::CONFLICT, "email-taken").await;
        let p = problem(
            app.post(
                "/api/v1/accounts",
                None,
                None,
                &json!({"email": "x@example.cn", "password": "short"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "password");
        // At most 256 characters, as the OpenAPI document says (counted as characters:
        // 256 four-byte ones are taken).
        let p = problem(
            app.post(
                "/api/v1/accounts",
                None,
                None,
                &json!({"email": "y@example.cn", "password": "ж".repeat(257)}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "password");
        assert!(p["detail"].as_str().unwrap().contains("256"), "{p}");
        let r = app
            .post(
                "/api/v1/accounts",
                None,
                None,
                &json!({"email": "y@example.cn", "password": "😀".repeat(256)}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        problem(
            app.post(
                "/api/v1/sessions",
                None,
                None,
                &json!({"email": "strangera@example.cn", "password": "wrong one"}),
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "bad-credentials",
        )
        .await;
        problem(
            app.post(
                "/api/v1/me/lines",
                Some(&token),
                None,
                &json!({"line": MTS2, "puk": "00000000"}),
            )
            .await,
            StatusCode::FORBIDDEN,
            "wrong-puk",
        )
        .await;
        let r = app
            .post(
                "/api/v1/me/lines",
                Some(&token),
                None,
                &json!({"line": MTS2, "puk": "1234 5672"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.db);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["owner_view"], true);
        assert_eq!(v["balance"]["minor"], 0);
        problem(
            app.post(
                "/api/v1/me/lines",
                Some(&token),
                None,
                &json!({"line": MTS1, "puk": "12345671"}),
            )
            .await,
            StatusCode::CONFLICT,
            "line-already-attached",
        )
        .await;
        // Guessing a PUK is slowed down per line: ten wrong ones, then 429.
        let mts3 = "+79161234563";
        for _ in 0..10 {
            let r = app
                .post(
                    "/api/v1/me/lines",
                    Some(&token),
                    None,
                    &json!({"line": mts3, "puk": "00000000"}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
        }
        let r = app
            .post(
                "/api/v1/me/lines",
                Some(&token),
                None,
                &json!({"line": mts3, "puk": "12345673"}),
            )
            .await;
        assert!(r.headers().contains_key("retry-after"), "{}", app.db);
        problem(r, StatusCode::TOO_MANY_REQUESTS, "too-many-attempts").await;
    }
}

#[tokio::test]
async fn password_guessing_is_slowed_down() {
    for app in apps().await {
        app.stranger("g").await;
        for _ in 0..10 {
            let r = app
                .post(
                    "/api/v1/sessions",
                    None,
                    None,
                    &json!({"email": "strangerg@example.cn", "password": "guess guess"}),
                )
                .await;
            problem(r, StatusCode::UNAUTHORIZED, "bad-credentials").await;
        }
        let r = app
            .post(
                "/api/v1/sessions",
                None,
                None,
                &json!({"email": "StrangerG@example.cn", "password": "long enough"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{}", app.db);
        assert!(
            r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
        problem(r, StatusCode::TOO_MANY_REQUESTS, "too-many-attempts").await;
        // Other accounts are not affected.
        app.demo().await;
    }
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    for app in apps().await {
        assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
        assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
        app.get("/api/v1/plans", None).await;
        let m = app.get("/metrics", None).await.text().await.unwrap();
        assert!(
            m.contains(
                "http_requests_total{method=\"GET\",route=\"/api/v1/plans\",status=\"200\"}"
            ),
            "{m}"
        );
        assert!(m.contains("http_request_duration_seconds_bucket"));
        assert!(
            m.contains("simrenew_orders{status=\"fulfilled\"} 2"),
            "{}: {m}",
            app.db
        );
        assert!(m.contains("simrenew_db_pool_connections"));
        assert!(!m.contains("+7916"), "no phone numbers in metrics");
        let spec: Value = app
            .get("/api/v1/openapi.json", None)
            .await
            .json()
            .await
            .unwrap();
        assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/api/v1/plans",
            "/api/v1/plans/{id}",
            "/api/v1/lines/{line}",
            "/api/v1/lines/{line}/orders",
            "/api/v1/lines/{line}/usage",
            "/api/v1/quotes",
            "/api/v1/orders",
            "/api/v1/orders/{id}",
            "/api/v1/orders/{id}/pay",
            "/api/v1/usage-events",
            "/api/v1/accounts",
            "/api/v1/sessions",
            "/api/v1/sessions/current",
            "/api/v1/me",
            "/api/v1/me/lines",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(
                spec["paths"].get(path).is_some(),
                "{path} missing from the OpenAPI document"
            );
        }
        assert!(spec["components"]["schemas"].get("Problem").is_some());
        let undescribed = common::openapi::undescribed_responses(&spec);
        assert!(
            undescribed.is_empty(),
            "responses without a description: {undescribed:?}"
        );
        let open = common::openapi::open_request_objects(&spec);
        assert!(
            open.is_empty(),
            "bodies the server refuses are allowed at {open:?}"
        );
        // A body can be too large or too slow on every operation that takes one.
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if op.get("requestBody").is_some() {
                    for status in ["408", "413"] {
                        assert!(
                            op["responses"].get(status).is_some(),
                            "{method} {path} does not document {status}"
                        );
                    }
                }
            }
        }
        // The patterns are the ones the server reads by (no name left in their place).
        let patterns = common::openapi::patterns_of(&spec);
        assert!(patterns.len() > 10, "{patterns:?}");
        for (at, re) in &patterns {
            assert!(re.as_str().starts_with('^'), "{at}: {re}");
        }
        // A new order links to what can be done with it next, by operations that exist.
        let ops: Vec<&str> = spec["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        for path in ["/api/v1/orders", "/api/v1/esims"] {
            let links = spec["paths"][path]["post"]["responses"]["201"]["links"]
                .as_object()
                .unwrap_or_else(|| panic!("{path}: no links"));
            assert!(links.len() >= 4, "{path}: {links:?}");
            for link in links.values() {
                let op = link["operationId"].as_str().unwrap();
                assert!(ops.contains(&op), "{path} links to {op}, not in {ops:?}");
            }
            // Only a new eSIM's order has an eSIM to install.
            let to_esim = links.values().any(|l| l["operationId"] == "order_esim");
            assert_eq!(to_esim, path == "/api/v1/esims", "{path}: {links:?}");
        }
        for path in ["/api/v1/lines/{line}", "/api/v1/lines/{line}/usage"] {
            common::openapi::assert_line_pattern_reads_as_the_server(
                &common::openapi::line_param_pattern(&spec, path),
            );
        }
        assert_eq!(app.get("/api/docs/", None).await.status(), StatusCode::OK);
        problem(
            app.get("/nowhere", None).await,
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
}

/// The line of the metrics text for `series` (name and labels), parsed.
fn metric(m: &str, series: &str) -> Option<f64> {
    m.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_show_the_work_waiting_and_the_esim_stock() {
    use simrenew_core::{Currency, Money, StartMode};
    for app in apps().await {
        let store = &app._db.store;
        let m = app.get("/metrics", None).await.text().await.unwrap();
        for q in simrenew_store::backlog::QUEUES {
            assert_eq!(
                metric(&m, &format!("simrenew_backlog{{queue=\"{q}\"}}")),
                Some(0.0),
                "{}: {q} in {m}",
                app.db
            );
        }
        // Money that arrived short is held for a person: the queue shows it, and for how
        // long it has waited.
        let order =
            simrenew_store::testing::pending_month_order(store, Currency::Rub, StartMode::Queued)
                .await;
        let attempt = store
            .start_payment(&order.id, "demo", "card")
            .await
            .unwrap();
        store
            .payment_pending(&attempt.id, "short-1", None)
            .await
            .unwrap();
        let short = Money::new(order.total.minor - 100, Currency::Rub);
        store
            .payment_succeeded("demo", "short-1", short)
            .await
            .unwrap();
        simrenew_store::testing::execute(
            store,
            &format!(
                "UPDATE payments SET updated_at = updated_at - 7200 WHERE id = '{}'",
                attempt.id
            ),
        )
        .await
        .unwrap();
        store.seed_demo_esims().await.unwrap();
        let m = app.get("/metrics", None).await.text().await.unwrap();
        assert_eq!(
            metric(&m, "simrenew_backlog{queue=\"held_payments\"}"),
            Some(1.0),
            "{}: {m}",
            app.db
        );
        let age = metric(
            &m,
            "simrenew_backlog_oldest_seconds{queue=\"held_payments\"}",
        )
        .unwrap_or_else(|| panic!("{}: {m}", app.db));
        assert!((7200.0..7300.0).contains(&age), "{}: {age}", app.db);
        assert_eq!(
            metric(&m, "simrenew_backlog_oldest_seconds{queue=\"refunds\"}"),
            Some(0.0),
            "{}: nothing waits",
            app.db
        );
        // The demo's eSIM stock: three numbers per operator for sale.
        for op in ["mts", "beeline", "megafon", "t2"] {
            assert_eq!(
                metric(
                    &m,
                    &format!("simrenew_esim_profiles{{operator=\"{op}\",state=\"available\"}}")
                ),
                Some(3.0),
                "{}: {op}",
                app.db
            );
        }
    }
}

#[tokio::test]
async fn the_documents_examples_are_requests_the_server_takes() {
    for app in apps().await {
        app._db.store.seed_demo_esims().await.unwrap();
        let spec: Value = app
            .get("/api/v1/openapi.json", None)
            .await
            .json()
            .await
            .unwrap();
        let example = |schema: &str| common::openapi::example(&spec, schema);
        let token = app.demo().await;
        let quote = app
            .post("/api/v1/quotes", Some(&token), None, &example("OrderInput"))
            .await;
        assert_eq!(quote.status(), StatusCode::OK, "{}", app.db);
        let order = app
            .post(
                "/api/v1/orders",
                Some(&token),
                Some("doc-example-order"),
                &example("OrderInput"),
            )
            .await;
        assert_eq!(order.status(), StatusCode::CREATED, "{}", app.db);
        let order: Value = order.json().await.unwrap();
        assert_eq!(order["status"], "fulfilled", "{}: {order}", app.db);
        let usage = app
            .post(
                "/api/v1/usage-events",
                Some(FEED),
                Some("doc-example-usage"),
                &example("UsageReport"),
            )
            .await;
        assert_eq!(usage.status(), StatusCode::OK, "{}", app.db);
        let esim = app
            .post(
                "/api/v1/esims",
                None,
                Some("doc-example-esim"),
                &example("EsimInput"),
            )
            .await;
        assert_eq!(esim.status(), StatusCode::CREATED, "{}", app.db);
        // Blank optional fields mean none, and the document's patterns say so.
        let mut blank = example("EsimInput");
        blank["eid"] = "".into();
        blank["imei"] = "  ".into();
        blank["email"] = "".into();
        let fields = &spec["components"]["schemas"]["EsimInput"]["properties"];
        for (field, pattern, value) in [
            ("eid", &fields["eid"]["pattern"], ""),
            ("imei", &fields["imei"]["pattern"], "  "),
            ("email", &fields["email"]["anyOf"][1]["pattern"], ""),
        ] {
            let pattern = pattern
                .as_str()
                .unwrap_or_else(|| panic!("{field} has no pattern for blank"));
            assert!(
                regex::Regex::new(pattern).unwrap().is_match(value),
                "{field}"
            );
        }
        let esim = app
            .post("/api/v1/esims", None, Some("doc-example-blank"), &blank)
            .await;
        assert_eq!(esim.status(), StatusCode::CREATED, "{}", app.db);
        // Blank beyond the 64 characters every id field takes: too long, as documented.
        blank["imei"] = "\u{85}".repeat(70).into();
        let p = problem(
            app.post("/api/v1/esims", None, Some("doc-example-long"), &blank)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "imei", "{}: {p}", app.db);
        // A body over the limit is refused as such.
        let mut huge = example("OrderInput");
        huge["promo_code"] = "X".repeat(300 * 1024).into();
        let big = app
            .post(
                "/api/v1/orders",
                Some(&token),
                Some("doc-example-huge"),
                &huge,
            )
            .await;
        assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE, "{}", app.db);
        let big: Value = big.json().await.unwrap();
        assert!(
            big["type"].as_str().unwrap().ends_with("body-too-large"),
            "{}: {big}",
            app.db
        );
        // The pay example, on an order waiting for payment.
        let mut pending = example("OrderInput");
        pending.as_object_mut().unwrap().remove("pay_with");
        let pending: Value = app
            .post(
                "/api/v1/orders",
                Some(&token),
                Some("doc-example-pending"),
                &pending,
            )
            .await
            .json()
            .await
            .unwrap();
        let paid = app
            .post(
                &format!("/api/v1/orders/{}/pay", pending["id"].as_str().unwrap()),
                Some(&token),
                Some("doc-example-pay"),
                &example("PayInput"),
            )
            .await;
        // The balance paid the first month already: the body was read, the money is short.
        assert_eq!(paid.status(), StatusCode::PAYMENT_REQUIRED, "{}", app.db);
        let paid: Value = paid.json().await.unwrap();
        assert!(
            paid["type"]
                .as_str()
                .unwrap()
                .ends_with("insufficient-balance"),
            "{}: {paid}",
            app.db
        );
        // The promo code the document shows is the demo shop's: 10 % off a plan.
        let code =
            &spec["components"]["schemas"]["OrderInput"]["properties"]["promo_code"]["example"];
        let mut with_code = example("OrderInput");
        let list: Value = app
            .post("/api/v1/quotes", Some(&token), None, &with_code)
            .await
            .json()
            .await
            .unwrap();
        with_code["promo_code"] = code.clone();
        let quote = app
            .post("/api/v1/quotes", Some(&token), None, &with_code)
            .await;
        assert_eq!(quote.status(), StatusCode::OK, "{}: {code}", app.db);
        let quote: Value = quote.json().await.unwrap();
        let full = list["total"]["minor"].as_i64().unwrap();
        assert_eq!(
            quote["total"]["minor"].as_i64().unwrap(),
            full - full / 10,
            "{}: {quote}",
            app.db
        );
    }
}

#[tokio::test]
async fn metrics_answer_only_their_token_when_one_is_set() {
    for app in apps_with(|c| c.metrics_token = Some("scrape-secret".into())).await {
        let p = problem(
            app.get("/metrics", None).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains("metrics"), "{p}");
        // Neither a traveller's session nor another secret reads it.
        let session = app.demo().await;
        for wrong in [session.as_str(), "scrape-secreT", common::FEED] {
            problem(
                app.get("/metrics", Some(wrong)).await,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            )
            .await;
        }
        let r = app.get("/metrics", Some("scrape-secret")).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.db);
        assert!(r.text().await.unwrap().contains("simrenew_orders"));
    }
}

#[tokio::test]
async fn suspended_lines_and_unpriced_currencies_are_refused_clearly() {
    for app in apps().await {
        let token = app.demo().await;
        // No demo plan is priced in EUR.
        let eur = json!({"line": MTS2, "currency": "EUR", "items": [{"type": "renew", "plan_id": "mts-week-10gb"}]});
        let p = problem(
            app.post("/api/v1/quotes", None, None, &eur).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency-not-offered",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "currency");
        let bad = json!({"line": MTS2, "currency": "XYZ", "items": [{"type": "renew", "plan_id": "mts-week-10gb"}]});
        let p = problem(
            app.post("/api/v1/quotes", None, None, &bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-error",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "currency");
        // An add-on on a line with nothing running.
        let addon = json!({"line": MTS2, "items": [{"type": "addon", "plan_id": "mts-addon-1gb"}]});
        problem(
            app.post("/api/v1/quotes", None, None, &addon).await,
            StatusCode::CONFLICT,
            "no-active-period",
        )
        .await;
        // The operator suspends the demo account's line: no renewal, however paid.
        let line = app
            ._db
            .store
            .find_line(&simrenew_core::LineRef::parse(MTS1).unwrap())
            .await
            .unwrap();
        app._db
            .store
            .set_line_status(&line.id, "suspended", "test")
            .await
            .unwrap();
        let renew = json!({"line": MTS1, "items": [{"type": "renew", "plan_id": "mts-week-10gb"}], "pay_with": "balance"});
        let p = problem(
            app.post("/api/v1/orders", Some(&token), Some("s1"), &renew)
                .await,
            StatusCode::CONFLICT,
            "line-suspended",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "line");
        let v: Value = app
            .get(&format!("/api/v1/lines/{MTS1}"), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["status"], "suspended", "{}", app.db);
    }
}
