//! The home page (enter a number or ICCID), help, the language and currency switches, the
//! offline page of the installed app, and the pages for errors.

use super::{CURRENCY_COOKIE, Ctx, LANG_COOKIE, local_path, render, render_status, set_cookie};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use simrenew_core::{Currency, Locale};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/help", get(help))
        .route("/offline", get(offline))
        .route("/lang/{tag}", get(set_lang))
        .route("/currency/{code}", get(set_currency))
        .route("/demo/outbox", get(demo_outbox))
}

/// The home page: one box for a phone number or an ICCID.
#[derive(Template)]
#[template(path = "home.html")]
pub struct Home {
    pub ctx: Ctx,
    pub line: String,
    pub error: Option<String>,
}

async fn home(ctx: Ctx) -> Response {
    render(&Home {
        ctx,
        line: String::new(),
        error: None,
    })
}

/// The home page again, with the error beside the box and what was typed kept.
pub fn home_with_error(ctx: Ctx, line: &str, error: String) -> Response {
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &Home {
            ctx,
            line: line.to_string(),
            error: Some(error),
        },
    )
}

#[derive(Template)]
#[template(path = "help.html")]
struct Help {
    ctx: Ctx,
}

async fn help(ctx: Ctx) -> Response {
    render(&Help { ctx })
}

#[derive(Template)]
#[template(path = "offline.html")]
struct Offline {
    ctx: Ctx,
}

/// What the installed app shows for a page it never stored while offline.
async fn offline(ctx: Ctx) -> Response {
    render(&Offline { ctx })
}

/// A page with one message and a way back: refused forms, missing pages, outages.
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub ctx: Ctx,
    pub title: String,
    pub text: String,
    pub back: String,
}

pub fn message(ctx: Ctx, status: StatusCode, title_key: &str, text_key: &str) -> Response {
    let page = Message {
        title: ctx.t.t(title_key),
        text: ctx.t.t(text_key),
        back: "/".into(),
        ctx,
    };
    render_status(status, &page)
}

/// 503 page when the database fails; the details go to the log.
pub fn unavailable(ctx: &Ctx) -> Response {
    message(
        ctx.clone(),
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable-title",
        "unavailable-text",
    )
}

pub fn not_found(ctx: Ctx) -> Response {
    message(
        ctx,
        StatusCode::NOT_FOUND,
        "not-found-title",
        "not-found-text",
    )
}

/// One year, for the preference cookies.
const PREFERENCE_MAX_AGE: i64 = 365 * 86_400;

/// Remembers the reader's language and goes back to the page they were on.
async fn set_lang(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(tag): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(locale) = tag.parse::<Locale>() else {
        return not_found(ctx);
    };
    // Signed in: the account remembers it too (other devices, e-mails and SMS).
    if let Some(u) = &ctx.user
        && let Err(e) = s.store.set_user_locale(&u.id, locale.tag()).await
    {
        tracing::warn!(error = %e, "language preference not saved");
    }
    preference(ctx.secure, LANG_COOKIE, locale.tag(), q.get("next"))
}

/// Remembers the reader's currency.
async fn set_currency(
    ctx: Ctx,
    Path(code): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(c) = code.parse::<Currency>() else {
        return not_found(ctx);
    };
    preference(ctx.secure, CURRENCY_COOKIE, c.code(), q.get("next"))
}

fn preference(secure: bool, name: &str, value: &str, next: Option<&String>) -> Response {
    let mut res = Redirect::to(&local_path(next.map(String::as_str))).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(name, value, Some(PREFERENCE_MAX_AGE), secure),
    );
    res
}

/// Anything no route matched: a problem document for the API and for clients that do not
/// ask for HTML, the 404 page for browsers.
pub async fn fallback(ctx: Ctx, uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if uri.path().starts_with("/api/") || !wants_html {
        return crate::routes::system::not_found(uri).await.into_response();
    }
    not_found(ctx)
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    ctx: Ctx,
    /// (kind, to, subject, body, created, delivered)
    messages: Vec<(String, String, String, String, String, bool)>,
}

/// The demo shop's outbox: the e-mails and SMS the shop would have sent (reset links,
/// codes), for whoever tries the demo. Exists only in demo shops: real messages hold
/// secrets meant for one person.
async fn demo_outbox(State(s): State<AppState>, ctx: Ctx) -> Response {
    use simrenew_store::outbox::{MAIL, Message, SMS};
    if !ctx.demo {
        return not_found(ctx);
    }
    let rows = match s.store.recent_outbox(&[MAIL, SMS], 50).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "outbox page");
            return unavailable(&ctx);
        }
    };
    let messages = rows
        .into_iter()
        .filter_map(|r| {
            let m: Message = serde_json::from_str(&r.payload).ok()?;
            Some((
                r.topic,
                m.to,
                m.subject,
                m.body,
                ctx.t.datetime(r.created_at),
                r.delivered_at.is_some(),
            ))
        })
        .collect();
    render(&OutboxPage { ctx, messages })
}
