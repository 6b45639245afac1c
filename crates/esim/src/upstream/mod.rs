//! Upstream fulfilment: plans the business resells are fulfilled by calling an
//! aggregator's or operator's API instead of granting our own buckets. One trait,
//! [`Upstream`], says what simrenew needs of such a supplier (find a profile by ICCID,
//! order a new one, top up the same ICCID, read usage); each supplier is an adapter
//! behind it. The first adapter speaks eSIM Access's Partner API ([`esimaccess`]).
//!
//! Errors are sorted by what the caller must do: [`UpstreamError::Refused`] is the
//! supplier's own "no" (the buyer gets the money back), anything else may be retried
//! with the same transaction id, which the supplier treats as the same request.

pub mod esimaccess;
pub mod sandbox;

use std::future::Future;
use std::pin::Pin;

/// A boxed future, so adapters can sit behind `dyn Upstream`.
pub type UpstreamFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, UpstreamError>> + Send + 'a>>;

/// What went wrong with a call to the supplier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The supplier answered and said no (unknown ICCID, package not sold, balance short):
    /// final for this request.
    #[error("the supplier refused ({code}): {message}")]
    Refused { code: String, message: String },
    /// No answer, a server error, or an answer we could not read: the request may or may
    /// not have been done, so it is asked again with the same transaction id.
    #[error("the supplier could not be reached: {0}")]
    Unreachable(String),
    #[error("configuration: {0}")]
    Config(String),
}

/// An eSIM profile as the supplier knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The supplier's own id of the profile (eSIM Access: `esimTranNo`).
    pub profile_ref: String,
    pub iccid: String,
    /// The LPA activation code (`LPA:1$…$…`).
    pub activation_code: Option<String>,
    /// The supplier's state word (eSIM Access: `esimStatus`, e.g. `IN_USE`).
    pub status: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
}

/// A top-up the supplier applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToppedUp {
    pub transaction_id: String,
    pub iccid: String,
    /// The profile's data allowance after the top-up.
    pub total_bytes: u64,
    /// The profile's end of validity, as the supplier wrote it.
    pub expires: Option<String>,
}

/// Data used on a profile, as of the supplier's last update (usage lags real use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub profile_ref: String,
    pub used_bytes: u64,
    pub total_bytes: u64,
    pub as_of: Option<String>,
}

/// A supplier of plans the business resells.
pub trait Upstream: Send + Sync + std::fmt::Debug {
    /// Its name in plans' fulfilment (`esimaccess`).
    fn name(&self) -> &'static str;

    /// The profile with this ICCID, when the supplier has it in this account.
    fn profile_by_iccid<'a>(&'a self, iccid: &'a str) -> UpstreamFuture<'a, Option<Profile>>;

    /// Orders one new profile of `package`; `transaction_id` is ours and makes a repeat
    /// the same order. Returns the supplier's order number.
    fn order<'a>(&'a self, transaction_id: &'a str, package: &'a str)
    -> UpstreamFuture<'a, String>;

    /// The profiles an order brought (empty while the supplier is still allocating).
    fn profiles_of_order<'a>(&'a self, order_no: &'a str) -> UpstreamFuture<'a, Vec<Profile>>;

    /// Adds `package` to the profile with this ICCID (the traveller keeps the same eSIM).
    fn top_up<'a>(
        &'a self,
        transaction_id: &'a str,
        iccid: &'a str,
        package: &'a str,
    ) -> UpstreamFuture<'a, ToppedUp>;

    /// Usage of the given profiles (by `profile_ref`).
    fn usage<'a>(&'a self, profile_refs: &'a [String]) -> UpstreamFuture<'a, Vec<Usage>>;
}
