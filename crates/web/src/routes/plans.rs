//! `GET /api/v1/plans` (filtered catalog) and `GET /api/v1/plans/{id}`.

use crate::AppState;
use crate::dto::{PlanDto, PlanList};
use crate::extract::Lang;
use crate::problem::{ApiResult, Problem};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use simrenew_core::{Currency, Operator, PlanKind};
use simrenew_store::catalog::PlanFilter;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// mts, beeline, megafon or t2
    #[param(pattern = "^(mts|beeline|megafon|t2)$")]
    pub operator: Option<String>,
    /// day, week, month, year or days
    #[param(pattern = "^(day|week|month|year|days)$")]
    pub period: Option<String>,
    /// base or addon
    #[param(pattern = "^(base|addon)$")]
    pub kind: Option<String>,
    /// web, app, partner or counter
    #[param(pattern = "^(web|app|partner|counter)$")]
    pub channel: Option<String>,
    /// Only plans sold in this currency (RUB, CNY, USD, EUR); their `price` is in it.
    #[param(pattern = "^(RUB|CNY|USD|EUR)$")]
    pub currency: Option<String>,
    /// Only plans with at least this much data (unlimited plans always qualify).
    #[param(minimum = 0)]
    pub min_data_bytes: Option<i64>,
    /// true: only unlimited plans; false: only plans with an allowance.
    pub unlimited: Option<bool>,
    /// en, ru or zh-CN (else Accept-Language)
    #[param(pattern = "^(en|ru|zh-CN)$")]
    pub lang: Option<String>,
}

fn filter(q: &PlanQuery) -> ApiResult<(PlanFilter, Option<Currency>)> {
    let operator = q
        .operator
        .as_deref()
        .map(str::parse::<Operator>)
        .transpose()
        .map_err(|e| Problem::invalid("operator", e.to_string()))?;
    let kind = q
        .kind
        .as_deref()
        .map(str::parse::<PlanKind>)
        .transpose()
        .map_err(|e| Problem::invalid("kind", e))?;
    let currency = q
        .currency
        .as_deref()
        .map(str::parse::<Currency>)
        .transpose()
        .map_err(|e| Problem::invalid("currency", e.to_string()))?;
    let min_data_bytes = q
        .min_data_bytes
        .map(|b| {
            u64::try_from(b).map_err(|_| Problem::invalid("min_data_bytes", "must not be negative"))
        })
        .transpose()?;
    if let Some(p) = &q.period
        && !["day", "week", "month", "year", "days"].contains(&p.as_str())
    {
        return Err(Problem::invalid(
            "period",
            "use day, week, month, year or days",
        ));
    }
    if let Some(c) = &q.channel
        && !simrenew_core::plan::CHANNELS.contains(&c.as_str())
    {
        return Err(Problem::invalid(
            "channel",
            "use web, app, partner or counter",
        ));
    }
    Ok((
        PlanFilter {
            operator,
            period: q.period.clone(),
            kind,
            channel: q.channel.clone(),
            currency,
            min_data_bytes,
            unlimited: q.unlimited,
        },
        currency,
    ))
}

/// Lists the plans that match every filter given, names in the reader's language.
#[utoipa::path(get, path = "/api/v1/plans", tag = "catalog", params(PlanQuery),
    responses((status = 200, body = PlanList), (status = 422, description = "A filter is not valid", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn list_plans(
    State(s): State<AppState>,
    Lang(lang): Lang,
    q: Result<Query<PlanQuery>, QueryRejection>,
) -> ApiResult<Json<PlanList>> {
    let Query(q) = q.map_err(|e| Problem::invalid("query", e.body_text()))?;
    let (f, currency) = filter(&q)?;
    let at = simrenew_store::db::now();
    let (plans, campaigns) =
        tokio::try_join!(s.store.list_plans(&f), s.store.running_campaigns(at))?;
    Ok(Json(PlanList {
        plans: plans
            .iter()
            .map(|p| PlanDto::offered(p, lang, currency, &campaigns, super::orders::CHANNEL, at))
            .collect(),
    }))
}

/// One plan.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "catalog", params(("id" = String, Path, description = "Plan id")),
    responses((status = 200, body = PlanDto), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "lang is not supported", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn get_plan(
    State(s): State<AppState>,
    Lang(lang): Lang,
    Path(id): Path<String>,
) -> ApiResult<Json<PlanDto>> {
    match s.store.plan(&id).await {
        Ok(p) => Ok(Json(PlanDto::new(&p, lang, None))),
        Err(simrenew_store::StoreError::PlanNotFound(_)) => Err(Problem::new(
            axum::http::StatusCode::NOT_FOUND,
            "plan-not-found",
            "No such plan",
            format!("no plan {id}"),
        )),
        Err(e) => Err(e.into()),
    }
}
