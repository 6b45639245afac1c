//! The traveller's pages spoken to as a browser would (cookies, forms, redirects), on
//! SQLite and on PostgreSQL, each test with a fresh demo database. The same flows in a
//! real Chromium are in tests/browser.rs.

use reqwest::header;
use reqwest::{Client, StatusCode};

mod common;
use common::visitor::Visitor;

const MTS_OWNED: &str = "79161234561"; // the demo account's, with a month of 30 GB
const MTS_FREE: &str = "79161234562"; // nobody's; PUK 12345672
const BAD_ICCID: &str = "8970 1012 3456 7890 1235"; // check digit wrong

#[tokio::test]
async fn renew_a_line_by_number_with_the_demo_card_once_per_form() {
    for app in common::serve_all(|c| c.demo_payments = true).await {
        let mut v = Visitor::new(&app.base, "zh-CN,zh;q=0.9");
        let found = v.get("/renew?line=8+916+123-45-62").await;
        assert_eq!(found.status, StatusCode::SEE_OTHER, "{}", app.db);
        assert_eq!(found.location(), format!("/renew/{MTS_FREE}"));
        let page = v.get(found.location()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.has("为 +7 916 123-45-62 续费"), "{}", page.body);
        assert!(page.has("¥"), "prices in yuan for a Chinese reader");
        let fields = [
            ("csrf", page.input("csrf")),
            ("idem", page.input("idem")),
            ("k", String::new()),
            ("plan", "mts-month-30gb".to_string()),
            ("pay", "demo".to_string()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let paid = v.post(&format!("/renew/{MTS_FREE}"), &fields).await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
        let order_path = paid.location().to_string();
        assert!(order_path.starts_with("/orders/"));
        // A double tap sends the same form again: same order, not a second one.
        let again = v.post(&format!("/renew/{MTS_FREE}"), &fields).await;
        assert_eq!(again.location(), order_path, "{}", app.db);
        let receipt = v.get(&order_path).await;
        assert!(receipt.has("收据"), "{}", receipt.body);
        assert!(receipt.has("已完成"));
        assert!(receipt.has("¥60"), "{}", receipt.body);
        let store = &app._db.store;
        let orders = store.check_orders().await.unwrap();
        assert!(orders.is_sound(), "{orders:?}");
        assert_eq!(
            orders.fulfilled, 3,
            "two demo renewals seeded plus this one"
        );
        assert!(store.check_ledger().await.unwrap().is_sound());
    }
}

#[tokio::test]
async fn a_form_without_its_csrf_token_changes_nothing() {
    for app in common::serve_all(|c| c.demo_payments = true).await {
        let mut v = Visitor::new(&app.base, "en");
        let page = v.get(&format!("/renew/{MTS_FREE}")).await;
        let before = app._db.store.check_orders().await.unwrap().orders;
        for csrf in ["", "0123456789abcdef0123456789abcdef"] {
            let res = v
                .post(
                    &format!("/renew/{MTS_FREE}"),
                    &[
                        ("csrf", csrf),
                        ("idem", &page.input("idem")),
                        ("plan", "mts-month-30gb"),
                        ("pay", "demo"),
                    ],
                )
                .await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", app.db);
            assert!(res.has("Please try again"));
        }
        // Another browser's token does not work with this browser's cookie.
        let mut other = Visitor::new(&app.base, "en");
        let other_csrf = other.get(&format!("/renew/{MTS_FREE}")).await.input("csrf");
        let res = v
            .post(
                &format!("/renew/{MTS_FREE}"),
                &[
                    ("csrf", &other_csrf),
                    ("plan", "mts-month-30gb"),
                    ("pay", "demo"),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        // A form far larger than any of ours (its token and all): a 413 page that says
        // nothing was done, in the visitor's language.
        let padding = "x".repeat(70 * 1024);
        let res = v
            .post(
                &format!("/renew/{MTS_FREE}"),
                &[
                    ("csrf", &page.input("csrf")),
                    ("idem", &page.input("idem")),
                    ("plan", "mts-month-30gb"),
                    ("pay", "demo"),
                    ("note", &padding),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", app.db);
        assert!(res.has("Form too large"), "{}", res.body);
        assert_eq!(app._db.store.check_orders().await.unwrap().orders, before);
    }
}

#[tokio::test]
async fn a_wrong_iccid_is_shown_beside_the_box_in_each_language() {
    for app in common::serve_all(|_| {}).await {
        for (lang, text) in [
            ("en", "check digit does not match"),
            ("ru", "не сходится контрольная цифра"),
            ("zh-CN", "校验位不符"),
        ] {
            let mut v = Visitor::new(&app.base, lang);
            let q = BAD_ICCID.replace(' ', "+");
            let page = v.get(&format!("/renew?line={q}")).await;
            assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{lang}");
            assert!(page.has(&format!("<html lang=\"{lang}\"")), "{lang}");
            let err = page
                .body
                .find("id=\"line-error\"")
                .expect("error beside the box");
            assert!(page.body[err..].contains(text), "{lang}: {}", page.body);
            assert!(page.has("aria-invalid=\"true\""));
            assert!(page.has(&format!("value=\"{BAD_ICCID}\"")), "input kept");
        }
        // An unknown but valid number is a different, specific message.
        let mut v = Visitor::new(&app.base, "ru");
        let page = v.get("/renew?line=%2B7+999+000-00-00").await;
        assert!(page.has("Мы не обслуживаем линию"), "{}", page.body);
    }
}

#[tokio::test]
async fn sign_up_attach_a_line_and_see_its_data() {
    for app in common::serve_all(|_| {}).await {
        let mut v = Visitor::new(&app.base, "ru");
        let form = v.get("/account/sign-up").await;
        let csrf = form.input("csrf");
        // Errors beside their fields, the address kept.
        let bad = v
            .post(
                "/account/sign-up",
                &[
                    ("csrf", &csrf),
                    ("email", "traveller@example.com"),
                    ("password", "short"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.has("id=\"password-error\">Пароль должен быть не короче 8 символов"));
        assert!(bad.has("value=\"traveller@example.com\""));
        let ok = v
            .post(
                "/account/sign-up",
                &[
                    ("csrf", &csrf),
                    ("email", "traveller@example.com"),
                    ("password", "long enough password"),
                    ("next", "/account"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let sid = ok
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|c| c.to_str().unwrap().to_string())
            .find(|c| c.starts_with("sid="))
            .expect("session cookie");
        assert!(
            sid.contains("HttpOnly") && sid.contains("SameSite=Lax"),
            "{sid}"
        );
        let account = v.get("/account").await;
        assert!(account.has("Линий пока нет"), "{}", account.body);
        // Wrong PUK: beside the PUK field; the right one attaches the line. (No SMS
        // gateway here: codes by SMS are not offered.)
        let add = v.get("/account/lines/add").await;
        assert!(!add.has("value=\"sms\""), "{}", add.body);
        let csrf = add.input("csrf");
        let wrong = v
            .post(
                "/account/lines/add",
                &[
                    ("csrf", &csrf),
                    ("line", "+7 916 123 45 62"),
                    ("puk", "00000000"),
                ],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.has("id=\"puk-error\" role=\"alert\">PUK-код не совпадает"));
        let right = v
            .post(
                "/account/lines/add",
                &[
                    ("csrf", &csrf),
                    ("line", "+7 916 123 45 62"),
                    ("puk", "12345672"),
                ],
            )
            .await;
        assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
        assert_eq!(right.location(), format!("/lines/{MTS_FREE}"));
        let line = v.get(right.location()).await;
        assert_eq!(line.status, StatusCode::OK, "{}", line.body);
        assert!(line.has("Осталось трафика"));
        assert!(line.has("id=\"balance\">0\u{a0}₽"), "{}", line.body);
        assert!(line.has("Тариф не подключён"));
        // Someone else cannot see it: sent to the renewal page instead.
        let mut stranger = Visitor::new(&app.base, "ru");
        stranger.sign_in_demo().await;
        let other = stranger.get(&format!("/lines/{MTS_FREE}")).await;
        assert_eq!(other.status, StatusCode::SEE_OTHER);
        assert_eq!(other.location(), format!("/renew/{MTS_FREE}"));
        // Sign out ends the session and clears the app's offline copies.
        let account = v.get("/account").await;
        let out = v
            .post("/account/sign-out", &[("csrf", &account.input("csrf"))])
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert!(
            out.headers
                .get("clear-site-data")
                .is_some_and(|h| h.to_str().unwrap().contains("storage"))
        );
        assert_eq!(v.get("/account").await.status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn the_owner_renews_from_the_balance_with_the_current_plan_preselected() {
    for app in common::serve_all(|_| {}).await {
        let mut v = Visitor::new(&app.base, "en");
        v.sign_in_demo().await;
        // The demo account chose Chinese; this browser switches to English.
        let zh = v.get("/account").await;
        assert!(
            zh.has("<html lang=\"zh-CN\""),
            "the account's language first"
        );
        v.get("/lang/en?next=/account").await;
        v.get("/currency/RUB?next=/account").await;
        let line = v.get(&format!("/lines/{MTS_OWNED}")).await;
        assert!(line.has("id=\"balance\">₽1,250"), "{}", line.body);
        assert!(line.has("Month 30 GB"));
        assert!(line.has("26.6 GB"), "30 GB less 3.3 GB used: {}", line.body);
        // 3.3 GB in 30 days fits a cheaper plan than a month of 30 GB.
        let advice = line.body.find("id=\"advice\"").expect("advice shown");
        assert!(
            line.body[advice..].contains("3.3 GB")
                && line.body[advice..].contains("₽690 instead of ₽750"),
            "{}",
            &line.body[advice..advice + 300]
        );
        let page = v.get(&format!("/renew/{MTS_OWNED}")).await;
        assert!(
            page.has("value=\"mts-month-30gb\" checked"),
            "current plan preselected: {}",
            page.body
        );
        assert!(page.has("name=\"pay\" value=\"balance\" checked"));
        let paid = v
            .post(
                &format!("/renew/{MTS_OWNED}"),
                &[
                    ("csrf", &page.input("csrf")),
                    ("idem", &page.input("idem")),
                    ("plan", "mts-month-30gb"),
                    ("pay", "balance"),
                ],
            )
            .await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
        let receipt = v.get(paid.location()).await;
        assert!(
            receipt.has("Line balance") && receipt.has("Done"),
            "{}",
            receipt.body
        );
        let line = v.get(&format!("/lines/{MTS_OWNED}")).await;
        assert!(line.has("id=\"balance\">₽500"), "{}", line.body);
        // Three more months would need 2,250 roubles: refused beside the payment, no order.
        let before = app._db.store.check_orders().await.unwrap().orders;
        let page = v.get(&format!("/renew/{MTS_OWNED}")).await;
        let mut last = None;
        for _ in 0..2 {
            let res = v
                .post(
                    &format!("/renew/{MTS_OWNED}"),
                    &[
                        ("csrf", &page.input("csrf")),
                        ("idem", &uuid::Uuid::new_v4().to_string()),
                        ("plan", "mts-month-unlim"),
                        ("pay", "balance"),
                    ],
                )
                .await;
            last = Some(res);
        }
        let refused = last.unwrap();
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.has("id=\"pay-error\" role=\"alert\">The line")
                && refused.has("balance is not enough: ₽790 is missing"),
            "{}",
            refused.body
        );
        assert_eq!(app._db.store.check_orders().await.unwrap().orders, before);
    }
}

#[tokio::test]
async fn a_lines_own_link_preselects_its_plan_and_a_forged_one_does_not() {
    let secret = b"a test secret of at least 32 bytes!!".to_vec();
    let key = secret.clone();
    for app in common::serve_all(move |c| c.secret = key.clone()).await {
        let line = app
            ._db
            .store
            .find_line(&simrenew_core::LineRef::parse(MTS_OWNED).unwrap())
            .await
            .unwrap();
        let link = simrenew_web::pages::line_link(&secret, MTS_OWNED, &line.id);
        let mut v = Visitor::new(&app.base, "en");
        let page = v.get(&link).await;
        assert!(
            page.has("value=\"mts-month-30gb\" checked"),
            "{}",
            page.body
        );
        assert!(page.has("current plan until"));
        let forged = v
            .get(&format!("/renew/{MTS_OWNED}?k=000000000000000000000000"))
            .await;
        assert!(
            !forged.has("value=\"mts-month-30gb\" checked"),
            "nothing preselected for a stranger"
        );
        assert!(!forged.has("current plan until"));
    }
}

#[tokio::test]
async fn sign_in_says_the_same_for_a_wrong_address_and_a_wrong_password_then_slows_down() {
    for app in common::serve_all(|_| {}).await {
        let mut v = Visitor::new(&app.base, "en");
        let csrf = v.get("/account/sign-in").await.input("csrf");
        let mut texts = Vec::new();
        for (email, pw) in [
            ("nobody@example.com", "whatever-password"),
            (simrenew_store::demo::DEMO_EMAIL, "wrong-password"),
        ] {
            let res = v
                .post(
                    "/account/sign-in",
                    &[("csrf", &csrf), ("email", email), ("password", pw)],
                )
                .await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
            let at = res.body.find("id=\"form-error\"").unwrap();
            texts.push(res.body[at..at + 80].to_string());
        }
        assert_eq!(texts[0], texts[1]);
        let mut last = StatusCode::OK;
        for _ in 0..10 {
            last = v
                .post(
                    "/account/sign-in",
                    &[
                        ("csrf", &csrf),
                        ("email", simrenew_store::demo::DEMO_EMAIL),
                        ("password", "wrong-password"),
                    ],
                )
                .await
                .status;
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "{}", app.db);
    }
}

#[tokio::test]
async fn switches_headers_assets_and_the_installable_app() {
    let apps = common::serve_all(|c| c.secure_cookies = true).await;
    let app = &apps[0];
    let mut v = Visitor::new(&app.base, "en");
    // The language switch remembers the choice and only goes back to our own pages.
    let res = v.get("/lang/ru?next=/plans%3Foperator%3Dmts").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/plans?operator=mts");
    let cookie = res
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        cookie.starts_with("lang=ru") && cookie.contains("Secure"),
        "{cookie}"
    );
    let plans = v.get("/plans?operator=mts").await;
    assert!(plans.has("<html lang=\"ru\""));
    assert!(plans.has("МТС Месяц 30 ГБ"), "{}", plans.body);
    assert!(!plans.has("Билайн Месяц"), "filtered to MTS");
    assert!(plans.has("за ГБ"), "price per GB shown");
    let evil = v.get("/lang/en?next=//evil.example/").await;
    assert_eq!(evil.location(), "/");
    let evil = v.get("/currency/USD?next=https://evil.example/").await;
    assert_eq!(evil.location(), "/");
    // Security headers on pages.
    let home = v.get("/").await;
    let csp = home
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!home.body.contains("<script>"), "no inline script");
    assert!(!home.body.contains("style=\""), "no inline style (CSP)");
    // Browsers get an HTML 404, API clients a problem document.
    let missing = v.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.has("<html"));
    let api_missing = v.get("/api/v1/nothing").await;
    assert_eq!(
        api_missing.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/problem+json"
    );
    // Hashed assets are cached for a year; the app manifest names installable icons.
    let css = home.body.split("href=\"").find_map(|s| {
        let url = &s[..s.find('"')?];
        url.ends_with(".css").then(|| url.to_string())
    });
    let css = v.get(&css.unwrap()).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers
            .get(header::CACHE_CONTROL)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&v.get("/manifest.webmanifest").await.body).unwrap();
    assert_eq!(manifest["display"], "standalone");
    let icons = manifest["icons"].as_array().unwrap();
    for size in ["192x192", "512x512"] {
        let icon = icons
            .iter()
            .find(|i| i["sizes"] == size && i["type"] == "image/png")
            .unwrap();
        let png = v.get(icon["src"].as_str().unwrap()).await;
        assert_eq!(png.status, StatusCode::OK, "{size}");
    }
    let sw = v.get("/sw.js").await;
    assert!(
        sw.has("/assets/app.") && !sw.has("__SHELL__"),
        "{}",
        sw.body
    );
}

#[tokio::test]
async fn secure_sites_use_host_prefixed_session_cookies() {
    let apps = common::serve_all(|c| c.secure_cookies = true).await;
    let mut v = Visitor::new(&apps[0].base, "en");
    let form = v.get("/account/sign-in").await;
    let res = v
        .post(
            "/account/sign-in",
            &[
                ("csrf", &form.input("csrf")),
                ("email", simrenew_store::demo::DEMO_EMAIL),
                ("password", simrenew_store::demo::DEMO_PASSWORD),
            ],
        )
        .await;
    let cookie = res
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        cookie.starts_with("__Host-sid=")
            && cookie.contains("; Secure")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    // The signed-in page reads the prefixed cookie.
    assert_eq!(v.get("/account").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_home_page_is_light() {
    let apps = common::serve_all(|_| {}).await;
    let http = Client::new();
    let get = |path: String| {
        let http = http.clone();
        let base = apps[0].base.clone();
        async move {
            let res = http
                .get(format!("{base}{path}"))
                .header(header::ACCEPT_ENCODING, "gzip")
                .send()
                .await
                .unwrap();
            res.bytes().await.unwrap()
        }
    };
    let html = get("/".into()).await;
    let plain = reqwest::get(format!("{}/", apps[0].base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut total = html.len();
    for asset in plain.split('"').filter(|s| s.starts_with("/assets/app.")) {
        total += get(asset.to_string()).await.len();
    }
    assert!(total < 60 * 1024, "home page transfers {total} bytes");
}

/// The newest message to `to` on the demo outbox page: its body, unescaped enough for
/// links and codes.
async fn outbox_body(v: &mut Visitor, to: &str) -> String {
    let page = v.get("/demo/outbox").await;
    assert_eq!(page.status, StatusCode::OK);
    let at = page
        .body
        .find(&format!("<strong class=\"to\">{to}</strong>"))
        .unwrap_or_else(|| panic!("no message to {to}:\n{}", page.body));
    let rest = &page.body[at..];
    let start = rest.find("<pre class=\"body\">").unwrap() + 18;
    rest[start..start + rest[start..].find("</pre>").unwrap()].to_string()
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_the_link_in_the_mail() {
    for app in common::serve_all(|c| c.demo_payments = true).await {
        let mut v = Visitor::new(&app.base, "en");
        let form = v.get("/account/reset").await;
        let csrf = form.input("csrf");
        let unknown = v
            .post(
                "/account/reset",
                &[("csrf", &csrf), ("email", "nobody@example.com")],
            )
            .await;
        let known = v
            .post(
                "/account/reset",
                &[("csrf", &csrf), ("email", simrenew_store::demo::DEMO_EMAIL)],
            )
            .await;
        assert_eq!(known.status, StatusCode::OK, "{}", app.db);
        assert_eq!(unknown.body, known.body, "the answer reveals no accounts");
        // The demo account speaks Chinese: so does its mail.
        let body = outbox_body(&mut v, simrenew_store::demo::DEMO_EMAIL).await;
        assert!(body.contains("重置"), "{body}");
        let link = body
            .split_whitespace()
            .find(|w| w.contains("/account/reset/"))
            .unwrap();
        let path = &link[link.find("/account/reset/").unwrap()..];
        let page = v.get(path).await;
        assert_eq!(page.status, StatusCode::OK);
        let short = v
            .post(
                path,
                &[("csrf", &page.input("csrf")), ("password", "short")],
            )
            .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(short.has("id=\"password-error\""));
        let done = v
            .post(
                path,
                &[
                    ("csrf", &page.input("csrf")),
                    ("password", "a brand new password"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(v.get("/account").await.status, StatusCode::OK, "signed in");
        assert_eq!(v.get(path).await.status, StatusCode::GONE, "used once");
        let store = &app._db.store;
        assert!(
            store
                .sign_in(
                    simrenew_store::demo::DEMO_EMAIL,
                    simrenew_store::demo::DEMO_PASSWORD
                )
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn add_a_line_with_a_code_sent_by_sms() {
    for app in common::serve_all(|c| {
        c.demo_payments = true;
        c.sms_codes = true;
    })
    .await
    {
        let mut v = Visitor::new(&app.base, "zh-CN");
        let form = v.get("/account/sign-up").await;
        let ok = v
            .post(
                "/account/sign-up",
                &[
                    ("csrf", &form.input("csrf")),
                    ("email", "lin@example.cn"),
                    ("password", "long enough password"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER);
        let add = v.get("/account/lines/add").await;
        let csrf = add.input("csrf");
        let sent = v
            .post(
                "/account/lines/add",
                &[
                    ("csrf", &csrf),
                    ("line", "8 916 123-45-64"),
                    ("method", "sms"),
                ],
            )
            .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        assert!(sent.has("id=\"code-sent\""), "{}", sent.body);
        let sms = outbox_body(&mut v, "+79161234564").await;
        assert!(sms.contains("simrenew 验证码"), "{sms}");
        let code: String = sms.chars().filter(char::is_ascii_digit).take(6).collect();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let refused = v
            .post(
                "/account/lines/add",
                &[
                    ("csrf", &csrf),
                    ("line", "8 916 123-45-64"),
                    ("method", "sms"),
                    ("code", wrong),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.has("id=\"code-error\" role=\"alert\">验证码错误"),
            "{}",
            refused.body
        );
        let done = v
            .post(
                "/account/lines/add",
                &[
                    ("csrf", &csrf),
                    ("line", "8 916 123-45-64"),
                    ("method", "sms"),
                    ("code", &code),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location(), "/lines/79161234564");
    }
}

#[tokio::test]
async fn the_outbox_page_exists_only_in_demo_shops() {
    let apps = common::serve_all(|_| {}).await;
    let mut v = Visitor::new(&apps[0].base, "en");
    assert_eq!(v.get("/demo/outbox").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn top_up_a_lines_balance_in_yuan() {
    for app in common::serve_all(|c| c.demo_payments = true).await {
        let mut v = Visitor::new(&app.base, "zh-CN");
        let page = v.get(&format!("/renew/{MTS_FREE}")).await;
        let idem = page.body.split("name=\"idem\" value=\"").nth(2).unwrap();
        let idem = &idem[..idem.find('"').unwrap()];
        let bad = v
            .post(
                &format!("/renew/{MTS_FREE}"),
                &[
                    ("csrf", &page.input("csrf")),
                    ("idem", idem),
                    ("what", "topup"),
                    ("amount", "一百"),
                    ("pay", "demo"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", app.db);
        assert!(
            bad.has("id=\"amount-error\" role=\"alert\">请输入金额"),
            "{}",
            bad.body
        );
        assert!(bad.has("value=\"一百\""), "input kept");
        let paid = v
            .post(
                &format!("/renew/{MTS_FREE}"),
                &[
                    ("csrf", &page.input("csrf")),
                    ("idem", idem),
                    ("what", "topup"),
                    ("amount", "100"),
                    ("pay", "demo"),
                ],
            )
            .await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
        let receipt = v.get(paid.location()).await;
        assert!(receipt.has("余额充值"), "{}", receipt.body);
        assert!(
            receipt.has("已入账 ₽1,250"),
            "100 yuan at 12.5: {}",
            receipt.body
        );
        assert!(receipt.has("¥100"));
        let line = app
            ._db
            .store
            .find_line(&simrenew_core::LineRef::parse(MTS_FREE).unwrap())
            .await
            .unwrap();
        let detail = app._db.store.line_detail(&line).await.unwrap();
        assert_eq!(detail.balance.minor, 1250_00);
    }
}

#[tokio::test]
async fn pay_with_yookassa_through_the_sandbox_and_its_notification() {
    for app in common::serve_all_with_sandbox().await {
        let mut v = Visitor::new(&app.base, "ru");
        let page = v.get(&format!("/renew/{MTS_FREE}")).await;
        assert!(page.has("value=\"yookassa:sbp\""), "{}", page.body);
        let to_provider = v
            .post(
                &format!("/renew/{MTS_FREE}"),
                &[
                    ("csrf", &page.input("csrf")),
                    ("idem", &page.input("idem")),
                    ("plan", "mts-month-30gb"),
                    ("pay", "yookassa:sbp"),
                ],
            )
            .await;
        assert_eq!(
            to_provider.status,
            StatusCode::SEE_OTHER,
            "{}",
            to_provider.body
        );
        let confirm = to_provider.location().to_string();
        assert!(confirm.contains("/sandbox/yookassa/confirm/"), "{confirm}");
        let provider_page = reqwest::get(&confirm).await.unwrap().text().await.unwrap();
        assert!(provider_page.contains("750.00 RUB"), "{provider_page}");
        // The buyer pays; the stand-in notifies the shop and sends the buyer back.
        let back = v
            .post(&confirm.replace(&app.base, ""), &[("action", "pay")])
            .await;
        assert_eq!(back.status, StatusCode::SEE_OTHER);
        let order_id = back.location().rsplit('/').next().unwrap().to_string();
        // The notification alone fulfils the order (before the buyer's page asks).
        let store = &app._db.store;
        let mut fulfilled = false;
        for _ in 0..100 {
            if store.order(&order_id).await.unwrap().status == simrenew_core::OrderStatus::Fulfilled
            {
                fulfilled = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(
            fulfilled,
            "{}: the notification did not settle the order",
            app.db
        );
        let receipt = v.get(&format!("/orders/{order_id}")).await;
        assert!(
            receipt.has("Выполнен") && receipt.has("ЮKassa"),
            "{}",
            receipt.body
        );
        // The same notification again, and forged ones.
        let attempt = &store.payments_of_order(&order_id).await.unwrap()[0];
        let pid = attempt.provider_payment_id.clone().unwrap();
        let http = Client::new();
        let hook = format!("{}/webhooks/yookassa", app.base);
        let genuine = serde_json::json!({"type": "notification", "event": "payment.succeeded", "object": {"id": pid}});
        for _ in 0..3 {
            let r = http.post(&hook).json(&genuine).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
        for forged in [
            serde_json::json!({"type": "notification", "event": "payment.succeeded", "object": {"id": "2e999999-000f-5000-9000-1b68e7b15f3f"}}),
            serde_json::json!({"event": "payment.succeeded", "object": {"id": pid}}),
            serde_json::json!({"type": "notification", "event": "refund.succeeded", "object": {"id": pid}}),
        ] {
            let r = http.post(&hook).json(&forged).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{forged}");
        }
        // A refund through the provider: recorded, asked, completed; too much is refused
        // before the provider is asked.
        let yk: Vec<std::sync::Arc<dyn simrenew_payments::provider::Provider>> =
            vec![std::sync::Arc::new(
                simrenew_payments::yookassa::YooKassa::new(
                    &format!("{}/sandbox/yookassa/v3", app.base),
                    simrenew_payments::sandbox::SHOP_ID,
                    simrenew_payments::sandbox::SECRET_KEY,
                )
                .unwrap(),
            )];
        let rub = |m| simrenew_core::Money::new(m, simrenew_core::Currency::Rub);
        let done = simrenew_web::payments::refund(store, &yk, 1, &attempt.id, rub(100_00), "test")
            .await
            .unwrap();
        assert_eq!(done.status, "succeeded", "{}", app.db);
        assert!(done.provider_refund_id.is_some());
        assert!(matches!(
            simrenew_web::payments::refund(store, &yk, 1, &attempt.id, rub(700_00), "too much")
                .await,
            Err(simrenew_web::payments::RefundError::Store(
                simrenew_store::StoreError::RefundTooLarge { .. }
            ))
        ));
        let orders = store.check_orders().await.unwrap();
        assert!(orders.is_sound());
        assert_eq!(orders.fulfilled, 3, "the demo's two and this one, once");
        assert!(store.check_ledger().await.unwrap().is_sound());
    }
}

#[tokio::test]
async fn a_lost_notification_does_not_leave_the_order_unpaid() {
    for app in common::serve_all_with_sandbox_notifying("/nowhere").await {
        let mut v = Visitor::new(&app.base, "en");
        let page = v.get(&format!("/renew/{MTS_FREE}")).await;
        let to_provider = v
            .post(
                &format!("/renew/{MTS_FREE}"),
                &[
                    ("csrf", &page.input("csrf")),
                    ("idem", &page.input("idem")),
                    ("plan", "mts-week-10gb"),
                    ("pay", "yookassa:bank_card"),
                ],
            )
            .await;
        let confirm = to_provider.location().to_string();
        assert!(
            confirm.contains("/sandbox/"),
            "{} {}",
            to_provider.status,
            to_provider.body
        );
        let back = v
            .post(&confirm.replace(&app.base, ""), &[("action", "pay")])
            .await;
        let order_id = back.location().rsplit('/').next().unwrap().to_string();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let store = &app._db.store;
        assert_eq!(
            store.order(&order_id).await.unwrap().status,
            simrenew_core::OrderStatus::PendingPayment,
            "{}: the notification was lost",
            app.db
        );
        // The buyer's return asks the provider: paid.
        let receipt = v.get(&format!("/orders/{order_id}")).await;
        assert!(receipt.has("id=\"done\""), "{}", receipt.body);
        assert!(store.check_orders().await.unwrap().is_sound());
    }
}
