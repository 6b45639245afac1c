//! Buckets of data and how usage draws from them. The rule (DESIGN.md): usage draws from
//! the live bucket that expires first; a bucket never goes below zero; what no bucket can
//! cover is overage, recorded rather than lost.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An amount of data on a line, usable in [valid_from, valid_until).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub id: String,
    pub remaining: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
    /// Among buckets expiring at the same instant, the higher priority is drawn first.
    pub priority: i32,
}

impl Bucket {
    pub fn is_live(&self, at: OffsetDateTime) -> bool {
        self.valid_from <= at && at < self.valid_until
    }
}

/// What one usage report takes: bytes from buckets (by index into the slice given), and
/// the overage no live bucket could cover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Draw {
    pub taken: Vec<(usize, u64)>,
    pub overage: u64,
}

/// Draws `bytes` used at instant `at` from `buckets`, earliest expiry first.
pub fn draw_usage(buckets: &[Bucket], bytes: u64, at: OffsetDateTime) -> Draw {
    let mut order: Vec<usize> = (0..buckets.len())
        .filter(|&i| buckets[i].is_live(at) && buckets[i].remaining > 0)
        .collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&buckets[a], &buckets[b]);
        x.valid_until
            .cmp(&y.valid_until)
            .then(y.priority.cmp(&x.priority))
            .then(x.valid_from.cmp(&y.valid_from))
            .then(x.id.cmp(&y.id))
    });
    let mut left = bytes;
    let mut draw = Draw::default();
    for i in order {
        if left == 0 {
            break;
        }
        let take = left.min(buckets[i].remaining);
        draw.taken.push((i, take));
        left -= take;
    }
    draw.overage = left;
    draw
}

/// Data left on a line at `at`: the sum over its live buckets.
pub fn data_left(buckets: &[Bucket], at: OffsetDateTime) -> u64 {
    buckets
        .iter()
        .filter(|b| b.is_live(at))
        .map(|b| b.remaining)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::Duration;
    use time::macros::datetime;

    fn b(id: &str, remaining: u64, from_h: i64, until_h: i64) -> Bucket {
        let t0 = datetime!(2026-11-01 00:00 UTC);
        Bucket {
            id: id.into(),
            remaining,
            valid_from: t0 + Duration::hours(from_h),
            valid_until: t0 + Duration::hours(until_h),
            priority: 0,
        }
    }

    #[test]
    fn earliest_expiry_first_then_overage() {
        let buckets = vec![
            b("month", 1000, 0, 720),
            b("addon", 300, 0, 100),
            b("expired", 500, 0, 10),
            b("future", 900, 200, 900),
        ];
        let at = datetime!(2026-11-01 00:00 UTC) + Duration::hours(50);
        let d = draw_usage(&buckets, 1500, at);
        assert_eq!(d.taken, vec![(1, 300), (0, 1000)]);
        assert_eq!(d.overage, 200);
        assert_eq!(data_left(&buckets, at), 1300);
    }

    #[test]
    fn nothing_live_is_all_overage() {
        let d = draw_usage(&[b("old", 10, 0, 1)], 7, datetime!(2026-12-01 00:00 UTC));
        assert_eq!(
            d,
            Draw {
                taken: vec![],
                overage: 7
            }
        );
    }

    fn arb_buckets() -> impl Strategy<Value = Vec<Bucket>> {
        prop::collection::vec((0u64..5_000, 0i64..100, 1i64..100, -3i32..3), 0..8).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (rem, from, len, prio))| Bucket {
                    priority: prio,
                    ..b(&format!("b{i}"), rem, from, from + len)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn draw_conserves_and_orders(buckets in arb_buckets(), bytes in 0u64..20_000, at_h in 0i64..200) {
            let at = datetime!(2026-11-01 00:00 UTC) + Duration::hours(at_h);
            let d = draw_usage(&buckets, bytes, at);
            let taken: u64 = d.taken.iter().map(|t| t.1).sum();
            // Nothing lost, nothing doubled.
            prop_assert_eq!(taken + d.overage, bytes);
            for &(i, amount) in &d.taken {
                prop_assert!(buckets[i].is_live(at));
                prop_assert!(amount <= buckets[i].remaining);
                prop_assert!(amount > 0);
            }
            // Overage only once every live bucket is empty.
            if d.overage > 0 {
                prop_assert_eq!(taken, data_left(&buckets, at));
            }
            // A later-expiring bucket is touched only when every earlier one is drained.
            for &(i, _) in &d.taken {
                for (j, other) in buckets.iter().enumerate() {
                    if other.is_live(at) && other.valid_until < buckets[i].valid_until {
                        let took = d.taken.iter().find(|t| t.0 == j).map_or(0, |t| t.1);
                        prop_assert_eq!(took, other.remaining);
                    }
                }
            }
        }
    }
}
