//! The YooKassa connector against a loopback stand-in that speaks API v3 as documented
//! (Basic auth, Idempotence-Key, the payment object, the error object, the notification
//! body), through the whole flow with the store on both databases: create, a premature
//! notification, the real one, replays, a forged one, bad credentials.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};
use simrenew_core::{Currency, LineRef, Money, StartMode};
use simrenew_payments::PaymentError;
use simrenew_payments::yookassa::{NewPayment, ReceiptItem, YooKassa};
use simrenew_store::orders::{ItemRequest, OrderRequest, Payment};
use simrenew_store::payments::Settlement;
use simrenew_store::testing;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const SHOP: &str = "123456";
const KEY: &str = "test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE-axOwM0";

#[derive(Default)]
struct Shop {
    payments: HashMap<String, Value>,
    by_key: HashMap<String, String>,
    base: String,
}
type Stand = Arc<Mutex<Shop>>;

fn authorized(h: &HeaderMap) -> bool {
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SHOP}:{KEY}"))
    );
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str())
}

fn error(status: StatusCode, code: &str, description: &str) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(json!({"type": "error", "id": "0dc2b2c2", "code": code, "description": description})),
    )
}

async fn create(
    State(s): State<Stand>,
    h: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&h) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Authentication error",
        );
    }
    let Some(key) = h.get("idempotence-key").and_then(|v| v.to_str().ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Idempotence key is missing",
        );
    };
    let mut shop = s.lock().unwrap();
    if let Some(id) = shop.by_key.get(key) {
        return (StatusCode::OK, Json(shop.payments[id].clone()));
    }
    // What the API requires of a payment with a 54-FZ receipt.
    let amount = body["amount"].clone();
    let items = body["receipt"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let sum: f64 = items
        .iter()
        .map(|i| {
            i["amount"]["value"]
                .as_str()
                .unwrap_or("0")
                .parse::<f64>()
                .unwrap_or(0.0)
        })
        .sum();
    let customer = &body["receipt"]["customer"];
    if items.is_empty()
        || (sum
            - amount["value"]
                .as_str()
                .unwrap_or("")
                .parse::<f64>()
                .unwrap_or(-1.0))
        .abs()
            > 0.001
        || items.iter().any(|i| i["vat_code"].as_u64().is_none())
        || (customer["email"].is_null() && customer["phone"].is_null())
        || body["capture"] != json!(true)
        || body["confirmation"]["type"] != "redirect"
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Receipt or payment is invalid",
        );
    }
    let id = format!(
        "2e{:06x}-000f-5000-9000-1b68e7b15f3f",
        shop.payments.len() + 1
    );
    let payment = json!({
        "id": id,
        "status": "pending",
        "paid": false,
        "amount": amount,
        "confirmation": {"type": "redirect", "confirmation_url": format!("{}/confirm/{id}", shop.base)},
        "created_at": "2026-11-25T10:00:00.000Z",
        "description": body["description"],
        "metadata": body["metadata"],
        "payment_method": {"type": body["payment_method_data"]["type"], "id": id, "saved": false},
        "recipient": {"account_id": SHOP, "gateway_id": "100700"},
        "refundable": false,
        "test": true
    });
    shop.payments.insert(id.clone(), payment.clone());
    shop.by_key.insert(key.to_string(), id);
    (StatusCode::OK, Json(payment))
}

async fn fetch(
    State(s): State<Stand>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&h) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Authentication error",
        );
    }
    match s.lock().unwrap().payments.get(&id) {
        Some(p) => (StatusCode::OK, Json(p.clone())),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Payment doesn't exist or access denied",
        ),
    }
}

async fn stand_in() -> (String, Stand) {
    let stand: Stand = Arc::default();
    let app = Router::new()
        .route("/v3/payments", post(create))
        .route("/v3/payments/{id}", get(fetch))
        .with_state(stand.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    stand.lock().unwrap().base = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("{base}/v3"), stand)
}

/// The buyer pays at the confirmation page: the stand-in's payment succeeds.
fn buyer_pays(stand: &Stand, id: &str) {
    let mut shop = stand.lock().unwrap();
    let p = shop.payments.get_mut(id).unwrap();
    p["status"] = json!("succeeded");
    p["paid"] = json!(true);
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
        let (base, stand) = stand_in().await;
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let order = s
            .create_order(
                &OrderRequest {
                    line: LineRef::parse("+7 916 123-45-62").unwrap(),
                    items: vec![ItemRequest::Renew {
                        plan_id: "mts-month-30gb".into(),
                        start: StartMode::Queued,
                    }],
                    currency: Some(Currency::Rub),
                    channel: "web".into(),
                    buyer: None,
                    payment: Payment::External,
                },
                None,
            )
            .await
            .unwrap();
        let attempt = s
            .start_payment(&order.id, "yookassa", "bank_card")
            .await
            .unwrap();
        let yk = YooKassa::new(&base, SHOP, KEY).unwrap();
        assert!(!format!("{yk:?}").contains(KEY), "the key is never printed");
        let new = NewPayment {
            order_id: &order.id,
            amount: order.total,
            description: "Renewal of +7 916 123-45-62",
            method: "bank_card",
            return_url: "https://shop.example/orders/1",
            idempotence_key: &attempt.id,
            customer_email: Some("traveller@example.com"),
            customer_phone: None,
            items: vec![ReceiptItem {
                description: "MTS Month 30 GB".into(),
                amount: order.total,
                vat_code: 1,
            }],
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

        buyer_pays(&stand, &created.id);
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            let verified = yk
                .verify_notification(&notification(&created.id, "succeeded"))
                .await
                .unwrap();
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
        assert!(s.check_ledger().await.unwrap().is_sound());
        assert!(s.check_orders().await.unwrap().is_sound());

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
    let body = YooKassa::payment_body(&NewPayment {
        order_id: "o-1",
        amount: Money::new(750_00, Currency::Rub),
        description: &"x".repeat(300),
        method: "sbp",
        return_url: "https://shop.example/orders/o-1",
        idempotence_key: "k",
        customer_email: None,
        customer_phone: Some("+79161234562"),
        items: vec![ReceiptItem {
            description: "MTS Month 30 GB".into(),
            amount: Money::new(750_00, Currency::Rub),
            vat_code: 1,
        }],
    });
    assert_eq!(
        body["amount"],
        json!({"value": "750.00", "currency": "RUB"})
    );
    assert_eq!(body["payment_method_data"]["type"], "sbp");
    assert_eq!(body["receipt"]["customer"]["phone"], "79161234562");
    assert_eq!(body["receipt"]["items"][0]["payment_subject"], "service");
    assert_eq!(body["description"].as_str().unwrap().chars().count(), 128);
}
