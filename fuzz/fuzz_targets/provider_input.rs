//! What payment providers send and publish, read before anything is trusted: settlement
//! reports (CSV, GBK for Alipay), Alipay's notification forms and gateway answers, and
//! WeChat Pay's Authorization parameters and encrypted resources, and eSIM Access's
//! answers (the supplier of resold plans). Never a panic; a report line that reads names
//! a positive amount; a supplier's answer is read, refused or "no answer", nothing else.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use simrenew_esim::upstream::esimaccess;
    for status in [200, 400, 502] {
        if let Ok(obj) = esimaccess::read_answer("esim/query", status, data, &[esimaccess::NOT_READY]) {
            assert!(status < 500);
            let _ = esimaccess::profiles_in(&obj);
            let _ = esimaccess::usage_in(&obj);
            let _ = esimaccess::topped_up_in(&obj, "t", "8900000000000000000");
        }
    }
    for provider in ["yookassa", "stripe", "alipay", "wechatpay", "paypal"] {
        if let Ok(lines) = simrenew_payments::reports::parse(provider, data) {
            for l in lines {
                assert!(l.gross.minor >= 0);
            }
        }
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = simrenew_payments::alipay::response_node(s, "alipay.trade.query");
    let _ = simrenew_payments::wechatpay::authorization_params(s);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(s) {
        let _ = simrenew_payments::wechatpay::decrypt_resource(&v, b"0123456789abcdef0123456789abcdef");
    }
    let _ = simrenew_payments::keys::VerifyingKey::parse(s);
});
