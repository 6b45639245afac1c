//! Getting a profile to a buyer: allocate one from the inventory for the order, order
//! and confirm it at the SM-DP+ (ES2+ downloadOrder, confirmOrder with release), and keep
//! its matching ID — so the install page can show it at once; and the way out of a
//! failed download: a reissue (cancelOrder, then the same profile ordered again with a
//! new matching ID), limited per order. Each step is idempotent: asked again, it carries on from where the profile is.

use simrenew_core::Operator;
use simrenew_core::esim::ProfileState;
use simrenew_esim::es2plus::{Es2Client, Es2Error, FinalStatus};
use simrenew_store::esim::{Profile, ProfileChange};
use simrenew_store::{Store, StoreError};

/// Reissues allowed per order before a person has to look.
pub const MAX_REISSUES: i64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum EsimError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Smdp(#[from] Es2Error),
    #[error("this order's eSIM was reissued {0} times already; support has to look")]
    TooManyReissues(i64),
    #[error("this order's eSIM cannot be reissued from its state ({0})")]
    NotReissuable(&'static str),
    #[error("the SM-DP+ reserved {got} instead of {asked}")]
    WrongProfile { asked: String, got: String },
}

/// The order's profile, released for download (allocating and ordering it first when
/// needed). `eid` binds it to one device.
pub async fn release_for_order(
    store: &Store,
    smdp: &Es2Client,
    order_id: &str,
    operator: Operator,
    profile_type: &str,
    eid: Option<&str>,
) -> Result<Profile, EsimError> {
    let p = match store.profile_of_order(order_id).await? {
        Some(p) if p.state != ProfileState::Cancelled => p,
        _ => {
            store
                .allocate_profile(operator, profile_type, Some(order_id), eid)
                .await?
        }
    };
    if p.state != ProfileState::Allocated {
        // Released already (or further along): nothing to do again.
        return Ok(p);
    }
    let eid = p.eid.clone().or(eid.map(str::to_string));
    let got = match smdp
        .download_order(eid.as_deref(), Some(&p.iccid), None)
        .await
    {
        Ok(i) => i,
        Err(e) => return Err(failed(store, &p.iccid, e).await),
    };
    if got != p.iccid {
        return Err(EsimError::WrongProfile {
            asked: p.iccid.clone(),
            got,
        });
    }
    let done = match smdp
        .confirm_order(&p.iccid, eid.as_deref(), None, None, true)
        .await
    {
        Ok(d) => d,
        Err(e) => return Err(failed(store, &p.iccid, e).await),
    };
    store
        .set_profile_state(
            &p.iccid,
            ProfileState::Released,
            &ProfileChange {
                matching_id: Some(&done.matching_id),
                smdp_address: done.smdp_address.as_deref(),
                eid: done.eid.as_deref(),
                detail: Some("confirmOrder"),
                ..Default::default()
            },
        )
        .await?;
    Ok(store.esim_profile(&p.iccid).await?)
}

/// The SM-DP+ refused: the profile is marked in error, with why (the buyer's page says
/// what to do; a reissue is the way out).
async fn failed(store: &Store, iccid: &str, e: Es2Error) -> EsimError {
    // Out of reach (or an HTTP error): the profile stays allocated and the same call is
    // made again later; only the SM-DP+'s own refusal is a failure of the profile.
    if !matches!(e, Es2Error::Failed { .. } | Es2Error::Expired { .. }) {
        return EsimError::Smdp(e);
    }
    let reason = e.to_string();
    let change = ProfileChange {
        error: Some(&reason),
        detail: Some("ES2+"),
        ..Default::default()
    };
    if let Err(se) = store
        .set_profile_state(iccid, ProfileState::Error, &change)
        .await
    {
        tracing::warn!(error = %se, iccid, "marking a profile in error");
    }
    EsimError::Smdp(e)
}

/// A new code for an order whose download failed (or never happened): the order is
/// cancelled at the SM-DP+ with the profile left available, and the same profile — the
/// same ICCID and so the same number — ordered and released again with a new matching
/// ID, recorded as a reissue. At most [`MAX_REISSUES`] per order.
pub async fn reissue(
    store: &Store,
    smdp: &Es2Client,
    order_id: &str,
    eid: Option<&str>,
) -> Result<Profile, EsimError> {
    let Some(old) = store.profile_of_order(order_id).await? else {
        return Err(EsimError::Store(StoreError::invalid(
            "order",
            "this order has no eSIM",
        )));
    };
    if !old.state.reissuable() {
        return Err(EsimError::NotReissuable(old.state.code()));
    }
    if old.reissues >= MAX_REISSUES {
        return Err(EsimError::TooManyReissues(old.reissues));
    }
    if old.state != ProfileState::Allocated {
        match smdp
            .cancel_order(
                &old.iccid,
                old.eid.as_deref(),
                old.matching_id.as_deref(),
                FinalStatus::Available,
            )
            .await
        {
            // Already back at the SM-DP+ (a failed download often is): carry on.
            Ok(()) | Err(Es2Error::Failed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        store
            .set_profile_state(
                &old.iccid,
                ProfileState::Allocated,
                &ProfileChange {
                    eid,
                    reissue: true,
                    detail: Some("reissue"),
                    ..Default::default()
                },
            )
            .await?;
    }
    let operator = old
        .operator
        .parse::<Operator>()
        .map_err(|_| StoreError::Corrupt(format!("profile {}: operator", old.iccid)))?;
    release_for_order(
        store,
        smdp,
        order_id,
        operator,
        &old.profile_type,
        eid.or(old.eid.as_deref()),
    )
    .await
}

/// After an order is paid: if it paid for a new eSIM (its line's profile is reserved and
/// not yet ordered at the SM-DP+), the profile is released for it now. Nothing to do for
/// other orders, or without an SM-DP+ configured. Errors are logged; the order page and
/// the next call try again.
pub async fn release_if_new_esim(s: &crate::AppState, order: &simrenew_store::orders::Order) {
    let Some(smdp) = &s.config.es2 else { return };
    if order.status != simrenew_core::OrderStatus::Fulfilled {
        return;
    }
    let Ok(line) = s.store.line(&order.line_id).await else {
        return;
    };
    let Ok(Some(p)) = s.store.profile_of_line(line.iccid.as_str()).await else {
        return;
    };
    if p.state != ProfileState::Allocated {
        return;
    }
    match &p.order_id {
        Some(o) if o != &order.id => return,
        Some(_) => {}
        None => {
            if let Err(e) = s.store.bind_profile_order(&p.iccid, &order.id).await {
                tracing::warn!(error = %e, order = %order.id, "binding the eSIM to its order");
                return;
            }
        }
    }
    if let Err(e) = release_for_order(
        &s.store,
        smdp,
        &order.id,
        line.operator,
        &p.profile_type,
        p.eid.as_deref(),
    )
    .await
    {
        tracing::warn!(error = %e, order = %order.id, "eSIM not released yet");
    }
}

/// Releases the eSIMs paid for whose buyers have not come back to the order page; run by
/// `serve` every minute. How many orders were looked at.
pub async fn release_paid(s: &crate::AppState) -> usize {
    if s.config.es2.is_none() {
        return 0;
    }
    let orders = match s.store.paid_unreleased_esims(50).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "paid eSIMs");
            return 0;
        }
    };
    for id in &orders {
        if let Ok(order) = s.store.order(id).await {
            release_if_new_esim(s, &order).await;
        }
    }
    orders.len()
}
