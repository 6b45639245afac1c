//! What may be refunded of a plan already bought (the policy of docs/payments.md, in one
//! place): a period not started yet, all of its price; a period under way, its price in
//! proportion to the data left in its bucket (the unused share), rounded down to the minor
//! unit; a period that has ended, nothing. Top-ups are not refunded here: money already on
//! the balance is returned by a staff adjustment.

use crate::money::Money;

/// The refundable part of a plan item's `price`, at `now`, given its bucket.
pub fn refundable(
    price: Money,
    started: bool,
    ended: bool,
    initial_bytes: u64,
    remaining_bytes: u64,
) -> Money {
    if ended || price.minor <= 0 {
        return Money::zero(price.currency);
    }
    if !started {
        return price;
    }
    if initial_bytes == 0 {
        return Money::zero(price.currency);
    }
    let left = u128::from(remaining_bytes.min(initial_bytes));
    let minor = (price.minor as u128 * left / u128::from(initial_bytes)) as i64;
    Money::new(minor, price.currency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    const GB: u64 = 1 << 30;

    #[test]
    fn the_policy() {
        let price = Money::new(750_00, Currency::Rub);
        assert_eq!(refundable(price, false, false, 30 * GB, 30 * GB), price);
        assert_eq!(
            refundable(price, true, false, 30 * GB, 10 * GB),
            Money::new(250_00, Currency::Rub)
        );
        assert_eq!(refundable(price, true, true, 30 * GB, 30 * GB).minor, 0);
        assert_eq!(refundable(price, true, false, 30 * GB, 0).minor, 0);
    }

    proptest! {
        /// Never more than the price, never negative, and more data left never refunds less.
        #[test]
        fn bounded_and_monotone(
            price in 0i64..10_000_000,
            initial in 1u64..u64::MAX / 2,
            a in 0u64..u64::MAX / 2,
            b in 0u64..u64::MAX / 2,
            started: bool,
        ) {
            let p = Money::new(price, Currency::Cny);
            let (lo, hi) = (a.min(b), a.max(b));
            let r_lo = refundable(p, started, false, initial, lo);
            let r_hi = refundable(p, started, false, initial, hi);
            prop_assert!(r_lo.minor >= 0 && r_hi.minor <= price);
            prop_assert!(r_lo.minor <= r_hi.minor);
        }
    }
}
