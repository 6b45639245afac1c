//! Phone numbers, ICCIDs, EIDs, IMEIs, stock files and partner price lists as people type and send them: parsing never panics, and whatever
//! parses formats back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use simrenew_core::{Eid, Iccid, Imei, Imsi, LineRef, Msisdn, parse_stock_csv};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = LineRef::parse(s) {
        assert_eq!(LineRef::parse(&r.to_string()).as_ref(), Ok(&r));
    }
    if let Ok(m) = Msisdn::parse(s) {
        assert_eq!(Msisdn::parse(&m.e164()).as_ref(), Ok(&m));
        assert_eq!(Msisdn::parse(&m.display()).as_ref(), Ok(&m));
    }
    if let Ok(i) = Iccid::parse(s) {
        assert_eq!(Iccid::parse(i.as_str()).as_ref(), Ok(&i));
    }
    if let Ok(i) = Imsi::parse(s) {
        let _ = i.operator();
    }
    if let Ok(e) = Eid::parse(s) {
        assert_eq!(Eid::parse(e.as_str()).as_ref(), Ok(&e));
    }
    if let Ok(i) = Imei::parse(s) {
        assert_eq!(Imei::parse(i.as_str()).as_ref(), Ok(&i));
    }
    // A stock file: whatever reads writes back to the same rows.
    if let Ok(rows) = parse_stock_csv(s) {
        let again: String = rows
            .iter()
            .map(|(i, m)| format!("{},{}\n", i.as_str(), m.e164()))
            .collect();
        assert_eq!(parse_stock_csv(&again).as_ref(), Ok(&rows));
    }
    // A partner's price list: the same.
    if let Ok(rows) = simrenew_core::partner::parse_price_list(s) {
        let again: String = rows
            .iter()
            .map(|(p, m)| format!("{p},{},{}\n", m.currency, m.major_string()))
            .collect();
        assert_eq!(
            simrenew_core::partner::parse_price_list(&again).as_ref(),
            Ok(&rows)
        );
    }
});
