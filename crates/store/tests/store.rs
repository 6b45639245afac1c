//! The store's services on both databases: renewals, add-ons, top-ups, balances, usage,
//! and the ledger staying balanced through all of them.

use simrenew_core::{
    Currency, DataAllowance, FxRate, LineRef, Money, Operator, OrderStatus, RenewalError, StartMode,
};
use simrenew_store::demo::demo_iccid;
use simrenew_store::lines::NewLine;
use simrenew_store::orders::{ItemRequest, OrderRequest, Payment};
use simrenew_store::usage::UsageEvent;
use simrenew_store::{Store, StoreError, testing};
use time::{Duration, OffsetDateTime};

const GB: u64 = 1 << 30;

struct Fixture {
    line: LineRef,
    line_id: String,
    user: String,
}

/// A line with a catalog, an owner (by PUK) and `balance` kopecks on it.
async fn fixture(store: &Store, n: u64, balance: i64) -> Fixture {
    if store.is_empty().await.unwrap() {
        for (i, p) in simrenew_store::demo::demo_plans().iter().enumerate() {
            store.upsert_plan(p, i as i64).await.unwrap();
        }
    }
    let iccid = demo_iccid(Operator::Mts, 500 + n);
    let msisdn = simrenew_core::Msisdn::parse(&format!("+7916555{n:04}")).unwrap();
    let line = store
        .create_line(&NewLine {
            operator: Operator::Mts,
            kind: "physical".into(),
            iccid: iccid.clone(),
            imsi: None,
            msisdn,
            puk: Some("11223344".into()),
            currency: Currency::Rub,
        })
        .await
        .unwrap();
    let user = store
        .sign_up(&format!("u{n}@example.cn"), "correct horse", None)
        .await
        .unwrap();
    let r = LineRef::Iccid(iccid);
    store.attach_line(&user.id, &r, "1122 3344").await.unwrap();
    if balance > 0 {
        store
            .adjust_balance(&line.id, Money::new(balance, Currency::Rub), "test", "test")
            .await
            .unwrap();
    }
    Fixture {
        line: r,
        line_id: line.id,
        user: user.id,
    }
}

fn renew(f: &Fixture, plan: &str, start: StartMode) -> OrderRequest {
    OrderRequest {
        line: f.line.clone(),
        items: vec![ItemRequest::Renew {
            plan_id: plan.into(),
            start,
        }],
        currency: None,
        channel: "app".into(),
        buyer: Some(f.user.clone()),
        payment: Payment::Balance,
        promo_code: None,
    }
}

async fn assert_ledger_sound(store: &Store) {
    let check = store.check_ledger().await.unwrap();
    assert!(check.is_sound(), "ledger unsound: {check:?}");
    let orders = store.check_orders().await.unwrap();
    assert!(orders.is_sound(), "orders unsound: {orders:?}");
}

fn near_now(t: OffsetDateTime) -> bool {
    (t - OffsetDateTime::now_utc()).abs() < Duration::seconds(5)
}

#[tokio::test]
async fn renewal_from_balance_takes_effect_at_once_and_queues_the_next() {
    for db in testing::all().await {
        let s = &db.store;
        let f = fixture(s, 1, 2000_00).await;
        let first = s
            .create_order(&renew(&f, "mts-month-30gb", StartMode::Queued), None)
            .await
            .unwrap();
        assert_eq!(first.status, OrderStatus::Fulfilled, "{}", db.name);
        assert_eq!(first.payment_method.as_deref(), Some("balance"));
        let item = &first.items[0];
        assert!(
            near_now(item.valid_from.unwrap()),
            "an idle line starts now"
        );
        let line = s.line(&f.line_id).await.unwrap();
        let detail = s.line_detail(&line).await.unwrap();
        assert_eq!(detail.balance, Money::new(1250_00, Currency::Rub));
        assert_eq!(detail.data_left_bytes(), 30 * GB);
        assert_eq!(detail.periods.len(), 1);

        let second = s
            .create_order(&renew(&f, "mts-week-10gb", StartMode::Queued), None)
            .await
            .unwrap();
        assert_eq!(
            second.items[0].valid_from, item.valid_until,
            "queued right after the current period"
        );
        assert_eq!(
            second.items[0].valid_until.unwrap() - second.items[0].valid_from.unwrap(),
            Duration::days(7)
        );
        let detail = s.line_detail(&line).await.unwrap();
        assert_eq!(detail.balance.minor, 1250_00 - 390_00);
        // The queued bucket is not live yet.
        assert_eq!(detail.data_left_bytes(), 30 * GB);
        assert_eq!(detail.buckets.len(), 2);
        assert_ledger_sound(s).await;
    }
}

#[tokio::test]
async fn start_now_keeps_old_data_until_its_own_end() {
    for db in testing::all().await {
        let s = &db.store;
        let f = fixture(s, 2, 3000_00).await;
        let month = s
            .create_order(&renew(&f, "mts-month-30gb", StartMode::Queued), None)
            .await
            .unwrap();
        let now = s
            .create_order(&renew(&f, "mts-day-unlim", StartMode::Now), None)
            .await
            .unwrap();
        assert!(near_now(now.items[0].valid_from.unwrap()));
        let detail = s
            .line_detail(&s.line(&f.line_id).await.unwrap())
            .await
            .unwrap();
        assert_eq!(
            detail.data_left_bytes(),
            30 * GB + 5 * GB,
            "{}: both buckets live",
            db.name
        );
        let month_bucket = detail
            .buckets
            .iter()
            .find(|b| b.initial_bytes == 30 * GB)
            .unwrap();
        assert_eq!(Some(month_bucket.valid_until), month.items[0].valid_until);
        assert!(detail.buckets.iter().any(|b| b.unlimited));
    }
}

#[tokio::test]
async fn addon_ends_with_current_period_and_needs_one() {
    for db in testing::all().await {
        let s = &db.store;
        let f = fixture(s, 3, 3000_00).await;
        let addon = OrderRequest {
            items: vec![ItemRequest::AddOn {
                plan_id: "mts-addon-5gb".into(),
            }],
            ..renew(&f, "x", StartMode::Queued)
        };
        let err = s.create_order(&addon, None).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Renewal(RenewalError::NoActivePeriod)),
            "{}: {err}",
            db.name
        );
        let month = s
            .create_order(&renew(&f, "mts-month-30gb", StartMode::Queued), None)
            .await
            .unwrap();
        let order = s.create_order(&addon, None).await.unwrap();
        assert_eq!(order.items[0].valid_until, month.items[0].valid_until);
        assert_eq!(order.items[0].data_bytes, Some(5 * GB));
    }
}

#[tokio::test]
async fn short_balance_changes_nothing_and_says_what_is_missing() {
    for db in testing::all().await {
        let s = &db.store;
        let f = fixture(s, 4, 500_00).await;
        let err = s
            .create_order(&renew(&f, "mts-month-30gb", StartMode::Queued), None)
            .await
            .unwrap_err();
        match err {
            StoreError::InsufficientBalance {
                needed,
                available,
                missing,
            } => {
                assert_eq!(needed, Money::new(750_00, Currency::Rub));
                assert_eq!(available, Money::new(500_00, Currency::Rub));
                assert_eq!(missing, Money::new(250_00, Currency::Rub));
            }
            other => panic!("{}: {other}", db.name),
        }
        assert!(
            s.orders_of_line(&f.line_id, 10).await.unwrap().is_empty(),
            "no half-made order"
        );
        let detail = s
            .line_detail(&s.line(&f.line_id).await.unwrap())
            .await
            .unwrap();
        assert_eq!(detail.balance.minor, 500_00);
        assert!(detail.buckets.is_empty());
        assert_ledger_sound(s).await;
    }
}

#[tokio::test]
async fn wrong_operator_suspended_line_and_strangers_are_refused() {
    for db in testing::all().await {
        let s = &db.store;
        let f = fixture(s, 5, 3000_00).await;
        let err = s
            .create_order(&renew(&f, "beeline-month-30gb", StartMode::Queued), None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Renewal(RenewalError::OperatorMismatch { .. })
            ),
            "{err}"
        );
        let stranger = OrderRequest {
            buyer: Some("someone-else".into()),
            ..renew(&f, "mts-month-30gb", StartMode::Queued)
        };
        assert!(matches!(
            s.create_order(&stranger, None).await,
            Err(StoreError::NotOwner)
        ));
        let anonymous = OrderRequest {
            buyer: None,
            ..renew(&f, "mts-month-30gb", StartMode::Queued)
        };
        assert!(matches!(
            s.create_order(&anonymous, None).await,
            Err(StoreError::NotOwner)
        ));
        s.set_line_status(&f.line_id, "suspended", "test")
            .await
            .unwrap();
        assert!(matches!(
            s.create_order(&renew(&f, "mts-month-30gb", StartMode::Queued), None)
                .await,
            Err(StoreError::LineSuspended)
        ));
    }
}

#[tokio::test]
async fn anonymous_order_waits_then_settles_once_with_fx_top_up() {
    for db in testing::all().await {
        let s = db.store.clone().with_fx_rates(vec![
            FxRate::parse(Currency::Cny, Currency::Rub, "12.5").unwrap(),
        ]);
        let f = fixture(&s, 6, 0).await;
        let req = OrderRequest {
            line: f.line.clone(),
            items: vec![
                ItemRequest::TopUp {
                    amount_minor: 100_00,
                },
                ItemRequest::Renew {
                    plan_id: "mts-month-30gb".into(),
                    start: StartMode::Queued,
                },
            ],
            currency: Some(Currency::Cny),
            channel: "web".into(),
            buyer: None,
            payment: Payment::External,
            promo_code: None,
        };
        let quote = s.quote(&req).await.unwrap();
        assert_eq!(
            quote.items[0].credit,
            Some(Money::new(1250_00, Currency::Rub))
        );
        assert_eq!(
            quote.total,
            Money::new(160_00, Currency::Cny),
            "100 CNY top-up + 60 CNY plan"
        );
        let order = s.create_order(&req, None).await.unwrap();
        assert_eq!(order.status, OrderStatus::PendingPayment);
        assert_eq!(
            order.items[0].fx_rate.as_deref(),
            Some("12.5"),
            "the rate is recorded on the order"
        );
        assert!(
            order.items[1].valid_from.is_none(),
            "nothing granted before payment"
        );
        let paid = s.settle_external(&order.id, "alipay", None).await.unwrap();
        assert_eq!(paid.status, OrderStatus::Fulfilled);
        let again = s
            .settle_external(&order.id, "alipay", None)
            .await
            .unwrap_err();
        assert!(
            matches!(again, StoreError::OrderNotPending(OrderStatus::Fulfilled)),
            "{again}"
        );
        let detail = s
            .line_detail(&s.line(&f.line_id).await.unwrap())
            .await
            .unwrap();
        assert_eq!(detail.balance, Money::new(1250_00, Currency::Rub));
        assert_eq!(detail.buckets.len(), 1, "fulfilled exactly once");
        assert_eq!(
            s.account_balance("revenue:CNY").await.unwrap(),
            Money::new(60_00, Currency::Cny)
        );
        assert_ledger_sound(&s).await;
        // Paying a top-up from the balance it tops up makes no sense.
        let bad = OrderRequest {
            buyer: Some(f.user.clone()),
            payment: Payment::Balance,
            promo_code: None,
            currency: None,
            items: vec![ItemRequest::TopUp { amount_minor: 1 }],
            ..req
        };
        assert!(matches!(
            s.create_order(&bad, None).await,
            Err(StoreError::Invalid { .. })
        ));
    }
}

#[tokio::test]
async fn usage_draws_earliest_expiry_first_once_per_event() {
    for db in testing::all().await {
        let s = &db.store;
        let f = fixture(s, 7, 3000_00).await;
        s.create_order(&renew(&f, "mts-month-30gb", StartMode::Queued), None)
            .await
            .unwrap();
        let addon = OrderRequest {
            items: vec![ItemRequest::AddOn {
                plan_id: "mts-addon-1gb".into(),
            }],
            ..renew(&f, "x", StartMode::Queued)
        };
        s.create_order(&addon, None).await.unwrap();
        let at = OffsetDateTime::now_utc();
        let ev = |id: &str, bytes| UsageEvent {
            event_id: id.into(),
            line: f.line.clone(),
            bytes,
            occurred_at: at,
            occurred_at_stated: true,
        };
        let r = s.record_usage(&[ev("e1", 2 * GB)], None).await.unwrap();
        assert_eq!(
            (r[0].recorded, r[0].drawn_bytes, r[0].overage_bytes),
            (true, 2 * GB, 0)
        );
        let again = s.record_usage(&[ev("e1", 2 * GB)], None).await.unwrap();
        assert!(
            !again[0].recorded,
            "{}: a repeated event is not drawn twice",
            db.name
        );
        let detail = s
            .line_detail(&s.line(&f.line_id).await.unwrap())
            .await
            .unwrap();
        assert_eq!(detail.data_left_bytes(), 31 * GB - 2 * GB);
        // The add-on ends with the month, the month bucket too: same expiry, so the
        // add-on (higher priority) went first.
        let addon_bucket = detail.buckets.iter().find(|b| b.kind == "addon").unwrap();
        assert_eq!(addon_bucket.remaining_bytes, 0);
        assert!(matches!(
            s.record_usage(&[ev("e1", 5)], None).await,
            Err(StoreError::UsageEventConflict(_))
        ));
        let r = s.record_usage(&[ev("e2", 40 * GB)], None).await.unwrap();
        assert_eq!(
            (r[0].drawn_bytes, r[0].overage_bytes),
            (29 * GB, 11 * GB),
            "overage recorded, not lost"
        );
        let detail = s
            .line_detail(&s.line(&f.line_id).await.unwrap())
            .await
            .unwrap();
        assert_eq!(detail.data_left_bytes(), 0);
        assert!(detail.line.usage_as_of.is_some());
    }
}

#[tokio::test]
async fn balance_pays_only_once_under_concurrency() {
    for db in testing::all().await {
        let s = db.store.clone();
        let f = fixture(&s, 8, 750_00).await;
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (s, req) = (s.clone(), renew(&f, "mts-month-30gb", StartMode::Queued));
            tasks.push(tokio::spawn(
                async move { s.create_order(&req, None).await },
            ));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(o) => {
                    assert_eq!(o.status, OrderStatus::Fulfilled);
                    ok += 1;
                }
                Err(StoreError::InsufficientBalance { missing, .. }) => {
                    assert_eq!(missing.minor, 750_00)
                }
                Err(e) => panic!("{}: unexpected {e}", db.name),
            }
        }
        assert_eq!(ok, 1, "{}: exactly one renewal is paid", db.name);
        let detail = s
            .line_detail(&s.line(&f.line_id).await.unwrap())
            .await
            .unwrap();
        assert_eq!(detail.balance.minor, 0);
        assert_eq!(detail.periods.len(), 1);
        assert_ledger_sound(&s).await;
    }
}

#[tokio::test]
async fn accounts_and_line_ownership() {
    for db in testing::all().await {
        let s = &db.store;
        let f = fixture(s, 9, 0).await;
        assert!(matches!(
            s.sign_up("U9@example.cn", "another pass", None).await,
            Err(StoreError::EmailTaken)
        ));
        assert!(matches!(
            s.sign_up("x@example.cn", "short", None).await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            s.sign_in("u9@example.cn", "wrong password").await,
            Err(StoreError::BadCredentials)
        ));
        assert!(matches!(
            s.sign_in("nobody@example.cn", "correct horse").await,
            Err(StoreError::BadCredentials)
        ));
        let (token, user) = s.sign_in("u9@example.cn", "correct horse").await.unwrap();
        assert_eq!(user.id, f.user);
        assert_eq!(
            s.user_by_token(&token).await.unwrap().map(|u| u.id),
            Some(f.user.clone())
        );
        assert_eq!(s.lines_of_user(&f.user).await.unwrap().len(), 1);
        let other = s
            .sign_up("other@example.cn", "correct horse", None)
            .await
            .unwrap();
        assert!(matches!(
            s.attach_line(&other.id, &f.line, "11223344").await,
            Err(StoreError::LineAlreadyAttached)
        ));
        s.sign_out(&token).await.unwrap();
        assert_eq!(s.user_by_token(&token).await.unwrap(), None);
        // A second line, proven with a wrong PUK, stays unattached.
        let g = demo_iccid(Operator::Mts, 999);
        s.create_line(&NewLine {
            operator: Operator::Mts,
            kind: "esim".into(),
            iccid: g.clone(),
            imsi: None,
            msisdn: simrenew_core::Msisdn::parse("9160000999").unwrap(),
            puk: Some("87654321".into()),
            currency: Currency::Rub,
        })
        .await
        .unwrap();
        assert!(matches!(
            s.attach_line(&other.id, &LineRef::Iccid(g), "12345678")
                .await,
            Err(StoreError::WrongPuk)
        ));
    }
}

#[tokio::test]
async fn demo_seed_and_bulk_lines_keep_the_ledger_sound() {
    for db in testing::all().await {
        let s = &db.store;
        let info = s.seed_demo().await.unwrap();
        assert!(info.seeded);
        assert_eq!(info.lines.len(), 20);
        assert!(
            !s.seed_demo().await.unwrap().seeded,
            "seeding twice does nothing"
        );
        s.generate_lines(450, |_| {}).await.unwrap();
        let (_, bench) = s
            .sign_in(
                simrenew_store::demo::BENCH_EMAIL,
                simrenew_store::demo::BENCH_PASSWORD,
            )
            .await
            .unwrap();
        assert_eq!(s.lines_of_user(&bench.id).await.unwrap().len(), 450);
        assert_ledger_sound(s).await;
        let plans = s.list_plans(&Default::default()).await.unwrap();
        assert_eq!(plans.len(), 32);
    }
}

#[tokio::test]
async fn housekeeping_purges_expired_sessions_and_old_idempotency_keys() {
    use simrenew_store::idempotency::{Idem, IdemClaim};
    for db in testing::all().await {
        let s = &db.store;
        let f = fixture(s, 10, 1000_00).await;
        let (token, _) = s.sign_in("u10@example.cn", "correct horse").await.unwrap();
        let claim = IdemClaim {
            scope: "user:x".into(),
            key: "k".into(),
            request_hash: "h".into(),
        };
        let render = |_: &simrenew_store::orders::Order| (201u16, "{}".to_string());
        s.create_order(
            &renew(&f, "mts-day-unlim", StartMode::Queued),
            Some(&Idem {
                claim: &claim,
                render: &render,
            }),
        )
        .await
        .unwrap();
        assert_eq!(
            s.purge_expired().await.unwrap(),
            (0, 0),
            "{}: nothing is old yet",
            db.name
        );
        assert!(s.stored_response("user:x", "k").await.unwrap().is_some());
        // Age both by hand, as a day and a month would.
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        sqlx::query("UPDATE sessions SET expires_at = 0")
            .execute(&raw)
            .await
            .unwrap();
        sqlx::query("UPDATE idempotency_keys SET created_at = 0")
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
        assert_eq!(s.purge_expired().await.unwrap(), (1, 1));
        assert_eq!(s.user_by_token(&token).await.unwrap(), None);
        assert!(s.stored_response("user:x", "k").await.unwrap().is_none());
    }
}

mod promotions {
    //! Promo codes and campaigns through the store's one pricing path, on both databases.
    use super::*;
    use simrenew_core::Localized;
    use simrenew_core::promotion::{CodeRefusal, Discount, PromoCode, Promotion};

    fn promotion(code: Option<&str>, discount: Discount) -> Promotion {
        let now = OffsetDateTime::now_utc();
        Promotion {
            id: String::new(),
            code: code.map(|c| PromoCode::parse(c).unwrap()),
            names: Localized::new("Chinese New Year", "Китайский Новый год", "春节"),
            discount,
            starts_at: now - Duration::days(1),
            ends_at: now + Duration::days(10),
            plans: vec![],
            channels: vec![],
            per_customer_limit: None,
            total_limit: None,
        }
    }

    /// Two lines with money, and a code only one use of which may ever be made.
    async fn two_buyers_and_a_code_for_one(s: &Store, code: &str) -> (Fixture, Fixture) {
        let a = fixture(s, 64, 5000_00).await;
        let b = fixture(s, 65, 5000_00).await;
        let p = Promotion {
            total_limit: Some(1),
            ..promotion(Some(code), Discount::percent(10).unwrap())
        };
        s.add_promotion("test", &p).await.unwrap();
        (a, b)
    }

    fn with_code(f: &Fixture, plan: &str, code: &str) -> OrderRequest {
        OrderRequest {
            promo_code: Some(PromoCode::parse(code).unwrap()),
            ..renew(f, plan, StartMode::Queued)
        }
    }

    #[tokio::test]
    async fn a_campaign_and_a_code_price_orders_and_the_lower_wins() {
        for db in testing::all().await {
            let s = &db.store;
            let f = fixture(s, 60, 5000_00).await;
            s.add_promotion("test", &promotion(None, Discount::percent(20).unwrap()))
                .await
                .unwrap();
            let code = Promotion {
                plans: vec!["mts-month-30gb".into()],
                ..promotion(
                    Some("save300"),
                    Discount::fixed(Money::new(300_00, Currency::Rub)).unwrap(),
                )
            };
            let code_id = s.add_promotion("test", &code).await.unwrap();
            // The campaign alone: 750 → 600 on the month, 390 → 312 on the week.
            let month = s
                .create_order(&renew(&f, "mts-month-30gb", StartMode::Queued), None)
                .await
                .unwrap();
            assert_eq!(month.total.minor, 600_00, "{}", db.name);
            assert_eq!(month.items[0].list_price.minor, 750_00);
            // The code takes 300 off the month: 450 beats the campaign's 600.
            let coded = s
                .create_order(&with_code(&f, "mts-month-30gb", "SAVE300"), None)
                .await
                .unwrap();
            assert_eq!(coded.total.minor, 450_00, "{}", db.name);
            assert_eq!(
                coded.items[0].promotion_id.as_deref(),
                Some(code_id.as_str())
            );
            // The week is not the code's plan: refused, nothing charged.
            let before = s
                .line_detail(&s.line(&f.line_id).await.unwrap())
                .await
                .unwrap()
                .balance;
            let err = s
                .create_order(&with_code(&f, "mts-week-10gb", "save300"), None)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    StoreError::PromoCode {
                        refusal: CodeRefusal::NotApplicable,
                        ..
                    }
                ),
                "{err:?}"
            );
            let err = s
                .create_order(&with_code(&f, "mts-week-10gb", "NOSUCH"), None)
                .await
                .unwrap_err();
            assert!(matches!(
                err,
                StoreError::PromoCode {
                    refusal: CodeRefusal::Unknown,
                    ..
                }
            ));
            let after = s
                .line_detail(&s.line(&f.line_id).await.unwrap())
                .await
                .unwrap()
                .balance;
            assert_eq!(before, after, "a refused code charges nothing");
            // The order read back keeps its prices after the campaign ends.
            for p in s.promotions().await.unwrap() {
                s.end_promotion("test", &p.promotion.id).await.unwrap();
            }
            let again = s.order(&month.id).await.unwrap();
            assert_eq!(again.total.minor, 600_00);
            assert_eq!(again.items[0].list_price.minor, 750_00);
            let full = s
                .create_order(&renew(&f, "mts-week-10gb", StartMode::Queued), None)
                .await
                .unwrap();
            assert_eq!(full.total.minor, 390_00, "ended: the list price");
            let err = s
                .create_order(&with_code(&f, "mts-month-30gb", "SAVE300"), None)
                .await
                .unwrap_err();
            assert!(matches!(
                err,
                StoreError::PromoCode {
                    refusal: CodeRefusal::NotRunning,
                    ..
                }
            ));
            assert_ledger_sound(s).await;
        }
    }

    #[tokio::test]
    async fn limits_per_customer_and_in_all_hold() {
        for db in testing::all().await {
            let s = &db.store;
            let a = fixture(s, 61, 5000_00).await;
            let b = fixture(s, 62, 5000_00).await;
            let c = fixture(s, 63, 5000_00).await;
            let p = Promotion {
                per_customer_limit: Some(1),
                total_limit: Some(2),
                ..promotion(Some("ONCE"), Discount::percent(50).unwrap())
            };
            s.add_promotion("test", &p).await.unwrap();
            let first = s
                .create_order(&with_code(&a, "mts-week-10gb", "ONCE"), None)
                .await
                .unwrap();
            assert_eq!(first.total.minor, 195_00, "{}", db.name);
            let err = s
                .create_order(&with_code(&a, "mts-week-10gb", "ONCE"), None)
                .await
                .unwrap_err();
            assert!(
                matches!(err, StoreError::PromotionUsedByCustomer { limit: 1, .. }),
                "{err:?}"
            );
            s.create_order(&with_code(&b, "mts-week-10gb", "ONCE"), None)
                .await
                .unwrap();
            let err = s
                .create_order(&with_code(&c, "mts-week-10gb", "ONCE"), None)
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::PromotionUsedUp { .. }), "{err:?}");
            assert_eq!(s.promotions().await.unwrap()[0].redeemed, 2);
            assert_ledger_sound(s).await;
        }
    }

    #[tokio::test]
    async fn an_order_left_unpaid_is_cancelled_and_gives_its_code_back() {
        for db in testing::all().await {
            let s = &db.store;
            let (a, b) = two_buyers_and_a_code_for_one(s, "LAST").await;
            let unpaid = OrderRequest {
                payment: Payment::External,
                ..with_code(&a, "mts-week-10gb", "LAST")
            };
            let abandoned = s.create_order(&unpaid, None).await.unwrap();
            assert_eq!(abandoned.status, OrderStatus::PendingPayment);
            let err = s
                .create_order(&with_code(&b, "mts-week-10gb", "LAST"), None)
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::PromotionUsedUp { .. }), "{err:?}");
            // Another unpaid order whose payment was started after the cutoff: kept.
            let paying = s
                .create_order(
                    &OrderRequest {
                        payment: Payment::External,
                        ..renew(&b, "mts-week-10gb", StartMode::Queued)
                    },
                    None,
                )
                .await
                .unwrap();
            let cutoff = paying.created_at + Duration::seconds(1);
            while OffsetDateTime::now_utc() < cutoff {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            s.start_payment(&paying.id, "yookassa", "bank_card")
                .await
                .unwrap();
            // Nothing is older than an hour ago.
            let hour_ago = OffsetDateTime::now_utc() - Duration::hours(1);
            assert_eq!(s.cancel_unpaid_orders(hour_ago).await.unwrap(), 0);
            assert_eq!(
                s.cancel_unpaid_orders(cutoff).await.unwrap(),
                1,
                "{}",
                db.name
            );
            assert_eq!(
                s.order(&abandoned.id).await.unwrap().status,
                OrderStatus::Cancelled
            );
            assert_eq!(
                s.order(&paying.id).await.unwrap().status,
                OrderStatus::PendingPayment
            );
            // The code is free again, and a second sweep finds nothing.
            assert_eq!(s.promotions().await.unwrap()[0].redeemed, 0, "{}", db.name);
            let second = s
                .create_order(&with_code(&b, "mts-week-10gb", "LAST"), None)
                .await
                .unwrap();
            assert_eq!(second.status, OrderStatus::Fulfilled);
            assert_eq!(s.cancel_unpaid_orders(cutoff).await.unwrap(), 0);
            assert_ledger_sound(s).await;
        }
    }

    #[tokio::test]
    async fn the_last_use_of_a_code_goes_to_one_of_two_buyers_at_once() {
        for db in testing::all().await {
            let s = &db.store;
            let (a, b) = two_buyers_and_a_code_for_one(s, "LAST-ONE").await;
            let (ra, rb) = (
                with_code(&a, "mts-week-10gb", "LAST-ONE"),
                with_code(&b, "mts-week-10gb", "LAST-ONE"),
            );
            let (x, y) = tokio::join!(s.create_order(&ra, None), s.create_order(&rb, None));
            let ok = [&x, &y].iter().filter(|r| r.is_ok()).count();
            assert_eq!(ok, 1, "{}: {x:?} / {y:?}", db.name);
            assert_eq!(s.promotions().await.unwrap()[0].redeemed, 1);
            assert_ledger_sound(s).await;
        }
    }

    #[tokio::test]
    async fn a_promotion_is_checked_and_audited_when_added() {
        for db in testing::all().await {
            let s = &db.store;
            fixture(s, 66, 0).await;
            let bad = Promotion {
                plans: vec!["no-such-plan".into()],
                ..promotion(None, Discount::percent(10).unwrap())
            };
            let err = s.add_promotion("staff:a@x", &bad).await.unwrap_err();
            assert!(matches!(err, StoreError::Invalid { ref field, .. } if field == "plans"));
            let p = promotion(Some("DUP"), Discount::percent(10).unwrap());
            s.add_promotion("staff:a@x", &p).await.unwrap();
            // One not started yet, ended early, never runs: not now, not at its old start.
            let later = Promotion {
                starts_at: OffsetDateTime::now_utc() + Duration::days(3),
                ends_at: OffsetDateTime::now_utc() + Duration::days(9),
                ..promotion(None, Discount::percent(30).unwrap())
            };
            let id = s.add_promotion("staff:b@x", &later).await.unwrap();
            s.end_promotion("staff:b@x", &id).await.unwrap();
            let ended = s.promotions().await.unwrap();
            let ended = &ended
                .iter()
                .find(|r| r.promotion.id == id)
                .unwrap()
                .promotion;
            assert!(
                ended.ends_at <= OffsetDateTime::now_utc(),
                "{}: {ended:?}",
                db.name
            );
            assert!(ended.starts_at < ended.ends_at);
            assert!(
                s.running_campaigns(later.starts_at)
                    .await
                    .unwrap()
                    .is_empty()
            );
            let err = s.add_promotion("staff:a@x", &p).await.unwrap_err();
            assert!(matches!(err, StoreError::Invalid { ref field, .. } if field == "code"));
            let audit = s.audit_entries(10, Some("staff:a@x")).await.unwrap();
            assert_eq!(
                audit.iter().filter(|e| e.action == "promotion.add").count(),
                1,
                "{}",
                db.name
            );
        }
    }
}

#[tokio::test]
async fn the_renewal_rate_counts_periods_ended_and_those_the_line_renewed() {
    for db in testing::all().await {
        let s = &db.store;
        let renewed = fixture(s, 70, 5000_00).await;
        let lapsed = fixture(s, 71, 5000_00).await;
        // Both lines buy a week now; only the first queues a second week after it.
        for f in [&renewed, &lapsed] {
            s.create_order(&renew(f, "mts-week-10gb", StartMode::Queued), None)
                .await
                .unwrap();
        }
        s.create_order(&renew(&renewed, "mts-week-10gb", StartMode::Queued), None)
            .await
            .unwrap();
        let now = OffsetDateTime::now_utc();
        let week1 = s
            .renewal_rate(now + Duration::days(6), now + Duration::days(8))
            .await
            .unwrap();
        assert_eq!(week1.len(), 1, "{}: {week1:?}", db.name);
        assert_eq!(
            (week1[0].operator.as_str(), week1[0].ended, week1[0].renewed),
            ("mts", 2, 1),
            "{}",
            db.name
        );
        assert_eq!(week1[0].percent(), Some(50));
        // The second week ends with nothing after it.
        let week2 = s
            .renewal_rate(now + Duration::days(13), now + Duration::days(15))
            .await
            .unwrap();
        assert_eq!((week2[0].ended, week2[0].renewed), (1, 0));
        assert_eq!(week2[0].percent(), Some(0));
        // Nothing ended in the past hour.
        let none = s.renewal_rate(now - Duration::hours(1), now).await.unwrap();
        assert!(none.is_empty(), "{none:?}");
    }
}

#[tokio::test]
async fn a_catalog_edit_or_retirement_changes_no_order_already_placed() {
    for db in testing::all().await {
        let s = &db.store;
        for p in simrenew_store::demo::demo_plans() {
            p.check().unwrap();
        }
        let f = fixture(s, 80, 0).await;
        // A traveller orders the 30 GB month to pay by card later.
        let mut req = renew(&f, "mts-month-30gb", StartMode::Queued);
        req.payment = Payment::External;
        req.buyer = None;
        let placed = s.create_order(&req, None).await.unwrap();
        let mut plan = s.plan("mts-month-30gb").await.unwrap();
        let (old_bytes, old_price) = (plan.data.bucket_bytes(), plan.price(Currency::Rub).unwrap());
        // The back office then doubles the price, halves the data and renames it ...
        plan.data = DataAllowance::Bytes {
            bytes: old_bytes / 2,
        };
        plan.prices.insert(Currency::Rub, old_price.minor * 2);
        plan.names = simrenew_core::Localized::new("Half month", "Пол-месяца", "半月");
        s.save_plan("staff:olga", &plan, 3, false, None)
            .await
            .unwrap();
        assert_eq!(
            s.plan("mts-month-30gb").await.unwrap().price(Currency::Rub),
            Some(Money::new(old_price.minor * 2, Currency::Rub)),
            "{}: the catalog changed",
            db.name
        );
        // ... and stops selling it.
        s.set_plan_active("staff:olga", "mts-month-30gb", false)
            .await
            .unwrap();
        assert!(matches!(
            s.plan("mts-month-30gb").await,
            Err(StoreError::PlanNotFound(_))
        ));
        let refused = s.create_order(&req, None).await.unwrap_err();
        assert!(
            matches!(refused, StoreError::PlanNotFound(_)),
            "{}: a retired plan is not sold: {refused}",
            db.name
        );
        // The order placed before is paid and brings what it was placed for.
        let paid = s.settle_external(&placed.id, "alipay", None).await.unwrap();
        assert_eq!(paid.total, old_price, "{}", db.name);
        assert_eq!(paid.items[0].data_bytes, Some(old_bytes), "{}", db.name);
        let terms = paid.items[0].terms.as_ref().unwrap();
        assert_eq!(
            terms.names.get(simrenew_core::Locale::En),
            "MTS Month 30 GB"
        );
        let detail = s
            .line_detail(&s.line(&f.line_id).await.unwrap())
            .await
            .unwrap();
        assert_eq!(detail.buckets.len(), 1);
        assert_eq!(detail.buckets[0].remaining_bytes, old_bytes, "{}", db.name);
        // Selling it again sells the edited terms; the audit log has each change.
        s.set_plan_active("staff:olga", "mts-month-30gb", true)
            .await
            .unwrap();
        let q = s.quote(&req).await.unwrap();
        assert_eq!(q.items[0].data_bytes, Some(old_bytes / 2));
        let log = s.audit_entries(10, Some("staff:olga")).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["plan.restore", "plan.retire", "plan.change"],
            "{}",
            db.name
        );
        assert!(
            log[2]
                .before
                .as_deref()
                .unwrap()
                .contains("\"MTS Month 30 GB\"")
        );
        assert!(log[2].after.as_deref().unwrap().contains("\"Half month\""));
        // An edit may not move a plan to another operator, nor take an id in use.
        plan.operator = Operator::Beeline;
        let e = s
            .save_plan("staff:olga", &plan, 3, false, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid { field, .. } if field == "operator"),
            "{e}"
        );
        plan.operator = Operator::Mts;
        let e = s
            .save_plan("staff:olga", &plan, 3, true, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid { field, .. } if field == "id"),
            "{e}"
        );
        plan.prices.clear();
        let e = s
            .save_plan("staff:olga", &plan, 3, false, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid { field, .. } if field == "prices"),
            "{e}"
        );
        assert_ledger_sound(s).await;
    }
}

#[tokio::test]
async fn a_partner_deposit_pays_the_wholesale_price_or_retail_when_lower() {
    use simrenew_core::Localized;
    use simrenew_core::promotion::{Discount, Promotion};
    use simrenew_store::partners::WholesalePrice;
    for db in testing::all().await {
        let s = &db.store;
        let f = fixture(s, 70, 0).await;
        let p = s
            .add_partner("test", "Seller", "pk_seller", "sealed", &["orders:write"])
            .await
            .unwrap();
        s.credit_partner(
            "test",
            "pk_seller",
            Money::new(5_000_00, Currency::Rub),
            "t",
        )
        .await
        .unwrap();
        let rub = |minor| Money::new(minor, Currency::Rub);
        // Refused whole, naming the entry: nothing of the list is kept.
        for (bad, field) in [
            (
                vec![
                    WholesalePrice {
                        plan_id: "mts-month-30gb",
                        price: rub(500_00),
                    },
                    WholesalePrice {
                        plan_id: "no-such-plan",
                        price: rub(1_00),
                    },
                ],
                "prices[1].plan_id",
            ),
            (
                vec![WholesalePrice {
                    plan_id: "mts-month-30gb",
                    price: rub(0),
                }],
                "prices[0].price",
            ),
            (
                vec![
                    WholesalePrice {
                        plan_id: "mts-month-30gb",
                        price: rub(500_00),
                    },
                    WholesalePrice {
                        plan_id: "mts-month-30gb",
                        price: rub(400_00),
                    },
                ],
                "prices[1].plan_id",
            ),
        ] {
            let err = s
                .set_wholesale_prices("test", "pk_seller", &bad)
                .await
                .unwrap_err();
            assert!(
                matches!(&err, StoreError::Invalid { field: f, .. } if f == field),
                "{}: {err:?}",
                db.name
            );
        }
        assert!(s.wholesale_prices(&p.id).await.unwrap().is_empty());
        let err = s
            .set_wholesale_prices("test", "pk_nobody", &[])
            .await
            .unwrap_err();
        assert!(matches!(&err, StoreError::Invalid { field, .. } if field == "key_id"));

        // 500 for the month (retail 750); 380 for the week (retail 390).
        let n = s
            .set_wholesale_prices(
                "ops",
                "pk_seller",
                &[
                    WholesalePrice {
                        plan_id: "mts-month-30gb",
                        price: rub(500_00),
                    },
                    WholesalePrice {
                        plan_id: "mts-week-10gb",
                        price: rub(380_00),
                    },
                ],
            )
            .await
            .unwrap();
        assert_eq!(n, 2);
        let deposit = simrenew_store::partners::deposit_account(&p.id, Currency::Rub);
        let by_partner = |plan: &str| OrderRequest {
            buyer: None,
            channel: "partner".into(),
            payment: Payment::Deposit(deposit.clone()),
            ..renew(&f, plan, StartMode::Queued)
        };
        let month = s
            .create_partner_order(&p, &by_partner("mts-month-30gb"), None)
            .await
            .unwrap();
        assert_eq!(month.total, rub(500_00), "{}", db.name);
        assert_eq!(month.items[0].list_price, rub(750_00));
        assert_eq!(
            s.partner_deposit(&p.id, Currency::Rub).await.unwrap(),
            rub(4_500_00)
        );
        // The same plan bought by anyone else still costs the retail price.
        let retail = s
            .quote(&OrderRequest {
                payment: Payment::External,
                buyer: None,
                ..renew(&f, "mts-month-30gb", StartMode::Queued)
            })
            .await
            .unwrap();
        assert_eq!(retail.total, rub(750_00));

        // A campaign of 20% makes the week 312, below the partner's 380: retail wins and
        // the campaign is used; the month stays at 500 (600 with the campaign) and the
        // campaign is not used by it.
        let now = OffsetDateTime::now_utc();
        let campaign = s
            .add_promotion(
                "test",
                &Promotion {
                    id: String::new(),
                    code: None,
                    names: Localized::new("Golden Week", "Золотая неделя", "黄金周"),
                    discount: Discount::percent(20).unwrap(),
                    starts_at: now - Duration::days(1),
                    ends_at: now + Duration::days(5),
                    plans: vec![],
                    channels: vec![],
                    per_customer_limit: None,
                    total_limit: None,
                },
            )
            .await
            .unwrap();
        let week = s
            .create_partner_order(&p, &by_partner("mts-week-10gb"), None)
            .await
            .unwrap();
        assert_eq!(week.total, rub(312_00), "{}", db.name);
        assert_eq!(
            week.items[0].promotion_id.as_deref(),
            Some(campaign.as_str())
        );
        let month2 = s
            .create_partner_order(&p, &by_partner("mts-month-30gb"), None)
            .await
            .unwrap();
        assert_eq!(month2.total, rub(500_00));
        assert_eq!(month2.items[0].promotion_id, None);
        let used = s
            .promotions()
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.promotion.id == campaign)
            .unwrap()
            .redeemed;
        assert_eq!(used, 1, "{}: only the order it priced used it", db.name);
        // A plan not on the list: the retail price (with the campaign).
        let day = s
            .create_partner_order(&p, &by_partner("mts-day-unlim"), None)
            .await
            .unwrap();
        assert_eq!(
            (day.total, day.items[0].list_price),
            (rub(120_00), rub(150_00))
        );

        // The list is audited, before and after, and can be cleared.
        let audit = s.audit_entries(10, None).await.unwrap();
        let set = audit.iter().find(|e| e.action == "partner.prices").unwrap();
        assert_eq!(set.actor, "ops");
        assert!(set.after.as_deref().unwrap().contains("mts-week-10gb"));
        assert_eq!(
            s.set_wholesale_prices("ops", "pk_seller", &[])
                .await
                .unwrap(),
            0
        );
        let cleared = s
            .create_partner_order(&p, &by_partner("mts-month-30gb"), None)
            .await
            .unwrap();
        assert_eq!(
            cleared.total,
            rub(600_00),
            "cleared: retail with the campaign"
        );
        assert_ledger_sound(s).await;
    }
}

#[tokio::test]
async fn attempts_and_rates_are_counted_across_servers_and_a_success_clears_them() {
    for db in testing::all().await {
        // Two servers on one database: each its own pools, as two `simrenew serve`.
        let one = &db.store;
        let two = Store::connect(&db.url, &simrenew_store::db::StoreOptions::default())
            .await
            .unwrap();
        let window = 15 * 60;
        let wait = |s: &Store, scope: &'static str, key: &'static str, limit: u32| {
            let s = s.clone();
            async move { s.throttle_wait(scope, key, limit, window).await.unwrap() }
        };
        for (i, s) in [one, &two, one].into_iter().enumerate() {
            assert_eq!(
                wait(s, "sign-in", "a@x.cn", 3).await,
                None,
                "{}: attempt {i} may go",
                db.name
            );
            s.throttle_count("sign-in", "a@x.cn", window).await.unwrap();
        }
        // The third failure was on the first server; the second one refuses the next.
        let left = wait(&two, "sign-in", "a@x.cn", 3).await.expect("used up");
        assert!((1..=900).contains(&left), "{}: {left}", db.name);
        assert_eq!(
            wait(one, "sign-in", "b@x.cn", 3).await,
            None,
            "another key is apart"
        );
        assert_eq!(
            wait(one, "reserve", "a@x.cn", 3).await,
            None,
            "another scope is apart"
        );
        // Attempts racing on both servers are all counted.
        let racing: Vec<_> = (0..8)
            .map(|i| {
                let s = if i % 2 == 0 { one.clone() } else { two.clone() };
                tokio::spawn(async move { s.throttle_count("sign-in", "c@x.cn", window).await })
            })
            .collect();
        for r in racing {
            r.await.unwrap().unwrap();
        }
        assert!(wait(one, "sign-in", "c@x.cn", 8).await.is_some());
        assert_eq!(
            wait(one, "sign-in", "c@x.cn", 9).await,
            None,
            "{}: eight counted, not more",
            db.name
        );
        // A success on either server clears the count for both.
        two.throttle_clear("sign-in", "a@x.cn").await.unwrap();
        assert_eq!(wait(one, "sign-in", "a@x.cn", 3).await, None);
        // A window that has ended starts again at one.
        testing::execute(
            one,
            "UPDATE throttles SET window_start = window_start - 1000 WHERE scope = 'sign-in'",
        )
        .await
        .unwrap();
        assert_eq!(
            wait(one, "sign-in", "c@x.cn", 3).await,
            None,
            "{}: the window ended",
            db.name
        );
        one.throttle_count("sign-in", "c@x.cn", window)
            .await
            .unwrap();
        assert_eq!(
            wait(one, "sign-in", "c@x.cn", 1).await.map(|w| w > 800),
            Some(true),
            "{}: a new window from now",
            db.name
        );
        assert_eq!(
            wait(one, "sign-in", "c@x.cn", 2).await,
            None,
            "{}: counted from one again",
            db.name
        );
        // A partner's rate, in all: three requests a minute over both servers; a nonce
        // is admitted once, on whichever server sees it first.
        use simrenew_store::partners::Admission;
        let mut ids = Vec::new();
        for key in ["pk_one", "pk_two"] {
            let p = one
                .add_partner("cli:test", key, key, "sealed", &["lines:read"])
                .await
                .unwrap();
            ids.push(p.id);
        }
        let (p1, p2) = (ids[0].as_str(), ids[1].as_str());
        for (n, s) in [one, &two, one].into_iter().enumerate() {
            let admitted = s
                .admit_partner_request(p1, &format!("nonce-{n}"), 600, 3)
                .await
                .unwrap();
            assert_eq!(admitted, Admission::Admitted, "{}: request {n}", db.name);
        }
        assert_eq!(
            two.admit_partner_request(p1, "nonce-0", 600, 3)
                .await
                .unwrap(),
            Admission::Replayed,
            "{}",
            db.name
        );
        let refused = two
            .admit_partner_request(p1, "nonce-3", 600, 3)
            .await
            .unwrap();
        assert!(
            matches!(refused, Admission::RateLimited(w) if (1..=60).contains(&w)),
            "{}: {refused:?}",
            db.name
        );
        assert_eq!(
            two.admit_partner_request(p2, "nonce-0", 600, 3)
                .await
                .unwrap(),
            Admission::Admitted,
            "another partner is apart"
        );
    }
}
