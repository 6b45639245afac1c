//! Plans resold from a supplier (eSIM Access): the order is paid at once and fulfilled
//! when the supplier tops up the line's own ICCID; a lost answer is asked again as the same
//! transaction; a refusal gives the buyer's money back; the supplier's usage is drawn from
//! the line's buckets once. Against the stand-in of the supplier's API on its own port
//! (every request's signature checked), on SQLite and PostgreSQL.

use simrenew_core::{Currency, LineRef, Money, OrderStatus, StartMode};
use simrenew_esim::upstream::esimaccess::EsimAccess;
use simrenew_esim::upstream::sandbox::{ACCESS_CODE, EsimAccessSandbox, SECRET_KEY, Trouble};
use simrenew_store::orders::{ItemRequest, OrderRequest, Payment};
use simrenew_store::testing::{self, assert_sound};
use simrenew_store::upstream::Supplier;
use simrenew_web::upstream::{run_due, sync_usage};
use std::sync::Arc;

mod common;
use common::visitor::Visitor;

const GB: u64 = 1 << 30;
const PACKAGE: &str = "RU_20_30";

async fn supplier() -> (EsimAccessSandbox, String) {
    let stand_in = EsimAccessSandbox::new();
    stand_in.add_package(PACKAGE, 20 * GB, 900);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = stand_in.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (stand_in, base)
}

fn renew(line: &str, buyer: Option<String>, payment: Payment) -> OrderRequest {
    OrderRequest {
        line: LineRef::parse(line).unwrap(),
        items: vec![ItemRequest::Renew {
            plan_id: "mts-travel-30d-20gb".into(),
            start: StartMode::Queued,
        }],
        currency: Some(Currency::Rub),
        channel: "app".into(),
        buyer,
        payment,
        promo_code: None,
    }
}

/// An hour on: every retry's backoff has passed.
fn later() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::hours(1)
}

#[tokio::test]
async fn a_resold_plan_is_topped_up_once_at_the_supplier_refused_ones_are_refunded_and_usage_is_drawn()
 {
    for db in testing::all().await {
        let store = db.store.clone();
        store.seed_demo().await.unwrap();
        let (stand_in, base) = supplier().await;
        let owner = store
            .user_by_email("demo@simrenew.example")
            .await
            .unwrap()
            .unwrap();
        let line = store
            .find_line(&LineRef::parse("+79161234561").unwrap())
            .await
            .unwrap();
        stand_in.add_profile(line.iccid.as_str(), 30 * GB);
        store
            .adjust_balance(
                &line.id,
                Money::new(5000_00, Currency::Rub),
                "test money",
                "test",
            )
            .await
            .unwrap();
        store
            .set_upstream_plan(
                "test",
                "mts-travel-30d-20gb",
                Some(&Supplier {
                    adapter: "esimaccess".into(),
                    package_code: PACKAGE.into(),
                }),
            )
            .await
            .unwrap();
        let client = EsimAccess::new(&base, ACCESS_CODE, SECRET_KEY).unwrap();
        let state = simrenew_web::AppState::new(
            store.clone(),
            simrenew_web::WebConfig {
                upstream: vec![Arc::new(client)],
                ..Default::default()
            },
        );
        let balance = |id: String| {
            let store = store.clone();
            async move { store.account_balance(&id).await.unwrap() }
        };
        // The supplier refuses the one job due now: the order ends refunded.
        let refused_now = |order_id: String| {
            let (state, store) = (state.clone(), store.clone());
            async move {
                assert_eq!(run_due(&state, time::OffsetDateTime::now_utc()).await, 1);
                assert_eq!(
                    store.order(&order_id).await.unwrap().status,
                    OrderStatus::Refunded
                );
            }
        };
        let before = balance(line.account_id.clone()).await;
        let data_before = store.line_detail(&line).await.unwrap().data_left_bytes();

        // Paid from the balance at once; the plan waits for the supplier.
        let order = store
            .create_order(
                &renew("+79161234561", Some(owner.id.clone()), Payment::Balance),
                None,
            )
            .await
            .unwrap();
        assert_eq!(order.status, OrderStatus::Paid, "{}", db.name);
        assert_eq!(
            balance(line.account_id.clone()).await,
            Money::new(before.minor - 690_00, Currency::Rub)
        );
        assert_eq!(
            store.line_detail(&line).await.unwrap().data_left_bytes(),
            data_before
        );

        // The supplier's answer is lost after it topped up: asked again later, the same
        // transaction is answered as the first, and the profile grows once.
        stand_in.fail_next("esim/topup", Trouble::LoseAnswer);
        assert_eq!(run_due(&state, time::OffsetDateTime::now_utc()).await, 0);
        let waiting = store.upstream_waiting(10).await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(
            (waiting[0].order_id.as_str(), waiting[0].attempts),
            (order.id.as_str(), 1)
        );
        assert!(
            waiting[0]
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("502")
        );
        assert_eq!(
            store.order(&order.id).await.unwrap().status,
            OrderStatus::Paid
        );
        assert_eq!(stand_in.total_bytes(line.iccid.as_str()), Some(50 * GB));
        assert_eq!(
            run_due(&state, time::OffsetDateTime::now_utc()).await,
            0,
            "not due before its backoff"
        );
        assert_eq!(run_due(&state, later()).await, 1);
        assert_eq!(
            stand_in.total_bytes(line.iccid.as_str()),
            Some(50 * GB),
            "{}",
            db.name
        );
        let done = store.order(&order.id).await.unwrap();
        assert_eq!(done.status, OrderStatus::Fulfilled);
        // Queued after the current month, as every renewal: its period and its 20 GB.
        let detail = store.line_detail(&line).await.unwrap();
        let period = detail
            .periods
            .iter()
            .find(|p| p.order_id.as_deref() == Some(order.id.as_str()))
            .expect("the resold plan's period");
        assert_eq!(period.start, detail.current_period().unwrap().end);
        assert!(
            detail
                .buckets
                .iter()
                .any(|b| b.plan_id.as_deref() == Some("mts-travel-30d-20gb")
                    && b.initial_bytes == 20 * GB
                    && b.valid_from == period.start)
        );
        // Done once: nothing is asked again.
        let calls = stand_in.calls().len();
        assert_eq!(run_due(&state, later()).await, 0);
        assert_eq!(stand_in.calls().len(), calls);
        assert_eq!(
            stand_in
                .calls()
                .iter()
                .filter(|c| *c == "esim/topup")
                .count(),
            2,
            "{:?}",
            stand_in.calls()
        );

        // The supplier's usage is drawn from the line's buckets once per figure.
        stand_in.set_usage(line.iccid.as_str(), GB);
        assert_eq!(sync_usage(&state).await, GB);
        assert_eq!(sync_usage(&state).await, 0);
        stand_in.set_usage(line.iccid.as_str(), GB + GB / 2);
        assert_eq!(sync_usage(&state).await, GB / 2);
        assert_eq!(
            store.line_detail(&line).await.unwrap().data_left_bytes(),
            data_before - GB - GB / 2
        );

        // The supplier refuses (its balance is short): the money goes back to the
        // balance it came from, the order is refunded, no quota.
        stand_in.set_balance(0);
        let paid_before = balance(line.account_id.clone()).await;
        let refused = store
            .create_order(
                &renew("+79161234561", Some(owner.id.clone()), Payment::Balance),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            balance(line.account_id.clone()).await,
            Money::new(paid_before.minor - 690_00, Currency::Rub)
        );
        refused_now(refused.id.clone()).await;
        assert_eq!(
            balance(line.account_id.clone()).await,
            paid_before,
            "{}",
            db.name
        );
        let (state_word, reason) = store.upstream_state(&refused.id).await.unwrap().unwrap();
        assert_eq!(state_word, "refused");
        assert!(reason.unwrap().contains("insufficient"));

        // A line the supplier does not know, paid from outside (the demo card): refused,
        // and the money is credited to that line's balance.
        let stranger = store
            .find_line(&LineRef::parse("+79161234562").unwrap())
            .await
            .unwrap();
        let pending = store
            .create_order(&renew("+79161234562", None, Payment::External), None)
            .await
            .unwrap();
        let paid = store
            .settle_external(&pending.id, "demo", None)
            .await
            .unwrap();
        assert_eq!(paid.status, OrderStatus::Paid);
        refused_now(pending.id.clone()).await;
        assert_eq!(
            balance(stranger.account_id.clone()).await,
            Money::new(690_00, Currency::Rub),
            "{}",
            db.name
        );

        // A partner's order from its deposit: its webhook event waits for the supplier;
        // a refusal credits the deposit back.
        stand_in.set_balance(100_000);
        let partner = store
            .add_partner("test", "Seller", "pk_up", "sealed", &["orders:write"])
            .await
            .unwrap();
        store
            .set_partner_webhook("test", "pk_up", Some("http://127.0.0.1:9/hook"))
            .await
            .unwrap();
        store
            .credit_partner("test", "pk_up", Money::new(2000_00, Currency::Rub), "test")
            .await
            .unwrap();
        let deposit = simrenew_store::partners::deposit_account(&partner.id, Currency::Rub);
        let mut by_partner = renew("+79161234561", None, Payment::Deposit(deposit.clone()));
        by_partner.channel = "partner".into();
        let placed = store
            .create_partner_order(&partner, &by_partner, None)
            .await
            .unwrap();
        assert_eq!(placed.status, OrderStatus::Paid);
        let events = |store: simrenew_store::Store, id: String| async move {
            store.partner_events(&id, 10).await.unwrap()
        };
        assert!(
            events(store.clone(), partner.id.clone()).await.is_empty(),
            "no event before the supplier"
        );
        assert_eq!(run_due(&state, time::OffsetDateTime::now_utc()).await, 1);
        let sent = events(store.clone(), partner.id.clone()).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].kind, "order.fulfilled");
        assert!(
            sent[0].payload.contains("\"status\":\"fulfilled\""),
            "{}",
            sent[0].payload
        );
        stand_in.set_balance(0);
        let refused = store
            .create_partner_order(&partner, &by_partner, None)
            .await
            .unwrap();
        assert_eq!(
            balance(deposit.clone()).await,
            Money::new(2000_00 - 2 * 690_00, Currency::Rub)
        );
        refused_now(refused.id.clone()).await;
        assert_eq!(
            balance(deposit.clone()).await,
            Money::new(2000_00 - 690_00, Currency::Rub)
        );
        assert_eq!(
            events(store.clone(), partner.id.clone()).await.len(),
            1,
            "no event for a refusal"
        );

        // Paid in yuan from outside (the demo card): no rouble balance can hold it, so
        // the sale is reversed to the outside and the line's balance is untouched.
        let mut in_yuan = renew("+79161234562", None, Payment::External);
        in_yuan.currency = Some(Currency::Cny);
        let pending = store.create_order(&in_yuan, None).await.unwrap();
        store
            .settle_external(&pending.id, "demo", None)
            .await
            .unwrap();
        refused_now(pending.id.clone()).await;
        assert_eq!(
            balance(stranger.account_id.clone()).await,
            Money::new(690_00, Currency::Rub)
        );

        // A resold plan is sold on an order of its own.
        let mut mixed = renew("+79161234561", Some(owner.id.clone()), Payment::Balance);
        mixed.items.push(ItemRequest::AddOn {
            plan_id: "mts-addon-1gb".into(),
        });
        let err = store.create_order(&mixed, None).await.unwrap_err();
        assert!(err.to_string().contains("order of its own"), "{err}");

        // A new eSIM from the shop's own SM-DP+ stock (reserved for its buyer) is not the
        // supplier's card: the resold plan is refused for it before anything is paid.
        store.seed_demo_esims().await.unwrap();
        let reserved = store
            .allocate_profile(simrenew_core::Operator::Mts, "mts-esim", None, None)
            .await
            .unwrap();
        let mut on_stock = renew("+79161234561", None, Payment::External);
        on_stock.line = LineRef::Iccid(simrenew_core::Iccid::parse(&reserved.iccid).unwrap());
        let err = store.create_order(&on_stock, None).await.unwrap_err();
        assert!(err.to_string().contains("own stock"), "{err}");

        // Back to our own buckets: sold and fulfilled at once again.
        store
            .set_upstream_plan("test", "mts-travel-30d-20gb", None)
            .await
            .unwrap();
        stand_in.set_balance(100_000);
        let own = store
            .create_order(
                &renew("+79161234561", Some(owner.id.clone()), Payment::Balance),
                None,
            )
            .await
            .unwrap();
        assert_eq!(own.status, OrderStatus::Fulfilled);
        assert_sound(&store).await;
    }
}

/// The line the supplier does not know: nobody's MTS line of the demo.
const STRANGER: &str = "79161234562";

#[tokio::test]
async fn a_plan_paid_with_wechat_pay_that_the_supplier_refuses_is_refunded_through_wechat_pay() {
    let (stand_in, base) = supplier().await;
    let client: Arc<dyn simrenew_esim::upstream::Upstream> =
        Arc::new(EsimAccess::new(&base, ACCESS_CODE, SECRET_KEY).unwrap());
    let apps = common::serve_all_with_sandbox_and(|w| w.upstream = vec![client.clone()]).await;
    for app in apps {
        let store = app._db.store.clone();
        store
            .set_upstream_plan(
                "test",
                "mts-month-30gb",
                Some(&Supplier {
                    adapter: "esimaccess".into(),
                    package_code: PACKAGE.into(),
                }),
            )
            .await
            .unwrap();
        // A Chinese traveller renews a month on the line's page and pays by scanning.
        let mut v = Visitor::new(&app.base, "zh-CN");
        let page = v.get(&format!("/renew/{STRANGER}")).await;
        let placed = v
            .post(
                &format!("/renew/{STRANGER}"),
                &[
                    ("csrf", &page.input("csrf")),
                    ("idem", &page.input("idem")),
                    ("plan", "mts-month-30gb"),
                    ("pay", "wechatpay:native"),
                ],
            )
            .await;
        let order_id = placed.location().trim_start_matches("/orders/").to_string();
        let order_page = v.get(&format!("/orders/{order_id}")).await;
        let section = &order_page.body[order_page.body.find("id=\"scan\"").unwrap()..];
        let link = section
            .split_once("href=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(l, _)| l.replace("&#x2f;", "/").replace("&#x3a;", ":"))
            .unwrap();
        reqwest::Client::new()
            .post(&link)
            .form(&[("action", "pay")])
            .send()
            .await
            .unwrap();
        let mut paid = false;
        for _ in 0..150 {
            if store.order(&order_id).await.unwrap().status == OrderStatus::Paid {
                paid = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(paid, "{}", app.db);
        // Support sees it on the console's front page, waiting on the supplier.
        store.seed_demo_staff().await.unwrap();
        let mut support = Visitor::staff(&app.base, "support@simrenew.example").await;
        let front = support.get("/admin").await;
        let waiting = front
            .body
            .split("id=\"waiting-supplier\"")
            .nth(1)
            .unwrap_or_default();
        assert!(waiting.contains(&order_id), "{}", front.body);
        // Paid: the page says the operator is adding the plan, and refreshes.
        let waiting = v.get(&format!("/orders/{order_id}")).await;
        assert!(
            waiting.has("id=\"activating\"") && waiting.has("data-refresh"),
            "{}",
            waiting.body
        );

        // The supplier does not know the line's ICCID: refused, the order refunded and
        // the refund of the payment recorded in the same transaction. This server cannot
        // reach WeChat Pay at that moment (as after a crash before the call): the refund
        // waits, pending...
        let keys = app.keys.as_ref().unwrap();
        let cut_off = simrenew_web::AppState::new(
            store.clone(),
            simrenew_web::WebConfig {
                upstream: vec![client.clone()],
                ..Default::default()
            },
        );
        assert_eq!(run_due(&cut_off, time::OffsetDateTime::now_utc()).await, 1);
        assert_eq!(
            store.order(&order_id).await.unwrap().status,
            OrderStatus::Refunded
        );
        let payment = store.payments_of_order(&order_id).await.unwrap()[0].clone();
        let waiting = store.refunds_of_payment(&payment.id).await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].status, "pending");
        // ...and the minute's retry asks WeChat Pay (its stand-in signs the answer).
        assert_eq!(
            simrenew_web::payments::retry_refunds(&store, &keys.providers, 1, -1).await,
            1
        );
        assert_eq!(
            store.refundable(&payment.id).await.unwrap().minor,
            0,
            "{}",
            app.db
        );
        let refunds = store.refunds_of_payment(&payment.id).await.unwrap();
        assert_eq!(refunds.len(), 1);
        assert_eq!(refunds[0].status, "succeeded");
        assert_eq!(refunds[0].amount, payment.amount);
        let told = v.get(&format!("/orders/{order_id}")).await;
        assert!(told.has("id=\"supplier-refused\""), "{}", told.body);
        assert!(!told.has("data-refresh"));
        assert!(stand_in.calls().contains(&"esim/query".to_string()));
        assert_sound(&store).await;
    }
}
