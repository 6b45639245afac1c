//! The ES2+ client against the stand-in SM-DP+, over real mutual TLS (certificates made
//! by the test): the happy path, each documented way of failing, a reissue, the EID
//! binding, the last profile ordered twice at once, and TLS refusing strangers.

use simrenew_core::esim::ActivationCode;
use simrenew_esim::es2plus::{Es2Client, Es2Error, FinalStatus, StatusCodeData};
use simrenew_esim::sandbox::{self, REQUESTER, Trouble};

const EID: &str = "89049032123451234512345678901235";
const OTHER_EID: &str = "89049032123451234512345678901243";

async fn smdp() -> (sandbox::StandIn, Es2Client) {
    let s = sandbox::start().await.unwrap();
    s.stock(
        "mts-travel",
        &["8970101234567890122", "8970101234567890130"],
    );
    let c = Es2Client::new(&s.base, REQUESTER, &s.client_tls).unwrap();
    (s, c)
}

#[tokio::test]
async fn order_confirm_and_release_gives_an_activation_code() {
    let (s, c) = smdp().await;
    let iccid = c
        .download_order(Some(EID), None, Some("mts-travel"))
        .await
        .unwrap();
    assert_eq!(iccid, "8970101234567890122");
    assert_eq!(s.state_of(&iccid), Some("allocated"));
    let done = c
        .confirm_order(&iccid, Some(EID), None, None, true)
        .await
        .unwrap();
    assert_eq!(s.state_of(&iccid), Some("released"));
    assert_eq!(done.eid.as_deref(), Some(EID));
    assert!(done.warning.is_none());
    let ac = ActivationCode {
        smdp_address: done.smdp_address.clone().unwrap(),
        matching_id: done.matching_id.clone(),
        smdp_oid: None,
        confirmation_code_required: false,
    };
    let parsed = ActivationCode::parse(&ac.qr_text()).unwrap();
    assert_eq!(parsed.matching_id, done.matching_id);
    assert_eq!(s.calls(), ["downloadOrder", "confirmOrder"]);
}

#[tokio::test]
async fn each_documented_failure_reaches_the_caller_as_such() {
    let (s, c) = smdp().await;
    let refused = StatusCodeData {
        subject_code: "8.1.1".into(),
        reason_code: "3.8".into(),
        subject_identifier: None,
        message: Some("EID refused".into()),
    };
    s.trouble("downloadOrder", Trouble::Failed(refused.clone()));
    match c.download_order(Some(EID), None, Some("mts-travel")).await {
        Err(Es2Error::Failed { function, data }) => {
            assert_eq!((function, data.clone()), ("downloadOrder", refused));
            assert_eq!(data.meaning(), "EID refused");
        }
        other => panic!("{other:?}"),
    }
    s.trouble("downloadOrder", Trouble::Expired);
    assert!(matches!(
        c.download_order(None, None, Some("mts-travel")).await,
        Err(Es2Error::Expired {
            function: "downloadOrder"
        })
    ));
    s.trouble("downloadOrder", Trouble::Http(503));
    assert!(matches!(
        c.download_order(None, None, Some("mts-travel")).await,
        Err(Es2Error::Http(503))
    ));
    // A warning: the work is done, the warning comes back beside it.
    let iccid = c
        .download_order(None, None, Some("mts-travel"))
        .await
        .unwrap();
    let warned = StatusCodeData {
        subject_code: "8.2.6".into(),
        reason_code: "3.3".into(),
        subject_identifier: None,
        message: None,
    };
    s.trouble("confirmOrder", Trouble::Warning(warned.clone()));
    let done = c
        .confirm_order(&iccid, None, Some("ABCDE-12345"), None, true)
        .await
        .unwrap();
    assert_eq!(done.warning, Some(warned));
    assert_eq!(done.matching_id, "ABCDE-12345");
    // Out of profiles of that type: SGP.22's "8.2.5 / 3.7".
    c.download_order(None, None, Some("mts-travel"))
        .await
        .unwrap();
    match c.download_order(None, None, Some("mts-travel")).await {
        Err(Es2Error::Failed { data, .. }) => {
            assert_eq!(
                (data.subject_code.as_str(), data.reason_code.as_str()),
                ("8.2.5", "3.7")
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_profile_bound_to_one_eid_is_not_confirmed_for_another_and_a_reissue_frees_it() {
    let (s, c) = smdp().await;
    let iccid = c
        .download_order(Some(EID), None, Some("mts-travel"))
        .await
        .unwrap();
    match c
        .confirm_order(&iccid, Some(OTHER_EID), None, None, true)
        .await
    {
        Err(Es2Error::Failed { data, .. }) => assert_eq!(data.reason_code, "3.10"),
        other => panic!("{other:?}"),
    }
    // Reissue: cancel (the profile may be used again), order anew for the right device.
    c.cancel_order(&iccid, Some(EID), None, FinalStatus::Available)
        .await
        .unwrap();
    assert_eq!(s.state_of(&iccid), Some("available"));
    let again = c
        .download_order(Some(OTHER_EID), Some(&iccid), None)
        .await
        .unwrap();
    assert_eq!(again, iccid);
    c.confirm_order(&iccid, Some(OTHER_EID), None, None, false)
        .await
        .unwrap();
    assert_eq!(s.state_of(&iccid), Some("confirmed"));
    c.release_profile(&iccid).await.unwrap();
    assert_eq!(s.state_of(&iccid), Some("released"));
}

#[tokio::test]
async fn the_last_profile_ordered_twice_at_once_goes_to_one() {
    let s = sandbox::start().await.unwrap();
    s.stock("beeline-travel", &["8970199876543210128"]);
    let c = std::sync::Arc::new(Es2Client::new(&s.base, REQUESTER, &s.client_tls).unwrap());
    let (a, b) = tokio::join!(
        {
            let c = c.clone();
            async move { c.download_order(None, None, Some("beeline-travel")).await }
        },
        {
            let c = c.clone();
            async move { c.download_order(None, None, Some("beeline-travel")).await }
        }
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{a:?} {b:?}"
    );
}

#[tokio::test]
async fn tls_refuses_a_stranger_and_a_wrong_server() {
    let (s, _) = smdp().await;
    let other = sandbox::start().await.unwrap();
    // Our client certificate from another CA: the SM-DP+ refuses the handshake.
    let stranger = simrenew_esim::es2plus::Tls {
        server_ca_pem: s.client_tls.server_ca_pem.clone(),
        client_cert_pem: other.client_tls.client_cert_pem.clone(),
        client_key_pem: other.client_tls.client_key_pem.clone(),
    };
    let c = Es2Client::new(&s.base, REQUESTER, &stranger).unwrap();
    assert!(matches!(
        c.download_order(None, None, Some("mts-travel")).await,
        Err(Es2Error::Transport(_))
    ));
    // A server whose certificate our CA did not issue: we refuse it.
    let c = Es2Client::new(&other.base, REQUESTER, &s.client_tls).unwrap();
    assert!(matches!(
        c.download_order(None, None, Some("mts-travel")).await,
        Err(Es2Error::Transport(_))
    ));
    // A caller that is not the agreed function requester.
    let c = Es2Client::new(&s.base, "someone-else", &s.client_tls).unwrap();
    assert!(matches!(
        c.download_order(None, None, Some("mts-travel")).await,
        Err(Es2Error::Failed { .. })
    ));
    // Without X-Admin-Protocol: refused.
    let raw = reqwest::Client::builder()
        .use_preconfigured_tls(simrenew_esim::es2plus::client_tls(&s.client_tls).unwrap())
        .build()
        .unwrap();
    let r = raw
        .post(format!("{}/gsma/rsp2/es2plus/downloadOrder", s.base))
        .json(&serde_json::json!({"header": {"functionRequesterIdentifier": REQUESTER, "functionCallIdentifier": "1"}, "profileType": "mts-travel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(s.state_of("8970101234567890122"), Some("available"));
}
