//! Getting a profile to a buyer: allocate one from the inventory for the order, order
//! and confirm it at the SM-DP+ (ES2+ downloadOrder, confirmOrder with release), and keep
//! its matching ID — so the install page can show it at once; and the way out of a
//! failed download: a reissue (cancelOrder, then the same profile ordered again with a
//! new matching ID), limited per order. Each step is idempotent: asked again, it carries on from where the profile is.
//! A release sends the buyer the install mail (QR code attached) in the same transaction
//! as the state change, and — when the shop uses confirmation codes — the code in a mail
//! of its own, so a forwarded QR code alone installs nothing.

use crate::pages::i18n::Tr;
use base64::Engine;
use simrenew_core::esim::{ActivationCode, ProfileState};
use simrenew_core::{Locale, Operator};
use simrenew_esim::es2plus::{Es2Client, Es2Error, FinalStatus};
use simrenew_store::esim::{Profile, ProfileChange};
use simrenew_store::outbox::{Attachment, MAIL, Message};
use simrenew_store::{Store, StoreError};

/// How long one caller may take ordering a profile at the SM-DP+ before another may
/// try (the ES2+ client's timeouts are shorter).
const RELEASE_LEASE_SECS: i64 = 90;

/// The install mails of an order's released profile again (support's resend), to the
/// address given or the buyer's; empty when there is no code to send or nowhere to.
pub fn install_mails_again(
    p: &Profile,
    order_id: &str,
    public_url: &str,
    to: Option<&str>,
) -> Vec<(&'static str, Message)> {
    let Some(ac) = activation_code(p) else {
        return Vec::new();
    };
    let mut p = p.clone();
    if let Some(t) = to {
        p.notify_email = Some(t.to_string());
    }
    install_mails(
        &p,
        &ac,
        p.confirmation_code.as_deref(),
        order_id,
        public_url,
    )
}

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

/// What releasing a profile takes: the store, the SM-DP+, and the shop's ways.
#[derive(Clone, Copy)]
pub struct Release<'a> {
    pub store: &'a Store,
    pub smdp: &'a Es2Client,
    /// The site's address, for the install link in the mail.
    pub public_url: &'a str,
    /// Release each profile with a confirmation code (8 digits) the phone must be given.
    pub confirmation_codes: bool,
}

impl crate::AppState {
    /// How this shop releases eSIMs; None without an SM-DP+.
    pub fn release(&self) -> Option<Release<'_>> {
        self.config.es2.as_deref().map(|smdp| Release {
            store: &self.store,
            smdp,
            public_url: &self.config.public_url,
            confirmation_codes: self.config.esim_confirmation_codes,
        })
    }
}

/// A profile's activation code, when it is one to show (released and on).
pub fn activation_code(p: &Profile) -> Option<ActivationCode> {
    if !p.state.shows_code() {
        return None;
    }
    Some(ActivationCode {
        smdp_address: p.smdp_address.clone()?,
        matching_id: p.matching_id.clone()?,
        smdp_oid: None,
        confirmation_code_required: p.confirmation_code.is_some(),
    })
}

/// The activation code as a QR code in PNG (480 px at least), for the download and the
/// mail.
pub fn qr_png(ac: &ActivationCode) -> Option<Vec<u8>> {
    let q = qrcode::QrCode::new(ac.qr_text().as_bytes()).ok()?;
    let img = q
        .render::<image::Luma<u8>>()
        .min_dimensions(480, 480)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).ok()?;
    Some(out.into_inner())
}

/// The mails a release sends the buyer, in their language: how to install (with the QR
/// code as `esim.png`), and the confirmation code alone when there is one.
fn install_mails(
    p: &Profile,
    ac: &ActivationCode,
    confirmation_code: Option<&str>,
    order_id: &str,
    public_url: &str,
) -> Vec<(&'static str, Message)> {
    let Some(to) = p.notify_email.clone() else {
        return Vec::new();
    };
    let t = Tr::new(
        p.notify_locale
            .as_deref()
            .and_then(|l| l.parse::<Locale>().ok())
            .unwrap_or(Locale::En),
    );
    let page = format!(
        "{}/orders/{order_id}/esim",
        public_url.trim_end_matches('/')
    );
    let mut body = t.args(
        "esim-mail-body",
        &[
            ("page", page.into()),
            ("apple", ac.apple_link().into()),
            ("smdp", ac.smdp_address.clone().into()),
            ("code", ac.matching_id.clone().into()),
        ],
    );
    if confirmation_code.is_some() {
        body.push_str("\n\n");
        body.push_str(&t.t("esim-mail-code-apart"));
    }
    let attachments = qr_png(ac)
        .map(|png| Attachment {
            name: "esim.png".into(),
            content_type: "image/png".into(),
            data_base64: base64::engine::general_purpose::STANDARD.encode(png),
        })
        .into_iter()
        .collect();
    let mut mails = vec![(
        MAIL,
        Message {
            to: to.clone(),
            subject: t.t("esim-mail-subject"),
            body,
            attachments,
        },
    )];
    if let Some(code) = confirmation_code {
        mails.push((
            MAIL,
            Message {
                to,
                subject: t.t("esim-mail-code-subject"),
                body: t.s("esim-mail-code-body", "code", code),
                ..Default::default()
            },
        ));
    }
    mails
}

/// The order's profile, released for download (allocating and ordering it first when
/// needed). `eid` binds it to one device.
pub async fn release_for_order(
    r: &Release<'_>,
    order_id: &str,
    operator: Operator,
    profile_type: &str,
    eid: Option<&str>,
) -> Result<Profile, EsimError> {
    let (store, smdp) = (r.store, r.smdp);
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
    if !store.lease_release(&p.iccid, RELEASE_LEASE_SECS).await? {
        // Someone else is ordering it right now: theirs is the answer.
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
    let code = r
        .confirmation_codes
        .then(|| simrenew_store::db::random_digits(8));
    let done = match smdp
        .confirm_order(&p.iccid, eid.as_deref(), None, code.as_deref(), true)
        .await
    {
        Ok(d) => d,
        Err(e) => return Err(failed(store, &p.iccid, e).await),
    };
    let smdp_address = done.smdp_address.clone().or(p.smdp_address.clone());
    let mails = match &smdp_address {
        Some(address) => {
            let ac = ActivationCode {
                smdp_address: address.clone(),
                matching_id: done.matching_id.clone(),
                smdp_oid: None,
                confirmation_code_required: code.is_some(),
            };
            install_mails(&p, &ac, code.as_deref(), order_id, r.public_url)
        }
        None => Vec::new(),
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
                confirmation_code: code.as_deref(),
                messages: &mails,
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
    // made again by the next caller (the lease ends now); only the SM-DP+'s own refusal
    // is a failure of the profile.
    if !matches!(e, Es2Error::Failed { .. } | Es2Error::Expired { .. }) {
        if let Err(se) = store.end_release_lease(iccid).await {
            tracing::warn!(error = %se, iccid, "ending a release lease");
        }
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
    r: &Release<'_>,
    order_id: &str,
    eid: Option<&str>,
) -> Result<Profile, EsimError> {
    let (store, smdp) = (r.store, r.smdp);
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
        r,
        order_id,
        operator,
        &old.profile_type,
        eid.or(old.eid.as_deref()),
    )
    .await
}

/// The eSIMs of wholly refunded orders that the SM-DP+ had released and no phone has
/// downloaded ([`simrenew_store::esim::TAKE_BACK`]): each is cancelled there (ES2+
/// CancelOrder, SGP.22 §5.3.3, `finalProfileStatusIndicator` `Available`, so the SM-DP+
/// may offer it again) and put back in stock here. An SM-DP+ that refuses (a phone
/// downloaded it meanwhile) leaves it with the buyer; one that cannot be reached is asked
/// again later. Run by `serve` every minute; how many were taken back.
pub async fn take_back_refunded(store: &Store, smdp: &Es2Client) -> usize {
    use simrenew_store::esim::{TAKE_BACK, TakeBack};
    let due = match store.claim_due(TAKE_BACK, 20, 120).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "refunded eSIMs");
            return 0;
        }
    };
    let mut taken = 0;
    for d in due {
        let outcome = async {
            let take: TakeBack = serde_json::from_str(&d.payload)
                .map_err(|e| format!("unreadable take-back: {e}"))?;
            let p = store
                .esim_profile(&take.iccid)
                .await
                .map_err(|e| e.to_string())?;
            if p.state != ProfileState::Released || p.order_id.as_deref() != Some(&take.order_id) {
                // Downloaded meanwhile (the buyer keeps it), or back already.
                return Ok(false);
            }
            match smdp
                .cancel_order(
                    &p.iccid,
                    p.eid.as_deref(),
                    p.matching_id.as_deref(),
                    FinalStatus::Available,
                )
                .await
            {
                Ok(()) => store.take_back_profile(&take).await.map_err(|e| e.to_string()),
                Err(e @ Es2Error::Failed { .. }) => {
                    tracing::warn!(iccid = %p.iccid, error = %e, "the SM-DP+ kept a refunded eSIM: it stays with its buyer");
                    Ok(false)
                }
                Err(e) => Err(format!("retry: {e}")),
            }
        }
        .await;
        let done = match outcome {
            Ok(moved) => {
                taken += usize::from(moved);
                store.finish_due(&d, &Ok(())).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "taking back a refunded eSIM");
                store.finish_due(&d, &Err(e)).await
            }
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "refunded eSIMs");
        }
    }
    taken
}

/// After an order is paid: if it paid for a new eSIM (its line's profile is reserved and
/// not yet ordered at the SM-DP+), the profile is released for it now. Nothing to do for
/// other orders, or without an SM-DP+ configured. Errors are logged; the order page and
/// the next call try again.
pub async fn release_if_new_esim(s: &crate::AppState, order: &simrenew_store::orders::Order) {
    let Some(r) = s.release() else { return };
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
        &r,
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
