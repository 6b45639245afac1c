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
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account))
        .route("/account/sign-in", get(sign_in_page).post(sign_in))
        .route("/account/sign-up", get(sign_up_page).post(sign_up))
        .route("/account/sign-out", post(sign_out))
        .route("/account/lines/add", get(add_line_page).post(add_line))
        .route("/account/methods/forget", post(forget_method))
        .route(
            "/account/reset",
            get(reset_request_page).post(reset_request),
        )
        .route("/account/reset/{token}", get(reset_page).post(reset))
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
    if let Err(wait) = s.sign_in_throttle.check(&email).await {
        page.form_error = Some(ctx.t.n("err-too-many-attempts", (wait as i64 + 59) / 60));
        return super::retry_after(render_status(StatusCode::TOO_MANY_REQUESTS, &page), wait);
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
            s.sign_in_throttle.succeeded(&email).await;
            signed_in(&ctx, &token, &page.next)
        }
        Err(StoreError::BadCredentials) => {
            s.sign_in_throttle.failed(&email).await;
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
    /// Payment methods kept for later charges: (id, title, since).
    methods: Vec<(String, String, String)>,
}

async fn account(State(s): State<AppState>, ctx: Ctx) -> Response {
    let Some(user) = ctx.user.clone() else {
        return see_other("/account/sign-in?next=/account");
    };
    let loaded = async {
        let lines = s.store.lines_of_user(&user.id).await?;
        let plans = s.store.all_plans().await?;
        let mut details = Vec::with_capacity(lines.len());
        for l in &lines {
            details.push(s.store.line_detail(l).await?);
        }
        let methods = s.store.saved_methods(&user.id).await?;
        Ok::<_, StoreError>((details, plans, methods))
    }
    .await;
    let (details, plans, methods) = match loaded {
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
    let methods = methods
        .into_iter()
        .map(|m| (m.id, m.title, t.date(m.created_at)))
        .collect();
    render(&AccountPage {
        email: user.email,
        lines,
        as_of,
        methods,
        ctx,
    })
}

/// `POST /account/methods/forget`: the provider's token is dropped here (it can no
/// longer be charged from simrenew).
async fn forget_method(State(s): State<AppState>, form: CheckedForm) -> Response {
    let Some(user) = form.ctx.user.clone() else {
        return see_other("/account/sign-in?next=/account");
    };
    match s.store.forget_method(&user.id, form.get("method")).await {
        Ok(_) => see_other("/account#methods"),
        Err(e) => {
            tracing::error!(error = %e, "forget method");
            site::unavailable(&form.ctx)
        }
    }
}

/// Adding a line: by the PUK on the card's holder, or by a code sent to the line by SMS
/// (two steps: send the code, type it).
#[derive(Template)]
#[template(path = "add_line.html")]
struct AddLinePage {
    ctx: Ctx,
    line: String,
    /// "puk" or "sms"
    method: String,
    /// The SMS code was sent: the page asks for it.
    code_sent: bool,
    /// Codes by SMS are offered.
    sms: bool,
    line_error: Option<String>,
    puk_error: Option<String>,
    code_error: Option<String>,
}

impl AddLinePage {
    fn new(ctx: Ctx, line: &str, method: &str) -> Self {
        Self {
            ctx,
            line: line.to_string(),
            method: if method == "sms" { "sms" } else { "puk" }.to_string(),
            code_sent: false,
            sms: false,
            line_error: None,
            puk_error: None,
            code_error: None,
        }
    }
}

async fn add_line_page(State(s): State<AppState>, ctx: Ctx) -> Response {
    if ctx.user.is_none() {
        return see_other("/account/sign-in?next=/account/lines/add");
    }
    let mut page = AddLinePage::new(ctx, "", "puk");
    page.sms = s.config.sms_codes;
    render(&page)
}

async fn add_line(State(s): State<AppState>, form: CheckedForm) -> Response {
    let ctx = form.ctx.clone();
    let Some(user) = ctx.user.clone() else {
        return see_other("/account/sign-in?next=/account/lines/add");
    };
    let method = if s.config.sms_codes {
        form.get("method")
    } else {
        "puk"
    };
    let mut page = AddLinePage::new(ctx.clone(), form.get("line"), method);
    page.sms = s.config.sms_codes;
    let r = match parse_line(&ctx.t, form.get("line")) {
        Ok(r) => r,
        Err(e) => {
            page.line_error = Some(e);
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    // Guessing a PUK or a code is slowed down per line, as passwords are per address.
    let throttle_key = format!("attach:{}", line_key(&r));
    if let Err(wait) = s.sign_in_throttle.check(&throttle_key).await {
        page.line_error = Some(ctx.t.n("err-too-many-attempts", (wait as i64 + 59) / 60));
        return render_status(StatusCode::TOO_MANY_REQUESTS, &page);
    }
    let t = ctx.t;
    let result = if page.method == "sms" && form.fields.contains_key("code") {
        page.code_sent = true;
        s.store
            .finish_line_claim(&user.id, &r, form.get("code"))
            .await
    } else if page.method == "sms" {
        let sms =
            |line: &simrenew_store::lines::Line, code: &str| simrenew_store::outbox::Message {
                to: line.msisdn.e164(),
                subject: String::new(),
                body: t.s("sms-code", "code", code),
                ..Default::default()
            };
        match s.store.start_line_claim(&user.id, &r, sms).await {
            Ok(line) if line.owner_id.as_deref() == Some(user.id.as_str()) => Ok(line),
            Ok(_) => {
                page.code_sent = true;
                return render(&page);
            }
            Err(e) => Err(e),
        }
    } else {
        s.store.attach_line(&user.id, &r, form.get("puk")).await
    };
    match result {
        Ok(line) => {
            s.sign_in_throttle.succeeded(&throttle_key).await;
            see_other(&format!(
                "/lines/{}",
                line_key(&simrenew_core::LineRef::Msisdn(line.msisdn))
            ))
        }
        Err(e) => {
            if matches!(e, StoreError::WrongPuk | StoreError::WrongCode) {
                s.sign_in_throttle.failed(&throttle_key).await;
            }
            let (field, text) = super::store_error_text(&t, &e);
            match field {
                Some("puk") => page.puk_error = Some(text),
                Some("code") => page.code_error = Some(text),
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

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    ctx: Ctx,
    /// "request" (ask for a link) or "set" (choose a new password)
    step: &'static str,
    token: String,
    email: String,
    error: Option<String>,
}

async fn reset_request_page(ctx: Ctx) -> Response {
    render(&ResetPage {
        ctx,
        step: "request",
        token: String::new(),
        email: String::new(),
        error: None,
    })
}

/// Sends a reset link when the address has an account, and says the same either way.
async fn reset_request(State(s): State<AppState>, form: CheckedForm) -> Response {
    let ctx = form.ctx.clone();
    let email = form.get("email").to_lowercase();
    // The same limit as sign-in: nobody floods an address with mail.
    if let Err(wait) = s.sign_in_throttle.check(&format!("reset:{email}")).await {
        let page = ResetPage {
            error: Some(ctx.t.n("err-too-many-attempts", (wait as i64 + 59) / 60)),
            ctx,
            step: "request",
            token: String::new(),
            email,
        };
        return render_status(StatusCode::TOO_MANY_REQUESTS, &page);
    }
    s.sign_in_throttle.failed(&format!("reset:{email}")).await;
    let base = s.config.public_url.trim_end_matches('/').to_string();
    let mail = |user: &simrenew_store::users::User, token: &str| {
        // The mail speaks the account's language, else the page's.
        let t = user
            .locale
            .as_deref()
            .and_then(|l| l.parse().ok())
            .map_or(ctx.t, super::i18n::Tr::new);
        simrenew_store::outbox::Message {
            to: user.email.clone(),
            subject: t.t("mail-reset-subject"),
            body: t.s(
                "mail-reset-body",
                "link",
                &format!("{base}/account/reset/{token}"),
            ),
            ..Default::default()
        }
    };
    if let Err(e) = s.store.request_password_reset(&email, mail).await {
        tracing::error!(error = %e, "password reset");
        return site::unavailable(&ctx);
    }
    site::message(ctx, StatusCode::OK, "reset-sent-title", "reset-sent-text")
}

async fn reset_page(
    State(s): State<AppState>,
    ctx: Ctx,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Response {
    match s.store.reset_token_valid(&token).await {
        Ok(true) => render(&ResetPage {
            ctx,
            step: "set",
            token,
            email: String::new(),
            error: None,
        }),
        Ok(false) => site::message(
            ctx,
            StatusCode::GONE,
            "reset-expired-title",
            "err-reset-link",
        ),
        Err(e) => {
            tracing::error!(error = %e, "reset page");
            site::unavailable(&ctx)
        }
    }
}

/// Sets the new password, ends every other session, and signs this browser in.
async fn reset(
    State(s): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    form: CheckedForm,
) -> Response {
    let ctx = form.ctx.clone();
    match s
        .store
        .reset_password(&token, form.fields.get("password").map_or("", |p| p))
        .await
    {
        Ok(session) => signed_in(&ctx, &session, "/account"),
        Err(StoreError::ResetTokenInvalid) => site::message(
            ctx,
            StatusCode::GONE,
            "reset-expired-title",
            "err-reset-link",
        ),
        Err(e) => {
            let (field, text) = super::store_error_text(&ctx.t, &e);
            if field.is_none() {
                tracing::error!(error = %e, "password reset");
                return site::unavailable(&ctx);
            }
            let page = ResetPage {
                ctx,
                step: "set",
                token,
                email: String::new(),
                error: Some(text),
            };
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
