//! eSIM: activation codes (GSMA SGP.22 §4.1), the links that install them, and the
//! states of a profile.
//!
//! An activation code is `AC_Format "$" SM-DP+ address "$" AC_Token ["$" SM-DP+ OID
//! ["$" Confirmation Code Required Flag]]` with AC_Format `1`; in a QR code it is
//! prefixed with `LPA:`. What people and devices produce is accepted too: a lowercase
//! prefix, whitespace around the code, `$` percent-encoded as `%24` (codes that travelled
//! through URLs), an empty OID before the flag (`…$$1`), a trailing `$`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not an activation code (shown to people, so specific).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationCodeError {
    #[error("empty activation code")]
    Empty,
    #[error("the activation code format is {0:?}; only format 1 exists (SGP.22 §4.1)")]
    Format(String),
    #[error("no SM-DP+ address after the format")]
    NoAddress,
    #[error("the SM-DP+ address {0:?} is not a host name")]
    Address(String),
    #[error("the matching ID {0:?} has characters other than letters, digits and '-'")]
    MatchingId(String),
    #[error("the SM-DP+ OID {0:?} is not an object identifier (digits and dots)")]
    Oid(String),
    #[error("the confirmation code flag is {0:?}; only 1 is defined")]
    Flag(String),
    #[error("{0} parts after the address; at most three (matching ID, OID, flag)")]
    TooManyParts(usize),
}

/// A parsed activation code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActivationCode {
    /// The SM-DP+ address (a host name, as written; compared case-insensitively by DNS).
    pub smdp_address: String,
    /// The matching ID (AC_Token); may be empty (the SM-DP+ then finds the profile by EID).
    pub matching_id: String,
    pub smdp_oid: Option<String>,
    /// The buyer must type a confirmation code (given separately) to download.
    pub confirmation_code_required: bool,
}

fn host_ok(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn oid_ok(o: &str) -> bool {
    let arcs: Vec<&str> = o.split('.').collect();
    arcs.len() >= 2
        && arcs
            .iter()
            .all(|a| !a.is_empty() && a.len() <= 20 && a.chars().all(|c| c.is_ascii_digit()))
}

impl ActivationCode {
    pub fn parse(input: &str) -> Result<Self, ActivationCodeError> {
        let s = input.trim();
        let s = match s.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("lpa:") => &s[4..],
            _ => s,
        };
        let s = s.trim().replace("%24", "$");
        if s.is_empty() {
            return Err(ActivationCodeError::Empty);
        }
        let mut parts: Vec<&str> = s.split('$').collect();
        // A trailing "$" (an empty last part) adds nothing.
        while parts.len() > 3 && parts.last() == Some(&"") {
            parts.pop();
        }
        let format = parts[0];
        if format != "1" {
            return Err(ActivationCodeError::Format(format.to_string()));
        }
        let address = parts.get(1).copied().unwrap_or("").trim();
        if address.is_empty() {
            return Err(ActivationCodeError::NoAddress);
        }
        if !host_ok(address) {
            return Err(ActivationCodeError::Address(address.to_string()));
        }
        if parts.len() > 5 {
            return Err(ActivationCodeError::TooManyParts(parts.len() - 2));
        }
        let matching_id = parts.get(2).copied().unwrap_or("").trim();
        if !matching_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(ActivationCodeError::MatchingId(matching_id.to_string()));
        }
        let oid = parts.get(3).copied().unwrap_or("").trim();
        if !oid.is_empty() && !oid_ok(oid) {
            return Err(ActivationCodeError::Oid(oid.to_string()));
        }
        let flag = match parts.get(4).map(|f| f.trim()) {
            None => false,
            Some("1") => true,
            Some(other) => return Err(ActivationCodeError::Flag(other.to_string())),
        };
        Ok(Self {
            smdp_address: address.to_string(),
            matching_id: matching_id.to_string(),
            smdp_oid: (!oid.is_empty()).then(|| oid.to_string()),
            confirmation_code_required: flag,
        })
    }

    /// The `LPA:` form a QR code carries.
    pub fn qr_text(&self) -> String {
        format!("LPA:{self}")
    }

    /// Apple's one-tap install link (iOS 17.4+): the universal link
    /// `https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=<LPA:…>`.
    pub fn apple_link(&self) -> String {
        format!(
            "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={}",
            url_escape(&self.qr_text())
        )
    }
}

/// Percent-encodes what a query value may not carry raw (`$` and `:` kept readable are
/// reserved in queries, so they are encoded too).
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl fmt::Display for ActivationCode {
    /// The canonical code: `1$address$matching-id[$oid][$1]` (an empty OID kept before
    /// the flag).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1${}${}", self.smdp_address, self.matching_id)?;
        match (&self.smdp_oid, self.confirmation_code_required) {
            (Some(o), true) => write!(f, "${o}$1"),
            (None, true) => write!(f, "$$1"),
            (Some(o), false) => write!(f, "${o}"),
            (None, false) => Ok(()),
        }
    }
}

impl std::str::FromStr for ActivationCode {
    type Err = ActivationCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The states of an eSIM profile as simrenew tracks it, from the inventory to the
/// device (SGP.22 ES2+ downloadOrder/confirmOrder/releaseProfile and the
/// handleDownloadProgressInfo notifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileState {
    /// In the inventory, free.
    Available,
    /// Taken for an order (downloadOrder done, not yet confirmed).
    Allocated,
    /// confirmOrder/releaseProfile done: the device may download it.
    Released,
    /// The bound profile package reached the device.
    Downloaded,
    /// Installed on the eUICC.
    Installed,
    Enabled,
    Disabled,
    /// Deleted from the device: gone for good.
    Deleted,
    /// A download or install failed; a reissue is the way out.
    Error,
    /// Cancelled (cancelOrder) before it reached a device; not offered again.
    Cancelled,
}

impl ProfileState {
    pub fn code(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Allocated => "allocated",
            Self::Released => "released",
            Self::Downloaded => "downloaded",
            Self::Installed => "installed",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::Deleted => "deleted",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }

    pub const ALL: [ProfileState; 10] = [
        Self::Available,
        Self::Allocated,
        Self::Released,
        Self::Downloaded,
        Self::Installed,
        Self::Enabled,
        Self::Disabled,
        Self::Deleted,
        Self::Error,
        Self::Cancelled,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == s)
    }

    /// Whether `self → to` is a transition a profile can make. Progress notifications
    /// may skip steps (a lost notification) but never go back, except enable/disable.
    pub fn can_become(self, to: ProfileState) -> bool {
        use ProfileState::*;
        match (self, to) {
            (Available, Allocated) => true,
            (Allocated, Released | Cancelled | Error) => true,
            (Released, Downloaded | Installed | Enabled | Error | Cancelled) => true,
            (Downloaded, Installed | Enabled | Error) => true,
            (Installed, Enabled | Disabled | Deleted | Error) => true,
            (Enabled, Disabled | Deleted) => true,
            (Disabled, Enabled | Deleted) => true,
            // A reissue: the order is cancelled at the SM-DP+ with the profile left
            // available, and the same profile (ICCID, number) ordered again with a new
            // matching ID. Or, where the profile is not to be used again, cancelled.
            (Error, Cancelled | Allocated) => true,
            (Released, Allocated) => true,
            _ => false,
        }
    }

    /// Whether the profile's activation code is to be shown to the buyer: from its
    /// release until it leaves the device (not while allocated, failed or cancelled).
    pub fn shows_code(self) -> bool {
        matches!(
            self,
            Self::Released | Self::Downloaded | Self::Installed | Self::Enabled | Self::Disabled
        )
    }

    /// Whether a reissue (cancel the order at the SM-DP+, order the profile again with a
    /// new matching ID) is the way forward: the download failed, or the profile never
    /// reached a device.
    pub fn reissuable(self) -> bool {
        matches!(self, Self::Error | Self::Released | Self::Allocated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_forms_seen_in_the_field() {
        let plain = ActivationCode::parse("1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815").unwrap();
        assert_eq!(plain.smdp_address, "SMDP.EXAMPLE.COM");
        assert_eq!(plain.matching_id, "04386-AGYFT-A74Y8-3F815");
        assert_eq!(
            (plain.smdp_oid.as_deref(), plain.confirmation_code_required),
            (None, false)
        );
        for same in [
            "LPA:1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815",
            "lpa:1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815",
            "  LPA:1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815\n",
            "LPA:1%24SMDP.EXAMPLE.COM%2404386-AGYFT-A74Y8-3F815",
            "1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815$",
        ] {
            assert_eq!(ActivationCode::parse(same), Ok(plain.clone()), "{same:?}");
        }
        let flagged =
            ActivationCode::parse("1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815$$1").unwrap();
        assert!(flagged.confirmation_code_required && flagged.smdp_oid.is_none());
        assert_eq!(
            flagged.to_string(),
            "1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815$$1"
        );
        let full =
            ActivationCode::parse("1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746$1")
                .unwrap();
        assert_eq!(full.smdp_oid.as_deref(), Some("1.3.6.1.4.1.31746"));
        assert!(
            ActivationCode::parse("1$SMDP.EXAMPLE.COM$$1.3.6.1.4.1.31746")
                .unwrap()
                .matching_id
                .is_empty()
        );
        assert_eq!(
            plain.qr_text(),
            "LPA:1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815"
        );
        assert_eq!(
            plain.apple_link(),
            "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA%3A1%24SMDP.EXAMPLE.COM%2404386-AGYFT-A74Y8-3F815"
        );
    }

    #[test]
    fn malformed_codes_say_why() {
        use ActivationCodeError as E;
        let cases: [(&str, E); 9] = [
            ("", E::Empty),
            ("LPA:", E::Empty),
            ("2$SMDP.EXAMPLE.COM$X", E::Format("2".into())),
            ("1$", E::NoAddress),
            ("1$smdp example$X", E::Address("smdp example".into())),
            ("1$SMDP.EXAMPLE.COM$AB CD", E::MatchingId("AB CD".into())),
            (
                "1$SMDP.EXAMPLE.COM$X$not-an-oid",
                E::Oid("not-an-oid".into()),
            ),
            ("1$SMDP.EXAMPLE.COM$X$$2", E::Flag("2".into())),
            ("1$SMDP.EXAMPLE.COM$X$1.2$1$extra", E::TooManyParts(4)),
        ];
        for (input, want) in cases {
            assert_eq!(ActivationCode::parse(input), Err(want), "{input:?}");
        }
    }

    #[test]
    fn profiles_move_forward_only() {
        use ProfileState::*;
        assert!(Available.can_become(Allocated));
        assert!(
            Released.can_become(Installed),
            "a lost 'downloaded' notification"
        );
        assert!(!Installed.can_become(Released));
        assert!(
            Error.can_become(Allocated) && Released.can_become(Allocated),
            "reissue"
        );
        assert!(
            !Installed.can_become(Allocated),
            "an installed profile is not reissued"
        );
        assert!(!Deleted.can_become(Enabled));
        assert!(!Cancelled.can_become(Released));
        assert!(Error.reissuable() && !Enabled.reissuable());
        for s in ProfileState::ALL {
            assert_eq!(ProfileState::parse(s.code()), Some(s));
            assert!(!s.can_become(s), "{s:?} to itself is not a change");
        }
    }

    fn host() -> impl Strategy<Value = String> {
        proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 1..4)
            .prop_map(|l| l.join("."))
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(
            address in host(),
            matching_id in "[A-Z0-9-]{0,30}",
            oid in proptest::option::of(proptest::collection::vec(0u32..100_000, 2..8).prop_map(|a| a.iter().map(u32::to_string).collect::<Vec<_>>().join("."))),
            flag in any::<bool>(),
        ) {
            let ac = ActivationCode { smdp_address: address, matching_id, smdp_oid: oid, confirmation_code_required: flag };
            prop_assert_eq!(ActivationCode::parse(&ac.to_string()), Ok(ac.clone()));
            prop_assert_eq!(ActivationCode::parse(&ac.qr_text()), Ok(ac));
        }

        #[test]
        fn junk_never_panics(s in ".{0,80}") {
            if let Ok(ac) = ActivationCode::parse(&s) {
                prop_assert_eq!(ActivationCode::parse(&ac.to_string()), Ok(ac));
            }
        }
    }
}
