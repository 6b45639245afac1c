//! eSIM profiles at the SM-DP+: the ES2+ client (GSMA SGP.22 §5.3, mutual TLS) and a
//! stand-in SM-DP+ that speaks it, for the demo shop and the tests. Activation codes and
//! the profile state machine are domain rules (`simrenew_core::esim`). Plans the business
//! resells from an eSIM aggregator are fulfilled through [`upstream`].

pub mod es2plus;
pub mod sandbox;
pub mod upstream;
