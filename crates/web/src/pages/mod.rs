//! The traveller's web site: server-rendered pages in zh-CN, ru and en that work without
//! JavaScript, over the same store calls as the JSON API. Shared here: the per-request
//! context (language, currency, signed-in user, CSRF token), cookies, the CSRF-checked
//! form extractor, security headers and rendering.

pub mod account;
pub mod admin;
pub mod assets;
pub mod catalog;
pub mod counter;
pub mod esim;
pub mod i18n;
pub mod line;
pub mod orders;
pub mod plans;
pub mod promotions;
pub mod site;

use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use hmac::{KeyInit, Mac};
use i18n::Tr;
use simrenew_core::{Currency, Locale};
use simrenew_store::users::User;
use std::collections::HashMap;
use std::sync::Arc;

/// Every page route, the PWA files and the static assets.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(site::router())
        .merge(plans::router())
        .merge(line::router())
        .merge(orders::router())
        .merge(esim::router())
        .merge(account::router())
        .merge(admin::router())
        .merge(promotions::router())
        .merge(catalog::router())
        .merge(counter::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ensure_csrf_cookie,
        ))
        .merge(assets::router())
}

/// Cookie names. With Secure cookies (a site served over HTTPS) the session cookie takes
/// the `__Host-` prefix, which browsers only accept from a secure origin, for path `/`,
/// without a Domain (RFC 6265bis §4.1.3.2).
const SESSION_COOKIE: &str = "sid";
const SESSION_COOKIE_SECURE: &str = "__Host-sid";
const CSRF_COOKIE: &str = "csrf";
const LANG_COOKIE: &str = "lang";
const CURRENCY_COOKIE: &str = "cur";

/// What the site shows in its footer: how to reach a person.
#[derive(Debug, Clone, Default)]
pub struct Support {
    pub phone: Option<String>,
    pub telegram: Option<String>,
    pub wechat: Option<String>,
    pub email: Option<String>,
}

/// Everything a page needs to know about the request it answers.
#[derive(Clone)]
pub struct Ctx {
    pub t: Tr,
    pub currency: Currency,
    pub user: Option<User>,
    /// The session token (cookie), when signed in.
    pub session: Option<String>,
    /// The token every form carries back (signed double-submit, see [`csrf_token`]).
    pub csrf: String,
    /// The path and query of this page, for the language and currency switches.
    pub here: String,
    pub support: Arc<Support>,
    pub demo: bool,
    pub secure: bool,
}

impl Ctx {
    pub fn locale(&self) -> Locale {
        self.t.locale
    }
    /// The hashed URL of a static asset.
    pub fn asset(&self, name: &str) -> String {
        assets::url(name)
    }
    /// The link that switches the language and comes back here.
    pub fn lang_link(&self, tag: &str) -> String {
        format!("/lang/{tag}?next={}", urlencode(&self.here))
    }
    pub fn currency_link(&self, code: &str) -> String {
        format!("/currency/{code}?next={}", urlencode(&self.here))
    }
    pub fn is_lang(&self, tag: &str) -> bool {
        self.t.lang() == tag
    }
    pub fn currency_code(&self) -> &'static str {
        self.currency.code()
    }
    pub fn signed_in(&self) -> bool {
        self.user.is_some()
    }
}

/// Reads a cookie from the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Lax always, Secure on HTTPS sites;
/// `max_age` None makes a session cookie, Some(0) deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE_SECURE
    } else {
        SESSION_COOKIE
    }
}

/// The cookie that carries a new session (30 days, as the store keeps sessions).
pub fn session_cookie(token: &str, secure: bool) -> HeaderValue {
    set_cookie(
        session_cookie_name(secure),
        token,
        Some(simrenew_store::users::SESSION_DAYS * 86_400),
        secure,
    )
}

pub fn clear_session_cookie(secure: bool) -> HeaderValue {
    set_cookie(session_cookie_name(secure), "", Some(0), secure)
}

/// A page answered 429 tells the browser how long to wait (`Retry-After`, seconds).
pub fn retry_after(mut res: Response, wait: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `next=` target we are willing to redirect to: a local path only (no scheme, no
/// `//host`, no backslash tricks), so the switches cannot be used as open redirects.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.into(),
        _ => "/".into(),
    }
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// HMAC-SHA256 of `msg` under the site's secret, hex.
pub fn sign(secret: &[u8], msg: &str) -> String {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(msg.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The CSRF token of a browser: the HMAC of its random `csrf` cookie under the site's
/// secret ("signed double-submit cookie", OWASP CSRF prevention cheat sheet). A forged
/// form cannot know it: the cookie is HttpOnly and another site cannot read it, and a
/// cookie planted by a sibling domain has no valid signature.
pub fn csrf_token(secret: &[u8], cookie: &str) -> String {
    sign(secret, &format!("csrf:{cookie}"))[..32].to_string()
}

/// The random value of a new CSRF cookie, set by [`ensure_csrf_cookie`].
#[derive(Clone)]
struct NewCsrf(String);

/// Gives every browser a CSRF cookie on its first page.
pub async fn ensure_csrf_cookie(
    axum::extract::State(s): axum::extract::State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let fresh = cookie(req.headers(), CSRF_COOKIE)
        .is_none_or(|c| c.len() < 16)
        .then(simrenew_store::db::new_secret);
    if let Some(v) = &fresh {
        req.extensions_mut().insert(NewCsrf(v.clone()));
    }
    let mut res = next.run(req).await;
    if let Some(v) = fresh {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(CSRF_COOKIE, &v, None, s.config.secure_cookies),
        );
    }
    res
}

fn csrf_cookie_of(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<NewCsrf>()
        .map(|n| n.0.clone())
        .or_else(|| cookie(&parts.headers, CSRF_COOKIE).map(str::to_string))
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let secure = s.config.secure_cookies;
        let session = cookie(&parts.headers, session_cookie_name(secure))
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let user = match &session {
            Some(t) => s.store.user_by_token(t).await.map_err(|e| {
                tracing::error!(error = %e, "session lookup failed");
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            })?,
            None => None,
        };
        // The language: this browser's choice, else the account's, else the browser's
        // Accept-Language, else English.
        let locale = cookie(&parts.headers, LANG_COOKIE)
            .and_then(|l| l.parse::<Locale>().ok())
            .or_else(|| {
                user.as_ref()
                    .and_then(|u| u.locale.as_deref())
                    .and_then(|l| l.parse().ok())
            })
            .unwrap_or_else(|| {
                Locale::negotiate(
                    parts
                        .headers
                        .get(header::ACCEPT_LANGUAGE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                )
            });
        let currency = cookie(&parts.headers, CURRENCY_COOKIE)
            .and_then(|c| c.parse::<Currency>().ok())
            .unwrap_or_else(|| i18n::default_currency(locale));
        let csrf = csrf_cookie_of(parts)
            .map(|c| csrf_token(&s.config.secret, &c))
            .unwrap_or_default();
        let here = parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        Ok(Ctx {
            t: Tr::new(locale),
            currency,
            session: user.as_ref().and(session),
            user,
            csrf,
            here,
            support: s.config.support.clone(),
            demo: s.config.demo_payments,
            secure,
        })
    }
}

/// A submitted form whose CSRF token was checked, as a map of its fields.
pub struct CheckedForm {
    pub ctx: Ctx,
    pub fields: HashMap<String, String>,
}

impl CheckedForm {
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", |s| s.trim())
    }
}

impl FromRequest<AppState> for CheckedForm {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let ctx = Ctx::from_request_parts(&mut parts, s).await?;
        let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
            Ok(bytes) => bytes,
            Err(e) => return Err(form_unread(&e, ctx)),
        };
        let fields: HashMap<String, String> = form_urlencoded(&bytes);
        let sent = fields.get("csrf").map_or("", String::as_str);
        let cookie_ok = cookie(&parts.headers, CSRF_COOKIE)
            .map(|c| csrf_token(&s.config.secret, c))
            .is_some_and(|want| {
                use subtle::ConstantTimeEq;
                !sent.is_empty() && bool::from(want.as_bytes().ct_eq(sent.as_bytes()))
            });
        if !cookie_ok {
            let page = site::Message {
                title: ctx.t.t("csrf-title"),
                text: ctx.t.t("csrf-text"),
                // The form's own page: forms post to the path they are shown on.
                back: local_path(Some(&ctx.here)),
                ctx,
            };
            return Err(render_status(StatusCode::FORBIDDEN, &page));
        }
        Ok(Self { ctx, fields })
    }
}

/// The largest form a page takes (no form of ours comes near it).
const FORM_LIMIT: usize = 64 * 1024;

/// The page for a form whose body could not be read, with the status the JSON API gives
/// for the same failure (`extract::body_problem`): 408 when it stopped arriving (a
/// traveller's connection dropping abroad), 413 over [`FORM_LIMIT`], 400 when cut off.
/// Nothing of the form was acted on, and the page says so in the visitor's language.
fn form_unread(e: &axum::Error, ctx: Ctx) -> Response {
    let status = StatusCode::from_u16(crate::extract::body_problem(e, false).status)
        .unwrap_or(StatusCode::BAD_REQUEST);
    let (title, text) = match status {
        StatusCode::REQUEST_TIMEOUT => ("form-slow-title", "form-slow-text"),
        StatusCode::PAYLOAD_TOO_LARGE => ("form-large-title", "form-large-text"),
        _ => ("form-cut-title", "form-cut-text"),
    };
    let page = site::Message {
        title: ctx.t.t(title),
        text: ctx.t.t(text),
        back: local_path(Some(&ctx.here)),
        ctx,
    };
    render_status(status, &page)
}

/// Parses `application/x-www-form-urlencoded` (the WHATWG URL standard's
/// application/x-www-form-urlencoded parser: `+` is a space, `%XX` a byte, invalid UTF-8
/// replaced). Later duplicates win.
pub fn form_urlencoded(body: &[u8]) -> HashMap<String, String> {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = percent_decode(it.next().unwrap_or(b""));
            let v = percent_decode(it.next().unwrap_or(b""));
            (k, v)
        })
        .collect()
}

fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Renders a template as a 200 page.
pub fn render<T: Template>(t: &T) -> Response {
    render_status(StatusCode::OK, t)
}

/// Renders a template with a status (422 for a form with errors, 404…).
pub fn render_status<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => {
            let mut res = (status, Html(html)).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A 303 to `to` (the answer to a POST that worked).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The Content-Security-Policy of pages: only our own scripts, styles, images and
/// workers; no inline script, no framing, forms post only to us.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; manifest-src 'self'; worker-src 'self'; font-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Security headers on every answer; the strict CSP on all but Swagger UI (which runs
/// its own inline code).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let docs = req.uri().path().starts_with("/api/docs");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !docs {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::VARY)
        .or_insert(HeaderValue::from_static("Cookie, Accept-Language"));
    res
}

/// Why an identifier was refused, in the reader's language.
pub fn id_error_text(t: &Tr, e: &simrenew_core::IdError) -> String {
    use simrenew_core::IdError as E;
    match e {
        E::BadCharacter => t.t("err-id-characters"),
        E::BadLength { expected, found } => t.args(
            "err-id-length",
            &[
                ("expected", (*expected).into()),
                ("found", (*found as i64).into()),
            ],
        ),
        E::IccidPrefix => t.t("err-iccid-prefix"),
        E::IccidCheckDigit => t.t("err-iccid-check"),
        E::EidCheck => t.t("err-eid-check"),
        E::ImeiCheckDigit => t.t("err-imei-check"),
        E::MsisdnAmbiguous => t.t("err-msisdn-ambiguous"),
        E::NotALine => t.t("err-not-a-line"),
        E::TooLong => t.args(
            "err-id-too-long",
            &[(
                "max",
                (simrenew_core::ids::patterns::MAX_CHARS as i64).into(),
            )],
        ),
    }
}

/// A store error a reader can act on, in their language, with the form field it belongs
/// to (`line`, `plan`, `pay`, `email`, `password`, `puk`, or `form`); `None` for failures
/// that are ours (the page shows "try again later" and the log has the details).
pub fn store_error_text(t: &Tr, e: &simrenew_store::StoreError) -> (Option<&'static str>, String) {
    use simrenew_core::renewal::RenewalError as R;
    use simrenew_store::StoreError as E;
    match e {
        E::LineNotFound(_) => (Some("line"), t.t("err-line-not-found")),
        E::LineSuspended => (Some("line"), t.t("err-line-suspended")),
        E::NotSold => (Some("line"), t.t("err-esim-not-sold")),
        E::Id(id) => (Some("line"), id_error_text(t, id)),
        E::PlanNotFound(_) => (Some("plan"), t.t("err-choose-plan")),
        E::Renewal(R::NoActivePeriod) => (Some("plan"), t.t("err-no-active-period")),
        E::Renewal(_) | E::CurrencyNotOffered { .. } => {
            (Some("plan"), t.t("err-plan-not-for-line"))
        }
        E::InsufficientBalance { missing, .. } => (
            Some("pay"),
            t.s("err-insufficient-balance", "missing", &t.money(*missing)),
        ),
        E::NotOwner | E::BalanceCurrency { .. } => (Some("pay"), t.t("err-not-owner")),
        E::OrderNotPending(_) => (Some("form"), t.t("err-order-not-pending")),
        E::EmailTaken => (Some("email"), t.t("err-email-taken")),
        E::BadCredentials => (Some("form"), t.t("err-bad-credentials")),
        E::LineAlreadyAttached => (Some("line"), t.t("err-line-attached")),
        E::WrongPuk => (Some("puk"), t.t("err-wrong-puk")),
        E::WrongCode => (Some("code"), t.t("err-wrong-code")),
        E::TooManyCodes => (Some("code"), t.t("err-too-many-codes")),
        E::ResetTokenInvalid => (Some("form"), t.t("err-reset-link")),
        E::Invalid { field, .. } if field == "email" => (Some("email"), t.t("err-email-invalid")),
        E::Invalid { field, .. } if field == "password" => {
            (Some("password"), t.t("err-password-rule"))
        }
        E::Invalid { field, .. } if field.ends_with("amount_minor") => {
            (Some("amount"), t.t("err-amount"))
        }
        E::NoFxRate { .. } => (Some("amount"), t.t("err-topup-currency")),
        E::PromoCode { refusal, .. } => {
            use simrenew_core::promotion::CodeRefusal as C;
            let key = match refusal {
                C::Unknown => "err-promo-unknown",
                C::NotRunning => "err-promo-not-running",
                C::NotApplicable => "err-promo-not-applicable",
            };
            (Some("promo"), t.t(key))
        }
        E::PromotionUsedUp { .. } => (Some("promo"), t.t("err-promo-used-up")),
        E::PromotionUsedByCustomer { limit, .. } => (
            Some("promo"),
            t.n("err-promo-customer-limit", i64::from(*limit)),
        ),
        E::Invalid { .. } | E::Money(_) => (Some("form"), t.t("err-invalid")),
        _ => (None, t.t("unavailable-text")),
    }
}

/// A line's own link: the renewal page with a signature that lets it preselect the
/// line's current plan without the reader signing in. Reminders and the out-of-data
/// redirect use it.
pub fn line_link(secret: &[u8], msisdn_digits: &str, line_id: &str) -> String {
    format!(
        "/renew/{msisdn_digits}?k={}",
        &sign(secret, &format!("line:{line_id}"))[..24]
    )
}

/// Whether `k` is the signature of [`line_link`] for this line.
pub fn line_link_valid(secret: &[u8], line_id: &str, k: &str) -> bool {
    use subtle::ConstantTimeEq;
    let want = &sign(secret, &format!("line:{line_id}"))[..24];
    k.len() == want.len() && bool::from(want.as_bytes().ct_eq(k.as_bytes()))
}

/// A QR code of `text` as inline SVG (no script, no image request), at least 220 px.
pub fn qr_svg(text: &str) -> Option<String> {
    let svg = qrcode::QrCode::new(text.as_bytes())
        .ok()?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    // The XML declaration is not HTML.
    Some(
        svg.find("<svg")
            .map_or(svg.clone(), |i| svg[i..].to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = form_urlencoded(b"line=%2B7+916+123&csrf=ab&x=%E4%B8%AD&bad=%zz&end=%4");
        assert_eq!(f["line"], "+7 916 123");
        assert_eq!(f["x"], "中");
        assert_eq!(f["bad"], "%zz");
        assert_eq!(f["end"], "%4");
    }

    #[test]
    fn next_is_local_only() {
        assert_eq!(local_path(Some("/plans?x=1")), "/plans?x=1");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn line_links_are_bound_to_their_line() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let link = line_link(secret, "79161234561", "line-a");
        let k = link.split("k=").nth(1).unwrap();
        assert!(line_link_valid(secret, "line-a", k));
        assert!(!line_link_valid(secret, "line-b", k));
        assert!(!line_link_valid(b"another secret", "line-a", k));
    }
}
