//! The catalog: plans as the operator sells them, stored one row per plan with their
//! names and prices as small JSON maps, and the filters the shop and the API use.

use crate::db::{Store, flag};
use crate::error::{Result, StoreError};
use crate::sql::Row;
use simrenew_core::{Currency, DataAllowance, Localized, Operator, Plan, PlanKind, Validity};
use std::collections::BTreeMap;

/// What a buyer may filter plans by; every field narrows, none widens.
#[derive(Debug, Clone, Default)]
pub struct PlanFilter {
    pub operator: Option<Operator>,
    /// day, week, month, year or days
    pub period: Option<String>,
    pub kind: Option<PlanKind>,
    pub channel: Option<String>,
    /// Only plans priced in this currency.
    pub currency: Option<Currency>,
    pub min_data_bytes: Option<u64>,
    pub unlimited: Option<bool>,
}

impl PlanFilter {
    pub fn matches(&self, p: &Plan) -> bool {
        self.operator.is_none_or(|o| p.operator == o)
            && self
                .period
                .as_deref()
                .is_none_or(|u| p.validity.unit() == u)
            && self.kind.is_none_or(|k| p.kind == k)
            && self.channel.as_deref().is_none_or(|c| p.sold_on(c))
            && self.currency.is_none_or(|c| p.prices.contains_key(&c))
            && self
                .min_data_bytes
                .is_none_or(|b| p.data.bucket_bytes() >= b || p.data.is_unlimited())
            && self.unlimited.is_none_or(|u| p.data.is_unlimited() == u)
    }
}

const PLAN_COLUMNS: &str = "id, operator, kind, validity_unit, validity_count, data_bytes, unlimited, renewable, channels, names, prices";

fn plan_from_row(row: &Row) -> Result<Plan> {
    let id: String = row.try_get("id")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("plan {id}: {what}"));
    let operator: Operator = row
        .try_get::<String, _>("operator")?
        .parse()
        .map_err(|_| corrupt("operator"))?;
    let kind: PlanKind = row
        .try_get::<String, _>("kind")?
        .parse()
        .map_err(|_| corrupt("kind"))?;
    let validity = Validity::from_parts(
        &row.try_get::<String, _>("validity_unit")?,
        row.try_get("validity_count")?,
    )
    .ok_or_else(|| corrupt("validity"))?;
    let bytes = u64::try_from(row.try_get::<i64, _>("data_bytes")?).map_err(|_| corrupt("data"))?;
    let data = if row.try_get::<i64, _>("unlimited")? != 0 {
        DataAllowance::Unlimited {
            fair_use_bytes: bytes,
        }
    } else {
        DataAllowance::Bytes { bytes }
    };
    let names: Localized =
        serde_json::from_str(&row.try_get::<String, _>("names")?).map_err(|_| corrupt("names"))?;
    let prices: BTreeMap<Currency, i64> =
        serde_json::from_str(&row.try_get::<String, _>("prices")?)
            .map_err(|_| corrupt("prices"))?;
    let channels = row
        .try_get::<String, _>("channels")?
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Plan {
        id,
        operator,
        kind,
        validity,
        data,
        names,
        prices,
        renewable: row.try_get::<i64, _>("renewable")? != 0,
        channels,
    })
}

impl Store {
    /// Adds a plan or replaces the one with the same id.
    pub async fn upsert_plan(&self, plan: &Plan, sort_key: i64) -> Result<()> {
        let sql = "INSERT INTO plans (id, operator, kind, validity_unit, validity_count, data_bytes, unlimited, renewable, channels, names, prices, active, sort_key)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12)
                   ON CONFLICT (id) DO UPDATE SET operator = excluded.operator, kind = excluded.kind,
                     validity_unit = excluded.validity_unit, validity_count = excluded.validity_count,
                     data_bytes = excluded.data_bytes, unlimited = excluded.unlimited, renewable = excluded.renewable,
                     channels = excluded.channels, names = excluded.names, prices = excluded.prices, active = 1,
                     sort_key = excluded.sort_key";
        crate::sql::query(sql)
            .bind(&plan.id)
            .bind(plan.operator.code())
            .bind(plan.kind.code())
            .bind(plan.validity.unit())
            .bind(plan.validity.count())
            .bind(
                i64::try_from(plan.data.bucket_bytes())
                    .map_err(|_| StoreError::invalid("data", "too large"))?,
            )
            .bind(flag(plan.data.is_unlimited()))
            .bind(flag(plan.renewable))
            .bind(plan.channels.join(","))
            .bind(
                serde_json::to_string(&plan.names)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )
            .bind(
                serde_json::to_string(&plan.prices)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )
            .bind(sort_key)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// The active plans that pass `filter`, in catalog order.
    pub async fn list_plans(&self, filter: &PlanFilter) -> Result<Vec<Plan>> {
        let sql =
            format!("SELECT {PLAN_COLUMNS} FROM plans WHERE active = 1 ORDER BY sort_key, id");
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(&self.read)
            .await?;
        let mut plans = Vec::with_capacity(rows.len());
        for row in &rows {
            let p = plan_from_row(row)?;
            if filter.matches(&p) {
                plans.push(p);
            }
        }
        Ok(plans)
    }

    /// One active plan by id.
    pub async fn plan(&self, id: &str) -> Result<Plan> {
        let mut conn = self.read.acquire().await?;
        plan_in(&mut conn, id).await
    }
}

/// One active plan by id, read on the caller's connection (inside its transaction).
pub(crate) async fn plan_in(conn: &mut crate::sql::Conn, id: &str) -> Result<Plan> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1 AND active = 1");
    let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(plan_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::PlanNotFound(id.to_string()))
}
