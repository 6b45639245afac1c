//! Demo data: a catalog of MTS, Beeline, MegaFon and T2 plans, a handful of lines (two of
//! them owned by a demo account, renewed and used through the real order and usage
//! paths), and a bulk generator of many lines for benchmarks.

use crate::db::{Store, new_id, now, values};
use crate::error::Result;
use crate::lines::NewLine;
use crate::orders::{ItemRequest, OrderRequest, Payment};
use crate::usage::UsageEvent;
use simrenew_core::ids::luhn_check_digit;
use simrenew_core::ledger::accounts;
use simrenew_core::{
    Currency, DataAllowance, Iccid, Imsi, LineRef, Localized, Money, Msisdn, Operator, Plan,
    PlanKind, StartMode, Validity,
};
use std::collections::BTreeMap;
use time::Duration;

pub const DEMO_EMAIL: &str = "demo@simrenew.example";
/// The demo shop's promo code (the one the API documents show): 10 % off every plan, on
/// every channel, for ten years from the demo's seeding, without limits.
pub const DEMO_PROMO_CODE: &str = "WELCOME10";
pub const DEMO_PASSWORD: &str = "simrenew-demo";
pub const BENCH_EMAIL: &str = "bench@simrenew.example";
pub const BENCH_PASSWORD: &str = "simrenew-bench";

fn demo_promotion() -> simrenew_core::promotion::Promotion {
    use simrenew_core::promotion::{Discount, PromoCode, Promotion};
    let start = now();
    Promotion {
        id: String::new(),
        code: PromoCode::parse(DEMO_PROMO_CODE).ok(),
        names: Localized::new(
            "Welcome: 10% off",
            "Добро пожаловать: скидка 10%",
            "欢迎：九折",
        ),
        discount: Discount::Percent { percent: 10 },
        starts_at: start,
        ends_at: start + Duration::days(3650),
        plans: vec![],
        channels: vec![],
        per_customer_limit: None,
        total_limit: None,
    }
}

const GB: u64 = 1 << 30;

/// The demo catalog: per operator a day, week, month, unlimited month, 30-day travel pack,
/// year and two add-ons, priced in RUB, CNY and USD.
pub fn demo_plans() -> Vec<Plan> {
    // (suffix, validity, data, kind, RUB, en, ru, zh)
    type Row = (
        &'static str,
        Validity,
        DataAllowance,
        PlanKind,
        i64,
        &'static str,
        &'static str,
        &'static str,
    );
    let rows: [Row; 8] = [
        (
            "day-unlim",
            Validity::Day,
            DataAllowance::Unlimited {
                fair_use_bytes: 5 * GB,
            },
            PlanKind::Base,
            150,
            "Day Unlimited",
            "Безлимит на день",
            "日不限量",
        ),
        (
            "week-10gb",
            Validity::Week,
            DataAllowance::Bytes { bytes: 10 * GB },
            PlanKind::Base,
            390,
            "Week 10 GB",
            "Неделя 10 ГБ",
            "周套餐 10GB",
        ),
        (
            "month-30gb",
            Validity::Month,
            DataAllowance::Bytes { bytes: 30 * GB },
            PlanKind::Base,
            750,
            "Month 30 GB",
            "Месяц 30 ГБ",
            "月套餐 30GB",
        ),
        (
            "month-unlim",
            Validity::Month,
            DataAllowance::Unlimited {
                fair_use_bytes: 100 * GB,
            },
            PlanKind::Base,
            1290,
            "Month Unlimited",
            "Безлимит на месяц",
            "月不限量",
        ),
        (
            "travel-30d-20gb",
            Validity::Days(30),
            DataAllowance::Bytes { bytes: 20 * GB },
            PlanKind::Base,
            690,
            "Traveller 30 days 20 GB",
            "Путешественник 30 дней 20 ГБ",
            "旅行 30天 20GB",
        ),
        (
            "year-300gb",
            Validity::Year,
            DataAllowance::Bytes { bytes: 300 * GB },
            PlanKind::Base,
            7490,
            "Year 300 GB",
            "Год 300 ГБ",
            "年套餐 300GB",
        ),
        (
            "addon-5gb",
            Validity::Month,
            DataAllowance::Bytes { bytes: 5 * GB },
            PlanKind::AddOn,
            250,
            "Add-on 5 GB",
            "Дополнительно 5 ГБ",
            "加油包 5GB",
        ),
        (
            "addon-1gb",
            Validity::Month,
            DataAllowance::Bytes { bytes: GB },
            PlanKind::AddOn,
            70,
            "Add-on 1 GB",
            "Дополнительно 1 ГБ",
            "加油包 1GB",
        ),
    ];
    let mut plans = Vec::new();
    for (k, op) in Operator::ALL.into_iter().enumerate() {
        // Each operator prices a little differently, as in life.
        let factor = [100, 96, 104, 90][k];
        for (suffix, validity, data, kind, rub, en, ru, zh) in rows {
            let rub_minor = rub * factor; // rub * 100 kopecks * factor / 100
            let prices = BTreeMap::from([
                (Currency::Rub, rub_minor),
                // CNY at about 12.5 RUB, USD at about 90 RUB, rounded to whole units.
                (
                    Currency::Cny,
                    ((rub_minor * 100 / 1250 + 50) / 100).max(1) * 100,
                ),
                (
                    Currency::Usd,
                    ((rub_minor * 100 / 9000 + 50) / 100).max(1) * 100,
                ),
            ]);
            let name = |l: simrenew_core::Locale, s: &str| format!("{} {s}", op.name(l));
            plans.push(Plan {
                id: format!("{}-{suffix}", op.code()),
                operator: op,
                kind,
                validity,
                data,
                names: Localized::new(
                    &name(simrenew_core::Locale::En, en),
                    &name(simrenew_core::Locale::Ru, ru),
                    &name(simrenew_core::Locale::Zh, zh),
                ),
                prices,
                renewable: kind == PlanKind::Base,
                channels: vec![
                    "web".into(),
                    "app".into(),
                    "partner".into(),
                    "counter".into(),
                ],
            });
        }
    }
    plans
}

/// ICCID prefix per operator (89 + country code 7 + issuer), and a DEF code for numbers.
fn numbering(op: Operator) -> (&'static str, &'static str) {
    match op {
        Operator::Mts => ("8970101", "916"),
        Operator::Megafon => ("8970102", "926"),
        Operator::Beeline => ("8970199", "903"),
        Operator::T2 => ("8970120", "977"),
    }
}

/// A valid 19-digit ICCID for serial `n` of operator `op`.
pub fn demo_iccid(op: Operator, n: u64) -> Iccid {
    let payload = format!("{}{:011}", numbering(op).0, n);
    Iccid::parse(&format!("{payload}{}", luhn_check_digit(&payload)))
        .expect("generated ICCID is valid")
}

/// The demo's new eSIM numbers, three per operator, for sale at /esim/new: (operator,
/// ICCID, number). Their profiles are of type `<operator>-esim`.
pub fn demo_esim_stock() -> Vec<(Operator, Iccid, Msisdn)> {
    let mut out = Vec::new();
    for op in Operator::ALL {
        for n in 1..=3u64 {
            if let Ok(m) = Msisdn::parse(&format!("+7{}{:07}", numbering(op).1, 7_654_320 + n)) {
                out.push((op, demo_iccid(op, 100 + n), m));
            }
        }
    }
    out
}

/// The demo shop's staff: (e-mail, name, role); their password is [`DEMO_STAFF_PASSWORD`].
pub const DEMO_STAFF: [(&str, &str, simrenew_core::staff::Role); 3] = [
    (
        "admin@simrenew.example",
        "Demo Admin",
        simrenew_core::staff::Role::Admin,
    ),
    (
        "clerk@simrenew.example",
        "Demo Clerk",
        simrenew_core::staff::Role::Clerk,
    ),
    (
        "support@simrenew.example",
        "Demo Support",
        simrenew_core::staff::Role::Support,
    ),
];
pub const DEMO_STAFF_PASSWORD: &str = "simrenew-demo";

impl Store {
    /// Adds the demo shop's staff (those not there yet); how many were added.
    pub async fn seed_demo_staff(&self) -> Result<usize> {
        let mut added = 0;
        for (email, name, role) in DEMO_STAFF {
            match self
                .add_staff("demo", email, name, role, DEMO_STAFF_PASSWORD)
                .await
            {
                Ok(_) => added += 1,
                Err(crate::StoreError::EmailTaken) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(added)
    }

    /// Stocks the demo's new eSIM numbers (those not stocked before).
    pub async fn seed_demo_esims(&self) -> Result<usize> {
        let mut added = 0;
        for op in Operator::ALL {
            let rows: Vec<(Iccid, Msisdn)> = demo_esim_stock()
                .into_iter()
                .filter(|(o, _, _)| *o == op)
                .map(|(_, i, m)| (i, m))
                .collect();
            added += self
                .import_esim_lines(op, &format!("{}-esim", op.code()), &rows)
                .await?
                .0;
        }
        Ok(added)
    }
}

/// What `seed_demo` made, for the start-up banner.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    pub seeded: bool,
    pub lines: Vec<(String, String)>,
}

impl Store {
    /// True when no plan exists yet (a fresh database).
    pub async fn is_empty(&self) -> Result<bool> {
        let n: i64 = crate::sql::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM plans")
            .fetch_one(&self.read)
            .await?
            .try_get("n")?;
        Ok(n == 0)
    }

    /// Seeds the demo catalog, lines and account into an empty database; leaves a
    /// database that has plans alone.
    pub async fn seed_demo(&self) -> Result<DemoInfo> {
        if !self.is_empty().await? {
            return Ok(DemoInfo {
                seeded: false,
                lines: vec![],
            });
        }
        for (i, p) in demo_plans().iter().enumerate() {
            self.upsert_plan(p, i as i64).await?;
        }
        let mut lines = Vec::new();
        for op in Operator::ALL {
            for n in 1..=5u64 {
                let msisdn = Msisdn::parse(&format!("+7{}{:07}", numbering(op).1, 1_234_560 + n))
                    .expect("demo number");
                let line = self
                    .create_line(&NewLine {
                        operator: op,
                        kind: if n % 2 == 0 {
                            "esim".into()
                        } else {
                            "physical".into()
                        },
                        iccid: demo_iccid(op, n),
                        imsi: Imsi::parse(&format!("250{}{:010}", op.mnc(), n)).ok(),
                        msisdn: msisdn.clone(),
                        puk: Some(format!("{:08}", 12_345_670 + n)),
                        currency: Currency::Rub,
                    })
                    .await?;
                lines.push((line.id.clone(), msisdn.display()));
            }
        }
        // The demo account owns the first MTS and the first Beeline line, renewed and
        // partly used through the same calls the API makes.
        let user = self
            .sign_up(DEMO_EMAIL, DEMO_PASSWORD, Some("zh-CN"))
            .await?;
        let mts = demo_iccid(Operator::Mts, 1);
        let beeline = demo_iccid(Operator::Beeline, 1);
        for (iccid, n, credit, plan) in [
            (&mts, 1u64, 2000_00, "mts-month-30gb"),
            (&beeline, 1, 500_00, "beeline-week-10gb"),
        ] {
            let r = LineRef::Iccid(iccid.clone());
            let line = self
                .attach_line(&user.id, &r, &format!("{:08}", 12_345_670 + n))
                .await?;
            self.adjust_balance(
                &line.id,
                Money::new(credit, Currency::Rub),
                "demo opening balance",
                "demo",
            )
            .await?;
            let req = OrderRequest {
                line: r.clone(),
                items: vec![ItemRequest::Renew {
                    plan_id: plan.into(),
                    start: StartMode::Queued,
                }],
                currency: None,
                channel: "app".into(),
                buyer: Some(user.id.clone()),
                payment: Payment::Balance,
                promo_code: None,
            };
            self.create_order(&req, None).await?;
            let event = UsageEvent {
                event_id: format!("demo-{}", line.id),
                line: r,
                bytes: 3 * GB + GB / 3,
                occurred_at: now(),
                occurred_at_stated: true,
            };
            self.record_usage(&[event], None).await?;
        }
        self.add_promotion("demo", &demo_promotion()).await?;
        Ok(DemoInfo {
            seeded: true,
            lines,
        })
    }

    /// Adds `count` lines for benchmarks, all owned by the bench account, each with a
    /// balance of 100,000 RUB (one balanced transfer from adjustments) and a current month.
    /// Returns the MSISDNs' first and last serial. Safe to run again: numbering continues.
    pub async fn generate_lines(&self, count: u64, mut progress: impl FnMut(u64)) -> Result<u64> {
        if self.is_empty().await? {
            self.seed_demo().await?;
        }
        let user = match self.sign_up(BENCH_EMAIL, BENCH_PASSWORD, None).await {
            Ok(u) => u.id,
            Err(_) => crate::sql::query("SELECT id FROM users WHERE email = $1")
                .bind(BENCH_EMAIL)
                .fetch_one(&self.read)
                .await?
                .try_get("id")?,
        };
        let start: i64 = crate::sql::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM lines WHERE owner_id = $1",
        )
        .bind(&user)
        .fetch_one(&self.read)
        .await?
        .try_get("n")?;
        let at = now();
        let ts = at.unix_timestamp();
        let balance = 100_000_00i64;
        const BATCH: u64 = 400;
        let mut done = 0u64;
        while done < count {
            let n = BATCH.min(count - done);
            let mut tx = self.write.begin().await?;
            let transfer_id = new_id();
            crate::sql::query("INSERT INTO transfers (id, kind, memo, actor, created_at) VALUES ($1, 'adjustment', 'bench opening balances', 'demo', $2)")
                .bind(&transfer_id)
                .bind(ts)
                .execute(&mut *tx)
                .await?;
            let mut rows = Vec::with_capacity(n as usize);
            for k in 0..n {
                let serial = start as u64 + done + k;
                let op = Operator::ALL[(serial % 4) as usize];
                let id = new_id();
                let msisdn = format!("7900{serial:07}");
                rows.push((id, op, msisdn, demo_iccid(op, 10_000_000 + serial)));
            }
            let width = rows.len();
            let q = format!(
                "INSERT INTO accounts (id, currency, kind, balance_minor) {}",
                values(width, 1, "(?, 'RUB', 'line', ?)")
            );
            let mut query = crate::sql::query(sqlx::AssertSqlSafe(q.as_str()));
            for (id, ..) in &rows {
                query = query.bind(accounts::line(id)).bind(balance);
            }
            query.execute(&mut *tx).await?;
            let q = format!(
                "INSERT INTO lines (id, operator, kind, iccid, imsi, msisdn, puk, status, owner_id, account_id, currency, auto_renew, usage_as_of, created_at, updated_at) {}",
                values(
                    width,
                    2,
                    "(?, ?, 'physical', ?, NULL, ?, NULL, 'active', ?, ?, 'RUB', 0, NULL, $1, $1)"
                )
            );
            let mut query = crate::sql::query(sqlx::AssertSqlSafe(q.as_str())).bind(ts);
            for (id, op, msisdn, iccid) in &rows {
                query = query
                    .bind(id.clone())
                    .bind(op.code())
                    .bind(iccid.as_str().to_string())
                    .bind(msisdn.clone())
                    .bind(user.clone())
                    .bind(accounts::line(id));
            }
            query.execute(&mut *tx).await?;
            // One posting per line and the adjustments account's counter-posting.
            let q = format!(
                "INSERT INTO postings (transfer_id, account_id, amount_minor, currency) {}",
                values(width + 1, 2, "($1, ?, ?, 'RUB')")
            );
            let mut query =
                crate::sql::query(sqlx::AssertSqlSafe(q.as_str())).bind(transfer_id.clone());
            for (id, ..) in &rows {
                query = query.bind(accounts::line(id)).bind(balance);
            }
            query
                .bind(accounts::adjustments(Currency::Rub))
                .bind(-(balance * width as i64))
                .execute(&mut *tx)
                .await?;
            // A current month on each line, with its bucket.
            let start_at = (at - Duration::days(10)).unix_timestamp();
            let end_at = (at + Duration::days(20)).unix_timestamp();
            let q = format!(
                "INSERT INTO periods (id, line_id, plan_id, order_id, start_at, end_at) {}",
                values(width, 3, "(?, ?, ?, NULL, $1, $2)")
            );
            let mut query = crate::sql::query(sqlx::AssertSqlSafe(q.as_str()))
                .bind(start_at)
                .bind(end_at);
            for (id, op, ..) in &rows {
                query = query
                    .bind(new_id())
                    .bind(id.clone())
                    .bind(format!("{}-month-30gb", op.code()));
            }
            query.execute(&mut *tx).await?;
            let q = format!(
                "INSERT INTO buckets (id, line_id, plan_id, order_id, item_position, kind, initial_bytes, remaining_bytes, unlimited, priority, valid_from, valid_until, created_at) {}",
                values(
                    width,
                    5,
                    "(?, ?, ?, NULL, NULL, 'base', $1, $1, 0, 0, $2, $3, $4)"
                )
            );
            let mut query = crate::sql::query(sqlx::AssertSqlSafe(q.as_str()))
                .bind((30 * GB) as i64)
                .bind(start_at)
                .bind(end_at)
                .bind(ts);
            for (id, op, ..) in &rows {
                query = query
                    .bind(new_id())
                    .bind(id.clone())
                    .bind(format!("{}-month-30gb", op.code()));
            }
            query.execute(&mut *tx).await?;
            tx.commit().await?;
            done += n;
            progress(done);
        }
        // After a bulk load PostgreSQL plans with no statistics until autovacuum's next
        // ANALYZE (a minute or more: a line's periods looked like 127 rows and were read
        // with a bitmap scan), and autovacuum then vacuums the new rows while a benchmark
        // runs. A benchmark starts right away, so do both now (PostgreSQL 15 manual,
        // 14.4.9, "Run ANALYZE Afterwards"; VACUUM sets the visibility map).
        if self.backend() == crate::db::Backend::Postgres {
            crate::sql::query("VACUUM (ANALYZE)")
                .execute(&self.write)
                .await?;
        }
        Ok(start as u64)
    }
}
