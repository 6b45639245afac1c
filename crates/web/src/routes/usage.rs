//! `POST /api/v1/usage-events`: usage reports from feeds (upstream operators, CDR
//! importers), authenticated by the feed token. Each event is recorded once by its id.

use super::{claim, first_answer, json, line_ref, refused, rendered};
use crate::AppState;
use crate::dto::{UsageReport, UsageReportResult, UsageResultDto};
use crate::extract::{ApiJson, Feed, IdempotencyKey};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use simrenew_store::idempotency::{Idem, IdemClaim};
use simrenew_store::usage::{UsageEvent, UsageResult};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn result_dto(r: &[UsageResult]) -> UsageReportResult {
    UsageReportResult {
        results: r
            .iter()
            .map(|x| UsageResultDto {
                event_id: x.event_id.clone(),
                recorded: x.recorded,
                drawn_bytes: x.drawn_bytes,
                overage_bytes: x.overage_bytes,
            })
            .collect(),
    }
}

/// The most events one report may hold, and the longest `event_id` and `occurred_at`,
/// as the OpenAPI document says.
pub const MAX_EVENTS: usize = 1000;
pub const MAX_EVENT_ID_CHARS: usize = 200;
pub const MAX_INSTANT_CHARS: usize = 64;

/// The largest report body taken: `MAX_EVENTS` events whose every field is as long as
/// allowed, each character sent as a JSON escape (`\uXXXX`, twelve bytes for characters
/// beyond the Basic Multilingual Plane), fits. Only a feed's token gets this far: the
/// token is checked before the body is read.
pub const MAX_REPORT_BODY: usize = 8 * 1024 * 1024;

/// Records a batch of usage events (all or none). An event id seen before with the same
/// content is answered `recorded: false` and drawn nothing; with other content, 409.
#[utoipa::path(post, path = "/api/v1/usage-events", tag = "usage", request_body = UsageReport, security(("feed" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per intended change (a UUID, say); a retry with the same key and body returns the first answer", pattern = "^[!-~]{1,255}$")),
    responses((status = 200, body = UsageReportResult),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn report_usage(
    State(s): State<AppState>,
    _feed: Feed,
    IdempotencyKey(key): IdempotencyKey,
    body: ApiJson<UsageReport>,
) -> ApiResult<Response> {
    let c = claim(
        "feed".into(),
        key,
        "POST /api/v1/usage-events",
        &body.canonical_hash,
    );
    let recorded = record(&s, &c, &body.value).await;
    first_answer(&s, &c, recorded).await
}

/// Checks the report and records its events, storing the answer under `c`.
async fn record(s: &AppState, c: &IdemClaim, report: &UsageReport) -> ApiResult<Response> {
    let now = OffsetDateTime::now_utc();
    let count = report.events.len();
    if !(1..=MAX_EVENTS).contains(&count) {
        return Err(Problem::invalid(
            "events",
            format!("must hold 1 to {MAX_EVENTS} events, holds {count}"),
        ));
    }
    let mut events = Vec::with_capacity(count);
    for (i, e) in report.events.iter().enumerate() {
        let id_chars = e.event_id.chars().count();
        if !(1..=MAX_EVENT_ID_CHARS).contains(&id_chars) {
            return Err(Problem::invalid(
                &format!("events[{i}].event_id"),
                format!("must be 1 to {MAX_EVENT_ID_CHARS} characters, is {id_chars}"),
            ));
        }
        let occurred_at = match &e.occurred_at {
            Some(t) if t.chars().count() > MAX_INSTANT_CHARS => {
                return Err(Problem::invalid(
                    &format!("events[{i}].occurred_at"),
                    format!(
                        "is too long for an RFC 3339 instant (at most {MAX_INSTANT_CHARS} characters)"
                    ),
                ));
            }
            Some(t) => OffsetDateTime::parse(t, &Rfc3339).map_err(|err| {
                Problem::invalid(
                    &format!("events[{i}].occurred_at"),
                    format!("not an RFC 3339 instant: {err}"),
                )
            })?,
            None => now,
        };
        events.push(UsageEvent {
            event_id: e.event_id.clone(),
            line: line_ref(&format!("events[{i}].line"), &e.line)?,
            bytes: e.bytes,
            occurred_at,
            occurred_at_stated: e.occurred_at.is_some(),
        });
    }
    let render = |r: &Vec<UsageResult>| rendered(StatusCode::OK, &result_dto(r));
    match s
        .store
        .record_usage(
            &events,
            Some(&Idem {
                claim: c,
                render: &render,
            }),
        )
        .await
    {
        Ok(r) => Ok(json(StatusCode::OK, &result_dto(&r))),
        Err(e) => Err(refused(e)),
    }
}
