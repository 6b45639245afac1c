//! Advice for a line's owner: which plan would have carried their last 30 days of usage
//! for less money than the plan they are on. Plans are bought in whole periods, so
//! covering the window with a plan costs as many of its periods as the window needs (a
//! week plan: 5 weeks for 30 days; a month: 1; a year: 1, the whole year's price).

use crate::money::{Currency, Money};
use crate::plan::{Plan, PlanKind};

/// The window the advice looks back on.
pub const WINDOW_DAYS: u32 = 30;

/// A plan that would have served the window for less.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub plan_id: String,
    /// What covering the window with the advised plan costs.
    pub cost: Money,
    /// What covering it with the current plan costs.
    pub current_cost: Money,
}

/// What covering the window with `plan` costs in `currency` and how much data it brings:
/// whole periods. None when the plan is not sold in that currency.
pub fn window_cover(plan: &Plan, currency: Currency) -> Option<(Money, u64)> {
    let price = plan.price(currency)?;
    let days = plan.validity.nominal_days().max(1);
    let periods = WINDOW_DAYS.div_ceil(days);
    let cost = Money::new(price.minor.checked_mul(i64::from(periods))?, currency);
    let bytes = plan.data.bucket_bytes().saturating_mul(u64::from(periods));
    Some((cost, bytes))
}

/// The cheapest renewable base plan of the same operator that would have carried `used`
/// bytes over the window, when it costs less than `current` does; ties go to the plan with
/// more data. None when the current plan is already the best buy (or cannot be priced).
pub fn cheaper_plan(
    current: &Plan,
    candidates: &[Plan],
    used: u64,
    currency: Currency,
) -> Option<Advice> {
    let (current_cost, _) = window_cover(current, currency)?;
    candidates
        .iter()
        .filter(|p| {
            p.kind == PlanKind::Base
                && p.renewable
                && p.operator == current.operator
                && p.id != current.id
        })
        .filter_map(|p| {
            let (cost, bytes) = window_cover(p, currency)?;
            (bytes >= used && cost.minor < current_cost.minor).then_some((p, cost, bytes))
        })
        .min_by_key(|(_, cost, bytes)| (cost.minor, std::cmp::Reverse(*bytes)))
        .map(|(p, cost, _)| Advice {
            plan_id: p.id.clone(),
            cost,
            current_cost,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::Operator;
    use crate::period::Validity;
    use crate::plan::{DataAllowance, Localized};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const GB: u64 = 1 << 30;

    fn plan(id: &str, validity: Validity, gb: u64, rub: i64) -> Plan {
        Plan {
            id: id.into(),
            operator: Operator::Mts,
            kind: PlanKind::Base,
            validity,
            data: DataAllowance::Bytes { bytes: gb * GB },
            names: Localized::new(id, id, id),
            prices: BTreeMap::from([(Currency::Rub, rub * 100)]),
            renewable: true,
            channels: vec!["web".into()],
        }
    }

    #[test]
    fn a_light_user_on_a_big_plan_is_told_of_a_smaller_one() {
        let big = plan("month-100", Validity::Month, 100, 1290);
        let small = plan("month-30", Validity::Month, 30, 750);
        let week = plan("week-10", Validity::Week, 10, 390); // 5 weeks: 1950, 50 GB
        let all = [big.clone(), small.clone(), week];
        let a = cheaper_plan(&big, &all, 12 * GB, Currency::Rub).unwrap();
        assert_eq!(a.plan_id, "month-30");
        assert_eq!(a.cost, Money::new(750_00, Currency::Rub));
        assert_eq!(a.current_cost, Money::new(1290_00, Currency::Rub));
        // Someone who used 40 GB needs the big one: no advice.
        assert_eq!(cheaper_plan(&big, &all, 40 * GB, Currency::Rub), None);
        // Week plans count as five weeks for a month.
        assert_eq!(
            window_cover(&all[2], Currency::Rub),
            Some((Money::new(1950_00, Currency::Rub), 50 * GB))
        );
    }

    fn arb_plan(i: usize) -> impl Strategy<Value = Plan> {
        (
            prop_oneof![
                Just(Validity::Day),
                Just(Validity::Week),
                Just(Validity::Month),
                Just(Validity::Year),
                (2u16..=90).prop_map(Validity::Days)
            ],
            1u64..200,
            1i64..5000,
        )
            .prop_map(move |(v, gb, rub)| plan(&format!("p{i}"), v, gb, rub))
    }

    proptest! {
        /// Advice always carries the usage, always costs less than the current plan, and
        /// no other plan that carries the usage costs less.
        #[test]
        fn advice_is_sound(
            plans in (arb_plan(0), arb_plan(1), arb_plan(2), arb_plan(3), arb_plan(4)),
            used_gb in 0u64..400,
        ) {
            let all = vec![plans.0, plans.1, plans.2, plans.3, plans.4];
            let used = used_gb * GB;
            let current = &all[0];
            match cheaper_plan(current, &all, used, Currency::Rub) {
                Some(a) => {
                    let advised = all.iter().find(|p| p.id == a.plan_id).unwrap();
                    let (cost, bytes) = window_cover(advised, Currency::Rub).unwrap();
                    prop_assert!(bytes >= used);
                    prop_assert!(cost.minor < a.current_cost.minor);
                    for p in &all[1..] {
                        let (c, b) = window_cover(p, Currency::Rub).unwrap();
                        if b >= used {
                            prop_assert!(c.minor >= cost.minor);
                        }
                    }
                }
                None => {
                    let (cur, _) = window_cover(current, Currency::Rub).unwrap();
                    for p in &all[1..] {
                        let (c, b) = window_cover(p, Currency::Rub).unwrap();
                        prop_assert!(!(b >= used && c.minor < cur.minor));
                    }
                }
            }
        }
    }
}
