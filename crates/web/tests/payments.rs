//! Paying in yuan through Alipay and WeChat Pay, end to end through simrenew's own HTTP
//! endpoints (renewal form, order page, `/webhooks/{provider}`) against the sandbox
//! stand-ins, which speak each provider's protocol and sign (and, for WeChat Pay,
//! encrypt) exactly as the provider does: create, scan and pay, notification, replays,
//! forgeries, a wrong amount, status, refund. On SQLite and PostgreSQL.

use reqwest::{Client, StatusCode};
use simrenew_core::{Currency, Money, OrderStatus};
use simrenew_payments::keys::SigningKey;
use simrenew_payments::sandbox::{alipay as ali_sandbox, wechatpay as wx_sandbox};

mod common;
use common::visitor::Visitor;

const MTS_FREE: &str = "79161234562"; // nobody's line

/// A Chinese traveller renews the line with `method`; returns the order id, after
/// checking the order page shows the code to scan and the link it encodes.
async fn renew_with(app: &common::Served, v: &mut Visitor, method: &str) -> (String, String) {
    let page = v.get(&format!("/renew/{MTS_FREE}")).await;
    assert!(page.has(&format!("value=\"{method}\"")), "{}", page.body);
    // In the reader's currency first: Alipay and WeChat Pay before the rouble methods.
    let (ali, yk) = (
        page.body.find("value=\"alipay:qr\"").unwrap(),
        page.body.find("value=\"yookassa:bank_card\"").unwrap(),
    );
    assert!(ali < yk, "yuan methods first for a zh-CN reader");
    let placed = place(v, &page, method).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let order_id = placed
        .location()
        .strip_prefix("/orders/")
        .unwrap_or_else(|| panic!("{}: {}", app.db, placed.location()))
        .to_string();
    let order = v.get(&format!("/orders/{order_id}")).await;
    assert!(
        order.has("id=\"scan\"") && order.has("<svg"),
        "{}",
        order.body
    );
    // The section's link (Alipay's and the stand-ins' codes are web links).
    let section = &order.body[order.body.find("id=\"scan\"").unwrap()..];
    let link = section
        .split_once("href=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(l, _)| l.replace("&#x2f;", "/").replace("&#x3a;", ":"))
        .unwrap_or_default();
    (order_id, link)
}

async fn wait_fulfilled(store: &simrenew_store::Store, order_id: &str) -> bool {
    for _ in 0..150 {
        if store.order(order_id).await.unwrap().status == OrderStatus::Fulfilled {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

/// Submits the renewal form of `page` (a month of 30 GB) paying with `method`.
async fn place(
    v: &mut Visitor,
    page: &common::visitor::Page,
    method: &str,
) -> common::visitor::Page {
    v.post(
        &format!("/renew/{MTS_FREE}"),
        &[
            ("csrf", &page.input("csrf")),
            ("idem", &page.input("idem")),
            ("plan", "mts-month-30gb"),
            ("pay", method),
        ],
    )
    .await
}

/// Refunds `part` of a settled payment through `provider` (money and quota back), then
/// asks for the whole `total` more, which the refund policy refuses before the provider
/// is asked.
async fn refund_part_then_too_much(
    app: &common::Served,
    provider: &std::sync::Arc<dyn simrenew_payments::provider::Provider>,
    attempt: &str,
    part: Money,
    total: Money,
) {
    let store = &app._db.store;
    let providers = vec![provider.clone()];
    let done = simrenew_web::payments::refund(store, &providers, 1, attempt, part, "test")
        .await
        .unwrap();
    assert_eq!(done.status, "succeeded", "{}", app.db);
    assert!(matches!(
        simrenew_web::payments::refund(store, &providers, 1, attempt, total, "too much").await,
        Err(simrenew_web::payments::RefundError::Store(
            simrenew_store::StoreError::RefundTooLarge { .. }
        ))
    ));
}

/// POSTs a JSON notification `body` with `headers` to `url`.
async fn post_signed(
    url: &str,
    body: String,
    headers: Vec<(&'static str, String)>,
) -> reqwest::Response {
    let mut req = Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (k, val) in headers {
        req = req.header(k, val);
    }
    req.send().await.unwrap()
}

fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::Cny)
}

#[tokio::test]
async fn alipay_scan_pay_notify_replay_forge_and_refund() {
    for app in common::serve_all_with_sandbox().await {
        let keys = app.keys.as_ref().unwrap();
        let store = &app._db.store;
        let mut v = Visitor::new(&app.base, "zh-CN,zh;q=0.9");
        let (order_id, link) = renew_with(&app, &mut v, "alipay:qr").await;
        let order = store.order(&order_id).await.unwrap();
        assert_eq!(order.total.currency, Currency::Cny);
        assert!(link.contains("/sandbox/alipay/scan/"), "{}: {link}", app.db);
        // Not scanned yet: Alipay knows no trade; the order page asks and stays pending.
        let still = v.get(&format!("/orders/{order_id}")).await;
        assert!(still.has("data-refresh"), "{}", still.body);
        assert_eq!(
            store.order(&order_id).await.unwrap().status,
            OrderStatus::PendingPayment
        );

        // The buyer scans and pays; Alipay's signed notification fulfils the order.
        let http = Client::new();
        let scanned = http.get(&link).send().await.unwrap().text().await.unwrap();
        let shown = format!("{} CNY", order.total.major_string());
        assert!(scanned.contains(&shown), "{scanned}");
        let paid = http
            .post(&link)
            .form(&[("action", "pay")])
            .send()
            .await
            .unwrap();
        assert!(paid.status().is_success() || paid.status().is_redirection());
        assert!(
            wait_fulfilled(store, &order_id).await,
            "{}: not settled",
            app.db
        );
        let receipt = v.get(&format!("/orders/{order_id}")).await;
        assert!(receipt.has("支付宝"), "{}", receipt.body);

        // Status asked of Alipay's API (a signed answer, verified): paid, this amount.
        let attempt = store.payments_of_order(&order_id).await.unwrap()[0].clone();
        let no = attempt.provider_payment_id.clone().unwrap();
        let provider = app_provider(&app, "alipay");
        let status = provider.status(&no).await.unwrap();
        assert_eq!(
            status.state,
            simrenew_payments::provider::PayState::Succeeded(order.total)
        );

        // The same notification three more times: answered `success`, applied once.
        let hook = format!("{}/webhooks/alipay", app.base);
        let amount = order.total.major_string();
        let genuine = ali_sandbox::notification(
            &keys.alipay,
            &keys.alipay_app_id,
            &no,
            "2026112522001000000000000001",
            "TRADE_SUCCESS",
            &amount,
        );
        for _ in 0..3 {
            let r = http.post(&hook).form(&genuine).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.text().await.unwrap(), "success");
        }
        let orders = store.check_orders().await.unwrap();
        assert!(orders.is_sound(), "{orders:?}");
        assert_eq!(
            orders.fulfilled, 3,
            "{}: the demo's two and this one, once",
            app.db
        );

        // Forgeries: another key; a changed amount under a genuine signature; another app.
        let other = SigningKey::generate();
        let forged = ali_sandbox::notification(
            &other,
            &keys.alipay_app_id,
            &no,
            "1",
            "TRADE_SUCCESS",
            &amount,
        );
        let mut tampered = genuine.clone();
        for (k, val) in tampered.iter_mut() {
            if k == "total_amount" {
                *val = "0.01".into();
            }
        }
        let elsewhere = ali_sandbox::notification(
            &keys.alipay,
            "2021000000000999",
            &no,
            "1",
            "TRADE_SUCCESS",
            &amount,
        );
        for bad in [&forged, &tampered, &elsewhere] {
            let r = http.post(&hook).form(bad).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}: {bad:?}", app.db);
            assert_ne!(r.text().await.unwrap(), "success");
        }
        let r = http
            .post(&hook)
            .body("not a form at all %%%")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);

        // A refund of part of it: Alipay refunds (RSA2 both ways), money and quota back.
        refund_part_then_too_much(&app, &provider, &attempt.id, cny(10_00), order.total).await;
        simrenew_store::testing::assert_sound(store).await;
    }
}

#[tokio::test]
async fn alipay_money_that_does_not_match_the_order_is_held() {
    for app in common::serve_all_with_sandbox().await {
        let keys = app.keys.as_ref().unwrap();
        let store = &app._db.store;
        let mut v = Visitor::new(&app.base, "zh-CN");
        let (order_id, _) = renew_with(&app, &mut v, "alipay:qr").await;
        let attempt = store.payments_of_order(&order_id).await.unwrap()[0].clone();
        let no = attempt.provider_payment_id.clone().unwrap();
        // Genuinely signed by Alipay, but for one fen: held, not applied; the buyer told.
        let short = ali_sandbox::notification(
            &keys.alipay,
            &keys.alipay_app_id,
            &no,
            "1",
            "TRADE_SUCCESS",
            "0.01",
        );
        let r = Client::new()
            .post(format!("{}/webhooks/alipay", app.base))
            .form(&short)
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "success", "{}", app.db);
        assert_eq!(
            store.order(&order_id).await.unwrap().status,
            OrderStatus::PendingPayment
        );
        let page = v.get(&format!("/orders/{order_id}")).await;
        assert!(page.has("id=\"held\""), "{}", page.body);
        simrenew_store::testing::assert_sound(store).await;
    }
}

#[tokio::test]
async fn wechat_pay_scan_pay_notify_replay_forge_and_refund() {
    for app in common::serve_all_with_sandbox().await {
        let keys = app.keys.as_ref().unwrap();
        let store = &app._db.store;
        let mut v = Visitor::new(&app.base, "zh-CN");
        let (order_id, link) = renew_with(&app, &mut v, "wechatpay:native").await;
        let order = store.order(&order_id).await.unwrap();
        // The sandbox's code is a web link (a real one is weixin://, scanned only).
        assert!(
            link.contains("/sandbox/wechatpay/scan/"),
            "{}: {link}",
            app.db
        );
        let attempt = store.payments_of_order(&order_id).await.unwrap()[0].clone();
        let no = attempt.provider_payment_id.clone().unwrap();
        let provider = app_provider(&app, "wechatpay");
        assert_eq!(
            provider.status(&no).await.unwrap().state,
            simrenew_payments::provider::PayState::Open
        );

        let http = Client::new();
        let paid = http
            .post(&link)
            .form(&[("action", "pay")])
            .send()
            .await
            .unwrap();
        assert!(paid.status().is_success() || paid.status().is_redirection());
        assert!(
            wait_fulfilled(store, &order_id).await,
            "{}: not settled",
            app.db
        );
        assert_eq!(
            provider.status(&no).await.unwrap().state,
            simrenew_payments::provider::PayState::Succeeded(order.total)
        );

        // Replayed three times: 200, applied once.
        let hook = format!("{}/webhooks/wechatpay", app.base);
        let tx = wx_sandbox::transaction_of(&no, order.total.minor, "SUCCESS");
        let (body, headers) = wx_sandbox::notification(&keys.wechat, wx_sandbox::API_V3_KEY, &tx);
        for _ in 0..3 {
            let r = post_signed(&hook, body.clone(), headers.clone()).await;
            assert_eq!(r.status(), StatusCode::OK, "{}", app.db);
        }
        let orders = store.check_orders().await.unwrap();
        assert_eq!(
            orders.fulfilled, 3,
            "{}: the demo's two and this one, once",
            app.db
        );

        // Forgeries: signed by another key; body changed after signing; encrypted with
        // another APIv3 key; for another merchant; WeChat Pay's own signature probe.
        let other = SigningKey::generate();
        let (b1, h1) = wx_sandbox::notification(&other, wx_sandbox::API_V3_KEY, &tx);
        let tampered = body.replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS ");
        let (b3, h3) =
            wx_sandbox::notification(&keys.wechat, "another32characterapiv3key000000", &tx);
        let mut foreign = tx.clone();
        foreign["mchid"] = serde_json::json!("1230000109");
        let (b4, h4) = wx_sandbox::notification(&keys.wechat, wx_sandbox::API_V3_KEY, &foreign);
        let probe: Vec<_> = headers
            .iter()
            .map(|(k, val)| {
                let val = if *k == "wechatpay-signature" {
                    format!("WECHATPAY/SIGNTEST/{val}")
                } else {
                    val.clone()
                };
                (*k, val)
            })
            .collect();
        for (b, h) in [
            (b1, h1),
            (tampered, headers.clone()),
            (b3, h3),
            (b4, h4),
            (body.clone(), probe),
        ] {
            let r = post_signed(&hook, b, h).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}", app.db);
        }
        let r = post_signed(&hook, body.clone(), vec![]).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "unsigned");

        // Refund part: WeChat Pay refunds, money and quota back; too much is refused.
        refund_part_then_too_much(&app, &provider, &attempt.id, cny(5_00), order.total).await;
        simrenew_store::testing::assert_sound(store).await;
    }
}

#[tokio::test]
async fn wechat_pay_money_that_does_not_match_the_order_is_held() {
    for app in common::serve_all_with_sandbox().await {
        let keys = app.keys.as_ref().unwrap();
        let store = &app._db.store;
        let mut v = Visitor::new(&app.base, "zh-CN");
        // Paid with a wrong amount, genuinely signed and encrypted: held.
        let (order_id, _) = renew_with(&app, &mut v, "wechatpay:native").await;
        let no = store.payments_of_order(&order_id).await.unwrap()[0]
            .provider_payment_id
            .clone()
            .unwrap();
        let tx = wx_sandbox::transaction_of(&no, 1, "SUCCESS");
        let (body, headers) = wx_sandbox::notification(&keys.wechat, wx_sandbox::API_V3_KEY, &tx);
        let hook = format!("{}/webhooks/wechatpay", app.base);
        assert_eq!(
            post_signed(&hook, body, headers).await.status(),
            StatusCode::OK
        );
        let page = v.get(&format!("/orders/{order_id}")).await;
        assert!(page.has("id=\"held\""), "{}", page.body);
        assert_eq!(
            store.order(&order_id).await.unwrap().status,
            OrderStatus::PendingPayment
        );

        simrenew_store::testing::assert_sound(store).await;
    }
}

/// The app's configured connector `name` (the same the server uses, pointed at the
/// stand-ins).
fn app_provider(
    app: &common::Served,
    name: &str,
) -> std::sync::Arc<dyn simrenew_payments::provider::Provider> {
    app.keys
        .as_ref()
        .unwrap()
        .providers
        .iter()
        .find(|p| p.name() == name)
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn stripe_checkout_pay_event_replay_forge_held_and_refund() {
    use simrenew_payments::sandbox::stripe as st;
    for app in common::serve_all_with_sandbox().await {
        let store = &app._db.store;
        let mut v = Visitor::new(&app.base, "en");
        let page = v.get(&format!("/renew/{MTS_FREE}")).await;
        assert!(page.has("value=\"stripe:card\""), "{}", page.body);
        let to_stripe = place(&mut v, &page, "stripe:card").await;
        assert_eq!(
            to_stripe.status,
            StatusCode::SEE_OTHER,
            "{}",
            to_stripe.body
        );
        let checkout = to_stripe.location().to_string();
        assert!(
            checkout.contains("/sandbox/stripe/pay/cs_test_"),
            "{checkout}"
        );
        let http = Client::new();
        let shown = http
            .get(&checkout)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let attempt = store
            .open_payments(-1, 100)
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.provider == "stripe")
            .unwrap();
        let order = store.order(&attempt.order_id).await.unwrap();
        assert_eq!(order.total.currency, Currency::Usd);
        assert!(
            shown.contains(&format!("{} USD", order.total.major_string())),
            "{shown}"
        );
        // Pay: the buyer comes back to the order; the signed event fulfils it.
        let back = v
            .post(&checkout.replace(&app.base, ""), &[("action", "pay")])
            .await;
        assert_eq!(back.location(), format!("{}/orders/{}", app.base, order.id));
        assert!(
            wait_fulfilled(store, &order.id).await,
            "{}: not settled",
            app.db
        );

        // The event again (three times): 200, applied once.
        let hook = format!("{}/webhooks/stripe", app.base);
        let provider = app_provider(&app, "stripe");
        let sid = attempt.provider_payment_id.clone().unwrap();
        let session = serde_json::json!({
            "id": sid, "object": "checkout.session", "status": "complete",
            "payment_status": "paid", "amount_total": order.total.minor, "currency": "usd",
        });
        let (body, sig) = st::event("checkout.session.completed", &session, st::WEBHOOK_SECRET);
        let post = |body: String, sig: String| {
            http.post(&hook)
                .header("content-type", "application/json")
                .header("stripe-signature", sig)
                .body(body)
                .send()
        };
        for _ in 0..3 {
            assert_eq!(
                post(body.clone(), sig.clone()).await.unwrap().status(),
                StatusCode::OK
            );
        }
        assert_eq!(
            store.check_orders().await.unwrap().fulfilled,
            3,
            "{}",
            app.db
        );
        // Forged: another secret; a body changed after signing; an old, replayed
        // signature (outside Stripe's 300 s tolerance); no header.
        let (b1, s1) = st::event("checkout.session.completed", &session, "whsec_other");
        let t = time::OffsetDateTime::now_utc().unix_timestamp() - 1000;
        let old = format!(
            "t={t},v1={}",
            simrenew_payments::stripe::sign(st::WEBHOOK_SECRET, t, body.as_bytes())
        );
        for (b, s) in [
            (b1, s1),
            (body.replace("\"paid\"", "\"paid\" "), sig.clone()),
            (body.clone(), old),
            (body.clone(), String::new()),
        ] {
            assert_eq!(
                post(b, s).await.unwrap().status(),
                StatusCode::BAD_REQUEST,
                "{}",
                app.db
            );
        }

        // Status from the API, then a partial refund on the session's payment intent.
        assert_eq!(
            provider.status(&sid).await.unwrap().state,
            simrenew_payments::provider::PayState::Succeeded(order.total)
        );
        let providers = vec![provider.clone()];
        let usd = |m| Money::new(m, Currency::Usd);
        let done =
            simrenew_web::payments::refund(store, &providers, 1, &attempt.id, usd(1_00), "test")
                .await
                .unwrap();
        assert_eq!(done.status, "succeeded", "{}", app.db);

        // Stripe out of reach: the refund stays pending, then is asked again (same
        // key) once it can be reached, and completes once.
        let away: Vec<std::sync::Arc<dyn simrenew_payments::provider::Provider>> =
            vec![std::sync::Arc::new(
                simrenew_payments::stripe::Stripe::new(
                    "http://127.0.0.1:9",
                    st::SECRET_KEY,
                    st::WEBHOOK_SECRET,
                )
                .unwrap(),
            )];
        let unreachable =
            simrenew_web::payments::refund(store, &away, 1, &attempt.id, usd(1_00), "first try")
                .await;
        assert!(
            matches!(
                unreachable,
                Err(simrenew_web::payments::RefundError::Unreachable(_))
            ),
            "{unreachable:?}"
        );
        assert_eq!(store.pending_refunds(-1, 10).await.unwrap().len(), 1);
        let live = vec![provider.clone()];
        assert_eq!(
            simrenew_web::payments::retry_refunds(store, &live, 1, -1).await,
            1
        );
        assert!(
            store.pending_refunds(-1, 10).await.unwrap().is_empty(),
            "{}",
            app.db
        );
        assert_eq!(
            simrenew_web::payments::retry_refunds(store, &live, 1, -1).await,
            0
        );

        // A second order paid with a different amount (a genuine event): held.
        let page = v.get(&format!("/renew/{MTS_FREE}")).await;
        let placed = place(&mut v, &page, "stripe:card").await;
        let sid2 = placed.location().rsplit('/').next().unwrap().to_string();
        let short = serde_json::json!({
            "id": sid2, "object": "checkout.session", "status": "complete",
            "payment_status": "paid", "amount_total": 1, "currency": "usd",
        });
        let (b, s) = st::event("checkout.session.completed", &short, st::WEBHOOK_SECRET);
        assert_eq!(post(b, s).await.unwrap().status(), StatusCode::OK);
        let held = store.payment_by_provider_id("stripe", &sid2).await.unwrap();
        assert_eq!(held.status, "held", "{}", app.db);
        simrenew_store::testing::assert_sound(store).await;
    }
}

#[tokio::test]
async fn paypal_approve_capture_webhook_replay_forge_and_refund() {
    use simrenew_payments::sandbox::paypal as pp;
    for app in common::serve_all_with_sandbox().await {
        let keys = app.keys.as_ref().unwrap();
        let store = &app._db.store;
        let mut v = Visitor::new(&app.base, "en");
        let page = v.get(&format!("/renew/{MTS_FREE}")).await;
        let to_paypal = place(&mut v, &page, "paypal:paypal").await;
        assert_eq!(
            to_paypal.status,
            StatusCode::SEE_OTHER,
            "{}",
            to_paypal.body
        );
        let approve = to_paypal.location().to_string();
        assert!(
            approve.contains("/sandbox/paypal/checkoutnow?token="),
            "{approve}"
        );
        let oid = approve.rsplit('=').next().unwrap().to_string();
        let attempt = store.payment_by_provider_id("paypal", &oid).await.unwrap();
        let order = store.order(&attempt.order_id).await.unwrap();
        let http = Client::new();
        let shown = http
            .get(&approve)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            shown.contains(&format!("{} USD", order.total.major_string())),
            "{shown}"
        );

        // Approve: back to the order page, which captures; the webhook races it.
        let back = v
            .post(&approve.replace(&app.base, ""), &[("action", "pay")])
            .await;
        let ret = back.location().to_string();
        assert!(
            ret.starts_with(&format!("{}/orders/{}?token={oid}", app.base, order.id)),
            "{ret}"
        );
        let done = v.get(&ret.replace(&app.base, "")).await;
        assert!(
            done.has("id=\"done\"") || wait_fulfilled(store, &order.id).await,
            "{}",
            done.body
        );
        assert!(wait_fulfilled(store, &order.id).await);

        // The approval webhook again, three times (genuinely signed): applied once.
        let hook = format!("{}/webhooks/paypal", app.base);
        let cert = format!(
            "{}/sandbox/paypal/v1/notifications/certs/CERT-sandbox",
            app.base
        );
        let fetched = serde_json::json!({"id": oid, "status": "APPROVED"});
        let body = pp::order_event("CHECKOUT.ORDER.APPROVED", &fetched);
        for _ in 0..3 {
            let r = post_signed(
                &hook,
                body.clone(),
                pp::transmission(&keys.paypal, &body, &cert),
            )
            .await;
            assert_eq!(r.status(), StatusCode::OK, "{}", app.db);
        }
        assert_eq!(
            store.check_orders().await.unwrap().fulfilled,
            3,
            "{}",
            app.db
        );
        // Forged: another key; a body changed after signing; no transmission headers.
        let other = SigningKey::generate();
        let genuine = pp::transmission(&keys.paypal, &body, &cert);
        for (b, h) in [
            (body.clone(), pp::transmission(&other, &body, &cert)),
            (body.replace("APPROVED", "COMPLETED"), genuine.clone()),
            (body.clone(), vec![]),
        ] {
            assert_eq!(
                post_signed(&hook, b, h).await.status(),
                StatusCode::BAD_REQUEST,
                "{}",
                app.db
            );
        }

        // Refund part of the capture.
        let provider = app_provider(&app, "paypal");
        let providers = vec![provider.clone()];
        let r = simrenew_web::payments::refund(
            store,
            &providers,
            1,
            &attempt.id,
            Money::new(2_00, Currency::Usd),
            "test",
        )
        .await
        .unwrap();
        assert_eq!(r.status, "succeeded", "{}", app.db);
        simrenew_store::testing::assert_sound(store).await;
    }
}

/// A renewal paid through WeChat Pay's stand-in; its attempt.
async fn paid_with_wechat(app: &common::Served) -> simrenew_store::payments::Payment {
    let store = &app._db.store;
    let mut v = Visitor::new(&app.base, "zh-CN");
    let (order_id, link) = renew_with(app, &mut v, "wechatpay:native").await;
    Client::new()
        .post(&link)
        .form(&[("action", "pay")])
        .send()
        .await
        .unwrap();
    assert!(wait_fulfilled(store, &order_id).await, "{}", app.db);
    store.payments_of_order(&order_id).await.unwrap()[0].clone()
}

#[tokio::test]
async fn a_wechat_bill_reconciles_against_what_was_settled_and_its_fees_post_once() {
    use simrenew_core::reconcile::Finding;
    for app in common::serve_all_with_sandbox().await {
        let store = &app._db.store;
        let (a, b, c) = (
            paid_with_wechat(&app).await,
            paid_with_wechat(&app).await,
            paid_with_wechat(&app).await,
        );
        let providers = vec![app_provider(&app, "wechatpay")];
        let refund = simrenew_web::payments::refund(store, &providers, 1, &a.id, cny(5_00), "test")
            .await
            .unwrap();
        // WeChat Pay's bill: a paid (fee 0.36), b with another amount, a payment we do
        // not know, a's refund; c is missing from it.
        let row = |no: &str,
                   state: &str,
                   amount: &str,
                   refund_no: &str,
                   refunded: &str,
                   fee: &str| {
            format!(
                "`2026-11-25 10:00:00,`wxd678efh567hg6787,`1900000109,`0,`,`4200002600000000000000000001,`{no},`oUpF8u,`NATIVE,`{state},`OTHERS,`CNY,`{amount},`0.00,`0,`{refund_no},`{refunded},`0.00,`,`,`续费,`,`{fee},`0.60%,`{amount},`0.00,`\n"
            )
        };
        let total = |p: &simrenew_store::payments::Payment| p.amount.major_string();
        let bill = format!(
            "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n{}{}{}{}总交易单数,应结订单总金额\n`4,`1.00\n",
            row(&a.id, "SUCCESS", &total(&a), "0", "0.00", "0.36000"),
            row(&b.id, "SUCCESS", "0.01", "0", "0.00", "0.00000"),
            row("not-ours-1", "SUCCESS", "9.00", "0", "0.00", "0.05000"),
            row(&a.id, "REFUND", "0.00", &refund.id, "5.00", "-0.03000"),
        );
        let day = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        let until = day + time::Duration::days(2);
        let r = simrenew_web::payments::reconcile(
            store,
            "wechatpay",
            bill.as_bytes(),
            day,
            until,
            true,
        )
        .await
        .unwrap();
        assert!(!r.clean());
        let summary: Vec<(&str, String)> = r
            .findings
            .iter()
            .map(|f| match f {
                Finding::Matched { ours, .. } => ("matched", ours.id.clone()),
                Finding::Differs { ours, .. } => ("differs", ours.id.clone()),
                Finding::OnlyInReport { line } => ("only_in_report", line.reference.clone()),
                Finding::OnlyHere { ours } => ("only_here", ours.id.clone()),
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("matched", a.id.clone()),
                ("differs", b.id.clone()),
                ("only_in_report", "not-ours-1".to_string()),
                ("matched", refund.id.clone()),
                ("only_here", c.id.clone()),
            ],
            "{}",
            app.db
        );
        assert_eq!(r.fees_recorded, 1);
        let fees = store.account_balance("fees:CNY").await.unwrap();
        assert_eq!(fees, cny(-36), "{}", app.db);
        // The same report again: nothing recorded twice.
        let again = simrenew_web::payments::reconcile(
            store,
            "wechatpay",
            bill.as_bytes(),
            day,
            until,
            true,
        )
        .await
        .unwrap();
        assert_eq!(again.fees_recorded, 0);
        assert_eq!(store.account_balance("fees:CNY").await.unwrap(), cny(-36));
        simrenew_store::testing::assert_sound(store).await;
    }
}

#[tokio::test]
async fn a_card_kept_at_yookassa_pays_the_next_renewal_without_a_trip_and_can_be_forgotten() {
    for app in common::serve_all_with_sandbox().await {
        keep_and_charge(
            &app,
            "ru",
            "yookassa:bank_card",
            "/sandbox/yookassa/confirm/",
            "Bank card *4444",
        )
        .await;
    }
}

#[tokio::test]
async fn a_card_set_up_off_session_at_stripe_pays_the_next_renewal_and_refunds() {
    for app in common::serve_all_with_sandbox().await {
        let charged = keep_and_charge(
            &app,
            "en",
            "stripe:card",
            "/sandbox/stripe/pay/",
            "visa •••• 4242",
        )
        .await;
        // The off-session charge is a payment intent of its own: asked and refunded as one.
        let store = &app._db.store;
        let p = store.payments_of_order(&charged).await.unwrap()[0].clone();
        assert!(
            p.provider_payment_id.as_deref().unwrap().starts_with("pi_"),
            "{p:?}"
        );
        let providers = vec![app_provider(&app, "stripe")];
        let r = simrenew_web::payments::refund(
            store,
            &providers,
            1,
            &p.id,
            Money::new(1_00, p.amount.currency),
            "test",
        )
        .await
        .unwrap();
        assert_eq!(r.status, "succeeded", "{}", app.db);
        simrenew_store::testing::assert_sound(store).await;
    }
}

/// The demo account renews its own line with `method`, asking to keep the card; pays
/// at the stand-in; the card (shown as `title`) then pays the next renewal at once, and
/// is forgotten. The second order's id.
async fn keep_and_charge(
    app: &common::Served,
    lang: &'static str,
    method: &str,
    confirm_at: &str,
    title: &str,
) -> String {
    const MTS_OWNED: &str = "79161234561";
    let store = &app._db.store;
    let mut v = Visitor::new(&app.base, lang);
    v.sign_in_demo().await;
    // The demo account speaks Chinese: the reader's choice of language and currency is
    // made by the switch, as a person would.
    v.get(&format!("/lang/{lang}?next=/")).await;
    let page = v.get(&format!("/renew/{MTS_OWNED}")).await;
    assert!(page.has("name=\"save\""), "{}", page.body);
    let to_provider = v
        .post(
            &format!("/renew/{MTS_OWNED}"),
            &[
                ("csrf", &page.input("csrf")),
                ("idem", &page.input("idem")),
                ("plan", "mts-month-30gb"),
                ("pay", method),
                ("save", "1"),
            ],
        )
        .await;
    let confirm = to_provider.location().to_string();
    assert!(confirm.contains(confirm_at), "{}: {confirm}", app.db);
    let back = v
        .post(&confirm.replace(&app.base, ""), &[("action", "pay")])
        .await;
    let first = back.location().rsplit('/').next().unwrap().to_string();
    // The buyer's return settles it (and keeps the card), or the notification does.
    v.get(&format!("/orders/{first}")).await;
    assert!(wait_fulfilled(store, &first).await, "{}", app.db);
    let account = v.get("/account").await;
    assert!(account.has(title), "{}", account.body);

    // The next renewal: the kept card, charged at once, no page at the provider.
    let page = v.get(&format!("/renew/{MTS_OWNED}")).await;
    let at = page
        .body
        .find("value=\"saved:")
        .expect("a saved method offered")
        + 7;
    let saved = page.body[at..at + page.body[at..].find('"').unwrap()].to_string();
    let placed = v
        .post(
            &format!("/renew/{MTS_OWNED}"),
            &[
                ("csrf", &page.input("csrf")),
                ("idem", &page.input("idem")),
                ("plan", "mts-month-30gb"),
                ("pay", &saved),
            ],
        )
        .await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let second = placed
        .location()
        .strip_prefix("/orders/")
        .unwrap()
        .to_string();
    assert_eq!(
        store.order(&second).await.unwrap().status,
        OrderStatus::Fulfilled,
        "{}: charged to the kept card at once",
        app.db
    );
    simrenew_store::testing::assert_sound(store).await;

    // Forgotten: gone from the account and from the renewal page.
    let account = v.get("/account").await;
    let id = saved.strip_prefix("saved:").unwrap();
    let done = v
        .post(
            "/account/methods/forget",
            &[("csrf", &account.input("csrf")), ("method", id)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(!v.get("/account").await.has(title));
    assert!(
        !v.get(&format!("/renew/{MTS_OWNED}"))
            .await
            .has("value=\"saved:")
    );

    // Someone not signed in cannot ask to keep a card.
    let mut anon = Visitor::new(&app.base, lang);
    assert!(
        !anon
            .get(&format!("/renew/{MTS_FREE}"))
            .await
            .has("name=\"save\"")
    );
    second
}

#[tokio::test]
async fn alipay_notifications_arriving_at_once_settle_one_payment() {
    for app in common::serve_all_with_sandbox().await {
        let keys = app.keys.as_ref().unwrap();
        let store = &app._db.store;
        let mut v = Visitor::new(&app.base, "zh-CN");
        let (order_id, _) = renew_with(&app, &mut v, "alipay:qr").await;
        let order = store.order(&order_id).await.unwrap();
        let no = store.payments_of_order(&order_id).await.unwrap()[0]
            .provider_payment_id
            .clone()
            .unwrap();
        let form = ali_sandbox::notification(
            &keys.alipay,
            &keys.alipay_app_id,
            &no,
            "2026112522001000000000000009",
            "TRADE_SUCCESS",
            &order.total.major_string(),
        );
        // As if several servers behind a balancer got Alipay's retries at once.
        let hook = format!("{}/webhooks/alipay", app.base);
        let sends = (0..8).map(|_| {
            let (hook, form) = (hook.clone(), form.clone());
            tokio::spawn(async move {
                let r = Client::new().post(&hook).form(&form).send().await.unwrap();
                (r.status(), r.text().await.unwrap())
            })
        });
        for s in futures::future::join_all(sends).await {
            assert_eq!(
                s.unwrap(),
                (StatusCode::OK, "success".to_string()),
                "{}",
                app.db
            );
        }
        let orders = store.check_orders().await.unwrap();
        assert_eq!(
            orders.fulfilled, 3,
            "{}: the demo's two and this one, once",
            app.db
        );
        simrenew_store::testing::assert_sound(store).await;
    }
}
