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

/// A text in each of our languages, falling back to English.
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
            .or_else(|| self.0.get(&Locale::En))
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
}
