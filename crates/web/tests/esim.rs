//! Our ES2+ endpoint, handleDownloadProgressInfo, spoken to as an SM-DP+ would (SGP.22
//! §5.3.5 bodies and headers), on SQLite and PostgreSQL: authenticated, the profile moved
//! by the rules, repeats and late points harmless, failures recorded with their codes.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use simrenew_core::esim::ProfileState;
use simrenew_core::{Currency, Operator, StartMode};
use simrenew_store::esim::ProfileChange;

mod common;

const TOKEN: &str = "es2-callback-token";
const SMDP: &str = "smdp-sandbox";

fn progress(iccid: &str, point: i64, status: &str, requester: &str) -> Value {
    let mut v = json!({
        "header": {"functionRequesterIdentifier": requester, "functionCallIdentifier": "c-1"},
        "eid": "89049032123451234512345678901235",
        "iccid": iccid,
        "profileType": "mts-travel",
        "timestamp": "2026-11-25T10:00:00Z",
        "notificationPointId": point,
        "notificationPointStatus": {"status": status},
    });
    if status == "Failed" {
        v["notificationPointStatus"]["statusCodeData"] = json!({"subjectCode": "8.8.5", "reasonCode": "4.10", "message": "download retries exhausted"});
    }
    v
}

/// A free "mts-travel" profile, allocated (for `order`) and released: its ICCID.
async fn released_profile(store: &simrenew_store::Store, order: Option<&str>) -> String {
    let p = store
        .allocate_profile(Operator::Mts, "mts-travel", order, None)
        .await
        .unwrap();
    store
        .set_profile_state(&p.iccid, ProfileState::Released, &ProfileChange::default())
        .await
        .unwrap();
    p.iccid
}

#[tokio::test]
async fn the_smdp_reports_progress_and_the_profile_follows() {
    for app in common::serve_all(|c| {
        c.esim_callback = Some(simrenew_web::EsimCallback {
            smdp_id: SMDP.into(),
            token: Some(TOKEN.into()),
            verify_header: None,
        })
    })
    .await
    {
        let store = &app._db.store;
        let order =
            simrenew_store::testing::pending_month_order(store, Currency::Rub, StartMode::Queued)
                .await;
        let ids = common::test_iccids(2000, 2);
        store
            .import_profiles(Operator::Mts, "mts-travel", &ids)
            .await
            .unwrap();
        let mut released = Vec::new();
        for _ in 0..2 {
            released.push(released_profile(store, Some(&order.id)).await);
        }
        let url = format!("{}/gsma/rsp2/es2plus/handleDownloadProgressInfo", app.base);
        let http = Client::new();
        let send = |body: Value, token: &str, protocol: bool| {
            let mut r = http.post(&url).bearer_auth(token).json(&body);
            if protocol {
                r = r.header("X-Admin-Protocol", "gsma/rsp/v2.2.0");
            }
            r.send()
        };
        let status = |v: &Value| v.pointer("/header/functionExecutionStatus/status").cloned();
        // Downloaded, installed (the ICCID padded with F as some SM-DP+ send it), again.
        // Later the phone turns it on and off, and deletes it (100 + the eUICC's
        // notification event); a failed "turn on" changes nothing.
        for (point, want) in [
            (3, ProfileState::Downloaded),
            (4, ProfileState::Installed),
            (3, ProfileState::Installed),
            (101, ProfileState::Enabled),
            (102, ProfileState::Disabled),
            (101, ProfileState::Enabled),
            (103, ProfileState::Deleted),
            (101, ProfileState::Deleted),
        ] {
            let r = send(
                progress(
                    &format!("{}F", released[0]),
                    point,
                    "Executed-Success",
                    SMDP,
                ),
                TOKEN,
                true,
            )
            .await
            .unwrap();
            // A notification taken: 204 No Content, as the SM-DP+ expects (SGP.22 §6.5.1).
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            assert!(
                r.headers()["x-admin-protocol"]
                    .to_str()
                    .unwrap()
                    .starts_with("gsma/rsp/v2.")
            );
            assert!(r.bytes().await.unwrap().is_empty());
            assert_eq!(
                store.esim_profile(&released[0]).await.unwrap().state,
                want,
                "{}",
                app.db
            );
        }
        // A failed download: the profile is in error, with the SM-DP+'s reason kept.
        // The point id as a string of digits, as osmocom's pySim sends it.
        let mut failed = progress(&released[1], 3, "Failed", SMDP);
        failed["notificationPointId"] = json!("3");
        let r = send(failed, TOKEN, true).await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let p = store.esim_profile(&released[1]).await.unwrap();
        assert_eq!(p.state, ProfileState::Error);
        assert!(p.last_error.unwrap().contains("retries exhausted"));
        // Strangers and mistakes.
        assert_eq!(
            send(
                progress(&released[0], 4, "Executed-Success", SMDP),
                "wrong",
                true
            )
            .await
            .unwrap()
            .status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(
                progress(&released[0], 4, "Executed-Success", SMDP),
                TOKEN,
                false
            )
            .await
            .unwrap()
            .status(),
            StatusCode::BAD_REQUEST
        );
        let who: Value = send(
            progress(&released[0], 4, "Executed-Success", "someone"),
            TOKEN,
            true,
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(status(&who), Some(json!("Failed")));
        let unknown: Value = send(
            progress("8970199000000099999", 3, "Executed-Success", SMDP),
            TOKEN,
            true,
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(
            unknown.pointer("/header/functionExecutionStatus/statusCodeData/reasonCode"),
            Some(&json!("3.9"))
        );
        let junk = http
            .post(&url)
            .bearer_auth(TOKEN)
            .header("X-Admin-Protocol", "gsma/rsp/v2.2.0")
            .body("{")
            .send()
            .await
            .unwrap();
        assert_eq!(junk.status(), StatusCode::BAD_REQUEST);
    }
}

/// A conformant SM-DP+ authenticates by its TLS client certificate alone (SGP.22: ES2+
/// is mutual TLS) and sends no token: behind a reverse proxy that verified it and says
/// so in a header, its notifications are taken; without that word, or with a failed
/// verification, they are refused.
#[tokio::test]
async fn an_smdp_known_by_its_client_certificate_needs_no_token() {
    for app in common::serve_all(|c| {
        c.esim_callback = Some(simrenew_web::EsimCallback {
            smdp_id: SMDP.into(),
            token: None,
            verify_header: Some("x-client-verify".into()),
        })
    })
    .await
    {
        let store = &app._db.store;
        let ids = common::test_iccids(2600, 1);
        store
            .import_profiles(Operator::Mts, "mts-travel", &ids)
            .await
            .unwrap();
        let iccid = released_profile(store, None).await;
        let url = format!("{}/gsma/rsp2/es2plus/handleDownloadProgressInfo", app.base);
        let send = |verified: Option<&str>| {
            let mut r = Client::new()
                .post(&url)
                .header("X-Admin-Protocol", "gsma/rsp/v2.5.0")
                .json(&progress(&iccid, 3, "Executed-Success", SMDP));
            if let Some(v) = verified {
                r = r.header("X-Client-Verify", v);
            }
            r.send()
        };
        for refused in [None, Some("NONE"), Some("FAILED:certificate has expired")] {
            assert_eq!(
                send(refused).await.unwrap().status(),
                StatusCode::UNAUTHORIZED,
                "{}: {refused:?}",
                app.db
            );
        }
        assert_eq!(
            store.esim_profile(&iccid).await.unwrap().state,
            ProfileState::Released
        );
        assert_eq!(
            send(Some("SUCCESS")).await.unwrap().status(),
            StatusCode::NO_CONTENT,
            "{}",
            app.db
        );
        assert_eq!(
            store.esim_profile(&iccid).await.unwrap().state,
            ProfileState::Downloaded
        );
    }
}

#[tokio::test]
async fn without_an_smdp_configured_there_is_no_endpoint() {
    for app in common::serve_all(|_| {}).await {
        let r = Client::new()
            .post(format!(
                "{}/gsma/rsp2/es2plus/handleDownloadProgressInfo",
                app.base
            ))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_install_page_gives_every_way_in_and_follows_the_profile() {
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        let (order, iccid) = common::order_with_esim(store, 0).await;
        let http = Client::new();
        let get = |lang: &'static str, path: String| {
            http.get(format!("{}{path}", app.base))
                .header("accept-language", lang)
                .send()
        };
        let page = get("zh-CN", format!("/orders/{order}/esim"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("可以安装") && page.contains("<svg"), "{page}");
        assert!(page.contains("https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA%3A1%24smdp.sandbox.simrenew.example%2404386-AGYFT-A74Y8-3F815"));
        assert!(page.contains("data-copy=\"04386-AGYFT-A74Y8-3F815\""));
        assert!(page.contains("data-copy=\"smdp.sandbox.simrenew.example\""));
        // The order links to it.
        let order_page = get("en", format!("/orders/{order}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(order_page.contains(&format!("/orders/{order}/esim")));
        // A failed download: what to do, and no code to reuse.
        store
            .set_profile_state(
                &iccid,
                ProfileState::Error,
                &ProfileChange {
                    error: Some("subject 8.8.5 reason 4.10"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let failed = get("ru", format!("/orders/{order}/esim"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            failed.contains("Установка не удалась") && failed.contains("Получите новый код"),
            "{failed}"
        );
        assert!(
            !failed.contains("id=\"esim-qr\""),
            "a failed profile's code is not shown again"
        );
        // An order without an eSIM, or no order: not found.
        let other =
            simrenew_store::testing::pending_month_order(store, Currency::Rub, StartMode::Queued)
                .await;
        assert_eq!(
            get("en", format!("/orders/{}/esim", other.id))
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get("en", "/orders/nope/esim".into())
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
    }
}

/// The SM-DP+ stand-in (mutual TLS) stocked with the profiles imported here.
async fn smdp_with(
    store: &simrenew_store::Store,
    n: u64,
) -> (
    simrenew_esim::sandbox::StandIn,
    simrenew_esim::es2plus::Es2Client,
    Vec<String>,
) {
    let s = simrenew_esim::sandbox::start().await.unwrap();
    let ids = common::test_iccids(4000, n);
    store
        .import_profiles(Operator::Mts, "mts-travel", &ids)
        .await
        .unwrap();
    let strs: Vec<String> = ids.iter().map(|i| i.as_str().to_string()).collect();
    s.stock(
        "mts-travel",
        &strs.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let c = s.client().unwrap();
    (s, c, strs)
}

/// How the tests release profiles: through `smdp`, without confirmation codes.
fn release_ctx<'a>(
    store: &'a simrenew_store::Store,
    smdp: &'a simrenew_esim::es2plus::Es2Client,
) -> simrenew_web::esim::Release<'a> {
    simrenew_web::esim::Release {
        store,
        smdp,
        public_url: "http://shop.example",
        confirmation_codes: false,
    }
}

/// A month paid through a provider for a profile released at the SM-DP+ stand-in.
async fn paid_and_released(
    r: &simrenew_web::esim::Release<'_>,
    pid: &str,
) -> (
    simrenew_store::esim::Profile,
    simrenew_store::payments::Payment,
) {
    let store = r.store;
    let order =
        simrenew_store::testing::pending_month_order(store, Currency::Rub, StartMode::Queued).await;
    let payment = simrenew_store::testing::paid_by_card(store, &order, pid).await;
    let p = simrenew_web::esim::release_for_order(r, &order.id, Operator::Mts, "mts-travel", None)
        .await
        .unwrap();
    assert_eq!(p.state, ProfileState::Released);
    (p, payment)
}

#[tokio::test]
async fn a_refunded_esim_no_phone_has_is_cancelled_at_the_smdp_and_sold_again() {
    use simrenew_esim::sandbox::Trouble;
    use simrenew_web::esim::take_back_refunded;
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        let (smdp, client, _) = smdp_with(store, 3).await;
        let r = release_ctx(store, &client);
        // What waits for a retry is due now.
        let due_now = async || {
            simrenew_store::testing::execute(
                store,
                "UPDATE outbox SET available_at = 0 WHERE delivered_at IS NULL",
            )
            .await
            .unwrap();
        };
        let refund_all = async |pay: &simrenew_store::payments::Payment, key: &str| {
            let all = store
                .begin_refund(&pay.id, pay.amount, "refund")
                .await
                .unwrap();
            store.complete_refund(&all.id, key).await.unwrap();
        };

        // Refunded in whole before any phone downloaded it: cancelled at the SM-DP+
        // (offered again there) and back in our stock.
        let (p, pay) = paid_and_released(&r, "yk-refund-1").await;
        refund_all(&pay, "rf-1").await;
        assert_eq!(take_back_refunded(store, &client).await, 1, "{}", app.db);
        assert_eq!(smdp.state_of(&p.iccid), Some("available"));
        let back = store.esim_profile(&p.iccid).await.unwrap();
        assert_eq!(
            (back.state, back.order_id),
            (ProfileState::Available, None),
            "{}",
            app.db
        );
        assert_eq!(take_back_refunded(store, &client).await, 0, "once");

        // The SM-DP+ cannot be reached: asked again later, nothing changed meanwhile. (The
        // number taken back above is the one sold again here.)
        let (q, pay) = paid_and_released(&r, "yk-refund-2").await;
        assert_eq!(q.iccid, p.iccid, "{}: sold again", app.db);
        refund_all(&pay, "rf-2").await;
        smdp.trouble("cancelOrder", Trouble::Http(503));
        assert_eq!(take_back_refunded(store, &client).await, 0);
        assert_eq!(
            store.esim_profile(&q.iccid).await.unwrap().state,
            ProfileState::Released
        );
        due_now().await;
        assert_eq!(
            take_back_refunded(store, &client).await,
            1,
            "{}: the retry",
            app.db
        );
        assert_eq!(smdp.state_of(&q.iccid), Some("available"));

        // The SM-DP+ refuses (a phone downloaded it in the meantime): it stays the buyer's.
        let (d, pay) = paid_and_released(&r, "yk-refund-3").await;
        refund_all(&pay, "rf-3").await;
        smdp.trouble(
            "cancelOrder",
            Trouble::Failed(simrenew_esim::es2plus::StatusCodeData {
                subject_code: "8.2.1".into(),
                reason_code: "3.3".into(),
                subject_identifier: None,
                message: Some("profile ICCID not available".into()),
            }),
        );
        assert_eq!(take_back_refunded(store, &client).await, 0);
        assert_eq!(
            store.esim_profile(&d.iccid).await.unwrap().state,
            ProfileState::Released
        );
        due_now().await;
        assert_eq!(
            take_back_refunded(store, &client).await,
            0,
            "not asked again"
        );
        // Asked once for the first, twice for the second (503, then the retry), once here.
        assert_eq!(
            smdp.calls().iter().filter(|c| *c == "cancelOrder").count(),
            4
        );
    }
}

#[tokio::test]
async fn an_order_gets_a_released_profile_and_a_failed_one_is_reissued_within_limits() {
    use simrenew_esim::sandbox::Trouble;
    use simrenew_web::esim::{EsimError, MAX_REISSUES, reissue, release_for_order};
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        let (smdp, client, _) = smdp_with(store, 4).await;
        let r = release_ctx(store, &client);
        let order =
            simrenew_store::testing::pending_month_order(store, Currency::Rub, StartMode::Queued)
                .await;
        let eid = "89049032123451234512345678901235";
        let p = release_for_order(&r, &order.id, Operator::Mts, "mts-travel", Some(eid))
            .await
            .unwrap();
        assert_eq!(p.state, ProfileState::Released, "{}", app.db);
        assert_eq!(smdp.state_of(&p.iccid), Some("released"));
        assert!(p.matching_id.is_some() && p.smdp_address.is_some());
        // Asked again: the same profile, nothing more at the SM-DP+.
        let again = release_for_order(&r, &order.id, Operator::Mts, "mts-travel", Some(eid))
            .await
            .unwrap();
        assert_eq!(again.iccid, p.iccid);
        assert_eq!(smdp.calls(), ["downloadOrder", "confirmOrder"]);

        // A second order whose confirmation the SM-DP+ refuses: the profile is in error…
        let second =
            simrenew_store::testing::pending_month_order(store, Currency::Rub, StartMode::Queued)
                .await;
        smdp.trouble(
            "confirmOrder",
            Trouble::Failed(simrenew_esim::es2plus::StatusCodeData {
                subject_code: "8.1.1".into(),
                reason_code: "3.8".into(),
                subject_identifier: None,
                message: None,
            }),
        );
        let e = release_for_order(&r, &second.id, Operator::Mts, "mts-travel", None).await;
        assert!(matches!(e, Err(EsimError::Smdp(_))), "{e:?}");
        let broken = store.profile_of_order(&second.id).await.unwrap().unwrap();
        assert_eq!(broken.state, ProfileState::Error);
        assert!(broken.last_error.unwrap().contains("3.8"));
        // …and reissued: the same profile (ICCID, number) ordered again at the SM-DP+
        // with a new matching ID.
        let fresh = reissue(&r, &second.id, None).await.unwrap();
        assert_eq!(fresh.iccid, broken.iccid);
        assert_eq!(
            (fresh.state, fresh.reissues),
            (ProfileState::Released, 1),
            "{}",
            app.db
        );
        assert_eq!(smdp.state_of(&fresh.iccid), Some("released"));
        // The install page shows the new code.
        let page = Client::new()
            .get(format!("{}/orders/{}/esim", app.base, second.id))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(fresh.matching_id.as_deref().unwrap()),
            "{page}"
        );
        // Released profiles are reissuable, up to the limit.
        let third = reissue(&r, &second.id, None).await.unwrap();
        assert_eq!(third.reissues, MAX_REISSUES);
        assert!(matches!(
            reissue(&r, &second.id, None).await,
            Err(EsimError::TooManyReissues(_))
        ));
    }
}

#[tokio::test]
async fn the_owner_sees_the_lines_esim_state_with_its_as_of_and_the_way_to_install() {
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        // The demo's second MTS line is an eSIM nobody owns yet; its profile is in stock.
        let iccid = simrenew_store::demo::demo_iccid(Operator::Mts, 2);
        store
            .import_profiles(Operator::Mts, "mts-esim", std::slice::from_ref(&iccid))
            .await
            .unwrap();
        // Reserved, then ordered (a number in stock takes no order), as buyers do.
        store
            .allocate_profile(Operator::Mts, "mts-esim", None, None)
            .await
            .unwrap();
        let order =
            simrenew_store::testing::pending_month_order(store, Currency::Rub, StartMode::Queued)
                .await;
        assert!(
            store
                .bind_profile_order(iccid.as_str(), &order.id)
                .await
                .unwrap()
        );
        store
            .set_profile_state(
                iccid.as_str(),
                ProfileState::Released,
                &ProfileChange {
                    matching_id: Some("K2-1"),
                    smdp_address: Some("smdp.example.com"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut v = common::visitor::Visitor::new(&app.base, "en");
        v.sign_up("esim-owner@example.com").await;
        let add = v.get("/account/lines/add").await;
        let done = v
            .post(
                "/account/lines/add",
                &[
                    ("csrf", &add.input("csrf")),
                    ("line", "+7 916 123 45 62"),
                    ("puk", "12345672"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let line = v.get(done.location()).await;
        assert!(line.has("id=\"esim-profile\""), "{}", line.body);
        assert!(
            line.has("Ready to install") && line.has(&format!("/orders/{}/esim", order.id)),
            "{}",
            line.body
        );
    }
}

/// A valid EID (ISO 7064 mod 97-10 check digits, as the eUICC carries it).
fn eid() -> String {
    let base = "890490321234512345123456789012";
    let rem = base
        .bytes()
        .fold(0u64, |r, d| (r * 10 + u64::from(d - b'0')) % 97);
    format!("{base}{:02}", 98 - (rem * 100) % 97)
}

#[tokio::test]
async fn buy_a_new_esim_pay_and_install_it_at_once() {
    // One SM-DP+ stand-in per database, stocked with the lines imported there.
    let stands: Vec<simrenew_esim::sandbox::StandIn> = vec![
        simrenew_esim::sandbox::start().await.unwrap(),
        simrenew_esim::sandbox::start().await.unwrap(),
    ];
    let clients = std::sync::Mutex::new(
        stands
            .iter()
            .map(|s| std::sync::Arc::new(s.client().unwrap()))
            .collect::<Vec<_>>(),
    );
    let apps = common::serve_all(|c| {
        c.demo_payments = true;
        c.es2 = Some(clients.lock().unwrap().remove(0));
    })
    .await;
    for (app, smdp) in apps.iter().zip(&stands) {
        let store = &app._db.store;
        let iccid = common::test_iccids(6000, 1).remove(0);
        let number = simrenew_core::Msisdn::parse("+7 916 765-43-21").unwrap();
        store
            .import_esim_lines(Operator::Mts, "mts-esim", &[(iccid.clone(), number)])
            .await
            .unwrap();
        smdp.stock("mts-esim", &[iccid.as_str()]);
        let mut v = common::visitor::Visitor::new(&app.base, "zh-CN");
        let form = v.get("/esim/new").await;
        assert!(form.has("剩余 1 个"), "{}", form.body);
        // A wrong EID is refused beside its field; a right one binds the profile.
        let wrong = v
            .post(
                "/esim/new",
                &[
                    ("csrf", &form.input("csrf")),
                    ("operator", "mts"),
                    ("eid", "1234"),
                ],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.has("id=\"eid-error\""), "{}", wrong.body);
        let reserved = v
            .post(
                "/esim/new",
                &[
                    ("csrf", &form.input("csrf")),
                    ("operator", "mts"),
                    ("eid", &eid()),
                ],
            )
            .await;
        assert_eq!(reserved.status, StatusCode::SEE_OTHER, "{}", reserved.body);
        let renew_path = reserved.location().to_string();
        assert!(
            renew_path.starts_with("/renew/79167654321?k="),
            "{renew_path}"
        );
        // Nothing left for the next buyer.
        let sold_out = v
            .post(
                "/esim/new",
                &[("csrf", &form.input("csrf")), ("operator", "mts")],
            )
            .await;
        assert_eq!(sold_out.status, StatusCode::CONFLICT);
        assert!(sold_out.has("暂时售完"), "{}", sold_out.body);
        // Choose the plan and pay (the demo card); the order page releases the eSIM.
        let paid = v.buy_a_month_with_the_demo_card(&renew_path).await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
        let order_page = v.get(paid.location()).await;
        assert!(
            order_page.has("id=\"esim-link\""),
            "{}: {}",
            app.db,
            order_page.body
        );
        assert_eq!(smdp.state_of(iccid.as_str()), Some("released"));
        let install = v.get(&format!("{}/esim", paid.location())).await;
        assert!(
            install.has("可以安装") && install.has("id=\"esim-qr\""),
            "{}",
            install.body
        );
        let p = store.esim_profile(iccid.as_str()).await.unwrap();
        assert_eq!(
            (p.state, p.eid.clone()),
            (ProfileState::Released, Some(eid()))
        );
        // The code as a picture, to save or print.
        let png = v
            .http_get_bytes(&format!("{}/esim/qr.png", paid.location()))
            .await;
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // The download fails on the phone (the SM-DP+ says so): the buyer gets a new code
        // for the same number from the install page.
        let first_code = p.matching_id.clone().unwrap();
        store
            .set_profile_state(
                iccid.as_str(),
                ProfileState::Error,
                &ProfileChange {
                    error: Some("subject 8.8.5 reason 4.10"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let failed = v.get(&format!("{}/esim", paid.location())).await;
        assert!(
            failed.has("id=\"esim-reissue\"") && !failed.has("id=\"esim-qr\""),
            "{}",
            failed.body
        );
        let again = v
            .post(
                &format!("{}/esim/reissue", paid.location()),
                &[("csrf", &failed.input("csrf"))],
            )
            .await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
        let renewed = store.esim_profile(iccid.as_str()).await.unwrap();
        assert_eq!(
            (renewed.state, renewed.reissues),
            (ProfileState::Released, 1)
        );
        assert_ne!(renewed.matching_id.as_deref(), Some(first_code.as_str()));
        let page = v.get(again.location()).await;
        assert!(
            page.has(renewed.matching_id.as_deref().unwrap()),
            "{}",
            page.body
        );
        simrenew_store::testing::assert_sound(store).await;
    }
}

#[tokio::test]
async fn the_api_gives_the_owner_the_esim_state_with_its_as_of() {
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        let http = Client::new();
        let url = |p: &str| format!("{}{p}", app.base);
        let iccid = simrenew_store::demo::demo_iccid(Operator::Mts, 2);
        store
            .import_profiles(Operator::Mts, "mts-esim", std::slice::from_ref(&iccid))
            .await
            .unwrap();
        let created = http
            .post(url("/api/v1/accounts"))
            .json(&json!({"email": "api-esim@example.com", "password": "long enough"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let token: Value = http
            .post(url("/api/v1/sessions"))
            .json(&json!({"email": "api-esim@example.com", "password": "long enough"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["token"].as_str().unwrap().to_string();
        let attached = http
            .post(url("/api/v1/me/lines"))
            .bearer_auth(&token)
            .json(&json!({"line": "+79161234562", "puk": "12345672"}))
            .send()
            .await
            .unwrap();
        assert_eq!(attached.status(), StatusCode::OK);
        let v: Value = http
            .get(url("/api/v1/lines/79161234562"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["esim"]["state"], json!("available"), "{}: {v}", app.db);
        assert_eq!(v["esim"]["iccid"], json!(iccid.as_str()));
        assert!(v["esim"]["state_as_of"].as_str().is_some());
        // A physical line has none; the public view never shows it.
        let public: Value = http
            .get(url("/api/v1/lines/79161234562"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(public.get("esim").is_none(), "{public}");
    }
}

#[tokio::test]
async fn a_paid_esim_is_released_even_if_the_buyer_never_comes_back() {
    for db in simrenew_store::testing::all().await {
        let store = db.store.clone();
        store.seed_demo().await.unwrap();
        let smdp = simrenew_esim::sandbox::start().await.unwrap();
        let iccid = common::test_iccids(8000, 1).remove(0);
        let number = simrenew_core::Msisdn::parse("+7 916 765-43-99").unwrap();
        store
            .import_esim_lines(
                Operator::Mts,
                "mts-esim",
                &[(iccid.clone(), number.clone())],
            )
            .await
            .unwrap();
        smdp.stock("mts-esim", &[iccid.as_str()]);
        let state = simrenew_web::AppState::new(
            store.clone(),
            simrenew_web::WebConfig {
                es2: Some(std::sync::Arc::new(smdp.client().unwrap())),
                ..Default::default()
            },
        );
        // Reserved, then paid (as an API client would: no order page visited).
        store
            .allocate_profile(Operator::Mts, "mts-esim", None, None)
            .await
            .unwrap();
        assert_eq!(
            simrenew_web::esim::release_paid(&state).await,
            0,
            "nothing paid yet"
        );
        let order = store
            .create_order(
                &simrenew_store::orders::OrderRequest {
                    line: simrenew_core::LineRef::Msisdn(number),
                    items: vec![simrenew_store::orders::ItemRequest::Renew {
                        plan_id: "mts-month-30gb".into(),
                        start: StartMode::Queued,
                    }],
                    currency: Some(Currency::Rub),
                    channel: "app".into(),
                    buyer: None,
                    payment: simrenew_store::orders::Payment::External,
                    promo_code: None,
                },
                None,
            )
            .await
            .unwrap();
        store
            .settle_external(&order.id, "demo", None)
            .await
            .unwrap();
        assert_eq!(simrenew_web::esim::release_paid(&state).await, 1);
        let p = store.esim_profile(iccid.as_str()).await.unwrap();
        assert_eq!(
            (p.state, p.order_id.as_deref()),
            (ProfileState::Released, Some(order.id.as_str())),
            "{}",
            db.name
        );
        assert_eq!(smdp.state_of(iccid.as_str()), Some("released"));
        assert_eq!(
            simrenew_web::esim::release_paid(&state).await,
            0,
            "done once"
        );
    }
}

#[tokio::test]
async fn two_buyers_of_the_last_esim_at_once_one_gets_it_the_other_is_told() {
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        let iccid = common::test_iccids(9000, 1).remove(0);
        let number = simrenew_core::Msisdn::parse("+7 916 765-40-01").unwrap();
        store
            .import_esim_lines(Operator::Mts, "mts-esim", &[(iccid, number)])
            .await
            .unwrap();
        let mut a = common::visitor::Visitor::new(&app.base, "en");
        let mut b = common::visitor::Visitor::new(&app.base, "ru");
        let (fa, fb) = (a.get("/esim/new").await, b.get("/esim/new").await);
        let (ca, cb) = (fa.input("csrf"), fb.input("csrf"));
        let (fields_a, fields_b) = (
            [("csrf", ca.as_str()), ("operator", "mts")],
            [("csrf", cb.as_str()), ("operator", "mts")],
        );
        let (ra, rb) = tokio::join!(
            a.post("/esim/new", &fields_a),
            b.post("/esim/new", &fields_b)
        );
        let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [303, 409], "{}", app.db);
        let told = if ra.status == StatusCode::CONFLICT {
            &ra
        } else {
            &rb
        };
        assert!(
            told.has("No eSIM of this operator is left") || told.has("закончились"),
            "{}",
            told.body
        );
        assert_eq!(
            store.profile_counts().await.unwrap(),
            [("mts".to_string(), ProfileState::Allocated, 1)]
        );
    }
}
