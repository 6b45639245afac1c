//! The YooKassa connector against the loopback stand-in (the demo's sandbox) that speaks
//! API v3 as documented (Basic auth, Idempotence-Key, the payment object, the error
//! object, the notification body), a buyer pressing Pay on its page, through the whole flow with the store on both databases: create, a premature
//! notification, the real one, replays, a forged one, bad credentials.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::json;
use simrenew_core::{Currency, Money, StartMode};
use simrenew_payments::PaymentError;
use simrenew_payments::provider::{Checkout, Item};
use simrenew_payments::yookassa::YooKassa;
use simrenew_store::payments::Settlement;
use simrenew_store::testing;
use std::sync::{Arc, Mutex};

use simrenew_payments::sandbox::{SECRET_KEY as KEY, SHOP_ID as SHOP};

/// The stand-in (the demo's) on a random port, and the notifications it sends the shop.
async fn stand_in() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sink = got.clone();
    let app = Router::new()
        .nest(
            "/sandbox/yookassa",
            simrenew_payments::sandbox::yookassa(
                &format!("{base}/sandbox/yookassa"),
                &format!("{base}/webhooks/yookassa"),
            ),
        )
        .route(
            "/webhooks/yookassa",
            post(move |body: axum::body::Bytes| async move {
                sink.lock().unwrap().push(body.to_vec());
                StatusCode::OK
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("{base}/sandbox/yookassa/v3"), got)
}

/// The buyer presses Pay on the stand-in's page; returns the notification it sent.
async fn buyer_pays(confirmation_url: &str, got: &Arc<Mutex<Vec<Vec<u8>>>>) -> Vec<u8> {
    let before = got.lock().unwrap().len();
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(confirmation_url)
        .form(&[("action", "pay")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "back to the shop");
    for _ in 0..100 {
        if let Some(n) = got.lock().unwrap().get(before) {
            return n.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no notification sent");
}

fn notification(id: &str, status: &str) -> Vec<u8> {
    json!({
        "type": "notification",
        "event": format!("payment.{status}"),
        "object": {"id": id, "status": status, "paid": true, "amount": {"value": "1.00", "currency": "RUB"}}
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_yookassa_payment_from_creation_to_fulfilment() {
    for db in testing::all().await {
        let (base, got) = stand_in().await;
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let order = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        let attempt = s
            .start_payment(&order.id, "yookassa", "bank_card")
            .await
            .unwrap();
        let yk = YooKassa::new(&base, SHOP, KEY).unwrap();
        assert!(!format!("{yk:?}").contains(KEY), "the key is never printed");
        let items = [Item {
            description: "MTS Month 30 GB".into(),
            amount: order.total,
        }];
        let new = Checkout {
            order_id: &order.id,
            attempt_id: &attempt.id,
            amount: order.total,
            description: "Renewal of +7 916 123-45-62",
            method: "bank_card",
            return_url: "https://shop.example/orders/1",
            notify_url: "https://shop.example/webhooks/yookassa",
            customer_email: Some("traveller@example.com"),
            customer_phone: None,
            items: &items,
            vat_code: 1,
            save_method: false,
        };
        let created = yk.create_payment(&new).await.unwrap();
        assert_eq!(created.status, "pending", "{}", db.name);
        assert_eq!(created.money().unwrap(), order.total);
        assert_eq!(created.order_id(), Some(order.id.as_str()));
        // A retry with the same key creates nothing new.
        assert_eq!(yk.create_payment(&new).await.unwrap().id, created.id);
        s.payment_pending(&attempt.id, &created.id, created.confirmation_url())
            .await
            .unwrap();

        // A notification that claims success before the buyer paid: the API says pending.
        let early = yk
            .verify_notification(&notification(&created.id, "succeeded"))
            .await
            .unwrap();
        assert_eq!(early.status, "pending");

        let sent = buyer_pays(created.confirmation_url().unwrap(), &got).await;
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            let verified = yk.verify_notification(&sent).await.unwrap();
            assert_eq!(verified.status, "succeeded");
            outcomes.push(
                s.payment_succeeded("yookassa", &verified.id, verified.money().unwrap())
                    .await
                    .unwrap(),
            );
        }
        assert!(matches!(outcomes[0], Settlement::Fulfilled(_)));
        assert_eq!(outcomes[1], Settlement::AlreadySettled);
        assert_eq!(outcomes[2], Settlement::AlreadySettled);
        testing::assert_sound(&s).await;

        // Forged: an id YooKassa does not know, or no notification at all.
        for forged in [
            notification("2e999999-000f-5000-9000-1b68e7b15f3f", "succeeded"),
            b"{\"type\":\"notification\",\"event\":\"payment.succeeded\",\"object\":{\"id\":\"../../v3/refunds\"}}".to_vec(),
            b"not json".to_vec(),
        ] {
            assert!(
                matches!(yk.verify_notification(&forged).await, Err(PaymentError::BadNotification(_))),
                "{}",
                String::from_utf8_lossy(&forged)
            );
        }
        // Wrong credentials: a refusal with YooKassa's own error code, not a panic.
        let wrong = YooKassa::new(&base, SHOP, "test_wrong").unwrap();
        match wrong.get_payment(&created.id).await {
            Err(PaymentError::Refused {
                status: 401,
                detail,
            }) => {
                assert!(detail.starts_with("invalid_credentials"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_receipt_follows_the_api() {
    let items = [Item {
        description: "MTS Month 30 GB".into(),
        amount: Money::new(750_00, Currency::Rub),
    }];
    let body = YooKassa::payment_body(&Checkout {
        order_id: "o-1",
        attempt_id: "k",
        amount: Money::new(750_00, Currency::Rub),
        description: &"x".repeat(300),
        method: "sbp",
        return_url: "https://shop.example/orders/o-1",
        notify_url: "https://shop.example/webhooks/yookassa",
        customer_email: None,
        customer_phone: Some("+79161234562"),
        items: &items,
        vat_code: 1,
        save_method: false,
    });
    assert_eq!(
        body["amount"],
        json!({"value": "750.00", "currency": "RUB"})
    );
    assert_eq!(body["payment_method_data"]["type"], "sbp");
    assert_eq!(body["receipt"]["customer"]["phone"], "79161234562");
    assert_eq!(body["receipt"]["items"][0]["payment_subject"], "service");
    assert_eq!(body["description"].as_str().unwrap().chars().count(), 128);
    assert!(
        body.get("save_payment_method").is_none(),
        "kept only when asked"
    );
}
