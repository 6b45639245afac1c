//! Reconciliation: a provider's settlement report against what simrenew recorded. Every
//! line of the report and every settled payment or refund of ours ends up in exactly one
//! finding: matched, differing in amount, only in the report, or only here.

use crate::money::Money;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    Payment,
    Refund,
}

/// One line of a provider's report, in our terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportLine {
    /// The line's number in the file (1 = first line), for people to find it.
    pub line: usize,
    /// The id it names: the provider's payment (or refund) id, or our merchant order
    /// number (the attempt id) where the provider reports that.
    pub reference: String,
    pub entry: Entry,
    /// What the buyer paid (or was refunded), positive.
    pub gross: Money,
    /// What the provider kept, when the report says.
    pub fee: Option<Money>,
}

/// A settled payment or refund of ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// Our id (payment attempt or refund).
    pub id: String,
    /// The provider's id for it, when known.
    pub provider_id: Option<String>,
    pub entry: Entry,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    Matched { line: ReportLine, ours: Recorded },
    Differs { line: ReportLine, ours: Recorded },
    OnlyInReport { line: ReportLine },
    OnlyHere { ours: Recorded },
}

/// Matches `report` against `ours`. A line matches a record of the same kind whose id or
/// provider id is the line's reference; the amount (and currency) must be equal for a
/// match. A record is matched at most once: a second line naming it is "only in the
/// report" (a duplicate the provider must explain).
pub fn reconcile(ours: &[Recorded], report: &[ReportLine]) -> Vec<Finding> {
    let mut index: HashMap<(Entry, &str), usize> = HashMap::new();
    for (i, r) in ours.iter().enumerate() {
        index.insert((r.entry, r.id.as_str()), i);
        if let Some(p) = &r.provider_id {
            index.entry((r.entry, p.as_str())).or_insert(i);
        }
    }
    let mut used = vec![false; ours.len()];
    let mut out = Vec::with_capacity(report.len() + ours.len());
    for line in report {
        match index.get(&(line.entry, line.reference.as_str())) {
            Some(&i) if !used[i] => {
                used[i] = true;
                let ours = ours[i].clone();
                out.push(if ours.amount == line.gross {
                    Finding::Matched {
                        line: line.clone(),
                        ours,
                    }
                } else {
                    Finding::Differs {
                        line: line.clone(),
                        ours,
                    }
                });
            }
            _ => out.push(Finding::OnlyInReport { line: line.clone() }),
        }
    }
    for (i, r) in ours.iter().enumerate() {
        if !used[i] {
            out.push(Finding::OnlyHere { ours: r.clone() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    fn rec(id: &str, pid: Option<&str>, entry: Entry, minor: i64) -> Recorded {
        Recorded {
            id: id.into(),
            provider_id: pid.map(Into::into),
            entry,
            amount: Money::new(minor, Currency::Cny),
        }
    }

    fn line(n: usize, reference: &str, entry: Entry, minor: i64) -> ReportLine {
        ReportLine {
            line: n,
            reference: reference.into(),
            entry,
            gross: Money::new(minor, Currency::Cny),
            fee: None,
        }
    }

    #[test]
    fn each_kind_of_finding() {
        let ours = [
            rec("pay-1", Some("2026A"), Entry::Payment, 60_00),
            rec("pay-2", None, Entry::Payment, 60_00),
            rec("pay-3", None, Entry::Payment, 30_00),
            rec("ref-1", Some("R1"), Entry::Refund, 10_00),
        ];
        let report = [
            line(2, "2026A", Entry::Payment, 60_00),
            line(3, "pay-2", Entry::Payment, 59_00),
            line(4, "pay-2", Entry::Payment, 59_00),
            line(5, "R1", Entry::Refund, 10_00),
            line(6, "pay-9", Entry::Payment, 1_00),
            // A refund line naming a payment is not that payment.
            line(7, "pay-3", Entry::Refund, 30_00),
        ];
        let f = reconcile(&ours, &report);
        let kinds: Vec<&str> = f
            .iter()
            .map(|x| match x {
                Finding::Matched { .. } => "matched",
                Finding::Differs { .. } => "differs",
                Finding::OnlyInReport { .. } => "only_in_report",
                Finding::OnlyHere { .. } => "only_here",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "matched",
                "differs",
                "only_in_report",
                "matched",
                "only_in_report",
                "only_in_report",
                "only_here"
            ]
        );
    }

    proptest! {
        /// Every report line and every record is in exactly one finding, and a record
        /// is never matched twice.
        #[test]
        fn everything_is_accounted_for_once(
            ours in proptest::collection::vec((0u8..6, proptest::option::of(0u8..6), any::<bool>(), 1i64..5), 0..12),
            lines in proptest::collection::vec((0u8..8, any::<bool>(), 1i64..5), 0..12),
        ) {
            let entry = |b: bool| if b { Entry::Payment } else { Entry::Refund };
            let ours: Vec<Recorded> = ours.iter().enumerate().map(|(i, (id, pid, e, m))| Recorded {
                id: format!("o{i}-{id}"),
                provider_id: pid.map(|p| format!("p{p}")),
                entry: entry(*e),
                amount: Money::new(*m, Currency::Rub),
            }).collect();
            let report: Vec<ReportLine> = lines.iter().enumerate().map(|(n, (r, e, m))| ReportLine {
                line: n + 1,
                reference: format!("p{r}"),
                entry: entry(*e),
                gross: Money::new(*m, Currency::Rub),
                fee: None,
            }).collect();
            let f = reconcile(&ours, &report);
            let mut lines_seen = vec![0; report.len()];
            let mut ours_seen = vec![0; ours.len()];
            for x in &f {
                let (l, o) = match x {
                    Finding::Matched { line, ours } | Finding::Differs { line, ours } => (Some(line), Some(ours)),
                    Finding::OnlyInReport { line } => (Some(line), None),
                    Finding::OnlyHere { ours } => (None, Some(ours)),
                };
                if let Some(l) = l { lines_seen[l.line - 1] += 1; }
                if let Some(o) = o {
                    let i = ours.iter().position(|r| r.id == o.id).unwrap();
                    ours_seen[i] += 1;
                }
                if let Finding::Matched { line, ours } = x {
                    prop_assert_eq!(line.gross, ours.amount);
                }
            }
            prop_assert!(lines_seen.iter().all(|&n| n == 1));
            prop_assert!(ours_seen.iter().all(|&n| n == 1));
        }
    }
}
