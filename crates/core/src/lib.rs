//! simrenew's domain: identifiers, money, operators, plans, buckets, renewal rules and
//! ledger transfers, as plain Rust with no I/O, no async and no SQL.
//!
//! Adapters (the store, the HTTP API, later Diameter and payment providers) parse outside
//! input into these types at the edge and call the rules here; the rules never reach out.

pub mod advice;
pub mod bucket;
pub mod esim;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod operator;
pub mod order;
pub mod partner;
pub mod period;
pub mod plan;
pub mod promotion;
pub mod reconcile;
pub mod refund;
pub mod renewal;
pub mod staff;
pub mod totp;

pub use bucket::{Bucket, Draw, draw_usage};
pub use ids::{
    CsvError, Eid, Iccid, IdError, Imei, Imsi, LineRef, Msisdn, csv_records, parse_stock_csv,
};
pub use ledger::{LedgerError, Posting, Transfer};
pub use money::{Currency, FxRate, Money, MoneyError};
pub use operator::Operator;
pub use order::{OrderStatus, StartMode};
pub use period::Validity;
pub use plan::{DataAllowance, Locale, Localized, Plan, PlanKind};
pub use renewal::{AddOnGrant, Period, RenewalError, RenewalGrant};
