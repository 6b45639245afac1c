//! The reader's language on pages: Fluent messages (`crates/web/locales/<lang>/<area>.ftl`,
//! one file per language per area) and each locale's way of writing money, numbers, dates,
//! data amounts and "5 minutes ago". Plurals (Russian one / few / many) come from Fluent's
//! CLDR rules, so `{ $n -> [one] … [few] … *[many] … }` in the message files is enough.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};
use simrenew_core::{Currency, Locale, Money};
use std::borrow::Cow;
use std::collections::HashMap;
use time::{OffsetDateTime, UtcOffset};

fluent_templates::static_loader! {
    pub static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Unicode isolation marks around arguments would show up in HTML attributes,
        // e-mails and SMS; our arguments are plain numbers, dates and names.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static EN: LanguageIdentifier = langid!("en");
static RU: LanguageIdentifier = langid!("ru");
static ZH: LanguageIdentifier = langid!("zh-CN");

/// Times on pages are the operators' own: Moscow time (UTC+3, no daylight saving since
/// 2014), labelled as such in each language.
pub const MOSCOW: UtcOffset = match UtcOffset::from_hms(3, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// Translates and formats for one reader. Cheap to copy; templates call it directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    pub locale: Locale,
}

impl Tr {
    pub fn new(locale: Locale) -> Self {
        Self { locale }
    }

    fn id(&self) -> &'static LanguageIdentifier {
        match self.locale {
            Locale::En => &EN,
            Locale::Ru => &RU,
            Locale::Zh => &ZH,
        }
    }

    /// The value of `lang` on `<html>`.
    pub fn lang(&self) -> &'static str {
        self.locale.tag()
    }

    /// The message `key`. A key missing in every language shows as itself (and a test
    /// fails), never as an empty string.
    pub fn t(&self, key: &str) -> String {
        self.args(key, &[])
    }

    /// The message `key` if it exists (for keys made from data, like a payment method).
    pub fn t_opt(&self, key: &str) -> Option<String> {
        LOCALES.try_lookup(self.id(), key)
    }

    /// The message `key` with a count `$n` (plural forms).
    pub fn n(&self, key: &str, n: impl std::borrow::Borrow<i64>) -> String {
        self.args(key, &[("n", FluentValue::from(*n.borrow()))])
    }

    /// The message `key` with one text argument `$name`.
    pub fn s(&self, key: &str, name: &'static str, value: &str) -> String {
        self.args(key, &[(name, FluentValue::from(value.to_string()))])
    }

    /// The message `key` with arguments.
    pub fn args(&self, key: &str, args: &[(&'static str, FluentValue<'static>)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), v.clone()))
            .collect();
        LOCALES
            .try_lookup_complete(self.id(), key, (!map.is_empty()).then_some(&map))
            .unwrap_or_else(|| {
                tracing::warn!(key, lang = self.lang(), "missing message");
                key.to_string()
            })
    }

    /// An integer with the locale's grouping: `12,345` (en, zh-CN), `12 345` (ru).
    pub fn int(&self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let sep = match self.locale {
            Locale::Ru => '\u{a0}',
            _ => ',',
        };
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(sep);
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    }

    /// A decimal with one fractional digit at most: `3.3` / `3,3`.
    pub fn decimal1(&self, tenths: i64) -> String {
        let whole = self.int(tenths / 10);
        let frac = (tenths % 10).abs();
        if frac == 0 {
            return whole;
        }
        let point = if self.locale == Locale::Ru { ',' } else { '.' };
        format!("{whole}{point}{frac}")
    }

    /// Money as its readers write it: `₽750`, `¥75.50` (en, zh-CN) or `750 ₽`, `75,50 ¥`
    /// (ru). Whole amounts are written without the minor digits.
    pub fn money(&self, m: Money) -> String {
        let symbol = currency_symbol(m.currency);
        let neg = if m.minor < 0 { "-" } else { "" };
        let minor = m.minor.unsigned_abs();
        let whole = self.int((minor / 100) as i64);
        let cents = minor % 100;
        let amount = if cents == 0 {
            whole
        } else {
            let point = if self.locale == Locale::Ru { ',' } else { '.' };
            format!("{whole}{point}{cents:02}")
        };
        match self.locale {
            Locale::Ru => format!("{neg}{amount}\u{a0}{symbol}"),
            _ => format!("{neg}{symbol}{amount}"),
        }
    }

    /// A data amount in GB (or MB below one GB), binary units as operators count them.
    pub fn bytes(&self, b: u64) -> String {
        const GB: u64 = 1 << 30;
        const MB: u64 = 1 << 20;
        if b >= GB {
            let tenths = (b as u128 * 10 / GB as u128) as i64;
            self.args(
                "amount-gb",
                &[("n", FluentValue::from(self.decimal1(tenths)))],
            )
        } else {
            self.args(
                "amount-mb",
                &[("n", FluentValue::from(self.int((b / MB) as i64)))],
            )
        }
    }

    /// A date in Moscow time: `25 Nov 2026`, `25 ноября 2026`, `2026年11月25日`.
    pub fn date(&self, t: OffsetDateTime) -> String {
        let t = t.to_offset(MOSCOW);
        self.args(
            "date",
            &[
                ("day", FluentValue::from(t.day().to_string())),
                (
                    "month",
                    FluentValue::from(self.t(&format!("month-{}", u8::from(t.month())))),
                ),
                ("year", FluentValue::from(t.year().to_string())),
            ],
        )
    }

    /// A date and time in Moscow time, labelled.
    pub fn datetime(&self, t: OffsetDateTime) -> String {
        let m = t.to_offset(MOSCOW);
        self.args(
            "datetime",
            &[
                ("date", FluentValue::from(self.date(t))),
                (
                    "time",
                    FluentValue::from(format!("{:02}:{:02}", m.hour(), m.minute())),
                ),
            ],
        )
    }

    /// How long ago `t` was, as of `now`: "just now", "5 minutes ago", "2 days ago".
    pub fn ago(&self, t: OffsetDateTime, now: OffsetDateTime) -> String {
        let secs = (now - t).whole_seconds().max(0);
        match secs {
            0..60 => self.t("ago-now"),
            60..3600 => self.n("ago-minutes", secs / 60),
            3600..86400 => self.n("ago-hours", secs / 3600),
            _ => self.n("ago-days", secs / 86400),
        }
    }

    /// Whole days from `now` until `t` (rounded up; 0 when past).
    pub fn days_until(t: OffsetDateTime, now: OffsetDateTime) -> i64 {
        let secs = (t - now).whole_seconds();
        if secs <= 0 {
            0
        } else {
            (secs + 86_399) / 86_400
        }
    }
}

/// The sign written with an amount.
pub fn currency_symbol(c: Currency) -> &'static str {
    match c {
        Currency::Rub => "₽",
        Currency::Cny => "¥",
        Currency::Usd => "$",
        Currency::Eur => "€",
    }
}

/// The currency a reader sees first, before they choose: yuan for Chinese, roubles for
/// Russian, dollars otherwise.
pub fn default_currency(l: Locale) -> Currency {
    match l {
        Locale::Zh => Currency::Cny,
        Locale::Ru => Currency::Rub,
        Locale::En => Currency::Usd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn russian_plurals() {
        let ru = Tr::new(Locale::Ru);
        assert_eq!(ru.n("days", 1), "1 день");
        assert_eq!(ru.n("days", 2), "2 дня");
        assert_eq!(ru.n("days", 5), "5 дней");
        assert_eq!(ru.n("days", 21), "21 день");
        assert_eq!(ru.n("days", 11), "11 дней");
        let en = Tr::new(Locale::En);
        assert_eq!(en.n("days", 1), "1 day");
        assert_eq!(en.n("days", 2), "2 days");
        assert_eq!(Tr::new(Locale::Zh).n("days", 5), "5天");
    }

    #[test]
    fn money_in_each_locale() {
        let m = Money::new(1290_00, Currency::Rub);
        assert_eq!(Tr::new(Locale::En).money(m), "₽1,290");
        assert_eq!(Tr::new(Locale::Ru).money(m), "1\u{a0}290\u{a0}₽");
        let y = Money::new(75_50, Currency::Cny);
        assert_eq!(Tr::new(Locale::Zh).money(y), "¥75.50");
        assert_eq!(Tr::new(Locale::Ru).money(y), "75,50\u{a0}¥");
        assert_eq!(
            Tr::new(Locale::En).money(Money::new(-5, Currency::Usd)),
            "-$0.05"
        );
    }

    #[test]
    fn dates_in_moscow_time() {
        // 22:30 UTC is already the next day in Moscow.
        let t = datetime!(2026-11-25 22:30 UTC);
        assert_eq!(Tr::new(Locale::En).date(t), "26 Nov 2026");
        assert_eq!(Tr::new(Locale::Ru).date(t), "26 ноября 2026");
        assert_eq!(Tr::new(Locale::Zh).date(t), "2026年11月26日");
        assert!(Tr::new(Locale::En).datetime(t).contains("01:30"));
    }

    #[test]
    fn data_amounts() {
        let ru = Tr::new(Locale::Ru);
        assert_eq!(ru.bytes(30 << 30), "30 ГБ");
        assert_eq!(ru.bytes((3 << 30) + (1 << 30) / 3), "3,3 ГБ");
        assert_eq!(Tr::new(Locale::En).bytes(512 << 20), "512 MB");
    }

    #[test]
    fn ago() {
        let now = datetime!(2026-11-25 12:00 UTC);
        let ru = Tr::new(Locale::Ru);
        assert_eq!(
            ru.ago(now - time::Duration::minutes(5), now),
            "5 минут назад"
        );
        assert_eq!(
            ru.ago(now - time::Duration::minutes(2), now),
            "2 минуты назад"
        );
        assert_eq!(
            Tr::new(Locale::En).ago(now - time::Duration::seconds(5), now),
            "just now"
        );
    }
}
