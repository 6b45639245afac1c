//! The staff console, `/admin`, in the reader's language like the rest of the site.
//! Staff sign in with their password and, once set up, the authenticator's code; their
//! session is a cookie of its own (`staff`, HttpOnly, SameSite=Strict) that ends when
//! idle and at the end of a shift. Every route asks [`StaffCtx::require`] for its
//! [`Permission`] — the one table in `simrenew_core::staff` decides — and a member of
//! staff without it gets 403; a visitor not signed in goes to the sign-in page. Forms
//! carry the site's CSRF token. What staff change is audited by the store.

use super::{CheckedForm, Ctx, cookie, render, render_status, set_cookie, site};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use simrenew_core::staff::{Permission, Role};
use simrenew_store::StoreError;
use simrenew_store::staff::Staff;
use time::OffsetDateTime;

const STAFF_COOKIE: &str = "staff";
const STAFF_COOKIE_SECURE: &str = "__Host-staff";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/sign-in", get(sign_in_page).post(sign_in))
        .route("/admin/sign-out", post(sign_out))
        .route("/admin", get(dashboard))
        .route("/admin/counter", get(counter))
        .route("/admin/customers", get(customers))
        .route("/admin/staff", get(staff_page).post(add_staff))
        .route("/admin/audit", get(audit))
        .route("/admin/account/totp", get(totp_page).post(enable_totp))
        .route(
            "/admin/account/password",
            get(password_page).post(change_password),
        )
        .route("/admin/staff/active", post(set_active))
        .route("/admin/customers/resend-esim", post(resend_esim))
        .route("/admin/customers/resend-receipt", post(resend_receipt))
        .route("/admin/inventory", get(inventory).post(import_stock))
        .route("/admin/reports", get(reports))
        .route("/admin/reports.csv", get(reports_csv))
}

fn cookie_name(secure: bool) -> &'static str {
    if secure {
        STAFF_COOKIE_SECURE
    } else {
        STAFF_COOKIE
    }
}

/// The staff session's cookie: SameSite=Strict (no staff page is ever reached from
/// another site), no Max-Age (the store ends the session).
fn staff_cookie(token: &str, secure: bool) -> HeaderValue {
    let mut c = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict",
        cookie_name(secure)
    );
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

/// A request from signed-in staff: the page context and who they are.
pub struct StaffCtx {
    pub ctx: Ctx,
    pub staff: Staff,
    token: String,
}

impl StaffCtx {
    /// 403 (a page saying so) unless the staff member's role may do `p`.
    pub fn require(&self, p: Permission) -> Result<(), Response> {
        if self.staff.role.may(p) {
            Ok(())
        } else {
            Err(site::message(
                self.ctx.clone(),
                StatusCode::FORBIDDEN,
                "admin-forbidden-title",
                "admin-forbidden-text",
            ))
        }
    }
    pub fn may(&self, p: Permission) -> bool {
        self.staff.role.may(p)
    }
}

impl FromRequestParts<AppState> for StaffCtx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let ctx = Ctx::from_request_parts(parts, s).await?;
        let token = cookie(&parts.headers, cookie_name(s.config.secure_cookies))
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let staff = match &token {
            Some(t) => s.store.staff_by_token(t).await.map_err(|e| {
                tracing::error!(error = %e, "staff session lookup");
                site::unavailable(&ctx)
            })?,
            None => None,
        };
        match (staff, token) {
            (Some(staff), Some(token)) => Ok(Self { ctx, staff, token }),
            _ => Err(super::see_other(&format!(
                "/admin/sign-in?next={}",
                super::urlencode(&ctx.here)
            ))),
        }
    }
}

/// A staff form whose CSRF token was checked, from staff whose role may do `p`.
pub async fn staff_form(
    s: &AppState,
    req: axum::extract::Request,
    p: Permission,
) -> Result<(StaffCtx, CheckedForm), Response> {
    use axum::extract::FromRequest;
    let (mut parts, body) = req.into_parts();
    let staff = StaffCtx::from_request_parts(&mut parts, s).await?;
    let form =
        CheckedForm::from_request(axum::extract::Request::from_parts(parts, body), s).await?;
    staff.require(p)?;
    Ok((staff, form))
}

#[derive(Template)]
#[template(path = "admin_sign_in.html")]
struct SignInPage {
    ctx: Ctx,
    email: String,
    next: String,
    /// The password was right; the authenticator's code is asked.
    ask_code: bool,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn sign_in_page(ctx: Ctx, Query(q): Query<NextQuery>) -> Response {
    render(&SignInPage {
        ctx,
        email: String::new(),
        next: admin_path(q.next.as_deref()),
        ask_code: false,
        error: None,
    })
}

/// Where to go after signing in: a console path only.
fn admin_path(next: Option<&str>) -> String {
    let p = super::local_path(next);
    if p.starts_with("/admin") && !p.starts_with("/admin/sign-") {
        p
    } else {
        "/admin".into()
    }
}

async fn sign_in(State(s): State<AppState>, form: CheckedForm) -> Response {
    let ctx = form.ctx.clone();
    let t = ctx.t;
    let email = form.get("email").to_lowercase();
    let mut page = SignInPage {
        ctx: ctx.clone(),
        email: email.clone(),
        next: admin_path(Some(form.get("next"))),
        ask_code: false,
        error: None,
    };
    let key = format!("staff:{email}");
    if let Err(wait) = s.sign_in_throttle.check(&key).await {
        page.error = Some(t.n("err-too-many-attempts", (wait as i64 + 59) / 60));
        return super::retry_after(render_status(StatusCode::TOO_MANY_REQUESTS, &page), wait);
    }
    let password = form.fields.get("password").map_or("", String::as_str);
    let code = Some(form.get("totp")).filter(|c| !c.is_empty());
    match s.store.staff_sign_in(&email, password, code).await {
        Ok((token, _)) => {
            s.sign_in_throttle.succeeded(&key).await;
            let mut res = super::see_other(&page.next);
            res.headers_mut().append(
                header::SET_COOKIE,
                staff_cookie(&token, s.config.secure_cookies),
            );
            res
        }
        Err(StoreError::TotpRequired) => {
            page.ask_code = true;
            render_status(StatusCode::UNAUTHORIZED, &page)
        }
        Err(e @ (StoreError::BadCredentials | StoreError::WrongTotp)) => {
            s.sign_in_throttle.failed(&key).await;
            page.ask_code = matches!(e, StoreError::WrongTotp);
            page.error = Some(t.t(if page.ask_code {
                "admin-wrong-code"
            } else {
                "err-bad-credentials"
            }));
            render_status(StatusCode::UNAUTHORIZED, &page)
        }
        Err(e) => {
            tracing::error!(error = %e, "staff sign-in");
            site::unavailable(&ctx)
        }
    }
}

async fn sign_out(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (staff, _) = match staff_form(&s, req, Permission::Console).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(e) = s.store.staff_sign_out(&staff.token, &staff.staff).await {
        tracing::error!(error = %e, "staff sign-out");
    }
    let mut res = super::see_other("/admin/sign-in");
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            cookie_name(s.config.secure_cookies),
            "",
            Some(0),
            s.config.secure_cookies,
        ),
    );
    res
}

#[derive(Template)]
#[template(path = "admin.html")]
struct Dashboard {
    ctx: Ctx,
    staff: Staff,
    role_text: String,
    counter: bool,
    customers: bool,
    manage_staff: bool,
    audit: bool,
    inventory: bool,
    reports: bool,
    promotions: bool,
    catalog: bool,
    /// Orders paid and waiting on a supplier (admins and support): (order id, number,
    /// since, calls, last error).
    waiting: Vec<(String, String, String, i64, String)>,
}

async fn dashboard(State(s): State<AppState>, st: StaffCtx) -> Response {
    if let Err(r) = st.require(Permission::Console) {
        return r;
    }
    let t = st.ctx.t;
    let waiting = if st.may(Permission::SeeCustomers) {
        s.store
            .upstream_waiting(20)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|w| {
                (
                    w.order_id,
                    super::orders::shown_number(&w.msisdn),
                    t.datetime(w.since),
                    w.attempts,
                    w.last_error.unwrap_or_default(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    render(&Dashboard {
        waiting,
        counter: st.may(Permission::Counter),
        customers: st.may(Permission::SeeCustomers),
        manage_staff: st.may(Permission::ManageStaff),
        audit: st.may(Permission::SeeAudit),
        inventory: st.may(Permission::Inventory),
        reports: st.may(Permission::Reports),
        promotions: st.may(Permission::Promotions),
        catalog: st.may(Permission::Catalog),
        role_text: st.ctx.t.t(&format!("admin-role-{}", st.staff.role.code())),
        ctx: st.ctx,
        staff: st.staff,
    })
}

#[derive(serde::Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
    /// Back from a resend.
    #[serde(default)]
    sent: bool,
}

/// A line as the console lists it.
struct LineRow {
    id: String,
    msisdn: String,
    iccid: String,
    operator: String,
    kind: String,
    status: String,
    balance: String,
    link: String,
}

async fn line_row(s: &AppState, ctx: &Ctx, line: &simrenew_store::lines::Line) -> LineRow {
    let balance = match s.store.line_detail(line).await {
        Ok(d) => ctx.t.money(d.balance),
        Err(_) => "—".into(),
    };
    LineRow {
        id: line.id.clone(),
        msisdn: line.msisdn.display(),
        iccid: line.iccid.as_str().to_string(),
        operator: line.operator.name(ctx.t.locale).to_string(),
        kind: line.kind.clone(),
        status: line.status.clone(),
        balance,
        link: super::line_link(
            &s.config.secret,
            line.msisdn.as_str().trim_start_matches('+'),
            &line.id,
        ),
    }
}

#[derive(Template)]
#[template(path = "admin_counter.html")]
struct CounterPage {
    ctx: Ctx,
    search_action: &'static str,
    q: String,
    lines: Vec<LineRow>,
    error: Option<String>,
    can_sell: bool,
}

/// The counter's one box: a phone number or ICCID as the customer says or shows it, or
/// the customer's e-mail; the line(s) found, with the way to sell.
async fn counter(State(s): State<AppState>, st: StaffCtx, Query(q): Query<Search>) -> Response {
    if let Err(r) = st.require(Permission::Counter) {
        return r;
    }
    let (found, error) = find_lines(&s, &st.ctx, q.q.trim()).await;
    let lines = rows(&s, &st.ctx, &found).await;
    render(&CounterPage {
        ctx: st.ctx,
        search_action: "/admin/counter",
        can_sell: true,
        q: q.q,
        lines,
        error,
    })
}

async fn rows(s: &AppState, ctx: &Ctx, lines: &[simrenew_store::lines::Line]) -> Vec<LineRow> {
    let mut rows = Vec::with_capacity(lines.len());
    for l in lines {
        rows.push(line_row(s, ctx, l).await);
    }
    rows
}

/// Lines for a search box: by number or ICCID, by the owner's e-mail, or by the name of
/// the person a SIM was handed to at the counter; or why none.
async fn find_lines(
    s: &AppState,
    ctx: &Ctx,
    q: &str,
) -> (Vec<simrenew_store::lines::Line>, Option<String>) {
    if q.is_empty() {
        return (Vec::new(), None);
    }
    let t = ctx.t;
    let found = if q.contains('@') {
        match s.store.user_by_email(q).await {
            Ok(Some(u)) => s.store.lines_of_user(&u.id).await,
            Ok(None) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    } else {
        match simrenew_core::LineRef::parse(q) {
            Ok(r) => match s.store.find_line(&r).await {
                Ok(l) => Ok(vec![l]),
                Err(StoreError::LineNotFound(_)) => Ok(Vec::new()),
                Err(e) => Err(e),
            },
            // Not a number nor an ICCID, but a name: the people SIMs were handed to.
            Err(_) if q.chars().filter(|c| c.is_alphabetic()).count() >= 2 => {
                s.store.lines_of_holders_named(q, 20).await
            }
            Err(e) => return (Vec::new(), Some(super::id_error_text(&t, &e))),
        }
    };
    match found {
        Ok(lines) if lines.is_empty() => (Vec::new(), Some(t.t("admin-nothing-found"))),
        Ok(lines) => (lines, None),
        Err(e) => {
            tracing::error!(error = %e, "staff search");
            (Vec::new(), Some(t.t("unavailable-text")))
        }
    }
}

#[derive(Template)]
#[template(path = "admin_customers.html")]
struct CustomersPage {
    ctx: Ctx,
    search_action: &'static str,
    q: String,
    lines: Vec<LineRow>,
    can_sell: bool,
    /// (order id, line, status, total, created, has an eSIM to install, has a receipt)
    orders: Vec<(String, String, String, String, String, bool, bool)>,
    /// The languages a receipt can be sent in: (code, name, the customer's).
    langs: Vec<(&'static str, &'static str, bool)>,
    /// (when, line, how, amount, state, refunded)
    payments: Vec<(String, String, String, String, String, String)>,
    /// (when, mail or SMS, to, subject, state, failed)
    messages: Vec<(String, String, String, String, String, bool)>,
    /// What support just did.
    notice: Option<String>,
    error: Option<String>,
}

/// Support's search: a customer by e-mail, number or ICCID; their lines and recent
/// orders.
async fn customers(State(s): State<AppState>, st: StaffCtx, Query(q): Query<Search>) -> Response {
    if let Err(r) = st.require(Permission::SeeCustomers) {
        return r;
    }
    let (found, error) = find_lines(&s, &st.ctx, q.q.trim()).await;
    let lines = rows(&s, &st.ctx, &found).await;
    let t = st.ctx.t;
    let mut orders = Vec::new();
    let mut payments = Vec::new();
    let mut recipients = Vec::new();
    let mut customer_lang = None;
    for line in &found {
        recipients.push(line.msisdn.e164());
        if let Some(owner) = &line.owner_id
            && let Ok(Some(u)) = s.store.user_by_id(owner).await
        {
            customer_lang = customer_lang.or(u.locale.clone());
            if !recipients.contains(&u.email) {
                recipients.push(u.email);
            }
        }
        for p in s
            .store
            .payments_of_line(&line.id, 20)
            .await
            .unwrap_or_default()
        {
            let refunded = s
                .store
                .refunds_of_payment(&p.id)
                .await
                .unwrap_or_default()
                .iter()
                .filter(|r| r.status != "failed")
                .map(|r| format!("{} ({})", t.money(r.amount), r.status))
                .collect::<Vec<_>>()
                .join(", ");
            let how = t
                .t_opt(&format!("method-{}", p.provider))
                .unwrap_or_else(|| p.provider.clone());
            payments.push((
                t.datetime(p.created_at),
                line.msisdn.display(),
                format!("{how} · {}", p.method),
                t.money(p.amount),
                p.status.clone(),
                refunded,
            ));
        }
        for o in s
            .store
            .orders_of_line(&line.id, 10)
            .await
            .unwrap_or_default()
        {
            let esim = matches!(
                s.store.profile_of_order(&o.id).await,
                Ok(Some(p)) if p.state.shows_code()
            );
            orders.push((
                o.id.clone(),
                line.msisdn.display(),
                super::orders::status_text(&t, o.status),
                t.money(o.total),
                t.datetime(o.created_at),
                esim,
                matches!(
                    o.status,
                    simrenew_core::OrderStatus::Fulfilled | simrenew_core::OrderStatus::Paid
                ),
            ));
        }
    }
    let messages = s
        .store
        .messages_to(&recipients, 20)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let (state, failed) = match (&m.delivered_at, &m.last_error) {
                (Some(d), _) => (t.s("admin-message-sent", "at", &t.datetime(*d)), false),
                (None, Some(e)) => (t.s("admin-message-failed", "error", e), true),
                (None, None) => (t.t("admin-message-waiting"), false),
            };
            let channel = if m.topic == simrenew_store::outbox::SMS {
                "SMS".to_string()
            } else {
                t.t("admin-message-mail")
            };
            (
                t.datetime(m.created_at),
                channel,
                m.to,
                m.subject,
                state,
                failed,
            )
        })
        .collect();
    let customer_lang = customer_lang.unwrap_or_else(|| t.lang().to_string());
    let langs = RECEIPT_LANGS
        .iter()
        .map(|(code, name)| (*code, *name, *code == customer_lang))
        .collect();
    let can_sell = st.may(Permission::Counter);
    let notice = q.sent.then(|| t.t("admin-resent"));
    render(&CustomersPage {
        langs,
        payments,
        messages,
        notice,
        ctx: st.ctx,
        search_action: "/admin/customers",
        can_sell,
        q: q.q,
        lines,
        orders,
        error,
    })
}

#[derive(Template)]
#[template(path = "admin_staff.html")]
struct StaffPage {
    ctx: Ctx,
    staff: Vec<Staff>,
    roles: Vec<&'static str>,
    form: (String, String, String),
    error: Option<String>,
    added: Option<String>,
}

async fn staff_view(
    s: &AppState,
    ctx: Ctx,
    form: (String, String, String),
    error: Option<String>,
    added: Option<String>,
    status: StatusCode,
) -> Response {
    match s.store.list_staff().await {
        Ok(staff) => render_status(
            status,
            &StaffPage {
                ctx,
                staff,
                roles: Role::ALL.iter().map(|r| r.code()).collect(),
                form,
                error,
                added,
            },
        ),
        Err(e) => {
            tracing::error!(error = %e, "staff list");
            site::unavailable(&ctx)
        }
    }
}

async fn staff_page(State(s): State<AppState>, st: StaffCtx) -> Response {
    if let Err(r) = st.require(Permission::ManageStaff) {
        return r;
    }
    staff_view(&s, st.ctx, Default::default(), None, None, StatusCode::OK).await
}

/// An admin adds a member of staff with a first password they pass on (the new member
/// changes it… when that exists; see docs/staff.md).
async fn add_staff(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::ManageStaff).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = st.ctx.t;
    let typed = (
        form.get("email").to_string(),
        form.get("name").to_string(),
        form.get("role").to_string(),
    );
    let Ok(role) = typed.2.parse::<Role>() else {
        let e = t.t("admin-choose-role");
        return staff_view(
            &s,
            st.ctx,
            typed,
            Some(e),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let password = form.fields.get("password").map_or("", String::as_str);
    match s
        .store
        .add_staff(&st.staff.actor(), &typed.0, &typed.1, role, password)
        .await
    {
        Ok(added) => {
            staff_view(
                &s,
                st.ctx,
                Default::default(),
                None,
                Some(added.email),
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => {
            let text = match &e {
                StoreError::Invalid { field, .. } if field == "name" => t.t("admin-name-rule"),
                other => super::store_error_text(&t, other).1,
            };
            staff_view(
                &s,
                st.ctx,
                typed,
                Some(text),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    ctx: Ctx,
    /// (when, who, what, on what, before, after)
    entries: Vec<(String, String, String, String, String, String)>,
}

async fn audit(State(s): State<AppState>, st: StaffCtx) -> Response {
    if let Err(r) = st.require(Permission::SeeAudit) {
        return r;
    }
    match s.store.audit_entries(200, None).await {
        Ok(list) => {
            let t = st.ctx.t;
            let entries = list
                .into_iter()
                .map(|e| {
                    (
                        t.datetime(e.at),
                        e.actor,
                        e.action,
                        e.subject.unwrap_or_default(),
                        e.before.or(e.detail).unwrap_or_default(),
                        e.after.unwrap_or_default(),
                    )
                })
                .collect();
            render(&AuditPage {
                ctx: st.ctx,
                entries,
            })
        }
        Err(e) => {
            tracing::error!(error = %e, "audit log");
            site::unavailable(&st.ctx)
        }
    }
}

#[derive(Template)]
#[template(path = "admin_totp.html")]
struct TotpPage {
    ctx: Ctx,
    enabled: bool,
    secret: String,
    qr: String,
    error: Option<String>,
}

/// A new secret for the form: 160 random bits (RFC 4226 §4 recommends 160).
fn new_totp_secret() -> String {
    let a = uuid::Uuid::new_v4().into_bytes();
    let b = uuid::Uuid::new_v4().into_bytes();
    let mut key = a.to_vec();
    key.extend_from_slice(&b[..4]);
    simrenew_core::totp::base32_encode(&key)
}

fn totp_view(st: &StaffCtx, secret: String, error: Option<String>, status: StatusCode) -> Response {
    let key = simrenew_core::totp::base32_decode(&secret).unwrap_or_default();
    let uri = simrenew_core::totp::otpauth_uri("simrenew", &st.staff.email, &key);
    render_status(
        status,
        &TotpPage {
            ctx: st.ctx.clone(),
            enabled: st.staff.totp,
            qr: super::qr_svg(&uri).unwrap_or_default(),
            secret,
            error,
        },
    )
}

/// One's own second factor: scan the code (or type the secret) into an authenticator
/// app, then prove it with a code.
async fn totp_page(st: StaffCtx) -> Response {
    if let Err(r) = st.require(Permission::Console) {
        return r;
    }
    totp_view(&st, new_totp_secret(), None, StatusCode::OK)
}

async fn enable_totp(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::Console).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let secret = form.get("secret").to_string();
    match s
        .store
        .enable_totp(&st.staff, &secret, form.get("code"))
        .await
    {
        Ok(_) => super::see_other("/admin"),
        Err(StoreError::WrongTotp | StoreError::Invalid { .. }) => {
            let e = st.ctx.t.t("admin-wrong-code");
            totp_view(&st, secret, Some(e), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => {
            tracing::error!(error = %e, "enabling TOTP");
            site::unavailable(&st.ctx)
        }
    }
}

#[derive(Template)]
#[template(path = "admin_password.html")]
struct PasswordPage {
    ctx: Ctx,
    error: Option<String>,
    done: bool,
}

async fn password_page(st: StaffCtx) -> Response {
    if let Err(r) = st.require(Permission::Console) {
        return r;
    }
    render(&PasswordPage {
        ctx: st.ctx,
        error: None,
        done: false,
    })
}

/// One's own password: the current one, then the new one (8 characters or more); one's
/// other sessions end.
async fn change_password(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::Console).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = st.ctx.t;
    let field = |n: &str| form.fields.get(n).map_or("", String::as_str);
    let outcome = s
        .store
        .change_staff_password(&st.staff, field("current"), field("new"), &st.token)
        .await;
    let (error, status) = match outcome {
        Ok(()) => (None, StatusCode::OK),
        Err(StoreError::BadCredentials) => (
            Some(t.t("admin-password-current-wrong")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(StoreError::Invalid { .. }) => (
            Some(t.t("err-password-rule")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => {
            tracing::error!(error = %e, "staff password");
            return site::unavailable(&st.ctx);
        }
    };
    render_status(
        status,
        &PasswordPage {
            done: error.is_none(),
            error,
            ctx: st.ctx,
        },
    )
}

/// An admin turns a member of staff off (their sessions end) or on again.
async fn set_active(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::ManageStaff).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let active = form.get("active") == "1";
    match s
        .store
        .set_staff_active(&st.staff, form.get("email"), active)
        .await
    {
        Ok(_) => super::see_other("/admin/staff"),
        Err(StoreError::Invalid { reason, .. }) => {
            staff_view(
                &s,
                st.ctx,
                Default::default(),
                Some(reason),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "staff active");
            site::unavailable(&st.ctx)
        }
    }
}

/// The languages of receipts support sends: (code, its own name).
const RECEIPT_LANGS: [(&str, &str); 3] = [("zh-CN", "中文"), ("ru", "Русский"), ("en", "English")];

/// Support sends an order's receipt by e-mail, in the language asked (the customer's by
/// default), to the buyer's address or one the traveller gives now. Audited.
async fn resend_receipt(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::SeeCustomers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let order_id = form.get("order");
    let given = Some(form.get("email")).filter(|e| !e.is_empty());
    let Ok(given) = given
        .map(simrenew_store::users::normalize_email)
        .transpose()
    else {
        return site::message(
            st.ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin-customers",
            "err-email-invalid",
        );
    };
    let order = match s.store.order(order_id).await {
        Ok(o)
            if matches!(
                o.status,
                simrenew_core::OrderStatus::Fulfilled | simrenew_core::OrderStatus::Paid
            ) =>
        {
            o
        }
        Ok(_) | Err(StoreError::OrderNotFound(_)) => return site::not_found(st.ctx),
        Err(e) => {
            tracing::error!(error = %e, "resend receipt");
            return site::unavailable(&st.ctx);
        }
    };
    let buyer = match &order.buyer_id {
        Some(id) => s.store.user_by_id(id).await.ok().flatten(),
        None => None,
    };
    let Some(to) = given.or(buyer.map(|b| b.email)) else {
        return site::message(
            st.ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin-customers",
            "admin-resend-need-email",
        );
    };
    let locale = form
        .get("lang")
        .parse::<simrenew_core::Locale>()
        .unwrap_or(st.ctx.t.locale);
    let t = super::i18n::Tr::new(locale);
    let names = match s.store.all_plans().await {
        Ok(p) => super::plans::PlanNames::new(p, locale),
        Err(e) => {
            tracing::error!(error = %e, "resend receipt");
            return site::unavailable(&st.ctx);
        }
    };
    let mail = super::orders::receipt_mail(&t, &order, &names, &s.config.public_url, &to);
    if let Err(e) = s
        .store
        .resend_messages(
            &st.staff.actor(),
            "support.resend_receipt",
            &format!("order:{order_id}"),
            &[(simrenew_store::outbox::MAIL, mail)],
        )
        .await
    {
        tracing::error!(error = %e, "resend receipt");
        return site::unavailable(&st.ctx);
    }
    super::see_other(&format!(
        "/admin/customers?q={}&sent=true",
        super::urlencode(form.get("q"))
    ))
}

/// Support sends an order's eSIM install mails again (the QR code, and the confirmation
/// code apart), to the buyer's address or one the traveller gives now. Audited.
async fn resend_esim(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::SeeCustomers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let order_id = form.get("order");
    let to = Some(form.get("email")).filter(|e| !e.is_empty());
    let Ok(to) = to.map(simrenew_store::users::normalize_email).transpose() else {
        return site::message(
            st.ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin-customers",
            "err-email-invalid",
        );
    };
    let profile = match s.store.profile_of_order(order_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return site::not_found(st.ctx),
        Err(e) => {
            tracing::error!(error = %e, "resend eSIM");
            return site::unavailable(&st.ctx);
        }
    };
    let mails =
        crate::esim::install_mails_again(&profile, order_id, &s.config.public_url, to.as_deref());
    if mails.is_empty() {
        return site::message(
            st.ctx,
            StatusCode::CONFLICT,
            "admin-customers",
            "admin-resend-nothing",
        );
    }
    if let Err(e) = s
        .store
        .resend_messages(
            &st.staff.actor(),
            "support.resend_esim",
            &format!("order:{order_id}"),
            &mails,
        )
        .await
    {
        tracing::error!(error = %e, "resend eSIM");
        return site::unavailable(&st.ctx);
    }
    super::see_other(&format!(
        "/admin/customers?q={}&sent=true",
        super::urlencode(form.get("q"))
    ))
}

/// Below this many cards or profiles of an operator, the inventory page warns.
pub const LOW_STOCK: i64 = 5;

#[derive(Template)]
#[template(path = "admin_inventory.html")]
struct InventoryPage {
    ctx: Ctx,
    /// (operator name, SIM cards on the shelf, eSIM numbers for sale, eSIM profiles by
    /// state "state n, …", low)
    rows: Vec<(String, i64, i64, String, bool)>,
    low_stock: i64,
    result: Option<String>,
    error: Option<String>,
}

async fn inventory_view(
    s: &AppState,
    st: &StaffCtx,
    result: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let t = st.ctx.t;
    let (sims, profiles) = match (
        s.store.sim_stock_counts().await,
        s.store.profile_counts().await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "inventory");
            return site::unavailable(&st.ctx);
        }
    };
    let rows = simrenew_core::Operator::ALL
        .iter()
        .map(|op| {
            let sim = sims
                .iter()
                .find(|(o, _)| o == op.code())
                .map_or(0, |(_, n)| *n);
            let mine: Vec<_> = profiles.iter().filter(|(o, _, _)| o == op.code()).collect();
            let free = mine
                .iter()
                .filter(|(_, st, _)| *st == simrenew_core::esim::ProfileState::Available)
                .map(|(_, _, n)| *n)
                .sum::<i64>();
            let by_state = mine
                .iter()
                .map(|(_, st, n)| format!("{} {n}", t.t(&format!("esim-state-{}", st.code()))))
                .collect::<Vec<_>>()
                .join(", ");
            (
                op.name(t.locale).to_string(),
                sim,
                free,
                by_state,
                sim < LOW_STOCK || free < LOW_STOCK,
            )
        })
        .collect();
    render_status(
        status,
        &InventoryPage {
            ctx: st.ctx.clone(),
            rows,
            low_stock: LOW_STOCK,
            result,
            error,
        },
    )
}

/// The stock of SIM cards and eSIM numbers per operator, with a warning when low.
async fn inventory(State(s): State<AppState>, st: StaffCtx) -> Response {
    if let Err(r) = st.require(Permission::Inventory) {
        return r;
    }
    inventory_view(&s, &st, None, None, StatusCode::OK).await
}

/// Imports a stock file (`ICCID,number` per line): physical SIM cards for the counter,
/// or eSIM numbers for sale (their profiles of type `<operator>-esim`).
async fn import_stock(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let (st, form) = match staff_form(&s, req, Permission::Inventory).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = st.ctx.t;
    let Ok(op) = form.get("operator").parse::<simrenew_core::Operator>() else {
        let e = t.t("esim-new-choose-operator");
        return inventory_view(&s, &st, None, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let rows =
        match simrenew_core::parse_stock_csv(form.fields.get("csv").map_or("", String::as_str)) {
            Ok(r) if !r.is_empty() => r,
            Ok(_) => {
                let e = t.t("admin-inventory-empty");
                return inventory_view(&s, &st, None, Some(e), StatusCode::UNPROCESSABLE_ENTITY)
                    .await;
            }
            Err(e) => {
                let text = t.args(
                    "admin-inventory-bad-line",
                    &[
                        ("line", (e.line as i64).into()),
                        ("reason", e.reason.into()),
                    ],
                );
                return inventory_view(&s, &st, None, Some(text), StatusCode::UNPROCESSABLE_ENTITY)
                    .await;
            }
        };
    let outcome = if form.get("kind") == "esim" {
        s.store
            .import_esim_lines(op, &format!("{}-esim", op.code()), &rows)
            .await
    } else {
        s.store
            .import_sim_stock(op, simrenew_core::Currency::Rub, &rows)
            .await
    };
    match outcome {
        Ok((added, known)) => {
            let what =
                serde_json::json!({"kind": form.get("kind"), "added": added, "known": known});
            if let Err(e) = s
                .store
                .record_audit(
                    &st.staff.actor(),
                    "inventory.import",
                    &format!("stock:{}", op.code()),
                    &what.to_string(),
                )
                .await
            {
                tracing::warn!(error = %e, "auditing an import");
            }
            let text = t.args(
                "admin-inventory-imported",
                &[
                    ("added", (added as i64).into()),
                    ("known", (known as i64).into()),
                ],
            );
            inventory_view(&s, &st, Some(text), None, StatusCode::OK).await
        }
        Err(e) => {
            tracing::error!(error = %e, "stock import");
            site::unavailable(&st.ctx)
        }
    }
}

#[derive(serde::Deserialize)]
struct Period {
    /// First day, YYYY-MM-DD (Moscow time); 30 days ago when absent.
    from: Option<String>,
    /// Last day, included; today when absent.
    to: Option<String>,
}

/// The report's days: [from 00:00, to + 1 day 00:00) Moscow time, at most a year.
fn period_of(p: &Period) -> Option<(time::Date, time::Date, OffsetDateTime, OffsetDateTime)> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let moscow = super::i18n::MOSCOW;
    let today = OffsetDateTime::now_utc().to_offset(moscow).date();
    let parse = |v: &Option<String>, default: time::Date| match v.as_deref().map(str::trim) {
        None | Some("") => Some(default),
        Some(d) => time::Date::parse(d, fmt).ok(),
    };
    let to = parse(&p.to, today)?;
    let from = parse(&p.from, to - time::Duration::days(29))?;
    if from > to || (to - from).whole_days() > 366 {
        return None;
    }
    let start = from.midnight().assume_offset(moscow);
    let end = (to + time::Duration::days(1))
        .midnight()
        .assume_offset(moscow);
    Some((from, to, start, end))
}

#[derive(Template)]
#[template(path = "admin_reports.html")]
struct ReportsPage {
    ctx: Ctx,
    from: String,
    to: String,
    /// (day, channel, operator, item, orders, total)
    rows: Vec<(String, String, String, String, i64, String)>,
    /// Totals per currency over the period.
    totals: Vec<String>,
    /// Daily roubles as bars, drawn here (no chart library, no script).
    chart: String,
    csv_link: String,
    error: Option<String>,
    /// (operator, periods ended, renewed, rate) for periods that ended in the period.
    renewals: Vec<(String, i64, i64, String)>,
}

/// Daily totals of one currency as an SVG bar chart (one bar per day of the period).
fn bar_chart(days: &[(String, i64)], label: &str) -> String {
    let max = days.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let (w, h, gap) = (12, 120, 2);
    let width = days.len() * (w + gap);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" width="100%" height="{h}" role="img" aria-label="{label}">"#
    );
    for (i, (day, v)) in days.iter().enumerate() {
        let bar = (v * (h as i64 - 4) / max) as usize;
        svg.push_str(&format!(
            r##"<rect class="bar" x="{}" y="{}" width="{w}" height="{bar}" fill="#0b6e4f"><title>{day}: {}</title></rect>"##,
            i * (w + gap),
            h - bar,
            v / 100
        ));
    }
    svg.push_str("</svg>");
    svg
}

async fn reports(State(s): State<AppState>, st: StaffCtx, Query(q): Query<Period>) -> Response {
    if let Err(r) = st.require(Permission::Reports) {
        return r;
    }
    let t = st.ctx.t;
    let Some((from, to, start, end)) = period_of(&q) else {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ReportsPage {
                ctx: st.ctx.clone(),
                from: q.from.clone().unwrap_or_default(),
                to: q.to.clone().unwrap_or_default(),
                rows: Vec::new(),
                totals: Vec::new(),
                chart: String::new(),
                csv_link: String::new(),
                error: Some(t.t("admin-reports-period-wrong")),
                renewals: Vec::new(),
            },
        );
    };
    let (sales, renewals) = match (
        s.store.sales(start, end).await,
        s.store.renewal_rate(start, end).await,
    ) {
        (Ok(r), Ok(n)) => (r, n),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "reports");
            return site::unavailable(&st.ctx);
        }
    };
    let mut totals: std::collections::BTreeMap<simrenew_core::Currency, i64> = Default::default();
    let mut daily: std::collections::BTreeMap<String, i64> = Default::default();
    for r in &sales {
        *totals.entry(r.total.currency).or_default() += r.total.minor;
        if r.total.currency == simrenew_core::Currency::Rub {
            *daily.entry(r.day.clone()).or_default() += r.total.minor;
        }
    }
    let days: Vec<(String, i64)> = (0..=(to - from).whole_days())
        .map(|d| {
            let day = (from + time::Duration::days(d)).to_string();
            let v = daily.get(&day).copied().unwrap_or(0);
            (day, v)
        })
        .collect();
    let page = ReportsPage {
        chart: bar_chart(&days, &t.t("admin-reports-chart")),
        totals: totals
            .into_iter()
            .map(|(c, m)| t.money(simrenew_core::Money::new(m, c)))
            .collect(),
        rows: sales
            .iter()
            .map(|r| {
                (
                    r.day.clone(),
                    r.channel.clone(),
                    r.operator.clone(),
                    r.item.clone(),
                    r.orders,
                    t.money(r.total),
                )
            })
            .collect(),
        renewals: renewals
            .iter()
            .map(|r| {
                let rate = r.percent().map(|p| format!("{p} %")).unwrap_or_default();
                (r.operator.clone(), r.ended, r.renewed, rate)
            })
            .collect(),
        csv_link: format!("/admin/reports.csv?from={from}&to={to}"),
        from: from.to_string(),
        to: to.to_string(),
        error: None,
        ctx: st.ctx,
    };
    render(&page)
}

/// The same rows as CSV (RFC 4180): day, channel, operator, item, currency, orders,
/// total in major units.
async fn reports_csv(State(s): State<AppState>, st: StaffCtx, Query(q): Query<Period>) -> Response {
    use axum::response::IntoResponse;
    if let Err(r) = st.require(Permission::Reports) {
        return r;
    }
    let Some((from, to, start, end)) = period_of(&q) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "from/to: YYYY-MM-DD, from before to, at most a year",
        )
            .into_response();
    };
    let sales = match s.store.sales(start, end).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "reports");
            return site::unavailable(&st.ctx);
        }
    };
    let mut csv = String::from("day,channel,operator,item,currency,orders,total\r\n");
    for r in &sales {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\r\n",
            r.day,
            r.channel,
            r.operator,
            r.item,
            r.total.currency,
            r.orders,
            r.total.major_string()
        ));
    }
    (
        [
            ("content-type", "text/csv; charset=utf-8".to_string()),
            (
                "content-disposition",
                format!("attachment; filename=\"sales-{from}-{to}.csv\""),
            ),
        ],
        csv,
    )
        .into_response()
}
