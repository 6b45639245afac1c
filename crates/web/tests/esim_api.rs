//! A new eSIM bought through the JSON API as a native app would, on SQLite and
//! PostgreSQL: reserved with its first plan (idempotent, each field checked), paid with
//! Alipay at its stand-in through `/api/v1/orders/{id}/payments`, released through ES2+
//! with a confirmation code, the install mail (QR code attached, read back as the
//! activation code) and the code's own mail queued, then installed on the stand-in
//! phone, whose handleDownloadProgressInfo reports bring the profile to `installed`.
//! And the limit on reservations per client.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use simrenew_core::Operator;
use simrenew_esim::sandbox::{Callback, PhoneError, StandIn};
use std::sync::Arc;

mod common;

const TOKEN: &str = "esim-api-callback-token";

struct Smdps {
    stands: Vec<StandIn>,
    clients: std::sync::Mutex<Vec<Arc<simrenew_esim::es2plus::Es2Client>>>,
}

/// One stand-in SM-DP+ per database.
async fn smdps() -> Smdps {
    let stands = vec![
        simrenew_esim::sandbox::start().await.unwrap(),
        simrenew_esim::sandbox::start().await.unwrap(),
    ];
    let clients = stands
        .iter()
        .map(|s| Arc::new(s.client().unwrap()))
        .collect();
    Smdps {
        stands,
        clients: std::sync::Mutex::new(clients),
    }
}

fn configure(smdps: &Smdps, c: &mut simrenew_web::WebConfig) {
    c.es2 = Some(smdps.clients.lock().unwrap().remove(0));
    c.esim_confirmation_codes = true;
    c.esim_callback = Some(simrenew_web::EsimCallback {
        smdp_id: simrenew_esim::sandbox::SMDP_ID.into(),
        token: Some(TOKEN.into()),
        verify_header: None,
    });
}

/// `n` MTS eSIM numbers in the shop of `app` and at its stand-in, from test ICCID
/// `first` on; the stand-in reports downloads to the shop.
async fn stock(app: &common::Served, smdp: &StandIn, first: u64, n: u64) {
    let store = &app._db.store;
    smdp.report_to(Callback {
        url: format!("{}/gsma/rsp2/es2plus/handleDownloadProgressInfo", app.base),
        token: TOKEN.into(),
    });
    let iccids = common::test_iccids(first, n);
    let rows: Vec<_> = iccids
        .iter()
        .enumerate()
        .map(|(i, iccid)| {
            let number =
                simrenew_core::Msisdn::parse(&format!("+7916555{:04}", first % 1000 + i as u64))
                    .unwrap();
            (iccid.clone(), number)
        })
        .collect();
    store
        .import_esim_lines(Operator::Mts, "mts-esim", &rows)
        .await
        .unwrap();
    let ids: Vec<&str> = iccids.iter().map(|i| i.as_str()).collect();
    smdp.stock("mts-esim", &ids);
}

async fn post(
    http: &Client,
    url: &str,
    key: Option<&str>,
    body: &Value,
) -> (StatusCode, Value, bool) {
    let mut req = http.post(url).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let replayed = res.headers().contains_key("idempotent-replayed");
    (status, res.json().await.unwrap_or(Value::Null), replayed)
}

async fn get_json(http: &Client, url: impl reqwest::IntoUrl) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

async fn post_form(http: &Client, url: impl reqwest::IntoUrl, form: &[(&str, &str)]) -> String {
    http.post(url)
        .form(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The QR code in a PNG, read back.
fn read_qr(png: &[u8]) -> String {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .unwrap()
        .to_luma8();
    let (w, h) = img.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            img.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    grids[0].decode().unwrap().1
}

const EID: &str = "89049032123451234512345678901235";
const IMEI: &str = "356938035643809";

#[tokio::test]
async fn a_new_esim_bought_through_the_api_is_paid_mailed_and_installed_with_its_confirmation_code()
{
    let smdps = smdps().await;
    let apps = common::serve_all_with_sandbox_and(|c| configure(&smdps, c)).await;
    let http = Client::new();
    for (app, smdp) in apps.iter().zip(&smdps.stands) {
        let store = &app._db.store;
        stock(app, smdp, 7100, 2).await;
        let url = format!("{}/api/v1/esims", app.base);
        let good = json!({"operator": "mts", "plan_id": "mts-month-30gb", "currency": "CNY",
            "eid": EID, "imei": IMEI, "email": "Traveller@Example.com", "locale": "ru"});

        // Without an Idempotency-Key: refused, nothing reserved.
        let (st, _, _) = post(&http, &url, None, &good).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{}", app.db);
        // Every wrong field named at once.
        let (st, p, _) = post(
            &http,
            &url,
            Some("bad-1"),
            &json!({"operator": "mts", "plan_id": "mts-month-30gb",
            "eid": "1234", "imei": "356938035643808", "email": "not mail"}),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(fields(&p), ["eid", "imei", "email"], "{p}");
        // The detail says what is wrong with each, not just which.
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.starts_with("eid: must have 32 digits"), "{p}");
        assert!(detail.contains("; email: is not an e-mail address"), "{p}");
        // A plan of another operator: refused before a number is taken.
        let (st, p, _) = post(
            &http,
            &url,
            Some("bad-2"),
            &json!({"operator": "mts", "plan_id": "beeline-month-25gb"}),
        )
        .await;
        assert!(
            st == StatusCode::UNPROCESSABLE_ENTITY || st == StatusCode::NOT_FOUND,
            "{st} {p}"
        );
        let free = |store: simrenew_store::Store| async move {
            store
                .profile_counts()
                .await
                .unwrap()
                .iter()
                .filter(|(o, s, _)| {
                    o == "mts" && *s == simrenew_core::esim::ProfileState::Available
                })
                .map(|(_, _, n)| *n)
                .sum::<i64>()
        };
        assert_eq!(free(store.clone()).await, 2, "nothing reserved by refusals");

        // Bought: a number reserved with its first order, waiting for payment.
        let (st, bought, replayed) = post(&http, &url, Some("buy-1"), &good).await;
        assert_eq!(st, StatusCode::CREATED, "{}: {bought}", app.db);
        assert!(!replayed);
        assert_eq!(bought["order"]["status"], "pending_payment");
        assert_eq!(bought["esim"]["state"], "allocated");
        assert!(bought["msisdn"].as_str().unwrap().starts_with("+7916555"));
        let order_id = bought["order"]["id"].as_str().unwrap().to_string();
        // The same request again: the same answer, no second number.
        let (st, again, replayed) = post(&http, &url, Some("buy-1"), &good).await;
        assert_eq!((st, replayed), (StatusCode::CREATED, true));
        assert_eq!(again, bought);
        assert_eq!(free(store.clone()).await, 1);
        let profile = store.profile_of_order(&order_id).await.unwrap().unwrap();
        assert_eq!(
            (
                profile.eid.as_deref(),
                profile.imei.as_deref(),
                profile.notify_email.as_deref()
            ),
            (Some(EID), Some(IMEI), Some("traveller@example.com"))
        );

        // Not paid yet: no code to show.
        let esim_url = format!("{}/api/v1/orders/{order_id}/esim", app.base);
        let before: Value = get_json(&http, &esim_url).await;
        assert_eq!(before["state"], "allocated");
        assert!(before["activation"].is_null() && before["confirmation_code"].is_null());

        // Pay from the app: the order's methods, then Alipay's code to scan.
        let methods: Value = get_json(
            &http,
            format!("{}/api/v1/orders/{order_id}/payment-methods", app.base),
        )
        .await;
        let offered: Vec<&str> = methods
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["method"].as_str().unwrap())
            .collect();
        assert!(offered.contains(&"alipay:qr"), "{methods}");
        assert!(
            !offered.contains(&"yookassa:bank_card"),
            "yuan order: {methods}"
        );
        let pay_url = format!("{}/api/v1/orders/{order_id}/payments", app.base);
        let (st, p, _) = post(
            &http,
            &pay_url,
            None,
            &json!({"method": "yookassa:bank_card"}),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(fields(&p), ["method"]);
        let (st, start, _) = post(&http, &pay_url, None, &json!({"method": "alipay:qr"})).await;
        assert_eq!(st, StatusCode::CREATED, "{start}");
        assert_eq!(start["next"], "scan");
        let link = start["url"].as_str().unwrap();
        let paid = http
            .post(link)
            .form(&[("action", "pay")])
            .send()
            .await
            .unwrap();
        assert!(paid.status().is_success() || paid.status().is_redirection());

        // Alipay's notification settles the order and the eSIM is released at once.
        let mut esim = Value::Null;
        for _ in 0..200 {
            esim = get_json(&http, &esim_url).await;
            if esim["state"] == "released" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(esim["state"], "released", "{}: {esim}", app.db);
        let lpa = esim["activation"]["lpa"].as_str().unwrap().to_string();
        let cc = esim["confirmation_code"].as_str().unwrap().to_string();
        assert!(
            esim["activation"]["confirmation_code_required"]
                .as_bool()
                .unwrap()
        );
        assert!(lpa.ends_with("$$1"), "SGP.22 §4.1 confirmation flag: {lpa}");
        assert_eq!(cc.len(), 8);
        assert!(!lpa.contains(&cc), "the code is not in the QR code");
        // Paying again is refused: the order is no longer pending.
        let (st, _, _) = post(&http, &pay_url, None, &json!({"method": "alipay:qr"})).await;
        assert_eq!(st, StatusCode::CONFLICT);

        // Two mails in Russian: how to install with the QR code attached (which reads
        // back as the activation code), and the confirmation code on its own.
        let mails = store
            .recent_outbox(&[simrenew_store::outbox::MAIL], 10)
            .await
            .unwrap();
        let mails: Vec<simrenew_store::outbox::Message> = mails
            .iter()
            .map(|m| serde_json::from_str(&m.payload).unwrap())
            .filter(|m: &simrenew_store::outbox::Message| m.to == "traveller@example.com")
            .collect();
        assert_eq!(mails.len(), 2, "{mails:?}");
        let install = mails.iter().find(|m| !m.attachments.is_empty()).unwrap();
        let code_mail = mails.iter().find(|m| m.attachments.is_empty()).unwrap();
        assert!(
            install.subject.contains("eSIM") && install.body.contains("Код активации"),
            "{}",
            install.body
        );
        assert!(install.body.contains(&format!("/orders/{order_id}/esim")));
        assert!(install.body.contains("esimsetup.apple.com"));
        assert!(
            !install.body.contains(&cc),
            "the install mail does not carry the code"
        );
        assert!(code_mail.body.contains(&cc), "{}", code_mail.body);
        let png = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(&install.attachments[0].data_base64)
                .unwrap()
        };
        assert_eq!(install.attachments[0].content_type, "image/png");
        assert_eq!(read_qr(&png), lpa);

        // The phone: another phone's EID is refused, a wrong code twice leaves one try,
        // the right code installs, and the SM-DP+'s reports move the profile.
        let other = simrenew_esim::sandbox::demo_eid();
        assert_eq!(
            smdp.install(&lpa, Some(&cc), &other, None).await,
            Err(PhoneError::OtherPhone)
        );
        assert_eq!(
            smdp.install(&lpa, None, EID, None).await,
            Err(PhoneError::ConfirmationNeeded)
        );
        assert_eq!(
            smdp.install(&lpa, Some("00000000"), EID, None).await,
            Err(PhoneError::WrongConfirmation(2))
        );
        let iccid = smdp
            .install(&lpa, Some(&cc), EID, Some(IMEI))
            .await
            .unwrap();
        assert_eq!(iccid, profile.iccid);
        let done: Value = get_json(&http, &esim_url).await;
        assert_eq!(done["state"], "installed", "{}: {done}", app.db);
        assert_eq!(
            store.esim_profile(&iccid).await.unwrap().imei.as_deref(),
            Some(IMEI),
            "the IMEI the SM-DP+ reported"
        );
        let history = store.profile_history(&iccid).await.unwrap();
        let path: Vec<&str> = history.iter().map(|(_, to, _, _)| to.as_str()).collect();
        assert_eq!(
            path,
            ["allocated", "released", "downloaded", "installed"],
            "{}",
            app.db
        );
        simrenew_store::testing::assert_sound(store).await;
    }
}

#[tokio::test]
async fn three_wrong_confirmation_codes_fail_the_download_and_a_reissue_brings_a_new_code() {
    let smdps = smdps().await;
    let apps = common::serve_all_with_sandbox_and(|c| configure(&smdps, c)).await;
    let http = Client::new();
    for (app, smdp) in apps.iter().zip(&smdps.stands) {
        let store = &app._db.store;
        stock(app, smdp, 7200, 1).await;
        // Bought on the pages this time, paid with the demo card.
        let mut v = common::visitor::Visitor::new(&app.base, "en");
        let form = v.get("/esim/new").await;
        let reserved = v
            .post(
                "/esim/new",
                &[
                    ("csrf", &form.input("csrf")),
                    ("operator", "mts"),
                    ("email", "a@b.example"),
                ],
            )
            .await;
        assert_eq!(reserved.status, StatusCode::SEE_OTHER, "{}", reserved.body);
        let line_ref = simrenew_core::LineRef::Iccid(common::test_iccids(7200, 1).remove(0));
        let line = store.find_line(&line_ref).await.unwrap();
        let order = simrenew_store::testing::paid_month_order_for(store, line_ref).await;
        let esim_url = format!("{}/api/v1/orders/{}/esim", app.base, order.id);
        let esim: Value = get_json(&http, &esim_url).await;
        assert_eq!(esim["state"], "released", "{}: {esim}", app.db);
        let lpa = esim["activation"]["lpa"].as_str().unwrap().to_string();
        // The install page shows the code apart from the QR code, to the buyer.
        let page = v.get(&format!("/orders/{}/esim", order.id)).await;
        let cc = esim["confirmation_code"].as_str().unwrap();
        assert!(
            page.has("id=\"esim-confirmation\"") && page.has(cc),
            "{}",
            page.body
        );
        for left in [2, 1] {
            assert_eq!(
                smdp.install(&lpa, Some("99999999"), EID, None).await,
                Err(PhoneError::WrongConfirmation(left))
            );
        }
        assert_eq!(
            smdp.install(&lpa, Some("99999999"), EID, None).await,
            Err(PhoneError::Refused)
        );
        // Reported as point 2 failed: the buyer's page says so and offers a new code.
        let failed = v.get(&format!("/orders/{}/esim", order.id)).await;
        assert!(
            failed.has("id=\"esim-reissue\""),
            "{}: {}",
            app.db,
            failed.body
        );
        let again = v
            .post(
                &format!("/orders/{}/esim/reissue", order.id),
                &[("csrf", &failed.input("csrf"))],
            )
            .await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
        let fresh: Value = get_json(&http, &esim_url).await;
        assert_eq!(fresh["state"], "released");
        assert_ne!(fresh["activation"]["lpa"].as_str().unwrap(), lpa);
        assert_ne!(fresh["confirmation_code"], esim["confirmation_code"]);
        let new_lpa = fresh["activation"]["lpa"].as_str().unwrap();
        let new_cc = fresh["confirmation_code"].as_str().unwrap();
        assert_eq!(
            smdp.install(new_lpa, Some(new_cc), EID, None).await,
            Ok(line.iccid.as_str().to_string())
        );
    }
}

#[tokio::test]
async fn one_client_reserves_a_few_numbers_then_waits() {
    let smdps = smdps().await;
    let apps = common::serve_all_with_sandbox_and(|c| configure(&smdps, c)).await;
    let http = Client::new();
    for (app, smdp) in apps.iter().zip(&smdps.stands) {
        let store = &app._db.store;
        let limit = simrenew_web::RESERVATIONS_PER_CLIENT as u64;
        stock(app, smdp, 7300, limit + 1).await;
        let url = format!("{}/api/v1/esims", app.base);
        for i in 0..limit {
            let (st, p, _) = post(
                &http,
                &url,
                Some(&format!("k{i}")),
                &json!({"operator": "mts", "plan_id": "mts-month-30gb"}),
            )
            .await;
            assert_eq!(st, StatusCode::CREATED, "{}: {p}", app.db);
        }
        let res = http
            .post(&url)
            .header("Idempotency-Key", "one-more")
            .json(&json!({"operator": "mts", "plan_id": "mts-month-30gb"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait > 0 && wait <= 30 * 60, "{wait}");
        // The pages share the limit, in the reader's language.
        let mut v = common::visitor::Visitor::new(&app.base, "ru");
        let form = v.get("/esim/new").await;
        let refused = v
            .post(
                "/esim/new",
                &[("csrf", &form.input("csrf")), ("operator", "mts")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            refused.has("id=\"form-error\"") && refused.has("забронировали"),
            "{}",
            refused.body
        );
        // The last number is still there for someone else.
        let left = store.profile_counts().await.unwrap();
        assert!(
            left.iter().any(|(o, s, n)| o == "mts"
                && *s == simrenew_core::esim::ProfileState::Available
                && *n == 1),
            "{left:?}"
        );
    }
}

#[tokio::test]
async fn the_sandbox_phone_page_installs_a_code_and_says_why_not() {
    let stand = simrenew_esim::sandbox::start().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router: axum::Router = simrenew_esim::sandbox::phone_router(stand.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let iccid = common::test_iccids(7400, 1).remove(0);
    stand.stock("mts-esim", &[iccid.as_str()]);
    let client = stand.client().unwrap();
    client
        .download_order(None, Some(iccid.as_str()), None)
        .await
        .unwrap();
    let done = client
        .confirm_order(iccid.as_str(), None, None, None, true)
        .await
        .unwrap();
    let lpa = format!(
        "LPA:1${}${}",
        simrenew_esim::sandbox::SMDP_ADDRESS,
        done.matching_id
    );
    let http = Client::new();
    let page = http
        .get(format!(
            "{base}/sandbox/esim/phone?code={}",
            lpa.replace('$', "%24").replace(':', "%3A")
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Sandbox") && page.contains(&done.matching_id),
        "{page}"
    );
    let eid = simrenew_esim::sandbox::demo_eid();
    let junk = post_form(
        &http,
        format!("{base}/sandbox/esim/phone"),
        &[("code", "LPA:2$x$y"), ("eid", eid.as_str())],
    )
    .await;
    assert!(junk.contains("not an activation code"), "{junk}");
    let ok = post_form(
        &http,
        format!("{base}/sandbox/esim/phone"),
        &[
            ("code", lpa.as_str()),
            ("eid", eid.as_str()),
            ("imei", IMEI),
        ],
    )
    .await;
    assert!(
        ok.contains("Installed") && ok.contains(iccid.as_str()),
        "{ok}"
    );
    assert_eq!(stand.state_of(iccid.as_str()), Some("installed"));
    // Used: the same code installs nothing more.
    let used = post_form(
        &http,
        format!("{base}/sandbox/esim/phone"),
        &[("code", lpa.as_str()), ("eid", eid.as_str())],
    )
    .await;
    assert!(used.contains("no profile is waiting"), "{used}");
}

#[tokio::test]
async fn a_signed_in_buyer_alone_sees_the_confirmation_code_and_gets_the_mails() {
    let smdps = smdps().await;
    let apps = common::serve_all_with_sandbox_and(|c| {
        configure(&smdps, c);
        c.demo_payments = true;
    })
    .await;
    let http = Client::new();
    for (app, smdp) in apps.iter().zip(&smdps.stands) {
        let store = &app._db.store;
        stock(app, smdp, 7500, 1).await;
        let mut buyer = common::visitor::Visitor::new(&app.base, "zh-CN");
        buyer.sign_up("buyer@example.com").await;
        // Signed in, the form offers the account's address for the install mail.
        let form = buyer.get("/esim/new").await;
        assert_eq!(form.input("email"), "buyer@example.com");
        let reserved = buyer
            .post(
                "/esim/new",
                &[
                    ("csrf", &form.input("csrf")),
                    ("operator", "mts"),
                    ("email", "buyer@example.com"),
                    ("imei", "356938035643808"),
                ],
            )
            .await;
        // A mistyped IMEI is refused beside its field, in the reader's language.
        assert_eq!(reserved.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reserved.has("id=\"imei-error\"") && reserved.has("*#06#"),
            "{}",
            reserved.body
        );
        let reserved = buyer
            .post(
                "/esim/new",
                &[
                    ("csrf", &form.input("csrf")),
                    ("operator", "mts"),
                    ("email", "buyer@example.com"),
                    ("imei", IMEI),
                ],
            )
            .await;
        assert_eq!(reserved.status, StatusCode::SEE_OTHER, "{}", reserved.body);
        let paid = buyer
            .buy_a_month_with_the_demo_card(reserved.location())
            .await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
        let order_page = buyer.get(paid.location()).await;
        assert!(
            order_page.has("id=\"esim-link\""),
            "{}: {}",
            app.db,
            order_page.body
        );
        let install_path = format!("{}/esim", paid.location());
        let mine = buyer.get(&install_path).await;
        assert!(mine.has("id=\"esim-confirmation\""), "{}", mine.body);
        // Someone else with the link: the QR code, but not the confirmation code.
        let other = http
            .get(format!("{}{install_path}", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            other.contains("id=\"esim-qr\"") && other.contains("id=\"esim-cc-withheld\""),
            "{other}"
        );
        assert!(!other.contains("id=\"esim-confirmation\""));
        let order_id = paid.location().trim_start_matches("/orders/");
        let api: Value =
            get_json(&http, format!("{}/api/v1/orders/{order_id}/esim", app.base)).await;
        assert!(api["confirmation_code"].is_null(), "{api}");
        assert_eq!(api["activation"]["confirmation_code_required"], true);
        // The mails went to the buyer, in Chinese.
        let to_buyer: Vec<simrenew_store::outbox::Message> = store
            .recent_outbox(&[simrenew_store::outbox::MAIL], 10)
            .await
            .unwrap()
            .iter()
            .map(|m| serde_json::from_str(&m.payload).unwrap())
            .filter(|m: &simrenew_store::outbox::Message| m.to == "buyer@example.com")
            .collect();
        assert_eq!(to_buyer.len(), 2, "{to_buyer:?}");
        assert!(
            to_buyer
                .iter()
                .all(|m| m.subject.contains("eSIM") && m.body.contains("安装")),
            "{to_buyer:?}"
        );
    }
}

/// Each way the SM-DP+ answers a release, seen through the API after payment: a
/// refusal (`Failed` with its codes) or `Expired` puts the profile in error with the
/// reason, and a reissue from the install page brings a code; out of reach leaves it
/// waiting and the next look releases it; a warning still releases.
#[tokio::test]
async fn each_way_the_smdp_answers_shows_through_the_api() {
    use simrenew_esim::es2plus::StatusCodeData;
    use simrenew_esim::sandbox::Trouble;
    let smdps = smdps().await;
    let apps = common::serve_all_with_sandbox_and(|c| configure(&smdps, c)).await;
    let http = Client::new();
    let code = |s: &str, r: &str| StatusCodeData {
        subject_code: s.into(),
        reason_code: r.into(),
        subject_identifier: None,
        message: None,
    };
    for (app, smdp) in apps.iter().zip(&smdps.stands) {
        let store = &app._db.store;
        stock(app, smdp, 7600, 4).await;
        let cases = [
            (
                "downloadOrder",
                Trouble::Failed(code("8.2.1", "3.9")),
                "error",
                "3.9",
            ),
            ("confirmOrder", Trouble::Expired, "error", "expired"),
            ("downloadOrder", Trouble::Http(503), "allocated", ""),
            (
                "confirmOrder",
                Trouble::Warning(code("8.2.6", "3.3")),
                "released",
                "",
            ),
        ];
        for (i, (function, trouble, state, reason)) in cases.into_iter().enumerate() {
            let (st, bought, _) = post(
                &http,
                &format!("{}/api/v1/esims", app.base),
                Some(&format!("t{i}")),
                &json!({"operator": "mts", "plan_id": "mts-month-30gb"}),
            )
            .await;
            assert_eq!(st, StatusCode::CREATED, "{bought}");
            let order = bought["order"]["id"].as_str().unwrap().to_string();
            smdp.trouble(function, trouble);
            store.settle_external(&order, "demo", None).await.unwrap();
            let url = format!("{}/api/v1/orders/{order}/esim", app.base);
            let seen = get_json(&http, &url).await;
            assert_eq!(seen["state"], state, "{}: {function}: {seen}", app.db);
            assert!(
                seen["error"].as_str().unwrap_or("").contains(reason),
                "{seen}"
            );
            match state {
                "error" => {
                    // The way out: a new code from the install page.
                    let mut v = common::visitor::Visitor::new(&app.base, "en");
                    let page = v.get(&format!("/orders/{order}/esim")).await;
                    let again = v
                        .post(
                            &format!("/orders/{order}/esim/reissue"),
                            &[("csrf", &page.input("csrf"))],
                        )
                        .await;
                    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
                    assert_eq!(get_json(&http, &url).await["state"], "released");
                }
                "allocated" => {
                    // The SM-DP+ is back: the next look releases it.
                    assert_eq!(
                        get_json(&http, &url).await["state"],
                        "released",
                        "{}",
                        app.db
                    );
                }
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn a_promo_code_prices_a_new_esim_and_a_refused_one_takes_no_number() {
    use simrenew_core::promotion::{Discount, PromoCode, Promotion};
    use simrenew_core::{Currency, Localized, Money};
    let smdps = smdps().await;
    let apps = common::serve_all_with_sandbox_and(|c| configure(&smdps, c)).await;
    let http = Client::new();
    for (app, smdp) in apps.iter().zip(&smdps.stands) {
        let store = &app._db.store;
        stock(app, smdp, 7400, 2).await;
        let now = time::OffsetDateTime::now_utc();
        store
            .add_promotion(
                "test",
                &Promotion {
                    id: String::new(),
                    code: Some(PromoCode::parse("TRAVEL100").unwrap()),
                    names: Localized::new("Travel", "Путешествие", "旅行"),
                    discount: Discount::fixed(Money::new(100_00, Currency::Rub)).unwrap(),
                    starts_at: now - time::Duration::days(1),
                    ends_at: now + time::Duration::days(1),
                    plans: vec!["mts-month-30gb".into()],
                    channels: vec![],
                    per_customer_limit: None,
                    total_limit: None,
                },
            )
            .await
            .unwrap();
        let available = || async {
            store
                .profile_counts()
                .await
                .unwrap()
                .into_iter()
                .filter(|(o, st, _)| {
                    o == "mts" && *st == simrenew_core::esim::ProfileState::Available
                })
                .map(|(_, _, n)| n)
                .sum::<i64>()
        };
        let url = format!("{}/api/v1/esims", app.base);
        let (st, p, _) = post(
            &http,
            &url,
            Some("promo-1"),
            &json!({"operator": "mts", "plan_id": "mts-month-30gb", "currency": "RUB", "promo_code": "NOSUCH"}),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{}: {p}", app.db);
        assert_eq!(p["type"], "/problems/promo-code-unknown", "{p}");
        assert_eq!(fields(&p), ["promo_code"]);
        assert_eq!(
            available().await,
            2,
            "the refused order gave its number back"
        );

        let (st, p, _) = post(
            &http,
            &url,
            Some("promo-2"),
            &json!({"operator": "mts", "plan_id": "mts-month-30gb", "currency": "RUB", "promo_code": "travel100"}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{}: {p}", app.db);
        let item = &p["order"]["items"][0];
        assert_eq!(
            p["order"]["total"]["minor"].as_i64().unwrap(),
            item["list_price"]["minor"].as_i64().unwrap() - 100_00,
            "{p}"
        );
        assert!(item["promotion_id"].is_string(), "{p}");
        assert_eq!(available().await, 1);
    }
}
