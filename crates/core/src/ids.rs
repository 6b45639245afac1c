//! Identifiers of a line as people and networks write them: ICCID (ITU-T E.118), IMSI
//! (ITU-T E.212), MSISDN (ITU-T E.164) and EID (GSMA SGP.29). Each type can only hold a
//! valid value; parsing accepts the forms found in the field and stores one normal form.

use crate::operator::Operator;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier was refused; the message is meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must contain only digits, spaces and dashes")]
    BadCharacter,
    #[error("must have {expected} digits, has {found}")]
    BadLength {
        expected: &'static str,
        found: usize,
    },
    #[error("an ICCID starts with 89 (telecom industry identifier)")]
    IccidPrefix,
    #[error("check digit is wrong (Luhn): please check the number printed on the card")]
    IccidCheckDigit,
    #[error("an EID starts with 89 and its check digits must give 1 modulo 97")]
    EidCheck,
    #[error("check digit is wrong (Luhn): please copy the IMEI as the phone shows it (*#06#)")]
    ImeiCheckDigit,
    #[error(
        "a phone number without +country code must be a Russian mobile number (8 9xx, 7 9xx or 9xx)"
    )]
    MsisdnAmbiguous,
    #[error("is neither a phone number nor an ICCID")]
    NotALine,
    #[error("is too long: at most {} characters", patterns::MAX_CHARS)]
    TooLong,
}

/// Refuses input longer than any form of an identifier (whitespace around it included,
/// as the documents' `maxLength` counts it) before reading it.
fn bounded(input: &str) -> Result<(), IdError> {
    if input.chars().count() > patterns::MAX_CHARS {
        return Err(IdError::TooLong);
    }
    Ok(())
}

/// Keeps digits, drops the separators people type (spaces, dashes, dots, parentheses).
/// Any other character is refused rather than silently dropped.
fn digits_of(input: &str, allow: &[char]) -> Result<String, IdError> {
    let mut out = String::with_capacity(input.len());
    for c in input.trim().chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if c == ' ' || c == '-' || c == '.' || c == '\u{a0}' || allow.contains(&c) {
            continue;
        } else {
            return Err(IdError::BadCharacter);
        }
    }
    Ok(out)
}

/// Luhn (ISO/IEC 7812-1 annex B) over a string of ASCII digits, check digit included.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// The Luhn check digit to append to `payload` (used to make valid demo ICCIDs).
pub fn luhn_check_digit(payload: &str) -> u8 {
    for d in 0..10u8 {
        let mut s = String::with_capacity(payload.len() + 1);
        s.push_str(payload);
        s.push(char::from(b'0' + d));
        if luhn_valid(&s) {
            return d;
        }
    }
    unreachable!("one of ten digits always completes a Luhn sum")
}

/// Integrated Circuit Card Identifier (ITU-T E.118): 18 to 20 digits, starting with the
/// telecom industry identifier 89, last digit a Luhn check digit. On input spaces, dashes
/// and a trailing `F` filler nibble (as read from the card) are accepted; it is stored and
/// shown as bare digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iccid(String);

impl Iccid {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        bounded(input)?;
        let trimmed = input.trim();
        let without_filler = trimmed
            .strip_suffix('F')
            .or_else(|| trimmed.strip_suffix('f'))
            .unwrap_or(trimmed);
        let digits = digits_of(without_filler, &[])?;
        if !(18..=20).contains(&digits.len()) {
            return Err(IdError::BadLength {
                expected: "18 to 20",
                found: digits.len(),
            });
        }
        if !digits.starts_with("89") {
            return Err(IdError::IccidPrefix);
        }
        if !luhn_valid(&digits) {
            return Err(IdError::IccidCheckDigit);
        }
        Ok(Self(digits))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// International Mobile Subscriber Identity (ITU-T E.212): 15 digits, MCC + MNC + MSIN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Imsi(String);

impl Imsi {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        bounded(input)?;
        let digits = digits_of(input, &[])?;
        if digits.len() != 15 {
            return Err(IdError::BadLength {
                expected: "15",
                found: digits.len(),
            });
        }
        Ok(Self(digits))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Mobile Country Code, the first three digits.
    pub fn mcc(&self) -> &str {
        &self.0[..3]
    }
    /// The Russian operator this IMSI belongs to: MCC 250 and a two-digit MNC.
    pub fn operator(&self) -> Option<Operator> {
        if self.mcc() != "250" {
            return None;
        }
        Operator::from_mnc(&self.0[3..5])
    }
}

/// A subscriber number in E.164 form (country code and national number, at most 15
/// digits). Russian numbers may be typed the way people write them at home:
/// `8 916 123-45-67`, `+7 (916) 123 45 67`, `7 916 …`, or just the ten digits `9161234567`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Msisdn(String);

impl Msisdn {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        bounded(input)?;
        let trimmed = input.trim();
        let international = trimmed.starts_with('+') || trimmed.starts_with("00");
        let rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let digits = digits_of(rest, &['(', ')'])?;
        if international {
            let digits = if trimmed.starts_with("00") {
                digits[2..].to_string()
            } else {
                digits
            };
            // E.164 §6: at most 15 digits; no country code starts with 0.
            if !(8..=15).contains(&digits.len()) {
                return Err(IdError::BadLength {
                    expected: "8 to 15",
                    found: digits.len(),
                });
            }
            if digits.starts_with('0') {
                return Err(IdError::MsisdnAmbiguous);
            }
            return Ok(Self(digits));
        }
        match digits.len() {
            // Russian trunk prefix 8 or country code 7, then a 10-digit national number.
            11 if digits.starts_with('8') || digits.starts_with('7') => {
                Ok(Self(format!("7{}", &digits[1..])))
            }
            // A bare Russian mobile number (DEF codes 9xx).
            10 if digits.starts_with('9') => Ok(Self(format!("7{digits}"))),
            10 | 11 => Err(IdError::MsisdnAmbiguous),
            n => Err(IdError::BadLength {
                expected: "10 or 11 (or +country code)",
                found: n,
            }),
        }
    }
    /// Digits only, country code first (`79161234567`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// E.164 with a plus (`+79161234567`).
    pub fn e164(&self) -> String {
        format!("+{}", self.0)
    }
    /// How a person writes it: `+7 916 123-45-67` for Russian numbers, else `+E.164`.
    pub fn display(&self) -> String {
        let d = &self.0;
        if d.len() == 11 && d.starts_with('7') {
            format!("+7 {} {}-{}-{}", &d[1..4], &d[4..7], &d[7..9], &d[9..11])
        } else {
            self.e164()
        }
    }
}

/// eUICC Identifier (GSMA SGP.29): 32 digits starting with 89, whose last two digits are
/// check digits chosen so the whole number is 1 modulo 97 (as in ISO 7064 MOD 97-10).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Eid(String);

impl Eid {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        bounded(input)?;
        let digits = digits_of(input, &[])?;
        if digits.len() != 32 {
            return Err(IdError::BadLength {
                expected: "32",
                found: digits.len(),
            });
        }
        if !digits.starts_with("89") || mod97(&digits) != 1 {
            return Err(IdError::EidCheck);
        }
        Ok(Self(digits))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Completes 30 digits into an EID by SGP.29 §4.3: check digits = 98 - (n·100 mod 97).
    pub fn with_check_digits(first30: &str) -> Result<Self, IdError> {
        let digits = digits_of(first30, &[])?;
        if digits.len() != 30 {
            return Err(IdError::BadLength {
                expected: "30",
                found: digits.len(),
            });
        }
        let check = 98 - mod97(&format!("{digits}00"));
        Self::parse(&format!("{digits}{check:02}"))
    }
}

/// A phone's IMEI (3GPP TS 23.003 §6.2.1): TAC (8 digits), serial number (6) and the
/// check digit of annex B (Luhn), 15 digits as `*#06#` shows them. The 16-digit IMEISV
/// has no check digit and is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Imei(String);

impl Imei {
    pub fn parse(input: &str) -> Result<Self, IdError> {
        bounded(input)?;
        let digits = digits_of(input, &['/'])?;
        if digits.len() != 15 {
            return Err(IdError::BadLength {
                expected: "15",
                found: digits.len(),
            });
        }
        if !luhn_valid(&digits) {
            return Err(IdError::ImeiCheckDigit);
        }
        Ok(Self(digits))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a file of records (a stock list, a price list) was refused: the line (from 1)
/// and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct CsvError {
    pub line: usize,
    pub reason: String,
}

/// The records of a small CSV-like file as people export them from a spreadsheet: one
/// record per line, fields separated by `,`, `;` or a tab and trimmed, blank lines and
/// a byte-order mark skipped; each with its line number (from 1). Quoting is not
/// supported: none of our fields may hold a separator.
pub fn csv_records(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(n, line)| {
        let line = line.trim_start_matches('\u{feff}').trim();
        (!line.is_empty()).then(|| (n + 1, line.split([',', ';', '\t']).map(str::trim).collect()))
    })
}

/// Reads a stock file as the SIM supplier or the SM-DP+ batch gives it: one
/// `ICCID,number` per line (blank lines and a first header line that does not start
/// with a digit are skipped; `;` or a tab also separate), each checked.
pub fn parse_stock_csv(text: &str) -> Result<Vec<(Iccid, Msisdn)>, CsvError> {
    let mut rows = Vec::new();
    for (line, fields) in csv_records(text) {
        if line == 1 && !fields[0].starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let err = |reason: String| CsvError { line, reason };
        let [iccid, number, ..] = fields[..] else {
            return Err(err("expected ICCID,number".into()));
        };
        rows.push((
            Iccid::parse(iccid).map_err(|e| err(format!("ICCID: {e}")))?,
            Msisdn::parse(number).map_err(|e| err(format!("number: {e}")))?,
        ));
    }
    Ok(rows)
}

fn mod97(digits: &str) -> u32 {
    digits
        .bytes()
        .fold(0u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97)
}

/// The forms each parser here accepts, as JSON Schema patterns (ECMA-262; the same text
/// reads alike in Rust's `regex` and Python's `re`) for the OpenAPI documents, so a client
/// can check a field before sending it. A pattern matches exactly what its parser reads,
/// check digits aside (no pattern can hold Luhn or MOD 97-10): the property tests below
/// hold each pattern to its parser both ways.
pub mod patterns {
    /// The longest input any of these parsers takes, in characters (as JSON Schema's
    /// `maxLength` counts them); the documents give it beside each pattern.
    pub const MAX_CHARS: usize = 64;

    /// Leading or trailing whitespace, trimmed by the parsers: Rust's `char::is_whitespace`
    /// (Unicode White_Space), spelled out because ECMA-262's `\s` differs (U+FEFF, U+0085).
    macro_rules! ws {
        () => {
            r"[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*"
        };
    }
    /// A phone number's separators: space, dot, dash, no-break space, parentheses.
    macro_rules! phone_sep {
        () => {
            r"[ .()\u00a0-]*"
        };
    }
    /// An ICCID's or EID's separators: space, dot, dash, no-break space.
    macro_rules! card_sep {
        () => {
            r"[ .\u00a0-]*"
        };
    }

    /// [`super::LineRef`]: `+` and 8 to 15 digits (E.164, no leading 0), or `00` and the
    /// same; a Russian number as typed at home (`8 9xx…`, `7 9xx…`: 11 digits; `9xx…`: 10);
    /// or an ICCID (`89` and 16 to 18 more digits, an optional trailing `F`).
    pub const LINE: &str = concat!(
        "^",
        ws!(),
        "(?:",
        r"\+",
        phone_sep!(),
        "[1-9](?:",
        phone_sep!(),
        "[0-9]){7,14}",
        phone_sep!(),
        "|00",
        phone_sep!(),
        "[1-9](?:",
        phone_sep!(),
        "[0-9]){7,14}",
        phone_sep!(),
        "|",
        phone_sep!(),
        "[78](?:",
        phone_sep!(),
        "[0-9]){10}",
        phone_sep!(),
        "|",
        phone_sep!(),
        "9(?:",
        phone_sep!(),
        "[0-9]){9}",
        phone_sep!(),
        "|89(?:",
        card_sep!(),
        "[0-9]){16,18}",
        card_sep!(),
        "[Ff]?",
        ")",
        ws!(),
        "$"
    );

    macro_rules! eid {
        () => {
            concat!(
                card_sep!(),
                "8",
                card_sep!(),
                "9(?:",
                card_sep!(),
                "[0-9]){30}",
                card_sep!()
            )
        };
    }

    macro_rules! imei {
        () => {
            r"[ ./\u00a0-]*(?:[0-9][ ./\u00a0-]*){15}"
        };
    }

    /// [`super::Eid`]: 32 digits starting with 89.
    pub const EID: &str = concat!("^", ws!(), eid!(), ws!(), "$");

    /// Empty or only whitespace (what `str::trim` removes): an optional field left blank,
    /// read as absent.
    pub const BLANK: &str = concat!("^", ws!(), "$");

    /// An optional EID field (a new eSIM's `eid`): an EID, or empty or only whitespace,
    /// which means none.
    pub const EID_OR_BLANK: &str = concat!("^", ws!(), "(?:", eid!(), ")?", ws!(), "$");

    /// [`crate::promotion::PromoCode`] as an order takes it: 3 to 32 letters, digits or
    /// `-`; empty (or only whitespace) means no code.
    pub const PROMO_CODE: &str = concat!("^", ws!(), "(?:[A-Za-z0-9-]{3,32})?", ws!(), "$");

    /// [`super::Imei`]: 15 digits (separators as the phone shows them, `/` too).
    pub const IMEI: &str = concat!("^", ws!(), imei!(), ws!(), "$");

    /// An optional IMEI field: an IMEI, or empty or only whitespace, which means none.
    pub const IMEI_OR_BLANK: &str = concat!("^", ws!(), "(?:", imei!(), ")?", ws!(), "$");
}

/// How a person names a line: by its phone number or by its card's ICCID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LineRef {
    Msisdn(Msisdn),
    Iccid(Iccid),
}

impl LineRef {
    /// Reads either form. 18 or more digits starting with 89 (or a trailing F) is an
    /// ICCID; otherwise a phone number. The error says what was wrong with the likelier one.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        bounded(input)?;
        let trimmed = input.trim();
        let digit_count = trimmed.chars().filter(char::is_ascii_digit).count();
        let looks_iccid = trimmed.ends_with(['F', 'f'])
            || (!trimmed.starts_with('+')
                && digit_count >= 18
                && trimmed.trim_start().starts_with("89"));
        if looks_iccid {
            return Iccid::parse(trimmed).map(Self::Iccid);
        }
        if digit_count == 0 {
            return Err(IdError::NotALine);
        }
        Msisdn::parse(trimmed).map(Self::Msisdn)
    }
}

macro_rules! string_id {
    ($($t:ident),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $t {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
    )*};
}
string_id!(Iccid, Imsi, Msisdn, Eid);

impl fmt::Display for LineRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Msisdn(m) => write!(f, "{}", m.e164()),
            Self::Iccid(i) => write!(f, "{i}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iccid_from(payload: &str) -> String {
        format!("{payload}{}", luhn_check_digit(payload))
    }

    #[test]
    fn russian_number_forms_agree() {
        for input in [
            "8 916 123-45-67",
            "+7 (916) 123 45 67",
            "9161234567",
            "79161234567",
            "+79161234567",
            "0079161234567",
            " 8(916)1234567 ",
        ] {
            assert_eq!(
                Msisdn::parse(input).unwrap().as_str(),
                "79161234567",
                "{input}"
            );
        }
        assert_eq!(
            Msisdn::parse("9161234567").unwrap().display(),
            "+7 916 123-45-67"
        );
        assert_eq!(
            Msisdn::parse("+8613800138000").unwrap().as_str(),
            "8613800138000"
        );
    }

    #[test]
    fn bad_numbers_say_why() {
        assert_eq!(
            Msisdn::parse("916123"),
            Err(IdError::BadLength {
                expected: "10 or 11 (or +country code)",
                found: 6
            })
        );
        assert_eq!(Msisdn::parse("4951234567"), Err(IdError::MsisdnAmbiguous));
        assert_eq!(Msisdn::parse("8916abc4567"), Err(IdError::BadCharacter));
        assert!(Msisdn::parse("+7916123456789012").is_err());
    }

    #[test]
    fn iccid_forms() {
        let nineteen = iccid_from("897010210123456789");
        assert_eq!(nineteen.len(), 19);
        let spaced = format!(
            "{} {} {}",
            &nineteen[..4],
            &nineteen[4..10],
            &nineteen[10..]
        );
        assert_eq!(Iccid::parse(&spaced).unwrap().as_str(), nineteen);
        assert_eq!(
            Iccid::parse(&format!("{nineteen}F")).unwrap().as_str(),
            nineteen
        );
        let eighteen = iccid_from("89701021012345678");
        assert_eq!(Iccid::parse(&eighteen).unwrap().as_str().len(), 18);
        let twenty = iccid_from("8970102101234567890");
        assert!(Iccid::parse(&twenty).is_ok());
    }

    #[test]
    fn iccid_errors() {
        let good = iccid_from("897010210123456789");
        let last = good.as_bytes()[good.len() - 1] - b'0';
        let bad = format!("{}{}", &good[..good.len() - 1], (last + 1) % 10);
        assert_eq!(Iccid::parse(&bad), Err(IdError::IccidCheckDigit));
        assert_eq!(
            Iccid::parse(&iccid_from("123456789012345678")),
            Err(IdError::IccidPrefix)
        );
        assert!(matches!(
            Iccid::parse("8970"),
            Err(IdError::BadLength { .. })
        ));
    }

    #[test]
    fn imsi_gives_operator() {
        assert_eq!(
            Imsi::parse("250011234567890").unwrap().operator(),
            Some(Operator::Mts)
        );
        assert_eq!(
            Imsi::parse("250021234567890").unwrap().operator(),
            Some(Operator::Megafon)
        );
        assert_eq!(
            Imsi::parse("250991234567890").unwrap().operator(),
            Some(Operator::Beeline)
        );
        assert_eq!(
            Imsi::parse("250201234567890").unwrap().operator(),
            Some(Operator::T2)
        );
        assert_eq!(Imsi::parse("460001234567890").unwrap().operator(), None);
        assert!(Imsi::parse("25001123").is_err());
    }

    #[test]
    fn eid_check() {
        // EID from GSMA SGP.29 Annex A example.
        let e = Eid::parse("89049032123451234512345678901235").unwrap();
        assert_eq!(e.as_str().len(), 32);
        assert_eq!(
            Eid::parse("89049032123451234512345678901234"),
            Err(IdError::EidCheck)
        );
        let made = Eid::with_check_digits("890490321234512345123456789012").unwrap();
        assert_eq!(made.as_str(), "89049032123451234512345678901235");
    }

    #[test]
    fn line_ref_tells_forms_apart() {
        let iccid = iccid_from("897010210123456789");
        assert!(matches!(LineRef::parse(&iccid), Ok(LineRef::Iccid(_))));
        assert!(matches!(
            LineRef::parse(&format!("{iccid}F")),
            Ok(LineRef::Iccid(_))
        ));
        assert!(matches!(
            LineRef::parse("8 916 123-45-67"),
            Ok(LineRef::Msisdn(_))
        ));
        assert_eq!(LineRef::parse("hello"), Err(IdError::NotALine));
        assert_eq!(LineRef::parse("8916abc4567"), Err(IdError::BadCharacter));
        assert_eq!(LineRef::parse(""), Err(IdError::NotALine));
    }

    proptest! {
        #[test]
        fn iccid_roundtrip(payload in "89[0-9]{15,17}") {
            let s = iccid_from(&payload);
            let parsed = Iccid::parse(&s).unwrap();
            prop_assert_eq!(Iccid::parse(&parsed.to_string()).unwrap(), parsed.clone());
            prop_assert_eq!(parsed.as_str(), s.as_str());
        }

        #[test]
        fn iccid_single_digit_error_is_caught(payload in "89[0-9]{15,17}", pos in 2usize..18, delta in 1u8..10) {
            let s = iccid_from(&payload);
            let mut bytes = s.into_bytes();
            let p = pos.min(bytes.len() - 1);
            bytes[p] = b'0' + (bytes[p] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(Iccid::parse(&changed).is_err());
        }

        #[test]
        fn msisdn_roundtrip(national in "9[0-9]{9}") {
            let m = Msisdn::parse(&national).unwrap();
            prop_assert_eq!(Msisdn::parse(&m.e164()).unwrap(), m.clone());
            prop_assert_eq!(Msisdn::parse(&m.display()).unwrap(), m.clone());
            prop_assert_eq!(Msisdn::parse(&format!("8{national}")).unwrap(), m);
        }

        #[test]
        fn eid_roundtrip(body in "89[0-9]{28}") {
            let e = Eid::with_check_digits(&body).unwrap();
            prop_assert_eq!(Eid::parse(e.as_str()).unwrap(), e);
        }

        #[test]
        fn imei_roundtrip_and_one_wrong_digit_refused(body in "[0-9]{14}", pos in 0usize..15, delta in 1u8..10) {
            let full = format!("{body}{}", luhn_check_digit(&body));
            let i = Imei::parse(&full).unwrap();
            prop_assert_eq!(Imei::parse(&format!(" {} ", i.as_str())).unwrap(), i);
            let mut bytes = full.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(Imei::parse(&changed), Err(IdError::ImeiCheckDigit));
        }

        #[test]
        fn imsi_roundtrip(d in "[0-9]{15}") {
            let i = Imsi::parse(&d).unwrap();
            prop_assert_eq!(Imsi::parse(&i.to_string()).unwrap(), i);
        }

        #[test]
        fn stock_files_read_back(payloads in proptest::collection::vec("89[0-9]{16}", 1..5), sep in "[,;\t]") {
            let rows: Vec<(Iccid, Msisdn)> = payloads
                .iter()
                .enumerate()
                .map(|(i, p)| (Iccid::parse(&iccid_from(p)).unwrap(), Msisdn::parse(&format!("+7916555{i:04}")).unwrap()))
                .collect();
            let text: String = std::iter::once("iccid,number".to_string())
                .chain(rows.iter().map(|(i, m)| format!("{}{sep}{}", i.as_str(), m.e164())))
                .collect::<Vec<_>>()
                .join("\n");
            prop_assert_eq!(parse_stock_csv(&text).unwrap(), rows);
        }

        #[test]
        fn junk_never_panics(s in "\\PC{0,40}") {
            let _ = Iccid::parse(&s);
            let _ = Msisdn::parse(&s);
            let _ = Imsi::parse(&s);
            let _ = Eid::parse(&s);
            let _ = Imei::parse(&s);
            let _ = parse_stock_csv(&s);
            let _ = LineRef::parse(&s);
        }
    }

    /// Strings drawn from a pattern (without its anchors, which proptest cannot draw from).
    fn drawn_from(pattern: &'static str) -> proptest::string::RegexGeneratorStrategy<String> {
        let inner = pattern
            .strip_prefix('^')
            .and_then(|p| p.strip_suffix('$'))
            .expect("anchored pattern");
        proptest::string::string_regex(inner).expect("pattern proptest can draw from")
    }

    /// Near misses and hits: optional whitespace, `+` or `00`, digits with separators
    /// between them, an optional `F`.
    const NEAR_LINE: &str = "[ \\t\\u00a0]{0,2}(\\+|00)?[ .()\\-]{0,2}([0-9][ .()\\-/]{0,2}){8,21}[Ff]?[ \\t\\u00a0\\u2003]{0,2}";

    /// Whether `s` is what the documents describe: it matches the pattern and is no
    /// longer than their `maxLength`.
    fn matches(pattern: &str, s: &str) -> bool {
        regex::Regex::new(pattern)
            .expect("pattern compiles")
            .is_match(s)
            && s.chars().count() <= patterns::MAX_CHARS
    }

    proptest! {
        #[test]
        fn what_the_line_pattern_admits_the_parser_reads(s in drawn_from(patterns::LINE)) {
            match LineRef::parse(&s) {
                Ok(_) | Err(IdError::IccidCheckDigit) => {}
                Err(IdError::TooLong) => prop_assert!(s.chars().count() > patterns::MAX_CHARS),
                Err(e) => prop_assert!(false, "{s:?} matches the pattern but: {e}"),
            }
        }

        #[test]
        fn the_line_pattern_matches_what_the_parser_reads(s in prop_oneof![NEAR_LINE, "\\PC{0,30}", "[ ]{40,60}\\+7 916 123 45 67[ ]{0,20}"]) {
            let parsed = LineRef::parse(&s);
            let check_digit_only = matches!(parsed, Err(IdError::IccidCheckDigit));
            prop_assert_eq!(matches(patterns::LINE, &s), parsed.is_ok() || check_digit_only, "{:?}: {:?}", s, parsed);
        }

        #[test]
        fn the_eid_pattern_is_the_parser_less_its_check_digits(
            s in prop_oneof![drawn_from(patterns::EID), "[ \\t]?8?9?([0-9][ .\\-]?){28,32}[ ]?", "\\PC{0,40}"]
        ) {
            let parsed = Eid::parse(&s);
            prop_assert_eq!(matches(patterns::EID, &s), parsed.is_ok() || parsed == Err(IdError::EidCheck) && digits_of(&s, &[]).is_ok_and(|d| d.len() == 32 && d.starts_with("89")), "{:?}: {:?}", s, parsed);
        }

        #[test]
        fn the_imei_pattern_is_the_parser_less_its_check_digit(
            s in prop_oneof![drawn_from(patterns::IMEI), "[ \\t]?([0-9][ ./\\-]?){13,17}[ ]?", "\\PC{0,30}"]
        ) {
            let parsed = Imei::parse(&s);
            prop_assert_eq!(matches(patterns::IMEI, &s), parsed.is_ok() || parsed == Err(IdError::ImeiCheckDigit), "{:?}: {:?}", s, parsed);
        }

        #[test]
        fn an_optional_id_pattern_is_its_id_or_blank(
            s in prop_oneof![drawn_from(patterns::EID_OR_BLANK), drawn_from(patterns::IMEI_OR_BLANK), "[ \t]{0,3}", "\\PC{0,40}"]
        ) {
            let blank = s.trim().is_empty();
            prop_assert_eq!(matches(patterns::BLANK, &s), blank, "{:?}", s);
            prop_assert_eq!(matches(patterns::EID_OR_BLANK, &s), blank || matches(patterns::EID, &s), "{:?}", s);
            prop_assert_eq!(matches(patterns::IMEI_OR_BLANK, &s), blank || matches(patterns::IMEI, &s), "{:?}", s);
        }

        #[test]
        fn the_promo_code_pattern_is_the_parser(s in prop_oneof![drawn_from(patterns::PROMO_CODE), "[ \\t]?[A-Za-z0-9\\-_ ]{0,34}[ ]?", "\\PC{0,40}"]) {
            let typed = crate::promotion::PromoCode::typed(&s);
            prop_assert_eq!(matches(patterns::PROMO_CODE, &s), typed.is_ok(), "{:?}: {:?}", s, typed);
        }
    }
}
