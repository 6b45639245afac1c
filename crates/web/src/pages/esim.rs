//! The eSIM install page of an order (`/orders/{id}/esim`): what to do, in the reader's
//! language, for every way a phone installs a profile — the QR code (drawn on the page),
//! Apple's one-tap link (iOS 17.4+), and the SM-DP+ address and activation code to type,
//! each with a copy button — and where the profile is now (released, downloaded,
//! installed, or failed with what to do), with its as-of time. Like the order page, the
//! order id is the capability.

use super::{Ctx, render, site};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use simrenew_core::esim::{ActivationCode, ProfileState};

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
    chosen: String,
    eid: String,
    eid_error: Option<String>,
    operator_error: Option<String>,
}

async fn new_view(
    s: &AppState,
    ctx: Ctx,
    chosen: &str,
    eid: &str,
    errors: (Option<String>, Option<String>),
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
            chosen: chosen.to_string(),
            eid: eid.to_string(),
            operator_error: errors.0,
            eid_error: errors.1,
            ctx,
        },
    )
}

async fn new_page(State(s): State<AppState>, ctx: Ctx) -> Response {
    new_view(&s, ctx, "", "", (None, None), axum::http::StatusCode::OK).await
}

async fn new_esim(State(s): State<AppState>, form: super::CheckedForm) -> Response {
    let ctx = form.ctx.clone();
    let t = ctx.t;
    let (op_raw, eid_raw) = (form.get("operator"), form.get("eid").trim());
    let bad = |op_err: Option<String>, eid_err: Option<String>| {
        new_view(
            &s,
            ctx.clone(),
            op_raw,
            eid_raw,
            (op_err, eid_err),
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let Ok(op) = op_raw.parse::<simrenew_core::Operator>() else {
        return bad(Some(t.t("esim-new-choose-operator")), None).await;
    };
    let eid = if eid_raw.is_empty() {
        None
    } else {
        match simrenew_core::Eid::parse(eid_raw) {
            Ok(e) => Some(e),
            Err(_) => return bad(None, Some(t.t("esim-new-eid-wrong"))).await,
        }
    };
    let profile_type = format!("{}-esim", op.code());
    let p = match s
        .store
        .allocate_profile(op, &profile_type, None, eid.as_ref().map(|e| e.as_str()))
        .await
    {
        Ok(p) => p,
        Err(simrenew_store::StoreError::NoProfileLeft { .. }) => {
            return new_view(
                &s,
                ctx.clone(),
                op_raw,
                eid_raw,
                (Some(t.t("esim-new-sold-out")), None),
                axum::http::StatusCode::CONFLICT,
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "eSIM reservation");
            return site::unavailable(&ctx);
        }
    };
    let iccid = match simrenew_core::Iccid::parse(&p.iccid) {
        Ok(i) => i,
        Err(_) => return site::unavailable(&ctx),
    };
    match s
        .store
        .find_line(&simrenew_core::LineRef::Iccid(iccid))
        .await
    {
        Ok(line) => super::see_other(&super::line_link(
            &s.config.secret,
            line.msisdn.as_str().trim_start_matches('+'),
            &line.id,
        )),
        Err(e) => {
            tracing::error!(error = %e, iccid = %p.iccid, "a stocked eSIM without its line");
            site::unavailable(&ctx)
        }
    }
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
    let code = code_from(&profile).and_then(|ac| {
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
        error: profile
            .last_error
            .filter(|_| profile.state == ProfileState::Error),
        ctx,
    };
    render(&page)
}

/// A profile's activation code, when it is one to show (released and on).
fn code_from(p: &simrenew_store::esim::Profile) -> Option<ActivationCode> {
    if !p.state.shows_code() {
        return None;
    }
    Some(ActivationCode {
        smdp_address: p.smdp_address.clone()?,
        matching_id: p.matching_id.clone()?,
        smdp_oid: None,
        confirmation_code_required: false,
    })
}

/// `GET /orders/{id}/esim/qr.png`: the QR code as a PNG, to save or print (and for
/// e-mail).
async fn qr_png(State(s): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    use axum::response::IntoResponse;
    let found = s.store.profile_of_order(&id).await;
    let Some(ac) = found.ok().flatten().as_ref().and_then(code_from) else {
        return site::not_found(ctx);
    };
    let png = qrcode::QrCode::new(ac.qr_text().as_bytes())
        .ok()
        .and_then(|q| {
            let img = q
                .render::<image::Luma<u8>>()
                .min_dimensions(480, 480)
                .build();
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Png).ok()?;
            Some(out.into_inner())
        });
    match png {
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
    let Some(smdp) = &s.config.es2 else {
        return site::not_found(ctx);
    };
    match crate::esim::reissue(&s.store, smdp, &id, None).await {
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
