//! The renewal rules (DESIGN.md, "Renewal rules"): where a new period starts and ends,
//! what an add-on brings, and which plans a line may take. Pure functions of the line's
//! periods and the clock, so the store, the API and later auto-renew share one rule.

use crate::operator::Operator;
use crate::order::StartMode;
use crate::plan::{Plan, PlanKind};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A base plan's period on a line: [start, end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
}

impl Period {
    pub fn contains(&self, at: OffsetDateTime) -> bool {
        self.start <= at && at < self.end
    }
}

/// What a renewal grants: a new period and a bucket living exactly as long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewalGrant {
    pub period: Period,
    pub bytes: u64,
}

/// What an add-on grants: a bucket from now to the end of the current period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddOnGrant {
    pub valid_from: OffsetDateTime,
    pub valid_until: OffsetDateTime,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenewalError {
    #[error("plan {plan} is for {plan_operator}, but the line is on {line_operator}")]
    OperatorMismatch {
        plan: String,
        plan_operator: Operator,
        line_operator: Operator,
    },
    #[error("plan {plan} is an add-on: buy it as an add-on, not as a renewal")]
    NotABasePlan { plan: String },
    #[error("plan {plan} is a base plan, not an add-on")]
    NotAnAddOn { plan: String },
    #[error("an add-on needs a current period: renew the line first")]
    NoActivePeriod,
    #[error("plan {plan} is not sold on the {channel} channel")]
    NotSoldOnChannel { plan: String, channel: String },
}

/// Checks that `plan` may be sold for a line of `line_operator` on `channel`.
pub fn check_plan_for_line(
    plan: &Plan,
    line_operator: Operator,
    channel: &str,
) -> Result<(), RenewalError> {
    if plan.operator != line_operator {
        return Err(RenewalError::OperatorMismatch {
            plan: plan.id.clone(),
            plan_operator: plan.operator,
            line_operator,
        });
    }
    if !plan.sold_on(channel) {
        return Err(RenewalError::NotSoldOnChannel {
            plan: plan.id.clone(),
            channel: channel.to_string(),
        });
    }
    Ok(())
}

/// The end of the last period that has not ended yet at `now` (current or queued).
pub fn last_end(periods: &[Period], now: OffsetDateTime) -> Option<OffsetDateTime> {
    periods.iter().filter(|p| p.end > now).map(|p| p.end).max()
}

/// The period containing `now`; when "start now" made two overlap, the one started last.
pub fn current_period(periods: &[Period], now: OffsetDateTime) -> Option<Period> {
    periods
        .iter()
        .filter(|p| p.contains(now))
        .max_by_key(|p| (p.start, p.end))
        .copied()
}

/// Where a renewal with `plan` lands. Queued (the default) starts when the last current
/// or queued period ends; a line with nothing running starts now; `StartMode::Now`
/// starts now and leaves earlier buckets usable until their own end.
pub fn plan_renewal(
    now: OffsetDateTime,
    periods: &[Period],
    plan: &Plan,
    mode: StartMode,
) -> Result<RenewalGrant, RenewalError> {
    if plan.kind != PlanKind::Base {
        return Err(RenewalError::NotABasePlan {
            plan: plan.id.clone(),
        });
    }
    let start = match mode {
        StartMode::Now => now,
        StartMode::Queued => last_end(periods, now).unwrap_or(now),
    };
    let end = plan.validity.end_from(start);
    Ok(RenewalGrant {
        period: Period { start, end },
        bytes: plan.data.bucket_bytes(),
    })
}

/// What an add-on with `plan` brings now: a bucket that ends with the current period.
pub fn plan_addon(
    now: OffsetDateTime,
    periods: &[Period],
    plan: &Plan,
) -> Result<AddOnGrant, RenewalError> {
    if plan.kind != PlanKind::AddOn {
        return Err(RenewalError::NotAnAddOn {
            plan: plan.id.clone(),
        });
    }
    let current = current_period(periods, now).ok_or(RenewalError::NoActivePeriod)?;
    Ok(AddOnGrant {
        valid_from: now,
        valid_until: current.end,
        bytes: plan.data.bucket_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use crate::period::Validity;
    use crate::plan::{DataAllowance, Localized};
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use time::Duration;
    use time::macros::datetime;

    fn plan(kind: PlanKind, validity: Validity) -> Plan {
        Plan {
            id: "mts-test".into(),
            operator: Operator::Mts,
            kind,
            validity,
            data: DataAllowance::Bytes { bytes: 10 << 30 },
            names: Localized::new("t", "т", "测"),
            prices: BTreeMap::from([(Currency::Rub, 50_000)]),
            renewable: true,
            channels: vec!["app".into()],
        }
    }
    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

    #[test]
    fn queued_after_current_period() {
        let periods = [Period {
            start: NOW - Duration::days(10),
            end: NOW + Duration::days(20),
        }];
        let g = plan_renewal(
            NOW,
            &periods,
            &plan(PlanKind::Base, Validity::Month),
            StartMode::Queued,
        )
        .unwrap();
        assert_eq!(g.period.start, NOW + Duration::days(20));
        assert_eq!(g.period.end, datetime!(2027-01-15 12:00 UTC));
        assert_eq!(g.bytes, 10 << 30);
    }

    #[test]
    fn queued_after_last_queued_period() {
        let periods = [
            Period {
                start: NOW - Duration::days(10),
                end: NOW + Duration::days(20),
            },
            Period {
                start: NOW + Duration::days(20),
                end: NOW + Duration::days(50),
            },
        ];
        let g = plan_renewal(
            NOW,
            &periods,
            &plan(PlanKind::Base, Validity::Week),
            StartMode::Queued,
        )
        .unwrap();
        assert_eq!(g.period.start, NOW + Duration::days(50));
    }

    #[test]
    fn expired_line_starts_now() {
        let periods = [Period {
            start: NOW - Duration::days(40),
            end: NOW - Duration::days(10),
        }];
        let g = plan_renewal(
            NOW,
            &periods,
            &plan(PlanKind::Base, Validity::Day),
            StartMode::Queued,
        )
        .unwrap();
        assert_eq!(
            g.period,
            Period {
                start: NOW,
                end: NOW + Duration::days(1)
            }
        );
        let g = plan_renewal(
            NOW,
            &[],
            &plan(PlanKind::Base, Validity::Day),
            StartMode::Queued,
        )
        .unwrap();
        assert_eq!(g.period.start, NOW);
    }

    #[test]
    fn start_now_overlaps_and_becomes_current() {
        let old = Period {
            start: NOW - Duration::days(10),
            end: NOW + Duration::days(20),
        };
        let g = plan_renewal(
            NOW,
            &[old],
            &plan(PlanKind::Base, Validity::Days(7)),
            StartMode::Now,
        )
        .unwrap();
        assert_eq!(g.period.start, NOW);
        // The old period is untouched (its bucket stays usable until its own end) and the
        // new one is what "current" means from now on.
        assert_eq!(
            current_period(&[old, g.period], NOW + Duration::hours(1)),
            Some(g.period)
        );
        assert_eq!(
            current_period(&[old, g.period], NOW + Duration::days(8)),
            Some(old)
        );
    }

    #[test]
    fn addon_ends_with_current_period() {
        let cur = Period {
            start: NOW - Duration::days(1),
            end: NOW + Duration::days(29),
        };
        let queued = Period {
            start: cur.end,
            end: cur.end + Duration::days(30),
        };
        let g = plan_addon(NOW, &[cur, queued], &plan(PlanKind::AddOn, Validity::Month)).unwrap();
        assert_eq!((g.valid_from, g.valid_until), (NOW, cur.end));
        assert_eq!(
            plan_addon(NOW, &[queued], &plan(PlanKind::AddOn, Validity::Month)),
            Err(RenewalError::NoActivePeriod)
        );
        assert!(matches!(
            plan_addon(NOW, &[cur], &plan(PlanKind::Base, Validity::Month)),
            Err(RenewalError::NotAnAddOn { .. })
        ));
        assert!(matches!(
            plan_renewal(
                NOW,
                &[cur],
                &plan(PlanKind::AddOn, Validity::Month),
                StartMode::Queued
            ),
            Err(RenewalError::NotABasePlan { .. })
        ));
    }

    #[test]
    fn operator_and_channel_checked() {
        let p = plan(PlanKind::Base, Validity::Month);
        assert!(matches!(
            check_plan_for_line(&p, Operator::Beeline, "app"),
            Err(RenewalError::OperatorMismatch { .. })
        ));
        assert!(matches!(
            check_plan_for_line(&p, Operator::Mts, "counter"),
            Err(RenewalError::NotSoldOnChannel { .. })
        ));
        assert_eq!(check_plan_for_line(&p, Operator::Mts, "app"), Ok(()));
    }

    fn arb_periods() -> impl Strategy<Value = Vec<Period>> {
        prop::collection::vec((-100i64..100, 1i64..60), 0..5).prop_map(|v| {
            v.into_iter()
                .map(|(s, len)| Period {
                    start: NOW + Duration::days(s),
                    end: NOW + Duration::days(s + len),
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn queued_never_overlaps_and_never_starts_in_past(periods in arb_periods(), v in 0usize..5) {
            let validity = [Validity::Day, Validity::Week, Validity::Month, Validity::Year, Validity::Days(30)][v];
            let g = plan_renewal(NOW, &periods, &plan(PlanKind::Base, validity), StartMode::Queued).unwrap();
            prop_assert!(g.period.start >= NOW);
            prop_assert!(g.period.end > g.period.start);
            for p in &periods {
                // Every period still running or queued ends before the new one starts.
                prop_assert!(p.end <= NOW || p.end <= g.period.start);
            }
            // No gap either: it starts right at the last end, or now when nothing runs.
            prop_assert_eq!(g.period.start, last_end(&periods, NOW).unwrap_or(NOW));
        }

        #[test]
        fn addon_lies_within_current_period(periods in arb_periods()) {
            match plan_addon(NOW, &periods, &plan(PlanKind::AddOn, Validity::Month)) {
                Ok(g) => {
                    prop_assert!(periods.iter().any(|p| p.contains(NOW) && p.end == g.valid_until));
                    prop_assert!(g.valid_until > g.valid_from);
                }
                Err(e) => {
                    prop_assert_eq!(e, RenewalError::NoActivePeriod);
                    prop_assert!(!periods.iter().any(|p| p.contains(NOW)));
                }
            }
        }
    }
}
