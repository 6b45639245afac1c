//! Amounts and exchange rates from the CLI and configuration: never a panic, and an
//! amount that parses formats back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use simrenew_core::{Currency, FxRate, Money};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = Money::parse_major(s, Currency::Rub) {
        assert_eq!(Money::parse_major(&m.major_string(), Currency::Rub), Ok(m));
    }
    if let Ok(r) = FxRate::parse(Currency::Cny, Currency::Rub, s) {
        let _ = r.convert(Money::new(i64::MAX, Currency::Cny));
        assert_eq!(
            FxRate::parse(Currency::Cny, Currency::Rub, &r.decimal()),
            Ok(r)
        );
    }
    let _ = s.parse::<Currency>();
});
