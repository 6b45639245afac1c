//! Money as integer minor units of one currency (kopecks, fen, cents), and the exchange
//! rate used when a top-up is paid in another currency than the line's balance.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The currencies simrenew prices and accepts. All four have two minor digits (ISO 4217).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    Rub,
    Cny,
    Usd,
    Eur,
}

impl Currency {
    pub const ALL: [Currency; 4] = [Currency::Rub, Currency::Cny, Currency::Usd, Currency::Eur];

    pub fn code(self) -> &'static str {
        match self {
            Self::Rub => "RUB",
            Self::Cny => "CNY",
            Self::Usd => "USD",
            Self::Eur => "EUR",
        }
    }
    /// Minor units per major unit (ISO 4217 exponent 2 for all of ours).
    pub fn minor_per_major(self) -> i64 {
        100
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "RUB" => Ok(Self::Rub),
            "CNY" => Ok(Self::Cny),
            "USD" => Ok(Self::Usd),
            "EUR" => Ok(Self::Eur),
            _ => Err(MoneyError::UnknownCurrency(s.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency {0:?}: use RUB, CNY, USD or EUR")]
    UnknownCurrency(String),
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount is out of range")]
    Overflow,
    #[error("not an amount: {0:?} (write it like 500 or 499.90)")]
    BadAmount(String),
    #[error("an exchange rate must be a positive decimal like 12.5, got {0:?}")]
    BadRate(String),
}

/// An amount of one currency in minor units. Arithmetic refuses to mix currencies and
/// reports overflow instead of wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }
    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.checked_add(Money::new(
            other.minor.checked_neg().ok_or(MoneyError::Overflow)?,
            other.currency,
        ))
    }
    /// Parses a decimal amount in major units (`500`, `499.9`, `499.90`) of `currency`.
    pub fn parse_major(s: &str, currency: Currency) -> Result<Money, MoneyError> {
        let bad = || MoneyError::BadAmount(s.to_string());
        let t = s.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 2
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let int: i64 = int.parse().map_err(|_| bad())?;
        let frac: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<2}").parse().map_err(|_| bad())?
        };
        let minor = int
            .checked_mul(currency.minor_per_major())
            .and_then(|v| v.checked_add(frac))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(if neg { -minor } else { minor }, currency))
    }
    /// The amount in major units with two decimals, no currency sign (`499.90`).
    pub fn major_string(&self) -> String {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.major_string(), self.currency)
    }
}

/// How many units of the line's currency one unit of the paying currency buys, kept as a
/// decimal with up to six fractional digits (`12.5` RUB per CNY = 12_500_000 micros).
/// The rate used is recorded on the order, so a later change of rate never rewrites one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxRate {
    pub from: Currency,
    pub to: Currency,
    pub micros: i64,
}

impl FxRate {
    pub fn parse(from: Currency, to: Currency, s: &str) -> Result<Self, MoneyError> {
        let bad = || MoneyError::BadRate(s.to_string());
        let t = s.trim();
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty()
            || frac.len() > 6
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let int: i64 = int.parse().map_err(|_| bad())?;
        let frac: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<6}").parse().map_err(|_| bad())?
        };
        let micros = int
            .checked_mul(1_000_000)
            .and_then(|v| v.checked_add(frac))
            .ok_or_else(bad)?;
        if micros <= 0 {
            return Err(bad());
        }
        Ok(Self { from, to, micros })
    }
    /// The identity rate for paying in the line's own currency.
    pub fn identity(c: Currency) -> Self {
        Self {
            from: c,
            to: c,
            micros: 1_000_000,
        }
    }
    /// Converts, rounding down to the minor unit so the customer is never credited more
    /// than was paid for. Both currencies have the same exponent.
    pub fn convert(&self, amount: Money) -> Result<Money, MoneyError> {
        if amount.currency != self.from {
            return Err(MoneyError::CurrencyMismatch(amount.currency, self.from));
        }
        let v = i128::from(amount.minor) * i128::from(self.micros) / 1_000_000;
        let minor = i64::try_from(v).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(minor, self.to))
    }
    /// The rate as a decimal string (`12.5`).
    pub fn decimal(&self) -> String {
        let int = self.micros / 1_000_000;
        let frac = self.micros % 1_000_000;
        if frac == 0 {
            int.to_string()
        } else {
            format!("{int}.{}", format!("{frac:06}").trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_format() {
        assert_eq!(
            Money::parse_major("499.9", Currency::Rub).unwrap().minor,
            49_990
        );
        assert_eq!(
            Money::parse_major("500", Currency::Cny).unwrap().minor,
            50_000
        );
        assert_eq!(Money::new(-5, Currency::Usd).major_string(), "-0.05");
        assert!(Money::parse_major("4.999", Currency::Rub).is_err());
        assert!(Money::parse_major("1e3", Currency::Rub).is_err());
        assert!(Money::parse_major("99999999999999999999", Currency::Rub).is_err());
    }

    #[test]
    fn no_mixing() {
        let r = Money::new(1, Currency::Rub);
        let c = Money::new(1, Currency::Cny);
        assert_eq!(
            r.checked_add(c),
            Err(MoneyError::CurrencyMismatch(Currency::Rub, Currency::Cny))
        );
        assert_eq!(
            Money::new(i64::MAX, Currency::Rub).checked_add(r),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn fx_rounds_down() {
        let rate = FxRate::parse(Currency::Cny, Currency::Rub, "12.345678").unwrap();
        // 1.00 CNY -> 12.345678 RUB -> 12.34 RUB (down)
        assert_eq!(
            rate.convert(Money::new(100, Currency::Cny)).unwrap(),
            Money::new(1234, Currency::Rub)
        );
        assert_eq!(rate.decimal(), "12.345678");
        assert!(FxRate::parse(Currency::Cny, Currency::Rub, "0").is_err());
        assert!(FxRate::parse(Currency::Cny, Currency::Rub, "-1").is_err());
    }

    proptest! {
        #[test]
        fn major_roundtrip(minor in -1_000_000_000_000i64..1_000_000_000_000) {
            let m = Money::new(minor, Currency::Rub);
            prop_assert_eq!(Money::parse_major(&m.major_string(), Currency::Rub).unwrap(), m);
        }

        #[test]
        fn fx_never_credits_more(minor in 0i64..1_000_000_000, micros in 1i64..1_000_000_000) {
            let rate = FxRate { from: Currency::Cny, to: Currency::Rub, micros };
            let out = rate.convert(Money::new(minor, Currency::Cny)).unwrap();
            prop_assert!(i128::from(out.minor) * 1_000_000 <= i128::from(minor) * i128::from(micros));
            prop_assert!(i128::from(out.minor + 1) * 1_000_000 > i128::from(minor) * i128::from(micros));
        }

        #[test]
        fn junk_amount_never_panics(s in "\\PC{0,30}") {
            let _ = Money::parse_major(&s, Currency::Rub);
            let _ = FxRate::parse(Currency::Cny, Currency::Rub, &s);
            let _ = s.parse::<Currency>();
        }
    }
}
