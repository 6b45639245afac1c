//! A clerk's till for a shift: opened with a float; the cash they take at the counter
//! (cash payments they recorded, `payments.recorded_by`) adds up in it; closed by
//! counting what is there, the difference from what should be kept. Cash is taken only
//! into an open till of its currency (checked in the sale's transaction). Opening and
//! closing are audited with before and after.

use crate::db::{Store, from_unix, new_id, now};
use crate::error::{Result, StoreError};
use crate::sql::{Row, Tx};
use simrenew_core::{Currency, Money};
use time::OffsetDateTime;

/// A till, open or closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Till {
    pub id: String,
    pub clerk: String,
    pub float: Money,
    pub opened_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    /// Cash taken into it so far (or until it closed).
    pub cash_taken: Money,
    pub sales: i64,
    /// Float plus cash taken: what should be in it.
    pub expected: Money,
    /// What was counted at closing, and counted − expected.
    pub counted: Option<Money>,
    pub difference: Option<Money>,
    pub note: Option<String>,
}

const COLUMNS: &str = "id, clerk, currency, float_minor, opened_at, closed_at, counted_minor, note";

async fn load(conn: &mut crate::sql::Conn, r: &Row) -> Result<Till> {
    let currency: String = r.try_get("currency")?;
    let currency: Currency = currency
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("till currency {currency}")))?;
    let clerk: String = r.try_get("clerk")?;
    let opened: i64 = r.try_get("opened_at")?;
    let closed: Option<i64> = r.try_get("closed_at")?;
    let taken = crate::sql::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM payments WHERE provider = 'cash' AND status = 'succeeded' AND recorded_by = $1 AND currency = $2 AND created_at >= $3 AND ($4 IS NULL OR created_at <= $4)")
        .bind(&clerk)
        .bind(currency.code())
        .bind(opened)
        .bind(closed)
        .fetch_one(&mut *conn)
        .await?;
    let float = Money::new(r.try_get("float_minor")?, currency);
    let cash_taken = Money::new(taken.try_get("total")?, currency);
    let expected = Money::new(float.minor + cash_taken.minor, currency);
    let counted = r
        .try_get::<Option<i64>, _>("counted_minor")?
        .map(|c| Money::new(c, currency));
    Ok(Till {
        id: r.try_get("id")?,
        clerk,
        float,
        opened_at: from_unix(opened),
        closed_at: closed.map(from_unix),
        cash_taken,
        sales: taken.try_get("n")?,
        expected,
        difference: counted.map(|c| Money::new(c.minor - expected.minor, currency)),
        counted,
        note: r.try_get("note")?,
    })
}

fn snapshot(t: &Till) -> String {
    serde_json::json!({
        "float": t.float.to_string(),
        "cash_taken": t.cash_taken.to_string(),
        "expected": t.expected.to_string(),
        "counted": t.counted.map(|c| c.to_string()),
        "difference": t.difference.map(|d| d.to_string()),
        "note": t.note,
    })
    .to_string()
}

/// Refuses cash into no till: the clerk's open till must be in the cash's currency.
pub(crate) async fn require_open(tx: &mut Tx, clerk: &str, currency: Currency) -> Result<()> {
    let open: Option<String> = crate::sql::query_scalar(
        "SELECT currency FROM tills WHERE clerk = $1 AND closed_at IS NULL",
    )
    .bind(clerk)
    .fetch_optional(&mut **tx)
    .await?;
    match open {
        Some(c) if c == currency.code() => Ok(()),
        Some(c) => Err(StoreError::invalid(
            "till",
            format!("your open till is in {c}; cash in {currency} needs a till in {currency}"),
        )),
        None => Err(StoreError::invalid(
            "till",
            "open your till (count the float) before taking cash",
        )),
    }
}

impl Store {
    /// The clerk's open till, if any, with the cash taken so far.
    pub async fn open_till_of(&self, clerk: &str) -> Result<Option<Till>> {
        let mut conn = self.read.acquire().await?;
        let sql = format!("SELECT {COLUMNS} FROM tills WHERE clerk = $1 AND closed_at IS NULL");
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(clerk)
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(r) => Ok(Some(load(&mut conn, &r).await?)),
            None => Ok(None),
        }
    }

    /// Opens the clerk's till with a float counted in; refused while one is open.
    pub async fn open_till(&self, clerk: &str, float: Money) -> Result<Till> {
        if float.minor < 0 {
            return Err(StoreError::invalid("float", "cannot be negative"));
        }
        let mut tx = self.write.begin().await?;
        let id = new_id();
        let res = crate::sql::query("INSERT INTO tills (id, clerk, currency, float_minor, opened_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(clerk)
            .bind(float.currency.code())
            .bind(float.minor)
            .bind(now().unix_timestamp())
            .execute(&mut *tx)
            .await;
        match res {
            Err(e) if e.is_unique_violation() => {
                return Err(StoreError::invalid("till", "your till is open already"));
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let sql = format!("SELECT {COLUMNS} FROM tills WHERE id = $1");
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        let till = load(&mut tx, &row).await?;
        crate::staff::audit_change(
            &mut tx,
            clerk,
            "till.open",
            Some(&format!("till:{id}")),
            None,
            Some(&snapshot(&till)),
        )
        .await?;
        tx.commit().await?;
        Ok(till)
    }

    /// Closes the clerk's open till with what was counted in it; the difference from
    /// the float plus the cash taken is recorded (and audited) with the clerk's note.
    pub async fn close_till(&self, clerk: &str, counted: Money, note: &str) -> Result<Till> {
        let mut tx = self.write.begin().await?;
        let sql = format!("SELECT {COLUMNS} FROM tills WHERE clerk = $1 AND closed_at IS NULL");
        let Some(row) = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(clerk)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Err(StoreError::invalid("till", "no till of yours is open"));
        };
        let before = load(&mut tx, &row).await?;
        if counted.currency != before.float.currency || counted.minor < 0 {
            return Err(StoreError::invalid(
                "counted",
                format!("count the till in {}", before.float.currency),
            ));
        }
        let at = now().unix_timestamp();
        let note = note.trim();
        crate::sql::query("UPDATE tills SET closed_at = $1, expected_minor = $2, counted_minor = $3, note = $4 WHERE id = $5 AND closed_at IS NULL")
            .bind(at)
            .bind(before.expected.minor)
            .bind(counted.minor)
            .bind((!note.is_empty()).then_some(note))
            .bind(&before.id)
            .execute(&mut *tx)
            .await?;
        let sql = format!("SELECT {COLUMNS} FROM tills WHERE id = $1");
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&before.id)
            .fetch_one(&mut *tx)
            .await?;
        let after = load(&mut tx, &row).await?;
        crate::staff::audit_change(
            &mut tx,
            clerk,
            "till.close",
            Some(&format!("till:{}", before.id)),
            Some(&snapshot(&before)),
            Some(&snapshot(&after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}
