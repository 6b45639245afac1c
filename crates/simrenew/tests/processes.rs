//! The real `simrenew` binary, as operators run it: killed with SIGKILL under load and
//! restarted (nothing acknowledged is lost, nothing is applied twice or by half), and
//! several processes sharing one PostgreSQL database (a balance pays once).

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use simrenew_store::testing::{self, TestDb};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::Child;

mod common;

struct Server {
    child: Child,
    base: String,
}

async fn start(url: &str) -> Server {
    let (child, base) = common::serve(30, |c| {
        c.arg("serve").env("SIMRENEW_DATABASE_URL", url);
    })
    .await;
    Server { child, base }
}

async fn prepare(db: &TestDb, lines: u64) -> Vec<String> {
    db.store.seed_demo().await.unwrap();
    let first = db.store.generate_lines(lines, |_| {}).await.unwrap();
    (first..first + lines)
        .map(|n| format!("+7900{n:07}"))
        .collect()
}

async fn token(http: &Client, base: &str) -> String {
    let r = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"email": simrenew_store::demo::BENCH_EMAIL, "password": simrenew_store::demo::BENCH_PASSWORD}))
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Idempotency key -> (line, the order id if the server acknowledged it).
type Sent = HashMap<String, (String, Option<String>)>;

fn renewal(line: &str) -> Value {
    json!({"line": line, "items": [{"type": "renew", "plan_id": "mts-day-unlim"}], "pay_with": "balance"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_nothing_acknowledged_and_doubles_nothing() {
    for db in testing::all().await {
        // Only MTS lines (every 4th) can take an MTS plan.
        let lines: Vec<String> = prepare(&db, 64).await.into_iter().step_by(4).collect();
        let before = db.store.check_orders().await.unwrap().orders;
        let mut server = start(&db.url).await;
        let http = Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let tok = token(&http, &server.base).await;
        let sent: Arc<Mutex<Sent>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut workers = Vec::new();
        for (w, line) in lines.iter().enumerate() {
            let (http, base, tok, line, sent, stop) = (
                http.clone(),
                server.base.clone(),
                tok.clone(),
                line.clone(),
                sent.clone(),
                stop.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let key = format!("w{w}-{n}");
                    n += 1;
                    sent.lock()
                        .unwrap()
                        .insert(key.clone(), (line.clone(), None));
                    let res = http
                        .post(format!("{base}/api/v1/orders"))
                        .bearer_auth(&tok)
                        .header("Idempotency-Key", &key)
                        .json(&renewal(&line))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status() == StatusCode::CREATED => {
                            if let Ok(v) = r.json::<Value>().await {
                                assert_eq!(v["status"], "fulfilled");
                                sent.lock().unwrap().insert(
                                    key,
                                    (line.clone(), v["id"].as_str().map(str::to_string)),
                                );
                            }
                        }
                        Ok(r) => panic!("unexpected {}", r.status()),
                        Err(_) => break, // the server died under us
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.child.kill().await.unwrap(); // SIGKILL
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in workers {
            w.await.unwrap();
        }
        let sent = sent.lock().unwrap().clone();
        let acked = sent.values().filter(|(_, id)| id.is_some()).count();
        assert!(
            acked > 10,
            "{}: the load ran ({acked} acknowledged)",
            db.name
        );

        let server = start(&db.url).await;
        let tok = token(&http, &server.base).await;
        // Every acknowledged order is there, fulfilled.
        for (line, id) in sent.values() {
            if let Some(id) = id {
                let v: Value = http
                    .get(format!("{}/api/v1/orders/{id}", server.base))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(
                    v["status"], "fulfilled",
                    "{}: acknowledged order {id} of {line}",
                    db.name
                );
            }
        }
        // Retrying every request, acknowledged or in flight at the kill, with its key:
        // replays what was committed, makes what was not, and never makes one twice.
        for (key, (line, id)) in &sent {
            let r = http
                .post(format!("{}/api/v1/orders", server.base))
                .bearer_auth(&tok)
                .header("Idempotency-Key", key)
                .json(&renewal(line))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::CREATED,
                "{}: retry of {key}",
                db.name
            );
            let v: Value = r.json().await.unwrap();
            if let Some(id) = id {
                assert_eq!(
                    v["id"].as_str(),
                    Some(id.as_str()),
                    "{}: a retry of an acknowledged order replays it",
                    db.name
                );
            }
        }
        let orders = db.store.check_orders().await.unwrap();
        assert!(orders.is_sound(), "{}: {orders:?}", db.name);
        assert_eq!(
            (orders.orders - before) as usize,
            sent.len(),
            "{}: exactly one order per idempotency key",
            db.name
        );
        assert_eq!(orders.fulfilled, orders.orders);
        let ledger = db.store.check_ledger().await.unwrap();
        assert!(ledger.is_sound(), "{}: {ledger:?}", db.name);
        drop(server);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_postgres_let_a_balance_pay_once() {
    let Some(db) = testing::postgres().await else {
        return;
    };
    db.store.seed_demo().await.unwrap();
    // A demo MTS line with exactly one day's price on its balance, owned by the demo account.
    let line = "+79161234563";
    let l = db
        .store
        .find_line(&simrenew_core::LineRef::parse(line).unwrap())
        .await
        .unwrap();
    let user = db
        .store
        .sign_in(
            simrenew_store::demo::DEMO_EMAIL,
            simrenew_store::demo::DEMO_PASSWORD,
        )
        .await
        .unwrap()
        .1;
    db.store
        .attach_line(
            &user.id,
            &simrenew_core::LineRef::parse(line).unwrap(),
            "12345673",
        )
        .await
        .unwrap();
    db.store
        .adjust_balance(
            &l.id,
            simrenew_core::Money::new(150_00, simrenew_core::Currency::Rub),
            "test",
            "test",
        )
        .await
        .unwrap();
    let a = start(&db.url).await;
    let b = start(&db.url).await;
    let http = Client::new();
    let tok = {
        let r = http.post(format!("{}/api/v1/sessions", a.base)).json(&json!({"email": simrenew_store::demo::DEMO_EMAIL, "password": simrenew_store::demo::DEMO_PASSWORD})).send().await.unwrap();
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut tasks = Vec::new();
    for i in 0..12 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let (http, tok) = (http.clone(), tok.clone());
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(format!("{base}/api/v1/orders"))
                .bearer_auth(&tok)
                .header("Idempotency-Key", format!("k{i}"))
                .json(&renewal(line))
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            (status, body)
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::PAYMENT_REQUIRED => assert_eq!(body["missing"]["minor"], 150_00, "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 1, "exactly one renewal is paid");
    assert!(db.store.check_ledger().await.unwrap().is_sound());
    assert!(db.store.check_orders().await.unwrap().is_sound());
}
