//! Lines (one SIM card or eSIM each): finding one by the number or ICCID a person typed,
//! what its owner sees (balance, periods, buckets, each with its as-of time), attaching a
//! line to an account, and manual, audited balance adjustments.

use crate::db::{Backend, Store, from_unix, new_id, now};
use crate::error::{Result, StoreError};
use crate::ledger::{TransferMeta, apply_transfer};
use crate::sql::{Row, Tx};
use simrenew_core::ledger::accounts;
use simrenew_core::{
    Currency, Iccid, Imsi, LineRef, Money, Msisdn, Operator, Period, Transfer, bucket, renewal,
};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub id: String,
    pub operator: Operator,
    /// physical or esim
    pub kind: String,
    pub iccid: Iccid,
    pub imsi: Option<Imsi>,
    pub msisdn: Msisdn,
    /// active or suspended
    pub status: String,
    pub owner_id: Option<String>,
    pub account_id: String,
    pub currency: Currency,
    pub auto_renew: bool,
    /// When the newest usage report arrived; data left is true as of then.
    pub usage_as_of: Option<OffsetDateTime>,
}

impl Line {
    pub fn is_suspended(&self) -> bool {
        self.status == "suspended"
    }
}

pub(crate) const LINE_COLUMNS: &str = "id, operator, kind, iccid, imsi, msisdn, status, owner_id, account_id, currency, auto_renew, usage_as_of";

pub(crate) fn line_from_row(row: &Row) -> Result<Line> {
    let id: String = row.try_get("id")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("line {id}: {what}"));
    Ok(Line {
        operator: row
            .try_get::<String, _>("operator")?
            .parse()
            .map_err(|_| corrupt("operator"))?,
        kind: row.try_get("kind")?,
        iccid: Iccid::parse(&row.try_get::<String, _>("iccid")?).map_err(|_| corrupt("iccid"))?,
        imsi: row
            .try_get::<Option<String>, _>("imsi")?
            .map(|s| Imsi::parse(&s))
            .transpose()
            .map_err(|_| corrupt("imsi"))?,
        msisdn: Msisdn::parse(&format!("+{}", row.try_get::<String, _>("msisdn")?))
            .map_err(|_| corrupt("msisdn"))?,
        status: row.try_get("status")?,
        owner_id: row.try_get("owner_id")?,
        account_id: row.try_get("account_id")?,
        currency: row
            .try_get::<String, _>("currency")?
            .parse()
            .map_err(|_| corrupt("currency"))?,
        auto_renew: row.try_get::<i64, _>("auto_renew")? != 0,
        usage_as_of: row.try_get::<Option<i64>, _>("usage_as_of")?.map(from_unix),
        id,
    })
}

/// A new line as issued by the operator (counter, import, demo).
#[derive(Debug, Clone)]
pub struct NewLine {
    pub operator: Operator,
    pub kind: String,
    pub iccid: Iccid,
    pub imsi: Option<Imsi>,
    pub msisdn: Msisdn,
    pub puk: Option<String>,
    pub currency: Currency,
}

/// A bucket as `line_for` aggregates it: id, plan, kind, initial, remaining, unlimited,
/// priority, valid from, valid until.
type BucketJson = (String, Option<String>, String, i64, i64, i64, i64, i64, i64);

/// What `Store::line_for` found.
#[derive(Debug, Clone)]
pub struct LineLookup {
    pub line: Line,
    /// Everything the owner sees, when the caller is the owner.
    pub detail: Option<LineDetail>,
    /// False when a session token was given but names no live session.
    pub session_valid: bool,
}

/// A base period on a line, with its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodRow {
    pub plan_id: String,
    pub order_id: Option<String>,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

impl PeriodRow {
    /// The period as the renewal rules see it.
    pub fn span(&self) -> Period {
        Period {
            start: self.start,
            end: self.end,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRow {
    pub id: String,
    pub plan_id: Option<String>,
    /// base or addon
    pub kind: String,
    pub initial_bytes: u64,
    pub remaining_bytes: u64,
    pub unlimited: bool,
    pub priority: i32,
    pub valid_from: OffsetDateTime,
    pub valid_until: OffsetDateTime,
}

impl BucketRow {
    pub fn as_bucket(&self) -> bucket::Bucket {
        bucket::Bucket {
            id: self.id.clone(),
            remaining: self.remaining_bytes,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            priority: self.priority,
        }
    }
}

/// What the owner of a line sees.
#[derive(Debug, Clone)]
pub struct LineDetail {
    pub line: Line,
    pub balance: Money,
    /// When the figures were read (the balance is exact as of then).
    pub as_of: OffsetDateTime,
    /// Periods not yet ended: the current one first, then queued ones.
    pub periods: Vec<PeriodRow>,
    /// Buckets not yet expired.
    pub buckets: Vec<BucketRow>,
}

impl LineDetail {
    /// The period running at `as_of`, by the domain's rule (`renewal::current_period`:
    /// when "start now" made two overlap, the one started last).
    pub fn current_period(&self) -> Option<&PeriodRow> {
        let spans: Vec<Period> = self.periods.iter().map(PeriodRow::span).collect();
        let current = renewal::current_period(&spans, self.as_of)?;
        self.periods.iter().find(|p| p.span() == current)
    }

    /// Data left at `as_of`: the sum of the live buckets (`simrenew_core::bucket::data_left`).
    pub fn data_left_bytes(&self) -> u64 {
        let buckets: Vec<_> = self.buckets.iter().map(BucketRow::as_bucket).collect();
        bucket::data_left(&buckets, self.as_of)
    }
}

pub(crate) async fn periods_of(
    conn: &mut crate::sql::Conn,
    line_id: &str,
    after: OffsetDateTime,
) -> Result<Vec<PeriodRow>> {
    let rows = crate::sql::query("SELECT plan_id, order_id, start_at, end_at FROM periods WHERE line_id = $1 AND end_at > $2 ORDER BY start_at, end_at")
        .bind(line_id)
        .bind(after.unix_timestamp())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(PeriodRow {
                plan_id: r.try_get("plan_id")?,
                order_id: r.try_get("order_id")?,
                start: from_unix(r.try_get("start_at")?),
                end: from_unix(r.try_get("end_at")?),
            })
        })
        .collect()
}

pub(crate) async fn buckets_of(
    conn: &mut crate::sql::Conn,
    line_id: &str,
    after: OffsetDateTime,
) -> Result<Vec<BucketRow>> {
    let rows = crate::sql::query(
        "SELECT id, plan_id, kind, initial_bytes, remaining_bytes, unlimited, priority, valid_from, valid_until
         FROM buckets WHERE line_id = $1 AND valid_until > $2 ORDER BY valid_until, id",
    )
    .bind(line_id)
    .bind(after.unix_timestamp())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BucketRow {
                id: r.try_get("id")?,
                plan_id: r.try_get("plan_id")?,
                kind: r.try_get("kind")?,
                initial_bytes: u64::try_from(r.try_get::<i64, _>("initial_bytes")?).unwrap_or(0),
                remaining_bytes: u64::try_from(r.try_get::<i64, _>("remaining_bytes")?)
                    .unwrap_or(0),
                unlimited: r.try_get::<i64, _>("unlimited")? != 0,
                priority: i32::try_from(r.try_get::<i64, _>("priority")?).unwrap_or(0),
                valid_from: from_unix(r.try_get("valid_from")?),
                valid_until: from_unix(r.try_get("valid_until")?),
            })
        })
        .collect()
}

async fn detail_on(conn: &mut crate::sql::Conn, line: Line, balance: i64) -> Result<LineDetail> {
    let at = now();
    let periods = periods_of(conn, &line.id, at).await?;
    let buckets = buckets_of(conn, &line.id, at).await?;
    Ok(LineDetail {
        balance: Money::new(balance, line.currency),
        line,
        as_of: at,
        periods,
        buckets,
    })
}

/// Locks the line for the rest of `tx`, so two renewals of one line never read the same
/// periods, and returns it. PostgreSQL: a row lock (`FOR UPDATE`). SQLite: the transaction
/// already holds the one writer from `BEGIN IMMEDIATE`, so a plain read is enough, and no
/// page of `lines` is written (each written page is a WAL frame at commit).
pub(crate) async fn lock_line(tx: &mut Tx, line_id: &str) -> Result<Line> {
    lock_line_where(tx, "id", line_id, line_id).await
}

/// [`lock_line`] for the number or ICCID a person gave: finding the line and locking it
/// is one statement (one round trip to PostgreSQL less than a lookup before the
/// transaction).
pub(crate) async fn lock_line_ref(tx: &mut Tx, r: &LineRef) -> Result<Line> {
    let (column, key) = column_of(r);
    lock_line_where(tx, column, key, &r.to_string()).await
}

/// The column of `lines` a reference names (a constant of ours) and its stored value.
fn column_of(r: &LineRef) -> (&'static str, &str) {
    match r {
        LineRef::Msisdn(m) => ("msisdn", m.as_str()),
        LineRef::Iccid(i) => ("iccid", i.as_str()),
    }
}

/// The line whose `column` (a constant of ours: id, msisdn or iccid) is `key`, locked.
async fn lock_line_where(
    tx: &mut Tx,
    column: &'static str,
    key: &str,
    shown: &str,
) -> Result<Line> {
    let lock = match tx.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    };
    let sql = format!("SELECT {LINE_COLUMNS} FROM lines WHERE {column} = $1{lock}");
    let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref()
        .map(line_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::LineNotFound(shown.to_string()))
}

impl Store {
    /// Registers a new line with an empty balance account in its currency.
    pub async fn create_line(&self, new: &NewLine) -> Result<Line> {
        let id = new_id();
        let account = accounts::line(&id);
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        crate::sql::query(
            "INSERT INTO accounts (id, currency, kind, balance_minor) VALUES ($1, $2, 'line', 0)",
        )
        .bind(&account)
        .bind(new.currency.code())
        .execute(&mut *tx)
        .await?;
        crate::sql::query(
            "INSERT INTO lines (id, operator, kind, iccid, imsi, msisdn, puk, status, owner_id, account_id, currency, auto_renew, usage_as_of, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', NULL, $8, $9, 0, NULL, $10, $10)",
        )
        .bind(&id)
        .bind(new.operator.code())
        .bind(&new.kind)
        .bind(new.iccid.as_str())
        .bind(new.imsi.as_ref().map(|i| i.as_str().to_string()))
        .bind(new.msisdn.as_str())
        .bind(new.puk.clone())
        .bind(&account)
        .bind(new.currency.code())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.line(&id).await
    }

    pub async fn line(&self, id: &str) -> Result<Line> {
        self.line_where("id", id, id).await
    }

    /// Finds a line by the phone number or ICCID a person gave.
    pub async fn find_line(&self, r: &LineRef) -> Result<Line> {
        let (column, key) = column_of(r);
        self.line_where(column, key, &r.to_string()).await
    }

    /// The line whose `column` (a constant of ours: id, msisdn or iccid) is `key`.
    async fn line_where(&self, column: &'static str, key: &str, shown: &str) -> Result<Line> {
        let sql = format!("SELECT {LINE_COLUMNS} FROM lines WHERE {column} = $1");
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(key)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref()
            .map(line_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::LineNotFound(shown.to_string()))
    }

    /// Everything the owner sees of a line, read on one connection.
    pub async fn line_detail(&self, line: &Line) -> Result<LineDetail> {
        let mut conn = self.read.acquire().await?;
        let balance: i64 = crate::sql::query("SELECT balance_minor FROM accounts WHERE id = $1")
            .bind(&line.account_id)
            .fetch_one(&mut *conn)
            .await?
            .try_get("balance_minor")?;
        detail_on(&mut conn, line.clone(), balance).await
    }

    /// A line by the number or ICCID a person gave, checked against the caller's session
    /// token in the same statement: with everything its owner sees when the token's user
    /// owns it, else just the line. One round trip for the whole read.
    pub async fn line_for(&self, r: &LineRef, session_token: Option<&str>) -> Result<LineLookup> {
        let (col, key) = column_of(r);
        // One statement (one round trip to the database thread or server): the line, its
        // balance, and for its owner the periods and buckets as JSON arrays.
        let (agg, empty) = match self.backend() {
            Backend::Sqlite => ("json_group_array(json_array", "'[]'"),
            Backend::Postgres => ("json_agg(json_build_array", "'[]'"),
        };
        let cast = if self.backend() == Backend::Postgres {
            "::text"
        } else {
            ""
        };
        let sql = format!(
            "SELECT l.id, l.operator, l.kind, l.iccid, l.imsi, l.msisdn, l.status, l.owner_id, l.account_id, l.currency, l.auto_renew, l.usage_as_of, a.balance_minor,
               s.user_id AS viewer_id,
               CASE WHEN l.owner_id = s.user_id THEN COALESCE((SELECT {agg}(p.plan_id, p.order_id, p.start_at, p.end_at)){cast}
                 FROM periods p WHERE p.line_id = l.id AND p.end_at > $2), {empty}) END AS periods_json,
               CASE WHEN l.owner_id = s.user_id THEN COALESCE((SELECT {agg}(b.id, b.plan_id, b.kind, b.initial_bytes, b.remaining_bytes, b.unlimited, b.priority, b.valid_from, b.valid_until)){cast}
                 FROM buckets b WHERE b.line_id = l.id AND b.valid_until > $2), {empty}) END AS buckets_json
             FROM lines l JOIN accounts a ON a.id = l.account_id
               LEFT JOIN sessions s ON s.token_hash = $3 AND s.expires_at > $2
             WHERE l.{col} = $1"
        );
        let at = now();
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(key)
            .bind(at.unix_timestamp())
            .bind(
                session_token
                    .map(|t| crate::db::sha256_hex(t.as_bytes()))
                    .unwrap_or_default(),
            )
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::LineNotFound(r.to_string()));
        };
        let line = line_from_row(&row)?;
        let viewer: Option<String> = row.try_get("viewer_id")?;
        let session_valid = session_token.is_none() || viewer.is_some();
        let (Some(periods), Some(buckets)) = (
            row.try_get::<Option<String>, _>("periods_json")?,
            row.try_get::<Option<String>, _>("buckets_json")?,
        ) else {
            return Ok(LineLookup {
                line,
                detail: None,
                session_valid,
            });
        };
        if viewer.is_none() || line.owner_id != viewer {
            return Ok(LineLookup {
                line,
                detail: None,
                session_valid,
            });
        }
        let corrupt = |what: &str| StoreError::Corrupt(format!("line {}: {what}", line.id));
        let periods: Vec<(String, Option<String>, i64, i64)> =
            serde_json::from_str(&periods).map_err(|_| corrupt("periods"))?;
        let buckets: Vec<BucketJson> =
            serde_json::from_str(&buckets).map_err(|_| corrupt("buckets"))?;
        let mut periods: Vec<PeriodRow> = periods
            .into_iter()
            .map(|(plan_id, order_id, start, end)| PeriodRow {
                plan_id,
                order_id,
                start: from_unix(start),
                end: from_unix(end),
            })
            .collect();
        periods.sort_by_key(|p| (p.start, p.end));
        let mut buckets: Vec<BucketRow> = buckets
            .into_iter()
            .map(
                |(id, plan_id, kind, initial, remaining, unlimited, priority, from, until)| {
                    BucketRow {
                        id,
                        plan_id,
                        kind,
                        initial_bytes: u64::try_from(initial).unwrap_or(0),
                        remaining_bytes: u64::try_from(remaining).unwrap_or(0),
                        unlimited: unlimited != 0,
                        priority: i32::try_from(priority).unwrap_or(0),
                        valid_from: from_unix(from),
                        valid_until: from_unix(until),
                    }
                },
            )
            .collect();
        buckets.sort_by(|a, b| (a.valid_until, &a.id).cmp(&(b.valid_until, &b.id)));
        let balance: i64 = row.try_get("balance_minor")?;
        let detail = LineDetail {
            balance: Money::new(balance, line.currency),
            line: line.clone(),
            as_of: at,
            periods,
            buckets,
        };
        Ok(LineLookup {
            line,
            detail: Some(detail),
            session_valid,
        })
    }

    /// The lines attached to a user's account.
    pub async fn lines_of_user(&self, user_id: &str) -> Result<Vec<Line>> {
        let sql =
            format!("SELECT {LINE_COLUMNS} FROM lines WHERE owner_id = $1 ORDER BY created_at, id");
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(user_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(line_from_row).collect()
    }

    /// Attaches a line to `user_id`, proven by the PUK printed on the card's holder.
    pub async fn attach_line(&self, user_id: &str, r: &LineRef, puk: &str) -> Result<Line> {
        let line = self.find_line(r).await?;
        let mut tx = self.write.begin().await?;
        let row = crate::sql::query("SELECT puk, owner_id FROM lines WHERE id = $1")
            .bind(&line.id)
            .fetch_one(&mut *tx)
            .await?;
        let stored: Option<String> = row.try_get("puk")?;
        let owner: Option<String> = row.try_get("owner_id")?;
        if owner.as_deref() == Some(user_id) {
            return Ok(line);
        }
        if owner.is_some() {
            return Err(StoreError::LineAlreadyAttached);
        }
        let given: String = puk.chars().filter(char::is_ascii_digit).collect();
        let matches = stored.as_deref().is_some_and(|s| {
            use subtle_eq::ct_eq;
            ct_eq(s.as_bytes(), given.as_bytes())
        });
        if !matches {
            return Err(StoreError::WrongPuk);
        }
        attach_in(&mut tx, user_id, &line.id, "puk").await?;
        tx.commit().await?;
        self.line(&line.id).await
    }

    /// Starts proving a line by a one-time code sent to it by SMS: a 6-digit code (valid
    /// `CLAIM_MINUTES`, stored hashed) and the SMS `sms` makes of it, in one transaction.
    /// At most `CLAIM_CODES_PER_HOUR` codes per line and hour, so nobody can flood a
    /// number with messages.
    pub async fn start_line_claim(
        &self,
        user_id: &str,
        r: &LineRef,
        sms: impl Fn(&Line, &str) -> crate::outbox::Message,
    ) -> Result<Line> {
        let line = self.find_line(r).await?;
        match line.owner_id.as_deref() {
            Some(o) if o == user_id => return Ok(line),
            Some(_) => return Err(StoreError::LineAlreadyAttached),
            None => {}
        }
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        let recent: i64 = crate::sql::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM line_claims WHERE line_id = $1 AND created_at > $2",
        )
        .bind(&line.id)
        .bind(at - 3600)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if recent >= CLAIM_CODES_PER_HOUR {
            return Err(StoreError::TooManyCodes);
        }
        let code = crate::db::random_digits(6);
        crate::sql::query("INSERT INTO line_claims (id, line_id, user_id, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(new_id())
            .bind(&line.id)
            .bind(user_id)
            .bind(claim_hash(&line.id, &code))
            .bind(at)
            .bind(at + CLAIM_MINUTES * 60)
            .execute(&mut *tx)
            .await?;
        crate::outbox::queue_message(&mut tx, crate::outbox::SMS, &sms(&line, &code)).await?;
        tx.commit().await?;
        Ok(line)
    }

    /// Finishes an SMS claim: the code of the user's latest live claim on the line, with
    /// at most `CLAIM_ATTEMPTS` tries, attaches the line.
    pub async fn finish_line_claim(&self, user_id: &str, r: &LineRef, code: &str) -> Result<Line> {
        let line = self.find_line(r).await?;
        let at = now().unix_timestamp();
        let mut tx = self.write.begin().await?;
        let row = crate::sql::query("SELECT id, code_hash, attempts FROM line_claims WHERE line_id = $1 AND user_id = $2 AND used_at IS NULL AND expires_at > $3 ORDER BY created_at DESC LIMIT 1")
            .bind(&line.id)
            .bind(user_id)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::WrongCode);
        };
        let id: String = row.try_get("id")?;
        if row.try_get::<i64, _>("attempts")? >= CLAIM_ATTEMPTS {
            return Err(StoreError::TooManyCodes);
        }
        let given: String = code.chars().filter(char::is_ascii_digit).collect();
        let stored: String = row.try_get("code_hash")?;
        if !subtle_eq::ct_eq(stored.as_bytes(), claim_hash(&line.id, &given).as_bytes()) {
            crate::sql::query("UPDATE line_claims SET attempts = attempts + 1 WHERE id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Err(StoreError::WrongCode);
        }
        crate::sql::query("UPDATE line_claims SET used_at = $1 WHERE id = $2")
            .bind(at)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        attach_in(&mut tx, user_id, &line.id, "sms").await?;
        tx.commit().await?;
        self.line(&line.id).await
    }

    /// Sets a line active or suspended (operator action, audited).
    pub async fn set_line_status(&self, line_id: &str, status: &str, actor: &str) -> Result<()> {
        if status != "active" && status != "suspended" {
            return Err(StoreError::invalid("status", "use active or suspended"));
        }
        let mut tx = self.write.begin().await?;
        let done = crate::sql::query("UPDATE lines SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(now().unix_timestamp())
            .bind(line_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::LineNotFound(line_id.to_string()));
        }
        audit(&mut tx, actor, "line.status", Some(line_id), Some(status)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A manual credit (or, negative, debit) of a line's balance by staff: posted against
    /// the adjustments account and written to the audit log in the same transaction.
    pub async fn adjust_balance(
        &self,
        line_id: &str,
        amount: Money,
        reason: &str,
        actor: &str,
    ) -> Result<Money> {
        if reason.trim().is_empty() {
            return Err(StoreError::invalid(
                "reason",
                "say why the balance is adjusted",
            ));
        }
        if amount.minor == 0 {
            return Err(StoreError::invalid("amount", "must not be zero"));
        }
        let at = now();
        let mut tx = self.write.begin().await?;
        let line = lock_line(&mut tx, line_id).await?;
        if amount.currency != line.currency {
            return Err(StoreError::BalanceCurrency {
                line: line.currency,
                asked: amount.currency,
            });
        }
        let transfer = Transfer::pay(
            accounts::adjustments(amount.currency),
            line.account_id.clone(),
            amount,
        )?;
        let meta = TransferMeta {
            kind: "adjustment",
            order_id: None,
            memo: Some(reason),
            actor: Some(actor),
            at,
        };
        if let Err(o) = apply_transfer(&mut tx, &transfer, &meta).await? {
            let missing = Money::new(-amount.minor - o.available.minor, amount.currency);
            return Err(StoreError::InsufficientBalance {
                needed: Money::new(-amount.minor, amount.currency),
                available: o.available,
                missing,
            });
        }
        audit(
            &mut tx,
            actor,
            "balance.adjust",
            Some(line_id),
            Some(&format!("{amount}: {reason}")),
        )
        .await?;
        tx.commit().await?;
        self.account_balance(&line.account_id).await
    }
}

/// Appends to the audit log inside the caller's transaction.
pub(crate) async fn audit(
    tx: &mut Tx,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    detail: Option<&str>,
) -> Result<()> {
    crate::sql::query(
        "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(now().unix_timestamp())
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How long an SMS code works, how many may be sent to a line per hour, and how many
/// wrong tries one code allows.
pub const CLAIM_MINUTES: i64 = 10;
pub const CLAIM_CODES_PER_HOUR: i64 = 3;
pub const CLAIM_ATTEMPTS: i64 = 5;

fn claim_hash(line_id: &str, code: &str) -> String {
    crate::db::sha256_hex(format!("claim:{line_id}:{code}").as_bytes())
}

/// Gives a line to a user whose proof was just checked (PUK or SMS code), audited; fails
/// when someone else got it first.
async fn attach_in(tx: &mut Tx, user_id: &str, line_id: &str, proof: &str) -> Result<()> {
    let done = crate::sql::query(
        "UPDATE lines SET owner_id = $1, updated_at = $2 WHERE id = $3 AND owner_id IS NULL",
    )
    .bind(user_id)
    .bind(now().unix_timestamp())
    .bind(line_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::LineAlreadyAttached);
    }
    audit(
        tx,
        &format!("user:{user_id}"),
        "line.attach",
        Some(line_id),
        Some(&format!("{{\"proof\":\"{proof}\"}}")),
    )
    .await
}

mod subtle_eq {
    /// Compares secrets in time independent of where they differ.
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
