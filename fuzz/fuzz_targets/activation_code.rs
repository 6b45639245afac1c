//! eSIM activation codes as people paste them and QR codes carry them (SGP.22 §4.1):
//! never a panic; a code that parses formats back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use simrenew_core::esim::ActivationCode;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ac) = ActivationCode::parse(s) {
        assert_eq!(ActivationCode::parse(&ac.to_string()), Ok(ac.clone()));
        assert_eq!(ActivationCode::parse(&ac.qr_text()), Ok(ac.clone()));
        let _ = ac.apple_link();
    }
});
