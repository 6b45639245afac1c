//! Outbox SMS delivered to an HTTP gateway on loopback (bearer token, JSON body), on both
//! databases; a gateway that fails leaves the SMS due again later.

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use simrenew_jobs::{Delivery, SmsGateway};
use simrenew_store::outbox::{Message, SMS};
use simrenew_store::testing;
use std::sync::{Arc, Mutex};

async fn gateway(status: StatusCode) -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/send",
        post(move |h: HeaderMap, Json(body): Json<Value>| async move {
            if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer gw-token") {
                return StatusCode::UNAUTHORIZED;
            }
            sink.lock().unwrap().push(body);
            status
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn sms(line: &simrenew_store::lines::Line, code: &str) -> Message {
    Message {
        to: line.msisdn.e164(),
        subject: String::new(),
        body: format!("simrenew code: {code}"),
        ..Default::default()
    }
}

#[tokio::test]
async fn codes_reach_the_sms_gateway() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let user = s
            .sign_up("me@example.com", "password one", None)
            .await
            .unwrap();
        let line = simrenew_core::LineRef::parse("+7 916 123-45-63").unwrap();
        s.start_line_claim(&user.id, &line, sms).await.unwrap();
        let (url, got) = gateway(StatusCode::OK).await;
        let d = Delivery::new(s.clone(), None)
            .with_sms(Some(SmsGateway::new(&url, "gw-token").unwrap()));
        assert_eq!(d.run_once().await.unwrap(), 1, "{}", db.name);
        assert_eq!(d.run_once().await.unwrap(), 0);
        let got = got.lock().unwrap().clone();
        assert_eq!(got[0]["to"], "+79161234563");
        assert!(
            got[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("simrenew code: ")
        );
        // A failing gateway: the next code waits for its retry.
        s.start_line_claim(&user.id, &line, sms).await.unwrap();
        let (bad, _) = gateway(StatusCode::BAD_GATEWAY).await;
        let d = Delivery::new(s.clone(), None)
            .with_sms(Some(SmsGateway::new(&bad, "gw-token").unwrap()));
        assert_eq!(d.run_once().await.unwrap(), 0);
        assert!(
            s.claim_due(SMS, 10, 60).await.unwrap().is_empty(),
            "backing off"
        );
    }
}
