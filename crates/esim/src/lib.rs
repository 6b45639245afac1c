//! eSIM profiles at the SM-DP+: the ES2+ client (GSMA SGP.22 §5.3, mutual TLS) and a
//! stand-in SM-DP+ that speaks it, for the demo shop and the tests. Activation codes and
//! the profile state machine are domain rules (`simrenew_core::esim`).

pub mod es2plus;
pub mod sandbox;
