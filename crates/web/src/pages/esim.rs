//! The eSIM install page of an order (`/orders/{id}/esim`): what to do, in the reader's
//! language, for every way a phone installs a profile — the QR code (drawn on the page),
//! Apple's one-tap link (iOS 17.4+), and the SM-DP+ address and activation code to type,
//! each with a copy button — and where the profile is now (released, downloaded,
//! installed, or failed with what to do), with its as-of time. Like the order page, the
//! order id is the capability.

use super::{Ctx, render, site};
use crate::AppState;
use crate::extract::ClientIp;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use simrenew_core::esim::ProfileState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders/{id}/esim", get(install_page))
        .route("/orders/{id}/esim/qr.png", get(qr_png))
        .route("/orders/{id}/esim/reissue", axum::routing::post(reissue))
        .route("/esim/new", get(new_page).post(new_esim))
}

/// Buying a new eSIM: the operator, and the phone's EID when the buyer knows it (the
/// profile is then bound to that phone). A number is reserved from the inventory (lines
/// imported with profile type `<operator>-esim`) and the buyer goes on to its renewal
/// page to choose a plan and pay; once paid, the profile is released and the order page
/// leads to the install page.
#[derive(Template)]
#[template(path = "esim_new.html")]
struct NewPage {
    ctx: Ctx,
    /// (operator code, name, profiles left)
    operators: Vec<(String, String, i64)>,
    form: NewForm,
    errors: NewErrors,
}

/// What the buyer typed, shown again with the errors.
#[derive(Default, Clone)]
struct NewForm {
    operator: String,
    eid: String,
    imei: String,
    email: String,
}

/// Why each field was refused, in the reader's language.
#[derive(Default)]
struct NewErrors {
    operator: Option<String>,
    eid: Option<String>,
    imei: Option<String>,
    email: Option<String>,
    form: Option<String>,
}

impl NewErrors {
    fn any(&self) -> bool {
        self.operator.is_some() || self.eid.is_some() || self.imei.is_some() || self.email.is_some()
    }
}

async fn new_view(
    s: &AppState,
    ctx: Ctx,
    form: NewForm,
    errors: NewErrors,
    status: axum::http::StatusCode,
) -> Response {
    let counts = match s.store.profile_counts().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "eSIM counts");
            return site::unavailable(&ctx);
        }
    };
    let operators = simrenew_core::Operator::ALL
        .iter()
        .map(|op| {
            let left = counts
                .iter()
                .filter(|(o, st, _)| o == op.code() && *st == ProfileState::Available)
                .map(|(_, _, n)| *n)
                .sum();
            (
                op.code().to_string(),
                op.name(ctx.t.locale).to_string(),
                left,
            )
        })
        .collect();
    super::render_status(
        status,
        &NewPage {
            operators,
            form,
            errors,
            ctx,
        },
    )
}

async fn new_page(State(s): State<AppState>, ctx: Ctx) -> Response {
    let form = NewForm {
        email: ctx
            .user
            .as_ref()
            .map(|u| u.email.clone())
            .unwrap_or_default(),
        ..Default::default()
    };
    new_view(&s, ctx, form, NewErrors::default(), StatusCode::OK).await
}

/// A buyer's choice for a new eSIM, checked: each field's refusal is an error code the
/// page and the API put in words of their own.
pub struct NewEsim {
    pub operator: simrenew_core::Operator,
    pub eid: Option<simrenew_core::Eid>,
    pub imei: Option<simrenew_core::Imei>,
    pub email: Option<String>,
}

/// The fields at fault: (field, what is wrong).
pub type FieldErrors = Vec<(&'static str, NewEsimError)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewEsimError {
    Operator,
    Id(simrenew_core::IdError),
    Email,
}

impl NewEsim {
    pub fn parse(operator: &str, eid: &str, imei: &str, email: &str) -> Result<Self, FieldErrors> {
        let mut errors = Vec::new();
        let operator = operator.trim().parse::<simrenew_core::Operator>().ok();
        if operator.is_none() {
            errors.push(("operator", NewEsimError::Operator));
        }
        let opt = |raw: &str| (!raw.trim().is_empty()).then(|| raw.trim().to_string());
        // Blank means none, within the length every id field takes (a longer one, blank
        // or not, is refused by its parser as too long, as the API's patterns say).
        fn id(raw: &str) -> Option<&str> {
            (!raw.trim().is_empty()
                || raw.chars().count() > simrenew_core::ids::patterns::MAX_CHARS)
                .then_some(raw)
        }
        let eid = id(eid).and_then(|e| {
            simrenew_core::Eid::parse(e)
                .map_err(|e| errors.push(("eid", NewEsimError::Id(e))))
                .ok()
        });
        let imei = id(imei).and_then(|i| {
            simrenew_core::Imei::parse(i)
                .map_err(|e| errors.push(("imei", NewEsimError::Id(e))))
                .ok()
        });
        let email = opt(email).and_then(|m| {
            simrenew_store::users::normalize_email(&m)
                .map_err(|_| errors.push(("email", NewEsimError::Email)))
                .ok()
        });
        match operator {
            Some(operator) if errors.is_empty() => Ok(Self {
                operator,
                eid,
                imei,
                email,
            }),
            _ => Err(errors),
        }
    }
}

async fn new_esim(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    form: super::CheckedForm,
) -> Response {
    let ctx = form.ctx.clone();
    let t = ctx.t;
    let typed = NewForm {
        operator: form.get("operator").to_string(),
        eid: form.get("eid").trim().to_string(),
        imei: form.get("imei").trim().to_string(),
        email: form.get("email").trim().to_string(),
    };
    let checked = NewEsim::parse(&typed.operator, &typed.eid, &typed.imei, &typed.email);
    let want = match checked {
        Ok(w) => w,
        Err(fields) => {
            let mut errors = NewErrors::default();
            for (field, e) in fields {
                let text = match &e {
                    NewEsimError::Operator => t.t("esim-new-choose-operator"),
                    NewEsimError::Email => t.t("err-email-invalid"),
                    NewEsimError::Id(simrenew_core::IdError::EidCheck) => t.t("esim-new-eid-wrong"),
                    NewEsimError::Id(id) => super::id_error_text(&t, id),
                };
                match field {
                    "operator" => errors.operator = Some(text),
                    "eid" => errors.eid = Some(text),
                    "imei" => errors.imei = Some(text),
                    _ => errors.email = Some(text),
                }
            }
            debug_assert!(errors.any());
            return new_view(&s, ctx, typed, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    match reserve(&s, &ip, &want, ctx.locale()).await {
        Ok(line) => super::see_other(&super::line_link(
            &s.config.secret,
            line.msisdn.as_str().trim_start_matches('+'),
            &line.id,
        )),
        Err(Reserve::SoldOut) => {
            let errors = NewErrors {
                operator: Some(t.t("esim-new-sold-out")),
                ..Default::default()
            };
            new_view(&s, ctx, typed, errors, StatusCode::CONFLICT).await
        }
        Err(Reserve::TooMany(wait)) => {
            let errors = NewErrors {
                form: Some(t.n("esim-new-too-many", (wait as i64 + 59) / 60)),
                ..Default::default()
            };
            let res = new_view(&s, ctx, typed, errors, StatusCode::TOO_MANY_REQUESTS).await;
            super::retry_after(res, wait)
        }
        Err(Reserve::Failed) => site::unavailable(&ctx),
    }
}

/// Why a number could not be reserved.
pub enum Reserve {
    /// No eSIM of this operator is left.
    SoldOut,
    /// This client reserved its share; seconds until it may again.
    TooMany(u64),
    /// Ours (logged).
    Failed,
}

/// Reserves a new eSIM's number for `want` (asked from address `ip`): the line whose
/// renewal the buyer pays next. Counted against the client's share of reservations.
pub async fn reserve(
    s: &AppState,
    ip: &str,
    want: &NewEsim,
    locale: simrenew_core::Locale,
) -> Result<simrenew_store::lines::Line, Reserve> {
    s.reserve_throttle
        .check(ip)
        .await
        .map_err(Reserve::TooMany)?;
    let op = want.operator;
    let profile_type = format!("{}-esim", op.code());
    let holder = simrenew_store::esim::Holder {
        eid: want.eid.as_ref().map(|e| e.as_str()),
        imei: want.imei.as_ref().map(|i| i.as_str()),
        email: want.email.as_deref(),
        locale: Some(locale.tag()),
    };
    let p = match s
        .store
        .allocate_profile_for(op, &profile_type, None, &holder)
        .await
    {
        Ok(p) => p,
        Err(simrenew_store::StoreError::NoProfileLeft { .. }) => return Err(Reserve::SoldOut),
        Err(e) => {
            tracing::error!(error = %e, "eSIM reservation");
            return Err(Reserve::Failed);
        }
    };
    s.reserve_throttle.failed(ip).await;
    let iccid = simrenew_core::Iccid::parse(&p.iccid).map_err(|_| Reserve::Failed)?;
    s.store
        .find_line(&simrenew_core::LineRef::Iccid(iccid))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, iccid = %p.iccid, "a stocked eSIM without its line");
            Reserve::Failed
        })
}

#[derive(Template)]
#[template(path = "esim.html")]
struct InstallPage {
    ctx: Ctx,
    order_id: String,
    state: &'static str,
    state_text: String,
    as_of: String,
    /// What to do now (a failed download: reissue; installed: turn it on…).
    advice: String,
    /// The code and its ways in; absent until the profile is released.
    code: Option<Code>,
    error: Option<String>,
    /// The buyer may ask for a new code (an SM-DP+ is configured and the state allows).
    can_reissue: bool,
    /// The confirmation code, for the buyer only (not in the QR code or the links).
    confirmation_code: Option<String>,
    /// The code needs a confirmation code the viewer is not shown (not the buyer).
    code_withheld: bool,
    /// In demo shops: the stand-in phone that installs this code.
    sandbox_phone: Option<String>,
}

struct Code {
    svg: String,
    apple_link: String,
    smdp_address: String,
    matching_id: String,
    lpa: String,
}

async fn install_page(State(s): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let profile = match s.store.profile_of_order(&id).await {
        Ok(Some(p)) => p,
        Ok(None) => return site::not_found(ctx),
        Err(e) => {
            tracing::error!(error = %e, "eSIM page");
            return site::unavailable(&ctx);
        }
    };
    let t = ctx.t;
    let ac = crate::esim::activation_code(&profile);
    // The confirmation code is the buyer's: a signed-in buyer's order shows it to them
    // only; an anonymous order to whoever holds its link, as the rest of the page.
    let buyer = match s.store.order(&id).await {
        Ok(o) => o.buyer_id,
        Err(_) => return site::not_found(ctx),
    };
    let is_buyer = match &buyer {
        Some(b) => ctx.user.as_ref().is_some_and(|u| &u.id == b),
        None => true,
    };
    let confirmation_code = profile
        .confirmation_code
        .clone()
        .filter(|_| is_buyer && ac.is_some());
    let code_withheld = ac.is_some() && profile.confirmation_code.is_some() && !is_buyer;
    let sandbox_phone = ac
        .as_ref()
        .filter(|_| s.config.esim_sandbox_phone)
        .map(|ac| {
            format!(
                "/sandbox/esim/phone?code={}",
                super::urlencode(&ac.qr_text())
            )
        });
    let code = ac.and_then(|ac| {
        super::qr_svg(&ac.qr_text()).map(|svg| Code {
            svg,
            apple_link: ac.apple_link(),
            lpa: ac.qr_text(),
            smdp_address: ac.smdp_address,
            matching_id: ac.matching_id,
        })
    });
    let state = profile.state.code();
    let page = InstallPage {
        order_id: id,
        state,
        state_text: t.t(&format!("esim-state-{state}")),
        as_of: t.datetime(profile.state_at),
        advice: t.t(&format!("esim-advice-{state}")),
        code,
        can_reissue: s.config.es2.is_some() && profile.state == ProfileState::Error,
        confirmation_code,
        code_withheld,
        sandbox_phone,
        error: profile
            .last_error
            .filter(|_| profile.state == ProfileState::Error),
        ctx,
    };
    render(&page)
}

/// `GET /orders/{id}/esim/qr.png`: the QR code as a PNG, to save or print (and for
/// e-mail).
async fn qr_png(State(s): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    use axum::response::IntoResponse;
    let found = s.store.profile_of_order(&id).await;
    let Some(ac) = found
        .ok()
        .flatten()
        .as_ref()
        .and_then(crate::esim::activation_code)
    else {
        return site::not_found(ctx);
    };
    match crate::esim::qr_png(&ac) {
        Some(bytes) => (
            [
                ("content-type", "image/png".to_string()),
                ("cache-control", "private, no-store".to_string()),
                (
                    "content-disposition",
                    format!(
                        "inline; filename=\"esim-{}.png\"",
                        id.chars()
                            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                            .collect::<String>()
                    ),
                ),
            ],
            bytes,
        )
            .into_response(),
        None => site::unavailable(&ctx),
    }
}

/// `POST /orders/{id}/esim/reissue`: the buyer asks for a new code after a failed
/// installation (or before any): the rule and its limit are `crate::esim::reissue`'s.
async fn reissue(
    State(s): State<AppState>,
    Path(id): Path<String>,
    form: super::CheckedForm,
) -> Response {
    let ctx = form.ctx.clone();
    let Some(r) = s.release() else {
        return site::not_found(ctx);
    };
    match crate::esim::reissue(&r, &id, None).await {
        Ok(_) => super::see_other(&format!("/orders/{id}/esim")),
        Err(crate::esim::EsimError::TooManyReissues(_)) => site::message(
            ctx,
            axum::http::StatusCode::CONFLICT,
            "esim-title",
            "esim-reissue-limit",
        ),
        Err(e) => {
            tracing::warn!(error = %e, order = %id, "eSIM reissue");
            site::message(
                ctx,
                axum::http::StatusCode::BAD_GATEWAY,
                "esim-title",
                "esim-reissue-failed",
            )
        }
    }
}
