//! Double-entry transfers: every movement of money is a set of postings whose amounts sum
//! to zero in each currency. Balances are sums of postings; nothing else moves them.

use crate::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The ledger accounts simrenew keeps besides each line's balance (`line:<id>`).
pub mod accounts {
    use crate::money::Currency;
    /// Money that came in from outside (payment providers, cash): its mirror.
    pub fn world(c: Currency) -> String {
        format!("world:{c}")
    }
    /// Sales of plans and add-ons.
    pub fn revenue(c: Currency) -> String {
        format!("revenue:{c}")
    }
    /// Currency exchange: a top-up paid in CNY credits RUB through this pair.
    pub fn fx(c: Currency) -> String {
        format!("fx:{c}")
    }
    /// Manual, audited adjustments by staff.
    pub fn adjustments(c: Currency) -> String {
        format!("adjustments:{c}")
    }
    /// What payment providers kept as their fee (learned from settlement reports); its
    /// balance is minus the fees paid.
    pub fn fees(c: Currency) -> String {
        format!("fees:{c}")
    }
    pub fn line(line_id: &str) -> String {
        format!("line:{line_id}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: String,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("a transfer needs at least two postings")]
    TooFewPostings,
    #[error("postings in {0} do not sum to zero (off by {1} minor units)")]
    Unbalanced(Currency, i64),
    #[error("a posting of zero to {0} is meaningless")]
    ZeroPosting(String),
}

/// A balanced set of postings; only `Transfer::new` makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    postings: Vec<Posting>,
}

impl Transfer {
    pub fn new(postings: Vec<Posting>) -> Result<Self, LedgerError> {
        if postings.len() < 2 {
            return Err(LedgerError::TooFewPostings);
        }
        let mut sums: BTreeMap<Currency, i128> = BTreeMap::new();
        for p in &postings {
            if p.amount.minor == 0 {
                return Err(LedgerError::ZeroPosting(p.account.clone()));
            }
            *sums.entry(p.amount.currency).or_default() += i128::from(p.amount.minor);
        }
        if let Some((c, off)) = sums.into_iter().find(|(_, s)| *s != 0) {
            return Err(LedgerError::Unbalanced(
                c,
                off.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
            ));
        }
        Ok(Self { postings })
    }
    /// Moves `amount` from one account to another: `from` is debited (−), `to` credited (+).
    pub fn pay(from: String, to: String, amount: Money) -> Result<Self, LedgerError> {
        Self::new(vec![
            Posting {
                account: from,
                amount: Money::new(-amount.minor, amount.currency),
            },
            Posting {
                account: to,
                amount,
            },
        ])
    }
    /// A purchase paid in one currency and credited in another, through the fx accounts.
    pub fn exchange(
        from: String,
        to: String,
        paid: Money,
        credited: Money,
    ) -> Result<Self, LedgerError> {
        Self::new(vec![
            Posting {
                account: from,
                amount: Money::new(-paid.minor, paid.currency),
            },
            Posting {
                account: accounts::fx(paid.currency),
                amount: paid,
            },
            Posting {
                account: accounts::fx(credited.currency),
                amount: Money::new(-credited.minor, credited.currency),
            },
            Posting {
                account: to,
                amount: credited,
            },
        ])
    }
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_unbalanced() {
        let p = |a: &str, m| Posting {
            account: a.into(),
            amount: Money::new(m, Currency::Rub),
        };
        assert_eq!(
            Transfer::new(vec![p("a", 5)]),
            Err(LedgerError::TooFewPostings)
        );
        assert_eq!(
            Transfer::new(vec![p("a", 5), p("b", -4)]),
            Err(LedgerError::Unbalanced(Currency::Rub, 1))
        );
        assert!(matches!(
            Transfer::new(vec![p("a", 0), p("b", 0)]),
            Err(LedgerError::ZeroPosting(_))
        ));
    }

    proptest! {
        #[test]
        fn pay_and_exchange_balance(paid in 1i64..1_000_000_000, credited in 1i64..1_000_000_000) {
            let t = Transfer::pay("a".into(), "b".into(), Money::new(paid, Currency::Rub)).unwrap();
            prop_assert_eq!(t.postings().iter().map(|p| p.amount.minor).sum::<i64>(), 0);
            let t = Transfer::exchange("w".into(), "l".into(), Money::new(paid, Currency::Cny), Money::new(credited, Currency::Rub)).unwrap();
            for c in [Currency::Cny, Currency::Rub] {
                prop_assert_eq!(t.postings().iter().filter(|p| p.amount.currency == c).map(|p| p.amount.minor).sum::<i64>(), 0);
            }
        }
    }
}
