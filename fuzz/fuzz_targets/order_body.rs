//! Order and usage bodies as the API receives them: JSON that is decoded the way
//! `ApiJson` does it must never panic, whatever it holds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use simrenew_web::dto::{OrderInput, UsageReport};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(o) = serde_path_to_error::deserialize::<_, OrderInput>(v.clone()) {
        let _ = simrenew_core::LineRef::parse(&o.line);
        if let Some(c) = &o.currency {
            let _ = c.parse::<simrenew_core::Currency>();
        }
    }
    let _ = serde_path_to_error::deserialize::<_, UsageReport>(v);
});
