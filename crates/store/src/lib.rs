//! simrenew's store and services: the schema for SQLite and PostgreSQL, and every
//! transaction that changes money or quota (orders, renewals, top-ups, usage, manual
//! credits), each in one database transaction that applies whole or not at all.
//!
//! The rules themselves live in `simrenew-core`; this crate reads the state they need,
//! calls them, and writes what they decide, with the ledger postings beside it.

pub mod backlog;
pub mod catalog;
pub mod db;
pub mod demo;
pub mod error;
pub mod esim;
pub mod idempotency;
pub mod ledger;
pub mod lines;
pub mod orders;
pub mod outbox;
pub mod partners;
pub mod payments;
mod pgpool;
pub mod promotions;
pub mod reconcile;
pub mod refunds;
pub mod reports;
pub mod sims;
pub mod sql;
pub mod staff;
pub mod testing;
pub mod throttles;
pub mod tills;
pub mod upstream;
pub mod usage;
pub mod users;

pub use db::{Backend, Store, StoreOptions};
pub use error::StoreError;
