//! What can go wrong in the store and its services, named for what the user did or met;
//! the HTTP layer maps each to one problem type in one place.

use simrenew_core::{Currency, IdError, LedgerError, Money, MoneyError, OrderStatus, RenewalError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the transaction was not committed: {0}")]
    CommitFailed(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("no line with number or ICCID {0}")]
    LineNotFound(String),
    #[error("no plan {0}")]
    PlanNotFound(String),
    #[error("no order {0}")]
    OrderNotFound(String),
    #[error("no payment {0}")]
    PaymentNotFound(String),
    #[error("no {operator} eSIM profile of type {profile_type} is left in the inventory")]
    NoProfileLeft {
        operator: String,
        profile_type: String,
    },
    #[error("{asked} cannot be refunded: at most {allowed} may be refunded now")]
    RefundTooLarge { asked: Money, allowed: Money },
    #[error(
        "the line is suspended; it cannot be renewed or topped up until the operator restores it"
    )]
    LineSuspended,
    #[error(
        "this number is a new eSIM in the shop's stock, not reserved for anyone (or its reservation ended unpaid): buy a new eSIM to get one"
    )]
    NotSold,
    #[error(transparent)]
    Renewal(#[from] RenewalError),
    #[error("the line's balance is {available} and {needed} is needed: {missing} is missing")]
    InsufficientBalance {
        needed: Money,
        available: Money,
        missing: Money,
    },
    #[error("plan {plan} is not sold in {currency}")]
    CurrencyNotOffered { plan: String, currency: Currency },
    #[error("the balance of this line is kept in {line}; pay from it in {line}, not {asked}")]
    BalanceCurrency { line: Currency, asked: Currency },
    #[error("no exchange rate from {from} to {to} is configured")]
    NoFxRate { from: Currency, to: Currency },
    #[error("only the line's owner, signed in, may do this")]
    NotOwner,
    #[error("the order is {0}, not pending payment")]
    OrderNotPending(OrderStatus),
    #[error("the e-mail address is already registered")]
    EmailTaken,
    #[error("wrong e-mail or password")]
    BadCredentials,
    #[error("not placed: another order of this all-or-nothing request was refused")]
    NotPlaced,
    #[error("the code from the authenticator app is needed")]
    TotpRequired,
    #[error("the code from the authenticator app is wrong or was used already")]
    WrongTotp,
    #[error("this password-reset link was used already or has expired")]
    ResetTokenInvalid,
    #[error("the code is wrong or has expired")]
    WrongCode,
    #[error("too many codes or attempts for this line; wait and try again")]
    TooManyCodes,
    #[error("the line is already attached to an account")]
    LineAlreadyAttached,
    #[error("the PUK does not match the one printed on the card's holder")]
    WrongPuk,
    #[error("usage event {0} was already recorded with different content")]
    UsageEventConflict(String),
    #[error("another request with the same idempotency key is being processed or just finished")]
    IdempotencyRace,
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("promo code {code}: {refusal}")]
    PromoCode {
        code: String,
        refusal: simrenew_core::promotion::CodeRefusal,
    },
    #[error("{}: every use of this promotion is taken", code.as_deref().unwrap_or("the promotion"))]
    PromotionUsedUp { code: Option<String> },
    #[error("{}: one customer may use it {limit} times, and these are used", code.as_deref().unwrap_or("the promotion"))]
    PromotionUsedByCustomer { code: Option<String>, limit: u32 },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
    /// True for the unique-key violation that a concurrent duplicate request causes.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Db(sqlx::Error::Database(e)) => e.is_unique_violation(),
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ),
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
