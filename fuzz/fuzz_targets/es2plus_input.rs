//! What an SM-DP+ sends us over ES2+ (GSMA SGP.22 §5.3, §6): its answers to our calls
//! and its handleDownloadProgressInfo notifications. Never a panic; an answer is read as
//! success, the SM-DP+'s refusal or an error that says what was wrong, whatever the body;
//! a notification either reads or not, and one that reads moves a profile to a known state
//! or nowhere.
#![no_main]
use libfuzzer_sys::fuzz_target;
use simrenew_esim::es2plus::{Es2Error, ProgressInfo, progress_state, read_answer};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for status in [200, 204, 400, 500] {
        match read_answer("downloadOrder", status, text) {
            Ok(_) => assert!((200..300).contains(&status)),
            Err(Es2Error::Http(s)) => assert_eq!(s, status),
            Err(Es2Error::Failed { .. } | Es2Error::Expired { .. } | Es2Error::Unreadable(_)) => {
                assert!((200..300).contains(&status));
            }
            Err(e) => panic!("an answer read as {e}"),
        }
    }
    if let Ok(info) = serde_json::from_str::<ProgressInfo>(text) {
        let _ = progress_state(&info);
    }
});
