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
    Router::new().route("/orders/{id}/esim", get(install_page))
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
    let code = match (&profile.smdp_address, &profile.matching_id, profile.state) {
        // A failed, cancelled or deleted profile's code is not to be used again.
        (Some(a), Some(m), st)
            if !matches!(
                st,
                ProfileState::Cancelled | ProfileState::Deleted | ProfileState::Error
            ) =>
        {
            let ac = ActivationCode {
                smdp_address: a.clone(),
                matching_id: m.clone(),
                smdp_oid: None,
                confirmation_code_required: false,
            };
            super::qr_svg(&ac.qr_text()).map(|svg| Code {
                svg,
                apple_link: ac.apple_link(),
                smdp_address: a.clone(),
                matching_id: m.clone(),
                lpa: ac.qr_text(),
            })
        }
        _ => None,
    };
    let state = profile.state.code();
    let page = InstallPage {
        order_id: id,
        state,
        state_text: t.t(&format!("esim-state-{state}")),
        as_of: t.datetime(profile.state_at),
        advice: t.t(&format!("esim-advice-{state}")),
        code,
        error: profile
            .last_error
            .filter(|_| profile.state == ProfileState::Error),
        ctx,
    };
    render(&page)
}
