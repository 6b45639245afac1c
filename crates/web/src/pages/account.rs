//! The traveller's account: sign up, sign in (rate-limited, one answer for a wrong address
//! and a wrong password), sign out, their lines with data left and balance, and adding a
//! line with the PUK printed on the card's holder.

use super::line::{line_key, line_view, parse_line};
use super::{
    CheckedForm, Ctx, clear_session_cookie, local_path, render, render_status, see_other,
    session_cookie, site,
};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use simrenew_store::StoreError;
use simrenew_store::catalog::PlanFilter;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account))
        .route("/account/sign-in", get(sign_in_page).post(sign_in))
        .route("/account/sign-up", get(sign_up_page).post(sign_up))
        .route("/account/sign-out", post(sign_out))
        .route("/account/lines/add", get(add_line_page).post(add_line))
}

/// The sign-in and sign-up form: the address kept, errors beside their fields.
#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignForm {
    ctx: Ctx,
    /// "sign-in" or "sign-up"
    mode: &'static str,
    email: String,
    next: String,
    email_error: Option<String>,
    password_error: Option<String>,
    form_error: Option<String>,
}

impl SignForm {
    fn new(ctx: Ctx, mode: &'static str, next: &str) -> Self {
        Self {
            ctx,
            mode,
            email: String::new(),
            next: local_path(Some(next)),
            email_error: None,
            password_error: None,
            form_error: None,
        }
    }
}

async fn sign_in_page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    let next = q.get("next").map_or("/account", String::as_str);
    render(&SignForm::new(ctx, "sign-in", next))
}

async fn sign_up_page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    let next = q.get("next").map_or("/account", String::as_str);
    render(&SignForm::new(ctx, "sign-up", next))
}

/// Signed in: the session cookie, then where the reader was going.
fn signed_in(ctx: &Ctx, token: &str, next: &str) -> Response {
    let mut res = see_other(&local_path(Some(next)));
    res.headers_mut()
        .append(header::SET_COOKIE, session_cookie(token, ctx.secure));
    res
}

async fn sign_in(State(s): State<AppState>, form: CheckedForm) -> Response {
    let ctx = form.ctx.clone();
    let mut page = SignForm::new(ctx.clone(), "sign-in", form.get("next"));
    page.email = form.get("email").to_string();
    let email = page.email.to_lowercase();
    if let Err(wait) = s.sign_in_throttle.check(&email) {
        page.form_error = Some(ctx.t.n("err-too-many-attempts", (wait as i64 + 59) / 60));
        let mut res = render_status(StatusCode::TOO_MANY_REQUESTS, &page);
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return res;
    }
    match s
        .store
        .sign_in(
            form.get("email"),
            form.fields.get("password").map_or("", |p| p),
        )
        .await
    {
        Ok((token, _)) => {
            s.sign_in_throttle.succeeded(&email);
            signed_in(&ctx, &token, &page.next)
        }
        Err(StoreError::BadCredentials) => {
            s.sign_in_throttle.failed(&email);
            // One message for an unknown address and a wrong password.
            page.form_error = Some(ctx.t.t("err-bad-credentials"));
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in");
            site::unavailable(&ctx)
        }
    }
}

async fn sign_up(State(s): State<AppState>, form: CheckedForm) -> Response {
    let ctx = form.ctx.clone();
    let mut page = SignForm::new(ctx.clone(), "sign-up", form.get("next"));
    page.email = form.get("email").to_string();
    let password = form.fields.get("password").map_or("", |p| p);
    let user = match s
        .store
        .sign_up(&page.email, password, Some(ctx.locale().tag()))
        .await
    {
        Ok(u) => u,
        Err(e) => {
            let (field, text) = super::store_error_text(&ctx.t, &e);
            match field {
                Some("email") => page.email_error = Some(text),
                Some("password") => page.password_error = Some(text),
                Some(_) => page.form_error = Some(text),
                None => {
                    tracing::error!(error = %e, "sign-up");
                    return site::unavailable(&ctx);
                }
            }
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    match s.store.open_session(&user.id).await {
        Ok(token) => signed_in(&ctx, &token, &page.next),
        Err(e) => {
            tracing::error!(error = %e, "session after sign-up");
            site::unavailable(&ctx)
        }
    }
}

/// Ends the session in the store and in the browser, and empties the app's offline copy
/// of the account's pages (`Clear-Site-Data`, W3C Clear Site Data §3.1).
async fn sign_out(State(s): State<AppState>, form: CheckedForm) -> Response {
    let ctx = form.ctx;
    if let Some(token) = &ctx.session
        && let Err(e) = s.store.sign_out(token).await
    {
        tracing::error!(error = %e, "sign-out");
        return site::unavailable(&ctx);
    }
    let mut res = see_other("/");
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, clear_session_cookie(ctx.secure));
    h.insert(
        "clear-site-data",
        HeaderValue::from_static("\"cache\", \"storage\""),
    );
    res
}

/// One of the account's lines, as a card.
struct LineCard {
    key: String,
    number: String,
    operator: String,
    balance: String,
    data_left: String,
    percent: u64,
    plan: Option<String>,
    days_left: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    ctx: Ctx,
    email: String,
    lines: Vec<LineCard>,
    as_of: String,
}

async fn account(State(s): State<AppState>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else {
        return see_other("/account/sign-in?next=/account");
    };
    let loaded = async {
        let lines = s.store.lines_of_user(&user.id).await?;
        let plans = s.store.list_plans(&PlanFilter::default()).await?;
        let mut details = Vec::with_capacity(lines.len());
        for l in &lines {
            details.push(s.store.line_detail(l).await?);
        }
        Ok::<_, StoreError>((details, plans))
    }
    .await;
    let (details, plans) = match loaded {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "account page");
            return site::unavailable(&ctx);
        }
    };
    let t = ctx.t;
    let names = super::plans::PlanNames::new(plans, t.locale);
    let as_of = details
        .first()
        .map(|d| t.datetime(d.as_of))
        .unwrap_or_default();
    let lines = details
        .iter()
        .map(|d| {
            let v = line_view(&t, d, &names, &[]);
            LineCard {
                key: line_key(&simrenew_core::LineRef::Msisdn(d.line.msisdn.clone())),
                number: d.line.msisdn.display(),
                operator: d.line.operator.name(t.locale).to_string(),
                balance: t.money(d.balance),
                data_left: v.data_left,
                percent: v.percent,
                plan: v.current_plan,
                days_left: v.days_left,
            }
        })
        .collect();
    render(&AccountPage {
        email: user.email,
        lines,
        as_of,
        ctx,
    })
}

#[derive(Template)]
#[template(path = "add_line.html")]
struct AddLinePage {
    ctx: Ctx,
    line: String,
    line_error: Option<String>,
    puk_error: Option<String>,
}

async fn add_line_page(ctx: Ctx) -> Response {
    if ctx.user.is_none() {
        return see_other("/account/sign-in?next=/account/lines/add");
    }
    render(&AddLinePage {
        ctx,
        line: String::new(),
        line_error: None,
        puk_error: None,
    })
}

async fn add_line(State(s): State<AppState>, form: CheckedForm) -> Response {
    let ctx = form.ctx.clone();
    let Some(user) = ctx.user.clone() else {
        return see_other("/account/sign-in?next=/account/lines/add");
    };
    let mut page = AddLinePage {
        ctx: ctx.clone(),
        line: form.get("line").to_string(),
        line_error: None,
        puk_error: None,
    };
    let r = match parse_line(&ctx.t, form.get("line")) {
        Ok(r) => r,
        Err(e) => {
            page.line_error = Some(e);
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    match s.store.attach_line(&user.id, &r, form.get("puk")).await {
        Ok(line) => see_other(&format!(
            "/lines/{}",
            line_key(&simrenew_core::LineRef::Msisdn(line.msisdn))
        )),
        Err(e) => {
            let (field, text) = super::store_error_text(&ctx.t, &e);
            match field {
                Some("puk") => page.puk_error = Some(text),
                Some(_) => page.line_error = Some(text),
                None => {
                    tracing::error!(error = %e, "attach line");
                    return site::unavailable(&ctx);
                }
            }
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page).into_response()
        }
    }
}
