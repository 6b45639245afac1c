//! The eSIM inventory on both databases: import, counts, allocation that never hands out
//! a profile twice (concurrent buyers of the last ones), state changes by the rules.

use simrenew_core::esim::ProfileState;
use simrenew_core::ids::luhn_check_digit;
use simrenew_core::{Currency, Iccid, Operator, StartMode};
use simrenew_store::esim::ProfileChange;
use simrenew_store::{StoreError, testing};

fn iccids(n: usize) -> Vec<Iccid> {
    (0..n)
        .map(|i| {
            let payload = format!("897019900{:010}", 1000 + i);
            Iccid::parse(&format!("{payload}{}", luhn_check_digit(&payload))).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn import_count_and_allocate_each_profile_once_even_at_once() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let order = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        let batch = iccids(3);
        assert_eq!(
            s.import_profiles(Operator::Mts, "mts-travel", &batch)
                .await
                .unwrap(),
            (3, 0)
        );
        assert_eq!(
            s.import_profiles(Operator::Mts, "mts-travel", &batch[..1])
                .await
                .unwrap(),
            (0, 1)
        );
        assert_eq!(
            s.profile_counts().await.unwrap(),
            [("mts".to_string(), ProfileState::Available, 3)]
        );
        // Five buyers at once for three profiles: three distinct profiles, two refusals.
        let tries = (0..5).map(|_| {
            let (s, id) = (s.clone(), order.id.clone());
            tokio::spawn(async move {
                s.allocate_profile(Operator::Mts, "mts-travel", Some(&id), None)
                    .await
            })
        });
        let mut got = Vec::new();
        let mut none_left = 0;
        for t in futures::future::join_all(tries).await {
            match t.unwrap() {
                Ok(p) => got.push(p.iccid),
                Err(StoreError::NoProfileLeft { .. }) => none_left += 1,
                Err(e) => panic!("{}: {e}", db.name),
            }
        }
        got.sort();
        got.dedup();
        assert_eq!((got.len(), none_left), (3, 2), "{}", db.name);
        assert_eq!(
            s.profile_counts().await.unwrap(),
            [("mts".to_string(), ProfileState::Allocated, 3)]
        );
    }
}

#[tokio::test]
async fn a_profile_moves_forward_by_the_rules_and_each_change_is_recorded() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let order = testing::pending_month_order(&s, Currency::Rub, StartMode::Queued).await;
        s.import_profiles(Operator::Beeline, "beeline-travel", &iccids(1))
            .await
            .unwrap();
        let eid = "89049032123451234512345678901235";
        let p = s
            .allocate_profile(
                Operator::Beeline,
                "beeline-travel",
                Some(&order.id),
                Some(eid),
            )
            .await
            .unwrap();
        assert_eq!(
            (p.state, p.eid.as_deref()),
            (ProfileState::Allocated, Some(eid))
        );
        let released = ProfileChange {
            matching_id: Some("ABCDE-12345"),
            smdp_address: Some("smdp.example.com"),
            detail: Some("confirmOrder"),
            ..Default::default()
        };
        assert!(
            s.set_profile_state(&p.iccid, ProfileState::Released, &released)
                .await
                .unwrap()
        );
        // A progress notification skipping "downloaded" (lost), then a late one: ignored.
        let point = |d| ProfileChange {
            detail: Some(d),
            ..Default::default()
        };
        assert!(
            s.set_profile_state(&p.iccid, ProfileState::Installed, &point("4"))
                .await
                .unwrap()
        );
        assert!(
            !s.set_profile_state(&p.iccid, ProfileState::Downloaded, &point("3"))
                .await
                .unwrap()
        );
        assert!(
            !s.set_profile_state(&p.iccid, ProfileState::Released, &point("back"))
                .await
                .unwrap()
        );
        let now = s.esim_profile(&p.iccid).await.unwrap();
        assert_eq!(now.state, ProfileState::Installed);
        assert_eq!(now.matching_id.as_deref(), Some("ABCDE-12345"));
        let history: Vec<(String, String)> = s
            .profile_history(&p.iccid)
            .await
            .unwrap()
            .into_iter()
            .map(|(f, t, _, _)| (f, t))
            .collect();
        assert_eq!(
            history,
            [
                ("available".into(), "allocated".into()),
                ("allocated".into(), "released".into()),
                ("released".into(), "installed".into()),
            ],
            "{}",
            db.name
        );
    }
}

/// Reserves a demo eSIM number of MTS as the pages and the API do, and places its first
/// order (pending payment, paid from outside); `bind` ties the profile to the order as
/// the API does at once (the pages at payment).
async fn reserve_and_order(
    s: &simrenew_store::Store,
    bind: bool,
) -> (simrenew_store::esim::Profile, simrenew_store::orders::Order) {
    let holder = simrenew_store::esim::Holder {
        eid: Some("89049032123451234512345678901235"),
        email: Some("buyer@example.com"),
        ..Default::default()
    };
    let p = s
        .allocate_profile_for(Operator::Mts, "mts-esim", None, &holder)
        .await
        .unwrap();
    let line = simrenew_core::LineRef::Iccid(Iccid::parse(&p.iccid).unwrap());
    let order = testing::pending_month_order_for(s, line, Currency::Rub, StartMode::Queued).await;
    if bind {
        assert!(s.bind_profile_order(&p.iccid, &order.id).await.unwrap());
    }
    (p, order)
}

#[tokio::test]
async fn a_new_esim_not_paid_for_goes_back_with_its_orders_and_a_late_payment_is_held() {
    use simrenew_core::{Money, OrderStatus};
    use simrenew_store::payments::Settlement;
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        s.seed_demo_esims().await.unwrap();
        let name = db.name;

        // Reserved on the pages, its order placed, never paid: the number goes back (the
        // buyer's phone and address forgotten) and the order is cancelled.
        let (page, page_order) = reserve_and_order(&s, false).await;
        // Reserved through the API (bound to its order at once), a payment opened now: held
        // while the payment is under way.
        let (api, api_order) = reserve_and_order(&s, true).await;
        let attempt = s
            .start_payment(&api_order.id, "demo", "card")
            .await
            .unwrap();
        s.payment_pending(&attempt.id, "pay-late-1", None)
            .await
            .unwrap();
        // A third, paid for before its time is up (pages: not bound yet): it stays.
        let (paid, paid_order) = reserve_and_order(&s, false).await;
        s.settle_external(&paid_order.id, "demo", None)
            .await
            .unwrap();
        // Within their half hour nothing goes back.
        assert_eq!(s.expire_reservations(1800).await.unwrap(), 0, "{name}");

        assert_eq!(s.expire_reservations(0).await.unwrap(), 1, "{name}");
        let back = s.esim_profile(&page.iccid).await.unwrap();
        assert_eq!(
            (back.state, back.eid, back.notify_email),
            (ProfileState::Available, None, None),
            "{name}"
        );
        assert_eq!(
            s.order(&page_order.id).await.unwrap().status,
            OrderStatus::Cancelled,
            "{name}"
        );
        assert_eq!(
            s.esim_profile(&api.iccid).await.unwrap().state,
            ProfileState::Allocated,
            "{name}: a payment is under way"
        );
        assert_eq!(
            s.esim_profile(&paid.iccid).await.unwrap().state,
            ProfileState::Allocated,
            "{name}: paid for"
        );
        assert_eq!(
            s.paid_unreleased_esims(10).await.unwrap(),
            std::slice::from_ref(&paid_order.id),
            "{name}: the paid one still waits for its release"
        );

        // The payment's page was left open an hour: the number goes back, its order is
        // cancelled, and when the money comes after all it is held for refund instead of
        // renewing a number that is no longer the buyer's.
        testing::execute(
            &s,
            &format!(
                "UPDATE payments SET created_at = created_at - 3600 WHERE id = '{}'",
                attempt.id
            ),
        )
        .await
        .unwrap();
        assert_eq!(s.expire_reservations(0).await.unwrap(), 1, "{name}");
        let back = s.esim_profile(&api.iccid).await.unwrap();
        assert_eq!(
            (back.state, back.order_id),
            (ProfileState::Available, None),
            "{name}"
        );
        let late = s
            .payment_succeeded(
                "demo",
                "pay-late-1",
                Money::new(api_order.total.minor, Currency::Rub),
            )
            .await
            .unwrap();
        assert!(
            matches!(&late, Settlement::Held { reason } if reason.contains("cancelled")),
            "{name}: {late:?}"
        );
        let history: Vec<(String, String, Option<String>)> = s
            .profile_history(&api.iccid)
            .await
            .unwrap()
            .into_iter()
            .map(|(f, t, d, _)| (f, t, d))
            .collect();
        assert_eq!(
            history.last(),
            Some(&(
                "allocated".to_string(),
                "available".to_string(),
                Some("reservation expired".to_string())
            )),
            "{name}"
        );
        // A number back in stock takes no order (its old buyer's signed link, or anyone who
        // saw the number): money for it would buy nothing.
        for iccid in [&page.iccid, &api.iccid] {
            let line = simrenew_core::LineRef::Iccid(Iccid::parse(iccid).unwrap());
            let again = s
                .create_order(
                    &simrenew_store::orders::OrderRequest {
                        line,
                        items: vec![simrenew_store::orders::ItemRequest::Renew {
                            plan_id: "mts-month-30gb".into(),
                            start: StartMode::Queued,
                        }],
                        currency: Some(Currency::Rub),
                        channel: "web".into(),
                        buyer: None,
                        payment: simrenew_store::orders::Payment::External,
                        promo_code: None,
                    },
                    None,
                )
                .await;
            assert!(
                matches!(again, Err(StoreError::NotSold)),
                "{name}: {again:?}"
            );
        }
        // Nothing further goes back, and the numbers returned can be sold again.
        assert_eq!(s.expire_reservations(0).await.unwrap(), 0, "{name}");
        testing::assert_sound(&s).await;
    }
}

/// A new eSIM's order paid through a provider (as the API sells it), refundable.
async fn paid_esim(
    s: &simrenew_store::Store,
    pid: &str,
) -> (
    simrenew_store::esim::Profile,
    simrenew_store::payments::Payment,
) {
    let (p, order) = reserve_and_order(s, true).await;
    (p, testing::paid_by_card(s, &order, pid).await)
}

#[tokio::test]
async fn a_wholly_refunded_new_esim_no_phone_has_goes_back_to_stock() {
    use simrenew_store::esim::{TAKE_BACK, TakeBack};
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        s.seed_demo_esims().await.unwrap();
        let name = db.name;
        let whole = |p: &simrenew_store::payments::Payment| p.amount;

        // Never released at the SM-DP+: back at once with the refund.
        let (kept, pay) = paid_esim(&s, "esim-pay-1").await;
        let r = s
            .begin_refund(&pay.id, whole(&pay), "changed mind")
            .await
            .unwrap();
        s.complete_refund(&r.id, "rf-e1").await.unwrap();
        let back = s.esim_profile(&kept.iccid).await.unwrap();
        assert_eq!(
            (back.state, back.order_id, back.eid, back.notify_email),
            (ProfileState::Available, None, None, None),
            "{name}"
        );
        assert!(
            s.claim_due(TAKE_BACK, 10, 60).await.unwrap().is_empty(),
            "{name}: nothing to ask the SM-DP+"
        );

        // Released at the SM-DP+: the refund queues its cancellation there; until the
        // SM-DP+ has cancelled it the profile stays released (a phone could download it).
        let (released, pay) = paid_esim(&s, "esim-pay-2").await;
        s.set_profile_state(
            &released.iccid,
            ProfileState::Released,
            &ProfileChange::default(),
        )
        .await
        .unwrap();
        // A part refunded takes nothing back.
        let part = s
            .begin_refund(
                &pay.id,
                simrenew_core::Money::new(100_00, pay.amount.currency),
                "part",
            )
            .await
            .unwrap();
        s.complete_refund(&part.id, "rf-e2").await.unwrap();
        assert!(
            s.claim_due(TAKE_BACK, 10, 60).await.unwrap().is_empty(),
            "{name}: a part"
        );
        let rest = s.refundable(&pay.id).await.unwrap();
        let r = s.begin_refund(&pay.id, rest, "the rest").await.unwrap();
        s.complete_refund(&r.id, "rf-e3").await.unwrap();
        assert_eq!(
            s.esim_profile(&released.iccid).await.unwrap().state,
            ProfileState::Released,
            "{name}"
        );
        let due = s.claim_due(TAKE_BACK, 10, 60).await.unwrap();
        assert_eq!(due.len(), 1, "{name}");
        let take: TakeBack = serde_json::from_str(&due[0].payload).unwrap();
        assert_eq!(take.iccid, released.iccid);
        assert!(s.take_back_profile(&take).await.unwrap(), "{name}");
        assert!(!s.take_back_profile(&take).await.unwrap(), "{name}: once");
        let back = s.esim_profile(&released.iccid).await.unwrap();
        assert_eq!(
            (back.state, back.order_id),
            (ProfileState::Available, None),
            "{name}"
        );
        let history = s.profile_history(&released.iccid).await.unwrap();
        assert_eq!(
            history.last().map(|(f, t, _, _)| (f.as_str(), t.as_str())),
            Some(("released", "available")),
            "{name}"
        );

        // Downloaded to a phone before the refund: it stays with the buyer, nothing queued.
        let (downloaded, pay) = paid_esim(&s, "esim-pay-3").await;
        for to in [ProfileState::Released, ProfileState::Downloaded] {
            s.set_profile_state(&downloaded.iccid, to, &ProfileChange::default())
                .await
                .unwrap();
        }
        let r = s
            .begin_refund(&pay.id, whole(&pay), "refund anyway")
            .await
            .unwrap();
        s.complete_refund(&r.id, "rf-e4").await.unwrap();
        assert_eq!(
            s.esim_profile(&downloaded.iccid).await.unwrap().state,
            ProfileState::Downloaded,
            "{name}"
        );
        assert!(
            s.claim_due(TAKE_BACK, 10, 60).await.unwrap().is_empty(),
            "{name}"
        );
        testing::assert_sound(&s).await;
    }
}
