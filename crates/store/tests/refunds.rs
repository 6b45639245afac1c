//! Refunds on both databases, by the policy of simrenew_core::refund: a queued period in
//! full (and it never starts), a period under way in proportion to its data left, never
//! more than allowed, each refund's money back through balanced postings.

use simrenew_core::{Currency, LineRef, Money, StartMode};
use simrenew_store::usage::UsageEvent;
use simrenew_store::{Store, StoreError, testing};

const GB: u64 = 1 << 30;

/// A month of 30 GB for +7 916 123-45-62, paid through "yookassa" as `pid`.
async fn paid_month(s: &Store, pid: &str, start: StartMode) -> simrenew_store::payments::Payment {
    let order = testing::pending_month_order(s, Currency::Rub, start).await;
    testing::paid_by_card(s, &order, pid).await
}

#[tokio::test]
async fn refunds_follow_the_policy_and_take_back_what_they_paid_for() {
    for db in testing::all().await {
        let s = db.store.clone();
        s.seed_demo().await.unwrap();
        let rub = |m: i64| Money::new(m, Currency::Rub);
        // The month under way, a third of its data used: two thirds refundable.
        let current = paid_month(&s, "p-now", StartMode::Queued).await;
        let r = LineRef::parse("+7 916 123-45-62").unwrap();
        s.record_usage(
            &[UsageEvent {
                event_id: "u1".into(),
                line: r.clone(),
                bytes: 10 * GB,
                occurred_at: simrenew_store::db::now(),
                occurred_at_stated: true,
            }],
            None,
        )
        .await
        .unwrap();
        assert_eq!(
            s.refundable(&current.id).await.unwrap(),
            rub(500_00),
            "{}",
            db.name
        );
        // The next month, queued: all of it.
        let queued = paid_month(&s, "p-next", StartMode::Queued).await;
        assert_eq!(s.refundable(&queued.id).await.unwrap(), rub(750_00));
        let revenue_before = s.account_balance("revenue:RUB").await.unwrap();
        let world_before = s.account_balance("world:RUB").await.unwrap();
        // Too much is refused, with what is allowed.
        match s.begin_refund(&current.id, rub(500_01), "asked").await {
            Err(StoreError::RefundTooLarge { allowed, .. }) => assert_eq!(allowed, rub(500_00)),
            other => panic!("{other:?}"),
        }
        // Half of what is refundable of the current month: half its data left goes.
        let half = s
            .begin_refund(&current.id, rub(250_00), "half")
            .await
            .unwrap();
        assert_eq!(
            s.refundable(&current.id).await.unwrap(),
            rub(250_00),
            "pending counts"
        );
        s.complete_refund(&half.id, "rf-1").await.unwrap();
        s.complete_refund(&half.id, "rf-1").await.unwrap(); // twice: once
        let line = s.find_line(&r).await.unwrap();
        let d = s.line_detail(&line).await.unwrap();
        let now_left: u64 = d
            .buckets
            .iter()
            .filter(|b| b.valid_from <= d.as_of)
            .map(|b| b.remaining_bytes)
            .sum();
        assert_eq!(
            now_left,
            10 * GB,
            "{}: 20 GB left, half taken back",
            db.name
        );
        assert_eq!(s.refundable(&current.id).await.unwrap(), rub(250_00));
        // The queued month in full: it never starts, the line's queue ends with the current one.
        let all = s
            .begin_refund(&queued.id, rub(750_00), "changed plans")
            .await
            .unwrap();
        s.complete_refund(&all.id, "rf-2").await.unwrap();
        let d = s.line_detail(&line).await.unwrap();
        assert_eq!(d.periods.len(), 1, "only the current month remains");
        assert_eq!(s.refundable(&queued.id).await.unwrap(), rub(0));
        // A refused refund frees its amount again.
        let refused = s
            .begin_refund(&current.id, rub(100_00), "try")
            .await
            .unwrap();
        s.fail_refund(&refused.id).await.unwrap();
        assert_eq!(s.refundable(&current.id).await.unwrap(), rub(250_00));
        // 1,000 roubles went from revenue back to the world, as a balanced transfer.
        let revenue = s.account_balance("revenue:RUB").await.unwrap().minor - revenue_before.minor;
        let world = s.account_balance("world:RUB").await.unwrap().minor - world_before.minor;
        assert_eq!(revenue.abs(), 1000_00, "{}", db.name);
        assert_eq!(world, -revenue);
        testing::assert_sound(&s).await;
    }
}
