//! Provider payments on both databases: a verified success settles its order once,
//! whatever the replays and races; money that cannot buy what it was for is held.

use simrenew_core::{Currency, Money, OrderStatus, StartMode};
use simrenew_store::payments::Settlement;
use simrenew_store::{StoreError, testing};

#[tokio::test]
async fn a_success_settles_once_however_often_it_is_told() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let order = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        let p = s
            .start_payment(&order.id, "yookassa", "bank_card")
            .await
            .unwrap();
        assert_eq!(p.amount, order.total);
        s.payment_pending(
            &p.id,
            "2d0f6b4e-000f-5000-9000-1b4d",
            Some("https://pay.example/confirm"),
        )
        .await
        .unwrap();
        assert_eq!(s.open_payments(0, 10).await.unwrap().len(), 1);
        let first = s
            .payment_succeeded("yookassa", "2d0f6b4e-000f-5000-9000-1b4d", order.total)
            .await
            .unwrap();
        assert!(
            matches!(first, Settlement::Fulfilled(ref o) if o.status == OrderStatus::Fulfilled),
            "{}",
            db.name
        );
        for _ in 0..3 {
            assert_eq!(
                s.payment_succeeded("yookassa", "2d0f6b4e-000f-5000-9000-1b4d", order.total)
                    .await
                    .unwrap(),
                Settlement::AlreadySettled
            );
        }
        assert_eq!(
            s.order(&order.id).await.unwrap().payment_method.as_deref(),
            Some("yookassa")
        );
        assert!(s.open_payments(0, 10).await.unwrap().is_empty());
        assert!(matches!(
            s.payment_succeeded("yookassa", "forged-id", order.total)
                .await,
            Err(StoreError::PaymentNotFound(_))
        ));
        testing::assert_sound(&s).await;
    }
}

#[tokio::test]
async fn racing_notifications_settle_one_payment_once() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let order = testing::pending_month_order(&s, Currency::Cny, StartMode::Queued).await;
        let p = s
            .start_payment(&order.id, "alipay", "alipay")
            .await
            .unwrap();
        s.payment_pending(&p.id, "2026112522001", None)
            .await
            .unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                let total = order.total;
                tokio::spawn(
                    async move { s.payment_succeeded("alipay", "2026112522001", total).await },
                )
            })
            .collect();
        let mut fulfilled = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(Settlement::Fulfilled(_)) => fulfilled += 1,
                Ok(Settlement::AlreadySettled) => {}
                // PostgreSQL may refuse a loser with a serialization or lock error: the
                // provider retries it, and the retry finds it settled.
                Ok(other) => panic!("{other:?}"),
                Err(e) => assert!(!matches!(e, StoreError::Invalid { .. }), "{e}"),
            }
        }
        assert_eq!(fulfilled, 1, "{}", db.name);
        assert_eq!(s.check_orders().await.unwrap().fulfilled, 3);
        testing::assert_sound(&s).await;
    }
}

#[tokio::test]
async fn money_that_cannot_buy_its_order_is_held() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        // The wrong amount: held, the order still waits.
        let order = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        let p = s.start_payment(&order.id, "yookassa", "sbp").await.unwrap();
        s.payment_pending(&p.id, "pay-short", None).await.unwrap();
        let short = Money::new(order.total.minor - 1, Currency::Rub);
        match s
            .payment_succeeded("yookassa", "pay-short", short)
            .await
            .unwrap()
        {
            Settlement::Held { reason } => assert!(reason.contains("amount"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            s.order(&order.id).await.unwrap().status,
            OrderStatus::PendingPayment
        );
        // The wrong currency, same digits: held too.
        let p2 = s
            .start_payment(&order.id, "yookassa", "bank_card")
            .await
            .unwrap();
        s.payment_pending(&p2.id, "pay-usd", None).await.unwrap();
        let usd = Money::new(order.total.minor, Currency::Usd);
        assert!(matches!(
            s.payment_succeeded("yookassa", "pay-usd", usd)
                .await
                .unwrap(),
            Settlement::Held { .. }
        ));
        // Two attempts both paid: the first fulfils, the second is held for refund.
        let p3 = s
            .start_payment(&order.id, "yookassa", "bank_card")
            .await
            .unwrap();
        let p4 = s.start_payment(&order.id, "stripe", "card").await.unwrap();
        s.payment_pending(&p3.id, "pay-3", None).await.unwrap();
        s.payment_pending(&p4.id, "pi_4", None).await.unwrap();
        assert!(matches!(
            s.payment_succeeded("yookassa", "pay-3", order.total)
                .await
                .unwrap(),
            Settlement::Fulfilled(_)
        ));
        match s
            .payment_succeeded("stripe", "pi_4", order.total)
            .await
            .unwrap()
        {
            Settlement::Held { reason } => assert!(reason.contains("fulfilled"), "{reason}"),
            other => panic!("{other:?}"),
        }
        let held = s.payments_of_order(&order.id).await.unwrap();
        assert_eq!(
            held.iter().filter(|p| p.status == "held").count(),
            3,
            "{}",
            db.name
        );
        // A canceled attempt leaves nothing open.
        let other = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        let p5 = s
            .start_payment(&other.id, "yookassa", "bank_card")
            .await
            .unwrap();
        s.payment_pending(&p5.id, "pay-5", None).await.unwrap();
        s.payment_canceled("yookassa", "pay-5").await.unwrap();
        assert_eq!(s.payment(&p5.id).await.unwrap().status, "canceled");
        assert_eq!(
            s.order(&other.id).await.unwrap().status,
            OrderStatus::PendingPayment
        );
        testing::assert_sound(&s).await;
    }
}

#[tokio::test]
async fn cash_at_the_counter_settles_once_and_gives_change() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let order = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        // No cash without an open till.
        let no_till = s.pay_cash(&order.id, "clerk-1", order.total).await;
        assert!(
            matches!(&no_till, Err(StoreError::Invalid { field, .. }) if field == "till"),
            "{no_till:?}"
        );
        s.open_till("clerk-1", Money::new(5_000_00, Currency::Rub))
            .await
            .unwrap();
        // Short, or in another currency: refused, nothing recorded.
        let short = s
            .pay_cash(
                &order.id,
                "clerk-1",
                Money::new(order.total.minor - 1, Currency::Rub),
            )
            .await;
        assert!(
            matches!(short, Err(StoreError::Invalid { .. })),
            "{short:?}"
        );
        let yuan = s
            .pay_cash(&order.id, "clerk-1", Money::new(1_000_00, Currency::Cny))
            .await;
        assert!(matches!(yuan, Err(StoreError::Invalid { .. })), "{yuan:?}");
        assert!(s.payments_of_order(&order.id).await.unwrap().is_empty());
        // A 1000-rouble note for 750: fulfilled, 250 back; a second time refused.
        let (done, change) = s
            .pay_cash(
                &order.id,
                "clerk-1",
                Money::new(order.total.minor + 250_00, Currency::Rub),
            )
            .await
            .unwrap();
        assert_eq!(done.status, OrderStatus::Fulfilled, "{}", db.name);
        assert_eq!(change, Money::new(250_00, Currency::Rub));
        assert_eq!(done.payment_method.as_deref(), Some("cash"));
        let again = s.pay_cash(&order.id, "clerk-1", order.total).await;
        assert!(
            matches!(again, Err(StoreError::OrderNotPending(_))),
            "{again:?}"
        );
        let ps = s.payments_of_order(&order.id).await.unwrap();
        assert_eq!(
            (ps.len(), ps[0].provider.as_str(), ps[0].status.as_str()),
            (1, "cash", "succeeded")
        );
        testing::assert_sound(&s).await;
    }
}

#[tokio::test]
async fn a_clerks_till_adds_up_the_cash_taken_and_closing_records_the_difference() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let float = Money::new(3_000_00, Currency::Rub);
        let till = s.open_till("staff:anna@shop.example", float).await.unwrap();
        assert_eq!((till.expected, till.sales), (float, 0));
        assert!(
            matches!(
                s.open_till("staff:anna@shop.example", float).await,
                Err(StoreError::Invalid { .. })
            ),
            "one open till per clerk"
        );
        // Two cash sales by Anna, one by someone else (their own till).
        let mut taken = 0;
        for _ in 0..2 {
            let o = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
            s.pay_cash(&o.id, "staff:anna@shop.example", o.total)
                .await
                .unwrap();
            taken += o.total.minor;
        }
        s.open_till("staff:boris@shop.example", Money::new(0, Currency::Rub))
            .await
            .unwrap();
        let o = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        s.pay_cash(&o.id, "staff:boris@shop.example", o.total)
            .await
            .unwrap();
        // A card on the terminal does not go into the till.
        let o = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        s.pay_at_counter(
            &o.id,
            "staff:anna@shop.example",
            &simrenew_store::payments::CounterPayment::Terminal {
                reference: "T-1".into(),
            },
        )
        .await
        .unwrap();
        let open = s
            .open_till_of("staff:anna@shop.example")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(open.sales, 2, "{}", db.name);
        assert_eq!(
            open.expected,
            Money::new(float.minor + taken, Currency::Rub)
        );
        // Counted 100 roubles short: recorded, with the clerk's note, and audited.
        let counted = Money::new(open.expected.minor - 100_00, Currency::Rub);
        let closed = s
            .close_till("staff:anna@shop.example", counted, "a 100 note missing")
            .await
            .unwrap();
        assert_eq!(closed.difference, Some(Money::new(-100_00, Currency::Rub)));
        assert!(closed.closed_at.is_some());
        assert_eq!(
            s.open_till_of("staff:anna@shop.example").await.unwrap(),
            None
        );
        // Closed: no more cash into it.
        let o = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        assert!(
            s.pay_cash(&o.id, "staff:anna@shop.example", o.total)
                .await
                .is_err()
        );
        let log = s
            .audit_entries(20, Some("staff:anna@shop.example"))
            .await
            .unwrap();
        let close = log.iter().find(|e| e.action == "till.close").unwrap();
        assert!(
            close.after.as_deref().unwrap().contains("-100"),
            "{close:?}"
        );
        assert!(log.iter().any(|e| e.action == "till.open"));
        testing::assert_sound(&s).await;
    }
}
