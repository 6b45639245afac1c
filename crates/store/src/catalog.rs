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
    /// Adds a plan or replaces the one with the same id (the demo seed; the back office
    /// goes through [`Store::save_plan`]).
    pub async fn upsert_plan(&self, plan: &Plan, sort_key: i64) -> Result<()> {
        let mut tx = self.write.begin().await?;
        write_plan(&mut tx, plan, sort_key, true).await?;
        tx.commit().await?;
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

    /// Every plan, sold or retired, as the back office edits them, in catalog order.
    pub async fn catalog(&self) -> Result<Vec<CatalogEntry>> {
        let sql =
            format!("SELECT {PLAN_COLUMNS}, active, sort_key FROM plans ORDER BY sort_key, id");
        let rows = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CatalogEntry {
                    plan: plan_from_row(r)?,
                    active: r.try_get::<i64, _>("active")? != 0,
                    sort_key: r.try_get("sort_key")?,
                })
            })
            .collect()
    }

    /// Every plan's name, retired ones too (a line's period or an old order may still
    /// name one).
    pub async fn all_plans(&self) -> Result<Vec<Plan>> {
        Ok(self.catalog().await?.into_iter().map(|e| e.plan).collect())
    }

    /// Adds a plan to the catalog (`creating`: refused when the id is taken) or changes
    /// one (refused when unknown, or when the edit would change its operator or kind: a
    /// line's periods and buckets name it). Orders already placed keep the terms they
    /// were placed on (`order_items.plan_terms`). `supplier` says who fulfils it (None:
    /// our own buckets; docs/upstream.md). Audited as done by `actor`, before and after,
    /// in the change's own transaction.
    pub async fn save_plan(
        &self,
        actor: &str,
        plan: &Plan,
        sort_key: i64,
        creating: bool,
        supplier: Option<&crate::upstream::Supplier>,
    ) -> Result<()> {
        plan.check()
            .map_err(|e| StoreError::invalid(e.field, e.reason))?;
        let mut tx = self.write.begin().await?;
        let sql = format!("SELECT {PLAN_COLUMNS}, active, sort_key FROM plans WHERE id = $1");
        let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&plan.id)
            .fetch_optional(&mut *tx)
            .await?;
        let before = row.as_ref().map(plan_from_row).transpose()?;
        let active = match &row {
            Some(r) => r.try_get::<i64, _>("active")? != 0,
            None => true,
        };
        match (&before, creating) {
            (Some(_), true) => {
                return Err(StoreError::invalid("id", "a plan with this id exists"));
            }
            (None, false) => return Err(StoreError::PlanNotFound(plan.id.clone())),
            (Some(b), false) if b.operator != plan.operator => {
                return Err(StoreError::invalid(
                    "operator",
                    "a plan's operator cannot change: add a new plan instead",
                ));
            }
            (Some(b), false) if b.kind != plan.kind => {
                return Err(StoreError::invalid(
                    "kind",
                    "a plan's kind cannot change: add a new plan instead",
                ));
            }
            _ => {}
        }
        write_plan(&mut tx, plan, sort_key, active).await?;
        let json = |p: &Plan| serde_json::to_string(p).ok();
        crate::staff::audit_change(
            &mut tx,
            actor,
            if creating { "plan.add" } else { "plan.change" },
            Some(&plan.id),
            before.as_ref().and_then(json).as_deref(),
            json(plan).as_deref(),
        )
        .await?;
        crate::upstream::set_supplier_in(&mut tx, actor, &plan.id, supplier).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stops selling a plan (`active` false) or sells it again. Lines keep what they
    /// bought; orders placed on it can still be paid. Audited.
    pub async fn set_plan_active(&self, actor: &str, id: &str, active: bool) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let was = crate::sql::query_scalar::<i64>("SELECT active FROM plans WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::PlanNotFound(id.to_string()))?;
        if (was != 0) == active {
            return Ok(());
        }
        crate::sql::query("UPDATE plans SET active = $1 WHERE id = $2")
            .bind(flag(active))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let state = |a: bool| {
            if a {
                r#"{"active":true}"#
            } else {
                r#"{"active":false}"#
            }
        };
        crate::staff::audit_change(
            &mut tx,
            actor,
            if active {
                "plan.restore"
            } else {
                "plan.retire"
            },
            Some(id),
            Some(state(!active)),
            Some(state(active)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One active plan by id.
    pub async fn plan(&self, id: &str) -> Result<Plan> {
        let mut conn = self.read.acquire().await?;
        plan_in(&mut conn, id).await
    }
}

/// A plan in the catalog, as the back office lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub plan: Plan,
    /// Sold now; a retired plan is kept for the lines and orders that name it.
    pub active: bool,
    /// Where it is listed: lower first.
    pub sort_key: i64,
}

async fn write_plan(
    tx: &mut crate::sql::Tx,
    plan: &Plan,
    sort_key: i64,
    active: bool,
) -> Result<()> {
    let sql = "INSERT INTO plans (id, operator, kind, validity_unit, validity_count, data_bytes, unlimited, renewable, channels, names, prices, active, sort_key)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
               ON CONFLICT (id) DO UPDATE SET operator = excluded.operator, kind = excluded.kind,
                 validity_unit = excluded.validity_unit, validity_count = excluded.validity_count,
                 data_bytes = excluded.data_bytes, unlimited = excluded.unlimited, renewable = excluded.renewable,
                 channels = excluded.channels, names = excluded.names, prices = excluded.prices, active = excluded.active,
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
        .bind(to_json(&plan.names)?)
        .bind(to_json(&plan.prices)?)
        .bind(flag(active))
        .bind(sort_key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A plan by id whether sold or retired, on the caller's connection: what an order
/// placed before plans were kept with their orders is fulfilled from.
pub(crate) async fn any_plan_in(conn: &mut crate::sql::Conn, id: &str) -> Result<Plan> {
    plan_where(conn, id, false).await
}

/// One active plan by id, read on the caller's connection (inside its transaction).
pub(crate) async fn plan_in(conn: &mut crate::sql::Conn, id: &str) -> Result<Plan> {
    plan_where(conn, id, true).await
}

/// One active plan by id and the outside supplier that fulfils it, if one does, in one
/// statement: what pricing an order item needs (one round trip to PostgreSQL less per
/// item than reading the supplier apart).
pub(crate) async fn plan_and_supplier_in(
    conn: &mut crate::sql::Conn,
    id: &str,
) -> Result<(Plan, Option<crate::upstream::Supplier>)> {
    let sql = format!(
        "SELECT {PLAN_COLUMNS}, u.adapter AS upstream_adapter, u.package_code AS upstream_package
         FROM plans LEFT JOIN upstream_plans u ON u.plan_id = plans.id
         WHERE plans.id = $1 AND active = 1"
    );
    let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::PlanNotFound(id.to_string()))?;
    let supplier = match (
        row.try_get::<Option<String>, _>("upstream_adapter")?,
        row.try_get::<Option<String>, _>("upstream_package")?,
    ) {
        (Some(adapter), Some(package_code)) => Some(crate::upstream::Supplier {
            adapter,
            package_code,
        }),
        _ => None,
    };
    Ok((plan_from_row(&row)?, supplier))
}

async fn plan_where(conn: &mut crate::sql::Conn, id: &str, sold_only: bool) -> Result<Plan> {
    let sql = format!(
        "SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1{}",
        if sold_only { " AND active = 1" } else { "" }
    );
    let row = crate::sql::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(plan_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::PlanNotFound(id.to_string()))
}
