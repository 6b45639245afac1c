//! Orders: what a buyer asks for (renew, add-on, top-up) and the order's life:
//! pending_payment -> paid -> fulfilled, or cancelled / refunded. Fulfilment follows
//! payment at once, in the same transaction; no state is reachable twice.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// When a renewal starts: after the current and queued periods (default) or now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartMode {
    #[default]
    Queued,
    Now,
}

impl StartMode {
    pub fn code(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Now => "now",
        }
    }
}

impl FromStr for StartMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "queued" => Ok(Self::Queued),
            "now" => Ok(Self::Now),
            _ => Err(format!("unknown start {s:?}: use queued or now")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Fulfilled,
    Cancelled,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        Self::PendingPayment,
        Self::Paid,
        Self::Fulfilled,
        Self::Cancelled,
        Self::Refunded,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::Fulfilled => "fulfilled",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }
    /// The transitions an order may take; anything else is refused by the store.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (PendingPayment, Paid)
                | (PendingPayment, Cancelled)
                | (Paid, Fulfilled)
                | (Paid, Refunded)
                | (Fulfilled, Refunded)
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for OrderStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|x| x.code() == s)
            .ok_or_else(|| format!("unknown order status {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        use OrderStatus::*;
        assert!(PendingPayment.can_become(Paid));
        assert!(Paid.can_become(Fulfilled));
        assert!(!Fulfilled.can_become(Fulfilled));
        assert!(!Fulfilled.can_become(Paid));
        assert!(!Cancelled.can_become(Paid));
        assert!(!PendingPayment.can_become(Fulfilled));
        for s in OrderStatus::ALL {
            assert_eq!(s.code().parse::<OrderStatus>(), Ok(s));
            assert!(!s.can_become(s), "{s} must not repeat");
        }
    }
}
