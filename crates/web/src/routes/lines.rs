//! `GET /api/v1/lines/{line}`: anyone may look a line up by number or ICCID (to pay for
//! it); only its signed-in owner sees the balance, data, periods, orders and usage.

use super::line_ref;
use crate::AppState;
use crate::dto::{LineOwnerView, LinePublic, LineView, OrderDto, OrderList, UsageList};
use crate::extract::{Lang, SessionToken, SignedIn};
use crate::problem::{ApiResult, Problem};
use axum::Json;
use axum::extract::{Path, State};
use simrenew_store::StoreError;
use simrenew_store::lines::Line;

/// The line, checked to belong to the signed-in user.
async fn owned(s: &AppState, user: &simrenew_store::users::User, raw: &str) -> ApiResult<Line> {
    let line = s.store.find_line(&line_ref("line", raw)?).await?;
    if line.owner_id.as_deref() != Some(user.id.as_str()) {
        return Err(StoreError::NotOwner.into());
    }
    Ok(line)
}

/// Looks a line up by phone number or ICCID, in any usual form. The owner (bearer
/// session) gets `LineOwnerView`; anyone else `LinePublic`.
#[utoipa::path(get, path = "/api/v1/lines/{line}", tag = "lines",
    params(("line" = String, Path, description = "Phone number (`+79161234567`, `89161234567`, `9161234567`) or ICCID (18-20 digits, optional trailing F)", pattern = "LINE", example = "+79161234561")),
    security((), ("session" = [])),
    responses(
        (status = 200, description = "LineOwnerView for the owner, LinePublic for anyone else", body = LineView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn get_line(
    State(s): State<AppState>,
    SessionToken(token): SessionToken,
    Lang(lang): Lang,
    Path(raw): Path<String>,
) -> ApiResult<Json<LineView>> {
    let found = s
        .store
        .line_for(&line_ref("line", &raw)?, token.as_deref())
        .await?;
    if !found.session_valid {
        return Err(Problem::unauthorized(
            "the session token is unknown or expired: sign in again",
        ));
    }
    if let Some(detail) = found.detail {
        let mut view = LineOwnerView::new(&detail, lang);
        if detail.line.kind == "esim" {
            view.esim = s
                .store
                .profile_of_line(detail.line.iccid.as_str())
                .await?
                .map(|p| crate::dto::EsimDto::new(&p, &s.config.public_url));
        }
        return Ok(Json(LineView::Owner(Box::new(view))));
    }
    Ok(Json(LineView::Public(LinePublic::new(&found.line, lang))))
}

/// The line's orders, newest first (owner only).
#[utoipa::path(get, path = "/api/v1/lines/{line}/orders", tag = "lines", params(("line" = String, Path, pattern = "LINE", example = "+79161234561")), security(("session" = [])),
    responses((status = 200, body = OrderList), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn line_orders(
    State(s): State<AppState>,
    SignedIn(user): SignedIn,
    Path(raw): Path<String>,
) -> ApiResult<Json<OrderList>> {
    let line = owned(&s, &user, &raw).await?;
    let orders = s.store.orders_of_line(&line.id, 100).await?;
    Ok(Json(OrderList {
        orders: orders.iter().map(OrderDto::from).collect(),
    }))
}

/// The line's recent usage events, newest first (owner only).
#[utoipa::path(get, path = "/api/v1/lines/{line}/usage", tag = "lines", params(("line" = String, Path, pattern = "LINE", example = "+79161234561")), security(("session" = [])),
    responses((status = 200, body = UsageList), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn line_usage(
    State(s): State<AppState>,
    SignedIn(user): SignedIn,
    Path(raw): Path<String>,
) -> ApiResult<Json<UsageList>> {
    let line = owned(&s, &user, &raw).await?;
    let events = s.store.usage_of_line(&line.id, 200).await?;
    Ok(Json(UsageList::new(events)))
}
