//! The Russian mobile operators simrenew sells for, with their network codes (MCC 250)
//! and their names in the languages of our readers.

use crate::plan::Locale;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    Mts,
    Beeline,
    Megafon,
    T2,
}

impl Operator {
    pub const ALL: [Operator; 4] = [
        Operator::Mts,
        Operator::Beeline,
        Operator::Megafon,
        Operator::T2,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Mts => "mts",
            Self::Beeline => "beeline",
            Self::Megafon => "megafon",
            Self::T2 => "t2",
        }
    }
    /// The operator's main MNC under MCC 250 (ITU-T E.212 assignments for Russia).
    pub fn mnc(self) -> &'static str {
        match self {
            Self::Mts => "01",
            Self::Megafon => "02",
            Self::T2 => "20",
            Self::Beeline => "99",
        }
    }
    pub fn from_mnc(mnc: &str) -> Option<Self> {
        match mnc {
            "01" => Some(Self::Mts),
            "02" => Some(Self::Megafon),
            "20" => Some(Self::T2),
            "99" | "28" => Some(Self::Beeline),
            _ => None,
        }
    }
    pub fn name(self, locale: Locale) -> &'static str {
        match (self, locale) {
            (Self::Mts, Locale::Ru) => "МТС",
            (Self::Mts, _) => "MTS",
            (Self::Beeline, Locale::Ru) => "Билайн",
            (Self::Beeline, Locale::Zh) => "Beeline（比莱恩）",
            (Self::Beeline, Locale::En) => "Beeline",
            (Self::Megafon, Locale::Ru) => "МегаФон",
            (Self::Megafon, Locale::Zh) => "MegaFon（麦加丰）",
            (Self::Megafon, Locale::En) => "MegaFon",
            (Self::T2, _) => "T2",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operator {0:?}: use mts, beeline, megafon or t2")]
pub struct UnknownOperator(pub String);

impl FromStr for Operator {
    type Err = UnknownOperator;
    fn from_str(s: &str) -> Result<Self, UnknownOperator> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mts" => Ok(Self::Mts),
            "beeline" => Ok(Self::Beeline),
            "megafon" => Ok(Self::Megafon),
            "t2" | "tele2" => Ok(Self::T2),
            _ => Err(UnknownOperator(s.to_string())),
        }
    }
}
