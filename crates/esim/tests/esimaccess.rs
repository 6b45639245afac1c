//! The eSIM Access client against the stand-in of the API on a real port: signed requests
//! accepted, a wrong secret refused as the API refuses, a new profile ordered once per
//! transaction id, top-ups and usage read back.

use simrenew_esim::upstream::esimaccess::EsimAccess;
use simrenew_esim::upstream::sandbox::{ACCESS_CODE, EsimAccessSandbox, SECRET_KEY, Trouble};
use simrenew_esim::upstream::{Upstream, UpstreamError};

async fn stand_in() -> (EsimAccessSandbox, String) {
    let s = EsimAccessSandbox::new();
    s.add_package("RU_5_7", 5 << 30, 300);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = s.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (s, base)
}

#[tokio::test]
async fn orders_top_ups_and_usage_through_signed_requests() {
    let (s, base) = stand_in().await;
    let client = EsimAccess::new(&base, ACCESS_CODE, SECRET_KEY).unwrap();

    // A new profile: ordered once, whatever the retries with the same transaction id.
    let order_no = client.order("order-1", "RU_5_7").await.unwrap();
    assert_eq!(client.order("order-1", "RU_5_7").await.unwrap(), order_no);
    let profiles = client.profiles_of_order(&order_no).await.unwrap();
    assert_eq!(profiles.len(), 1);
    let p = &profiles[0];
    assert!(p.activation_code.as_deref().unwrap().starts_with("LPA:1$"));
    assert_eq!(p.total_bytes, 5 << 30);
    assert_eq!(
        client.profiles_of_order("B999").await.unwrap(),
        vec![],
        "not ready yet"
    );

    // Found again by its ICCID; topped up; its usage read.
    let found = client.profile_by_iccid(&p.iccid).await.unwrap().unwrap();
    assert_eq!(found.profile_ref, p.profile_ref);
    assert_eq!(
        client
            .profile_by_iccid("8900000000000000000")
            .await
            .unwrap(),
        None
    );
    let up = client.top_up("order-2", &p.iccid, "RU_5_7").await.unwrap();
    assert_eq!(up.total_bytes, 10 << 30);
    s.set_usage(&p.iccid, 1 << 30);
    let usage = client
        .usage(std::slice::from_ref(&p.profile_ref))
        .await
        .unwrap();
    assert_eq!(usage[0].used_bytes, 1 << 30);
    assert_eq!(usage[0].total_bytes, 10 << 30);

    // The supplier's own refusals are final; a server error is not a refusal.
    match client.top_up("order-3", &p.iccid, "NO_SUCH").await {
        Err(UpstreamError::Refused { code, .. }) => assert_eq!(code, "200002"),
        other => panic!("{other:?}"),
    }
    s.fail_next("esim/topup", Trouble::Http(503));
    assert!(matches!(
        client.top_up("order-4", &p.iccid, "RU_5_7").await,
        Err(UpstreamError::Unreachable(_))
    ));
}

#[tokio::test]
async fn a_request_signed_with_another_secret_is_refused() {
    let (s, base) = stand_in().await;
    let forger = EsimAccess::new(&base, ACCESS_CODE, "not-the-secret").unwrap();
    match forger.order("order-1", "RU_5_7").await {
        Err(UpstreamError::Refused { message, .. }) => assert!(message.contains("signature")),
        other => panic!("{other:?}"),
    }
    let stranger = EsimAccess::new(&base, "someone-else", SECRET_KEY).unwrap();
    assert!(matches!(
        stranger.order("order-1", "RU_5_7").await,
        Err(UpstreamError::Refused { .. })
    ));
    // Nothing was ordered by either.
    assert!(s.calls().is_empty());
}
