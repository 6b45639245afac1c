//! A plan: a sellable product of one operator — a data allowance for a validity period at
//! a price per currency, a base plan or an add-on — and the languages its name is in.

use crate::money::{Currency, Money};
use crate::operator::Operator;
use crate::period::Validity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The languages simrenew speaks. `zh-CN` is simplified Chinese.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Locale {
    #[serde(rename = "en")]
    En,
    #[serde(rename = "ru")]
    Ru,
    #[serde(rename = "zh-CN")]
    Zh,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::En, Locale::Ru, Locale::Zh];
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
            Self::Zh => "zh-CN",
        }
    }
    /// Picks the first supported language of an `Accept-Language` header (RFC 9110
    /// §12.5.4), honouring q-values; English when none is supported.
    pub fn negotiate(accept_language: &str) -> Locale {
        let mut best: Option<(u16, Locale)> = None;
        for part in accept_language.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .map_or(1000, |q| (q.clamp(0.0, 1.0) * 1000.0) as u16);
            if let Ok(l) = tag.parse::<Locale>()
                && q > 0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, l));
            }
        }
        best.map_or(Locale::En, |(_, l)| l)
    }
}

impl FromStr for Locale {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let primary = s.trim().to_ascii_lowercase();
        let primary = primary.split(['-', '_']).next().unwrap_or("");
        match primary {
            "en" => Ok(Self::En),
            "ru" => Ok(Self::Ru),
            "zh" => Ok(Self::Zh),
            _ => Err(format!("unsupported language {s:?}: use en, ru or zh-CN")),
        }
    }
}

/// A text in each of our languages, falling back to English, then to any language given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Localized(pub BTreeMap<Locale, String>);

impl Localized {
    pub fn new(en: &str, ru: &str, zh: &str) -> Self {
        Self(BTreeMap::from([
            (Locale::En, en.to_string()),
            (Locale::Ru, ru.to_string()),
            (Locale::Zh, zh.to_string()),
        ]))
    }
    pub fn get(&self, l: Locale) -> &str {
        self.0
            .get(&l)
            .filter(|t| !t.trim().is_empty())
            .or_else(|| self.0.get(&Locale::En).filter(|t| !t.trim().is_empty()))
            .or_else(|| self.0.values().find(|t| !t.trim().is_empty()))
            .map_or("", String::as_str)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanKind {
    /// A plan that makes a period: it is what a line renews.
    Base,
    /// Extra data within the current period; it ends with that period.
    #[serde(rename = "addon")]
    AddOn,
}

impl PlanKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::AddOn => "addon",
        }
    }
}

impl FromStr for PlanKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "base" => Ok(Self::Base),
            "addon" | "add-on" => Ok(Self::AddOn),
            _ => Err(format!("unknown plan kind {s:?}: use base or addon")),
        }
    }
}

/// The data a plan gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum DataAllowance {
    Bytes {
        bytes: u64,
    },
    /// Unlimited, throttled past a fair-use amount; our bucket holds the fair-use amount.
    Unlimited {
        fair_use_bytes: u64,
    },
}

impl DataAllowance {
    /// The bytes a bucket of this plan starts with.
    pub fn bucket_bytes(self) -> u64 {
        match self {
            Self::Bytes { bytes } => bytes,
            Self::Unlimited { fair_use_bytes } => fair_use_bytes,
        }
    }
    pub fn is_unlimited(self) -> bool {
        matches!(self, Self::Unlimited { .. })
    }
}

/// Where a plan may be sold.
pub const CHANNELS: [&str; 4] = ["web", "app", "partner", "counter"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// A stable, readable id (`mts-month-30gb`).
    pub id: String,
    pub operator: Operator,
    pub kind: PlanKind,
    pub validity: Validity,
    pub data: DataAllowance,
    pub names: Localized,
    pub prices: BTreeMap<Currency, i64>,
    pub renewable: bool,
    pub channels: Vec<String>,
}

impl Plan {
    /// The price in `currency`, when the plan is sold in it.
    pub fn price(&self, currency: Currency) -> Option<Money> {
        self.prices.get(&currency).map(|m| Money::new(*m, currency))
    }
    pub fn sold_on(&self, channel: &str) -> bool {
        self.channels.iter().any(|c| c == channel)
    }

    /// Whether this plan may go into the catalog: the first field at fault and why.
    /// The back office's form and the store both ask it, so a plan that cannot be sold
    /// sensibly (no price, no channel, no name, a zero allowance) never gets in.
    pub fn check(&self) -> Result<(), PlanError> {
        let bad = |field: &'static str, reason: &str| {
            Err(PlanError {
                field,
                reason: reason.to_string(),
            })
        };
        if !valid_plan_id(&self.id) {
            return bad(
                "id",
                "3 to 64 characters: lowercase letters, digits and single hyphens",
            );
        }
        if Locale::ALL
            .iter()
            .all(|l| self.names.0.get(l).is_none_or(|n| n.trim().is_empty()))
        {
            return bad("names", "give the plan a name in at least one language");
        }
        if self.names.0.values().any(|n| n.chars().count() > 120) {
            return bad("names", "a name is at most 120 characters");
        }
        if self.data.bucket_bytes() == 0 {
            return bad(
                "data",
                "a plan brings some data (a fair-use amount when unlimited)",
            );
        }
        if self.data.bucket_bytes() > MAX_PLAN_BYTES {
            return bad("data", "at most 10 TB");
        }
        if self.prices.is_empty() {
            return bad("prices", "give at least one price");
        }
        if self
            .prices
            .values()
            .any(|m| *m <= 0 || *m > MAX_PLAN_PRICE_MINOR)
        {
            return bad("prices", "a price is more than 0 and at most 1,000,000.00");
        }
        if self.channels.is_empty() {
            return bad("channels", "choose at least one channel that sells it");
        }
        if let Some(c) = self
            .channels
            .iter()
            .find(|c| !CHANNELS.contains(&c.as_str()))
        {
            return bad("channels", &format!("unknown channel {c:?}"));
        }
        Ok(())
    }
}

/// The largest allowance a plan may bring: 10 TB.
pub const MAX_PLAN_BYTES: u64 = 10_000_000_000_000;
/// The largest price a plan may have, in minor units (1,000,000.00).
pub const MAX_PLAN_PRICE_MINOR: i64 = 100_000_000;

/// A plan the catalog refuses: which field and why (English; pages say it in the
/// reader's language by the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct PlanError {
    pub field: &'static str,
    pub reason: String,
}

/// A plan id as URLs and partners carry it: `mts-month-30gb`.
pub fn valid_plan_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language() {
        assert_eq!(Locale::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Locale::Zh);
        assert_eq!(Locale::negotiate("de-DE, ru;q=0.5, en;q=0.4"), Locale::Ru);
        assert_eq!(Locale::negotiate("fr"), Locale::En);
        assert_eq!(Locale::negotiate("en;q=0.1, ru"), Locale::Ru);
        assert_eq!(Locale::negotiate(""), Locale::En);
    }

    fn plan() -> Plan {
        Plan {
            id: "mts-month-30gb".into(),
            operator: Operator::Mts,
            kind: PlanKind::Base,
            validity: Validity::Month,
            data: DataAllowance::Bytes {
                bytes: 30_000_000_000,
            },
            names: Localized::new("30 GB", "30 ГБ", "30 GB"),
            prices: BTreeMap::from([(Currency::Rub, 60_000)]),
            renewable: true,
            channels: vec!["web".into()],
        }
    }

    #[test]
    fn a_plan_the_catalog_refuses_names_the_field() {
        assert_eq!(plan().check(), Ok(()));
        let field = |f: fn(&mut Plan)| {
            let mut p = plan();
            f(&mut p);
            p.check().map_err(|e| e.field)
        };
        assert_eq!(field(|p| p.id = "MTS month".into()), Err("id"));
        assert_eq!(field(|p| p.id = "mts--x".into()), Err("id"));
        assert_eq!(field(|p| p.id = "-mts".into()), Err("id"));
        assert_eq!(field(|p| p.names = Localized::default()), Err("names"));
        assert_eq!(
            field(|p| p.names = Localized::new(" ", "", "")),
            Err("names")
        );
        assert_eq!(
            field(|p| p.data = DataAllowance::Unlimited { fair_use_bytes: 0 }),
            Err("data")
        );
        assert_eq!(field(|p| p.prices.clear()), Err("prices"));
        assert_eq!(
            field(|p| {
                p.prices.insert(Currency::Cny, 0);
            }),
            Err("prices")
        );
        assert_eq!(field(|p| p.channels.clear()), Err("channels"));
        assert_eq!(field(|p| p.channels.push("fax".into())), Err("channels"));
        // A name in one language is enough: the others fall back to it.
        assert_eq!(
            field(|p| p.names = Localized(BTreeMap::from([(Locale::Zh, "套餐".into())]))),
            Ok(())
        );
        let zh_only = Localized(BTreeMap::from([(Locale::Zh, "套餐".into())]));
        assert_eq!(zh_only.get(Locale::Ru), "套餐");
    }
}
