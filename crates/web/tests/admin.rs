//! The staff console on SQLite and PostgreSQL: every route × every role (and signed
//! out), written here as the issue states it rather than read from the code; staff
//! sign-in with a second factor set up through the pages; forms refused without their
//! CSRF token; and the audit log shown to admins.

use reqwest::StatusCode;
use simrenew_store::demo::{DEMO_STAFF, DEMO_STAFF_PASSWORD};

mod common;
use common::visitor::Visitor;

/// Signs a visitor in as demo staff member `email` through the form.
async fn staff(app: &common::Served, email: &str) -> Visitor {
    Visitor::staff(&app.base, email).await
}

/// Who may open what: (path, admin, clerk, support).
const PAGES: [(&str, bool, bool, bool); 14] = [
    ("/admin", true, true, true),
    ("/admin/counter?q=%2B7+916+123-45-61", true, true, false),
    (
        "/admin/customers?q=demo%40simrenew.example",
        true,
        false,
        true,
    ),
    ("/admin/staff", true, false, false),
    ("/admin/audit", true, false, false),
    ("/admin/account/totp", true, true, true),
    ("/admin/till", true, true, false),
    ("/admin/account/password", true, true, true),
    ("/admin/inventory", true, false, false),
    ("/admin/reports", true, false, false),
    ("/admin/promotions", true, false, false),
    ("/admin/catalog", true, false, false),
    ("/admin/catalog/new", true, false, false),
    ("/admin/catalog/plans/mts-month-30gb", true, false, false),
];

#[tokio::test]
async fn every_console_route_for_every_role_and_for_nobody() {
    for app in common::serve_all(|_| {}).await {
        app._db.store.seed_demo_staff().await.unwrap();
        let mut admin = staff(&app, DEMO_STAFF[0].0).await;
        let mut clerk = staff(&app, DEMO_STAFF[1].0).await;
        let mut support = staff(&app, DEMO_STAFF[2].0).await;
        let mut nobody = Visitor::new(&app.base, "en");
        for (path, a, c, s) in PAGES {
            for (who, v, allowed) in [
                ("admin", &mut admin, a),
                ("clerk", &mut clerk, c),
                ("support", &mut support, s),
            ] {
                let page = v.get(path).await;
                let want = if allowed {
                    StatusCode::OK
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(page.status, want, "{}: {who} {path}", app.db);
                if !allowed {
                    assert!(page.has("Not for your role"), "{}", page.body);
                }
            }
            let page = nobody.get(path).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "nobody {path}");
            assert!(
                page.location().starts_with("/admin/sign-in?next=/admin"),
                "{}",
                page.location()
            );
        }
        // What each found: the clerk the line by its number, support the customer's
        // lines and orders by e-mail.
        let found = clerk.get(PAGES[1].0).await;
        assert!(
            found.has("id=\"lines\"") && found.has("+7 916 123-45-61"),
            "{}",
            found.body
        );
        let customer = support.get(PAGES[2].0).await;
        assert!(
            customer.has("+7 903 123-45-61") && customer.has("id=\"orders\""),
            "{}",
            customer.body
        );
        let typo = clerk.get("/admin/counter?q=8970+1990").await;
        assert!(typo.has("id=\"search-error\""), "{}", typo.body);

        // Adding staff: admins only; the others are refused and nothing is added.
        let form = admin.get("/admin/staff").await;
        let csrf = form.input("csrf");
        let fields = |email: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("email", email.to_string()),
                ("name", "New Clerk".to_string()),
                ("role", "clerk".to_string()),
                ("password", "a first password".to_string()),
            ]
        };
        for (who, v) in [("clerk", &mut clerk), ("support", &mut support)] {
            let csrf = v.get("/admin").await.input("csrf");
            let f: Vec<(&str, String)> = fields("sneaky@shop.example")
                .into_iter()
                .map(|(k, val)| (k, if k == "csrf" { csrf.clone() } else { val }))
                .collect();
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(
                v.post("/admin/staff", &f).await.status,
                StatusCode::FORBIDDEN,
                "{who}"
            );
        }
        let f = fields("new@shop.example");
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let added = admin.post("/admin/staff", &f).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        assert!(added.has("id=\"added\"") && added.has("new@shop.example"));
        // The same address again: said beside the form.
        let again = admin.post("/admin/staff", &f).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        // A form without its CSRF token is refused, even for an admin.
        let forged: Vec<(&str, &str)> = f.iter().filter(|(k, _)| *k != "csrf").copied().collect();
        assert_eq!(
            admin.post("/admin/staff", &forged).await.status,
            StatusCode::FORBIDDEN
        );
        let staff = app._db.store.list_staff().await.unwrap();
        assert_eq!(staff.len(), 4, "{}", app.db);
        assert!(!staff.iter().any(|s| s.email == "sneaky@shop.example"));
        // Signed out, nobody may post either.
        let posted = nobody.post("/admin/staff", &f).await;
        assert!(matches!(
            posted.status,
            StatusCode::SEE_OTHER | StatusCode::FORBIDDEN
        ));

        // The audit log names who added whom, with what they became.
        let log = admin.get("/admin/audit").await;
        assert!(
            log.has("staff:admin@simrenew.example") && log.has("staff.add"),
            "{}",
            log.body
        );
        assert!(log.has("staff:new@shop.example"));
        // Signing out ends the session.
        let csrf = admin.get("/admin").await.input("csrf");
        let out = admin.post("/admin/sign-out", &[("csrf", &csrf)]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(admin.get("/admin").await.status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn a_second_factor_set_up_through_the_pages_then_asked_at_sign_in() {
    use simrenew_core::totp;
    for app in common::serve_all(|_| {}).await {
        app._db.store.seed_demo_staff().await.unwrap();
        let email = DEMO_STAFF[1].0;
        let mut v = staff(&app, email).await;
        let page = v.get("/admin/account/totp").await;
        assert!(page.has("<svg"), "the code to scan");
        let secret = page.input("secret");
        let key = totp::base32_decode(&secret).unwrap();
        assert!(key.len() >= 20, "160 bits");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let wrong = v
            .post(
                "/admin/account/totp",
                &[
                    ("csrf", &page.input("csrf")),
                    ("secret", &secret),
                    ("code", "12345"),
                ],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        let code = totp::code_at(&key, totp::step_of(now));
        let on = v
            .post(
                "/admin/account/totp",
                &[
                    ("csrf", &page.input("csrf")),
                    ("secret", &secret),
                    ("code", &code),
                ],
            )
            .await;
        assert_eq!(on.status, StatusCode::SEE_OTHER, "{}", on.body);
        assert!(v.get("/admin").await.has("Second factor on"));

        // A new sign-in: the password, then the code.
        let mut w = Visitor::new(&app.base, "ru");
        let form = w.get("/admin/sign-in").await;
        let csrf = form.input("csrf");
        let asked = w
            .post(
                "/admin/sign-in",
                &[
                    ("csrf", &csrf),
                    ("email", email),
                    ("password", DEMO_STAFF_PASSWORD),
                ],
            )
            .await;
        assert_eq!(asked.status, StatusCode::UNAUTHORIZED);
        assert!(
            asked.has("name=\"totp\"") && asked.has("аутентификатора"),
            "{}",
            asked.body
        );
        let used = w
            .post(
                "/admin/sign-in",
                &[
                    ("csrf", &csrf),
                    ("email", email),
                    ("password", DEMO_STAFF_PASSWORD),
                    ("totp", &code),
                ],
            )
            .await;
        assert_eq!(
            used.status,
            StatusCode::UNAUTHORIZED,
            "the set-up code is spent"
        );
        assert!(used.has("id=\"form-error\""));
        let next = totp::code_at(&key, totp::step_of(now) + 1);
        let ok = w
            .post(
                "/admin/sign-in",
                &[
                    ("csrf", &csrf),
                    ("email", email),
                    ("password", DEMO_STAFF_PASSWORD),
                    ("totp", &next),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}: {}", app.db, ok.body);
        assert_eq!(w.get("/admin/counter").await.status, StatusCode::OK);
        // A wrong password is refused the same way for a known and an unknown address.
        let mut x = Visitor::new(&app.base, "en");
        let csrf = x.get("/admin/sign-in").await.input("csrf");
        for e in [email, "nobody@simrenew.example"] {
            let r = x
                .post(
                    "/admin/sign-in",
                    &[("csrf", &csrf), ("email", e), ("password", "not it")],
                )
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
            assert!(r.has("id=\"form-error\"") && !r.has("name=\"totp\""));
        }
    }
}

/// The text of the element with this id (up to its first tag).
fn text_of(body: &str, id: &str) -> String {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[at..];
    let start = rest.find('>').unwrap() + 1;
    rest[start..].split('<').next().unwrap().trim().to_string()
}

#[tokio::test]
async fn a_counter_sale_for_cash_and_one_on_the_card_terminal_each_with_its_receipt() {
    use simrenew_core::{Currency, Money};
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        store.seed_demo_staff().await.unwrap();
        let mut clerk = staff(&app, DEMO_STAFF[1].0).await;
        let sale_path = clerk.sale_path_at_counter("8 916 123-45-62").await;
        let line_id = sale_path.rsplit('/').next().unwrap().to_string();
        let orders_before = store.orders_of_line(&line_id, 100).await.unwrap().len();
        let page = clerk.get(&sale_path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let price = store
            .plan("mts-month-30gb")
            .await
            .unwrap()
            .price(Currency::Rub)
            .unwrap();
        let sell = |received: String, idem: String, csrf: String| {
            vec![
                ("csrf", csrf),
                ("idem", idem),
                ("plan", "mts-month-30gb".to_string()),
                ("currency", "RUB".to_string()),
                ("lang", "zh-CN".to_string()),
                ("pay", "cash".to_string()),
                ("received", received),
            ]
        };
        // Short of the total: said beside the field, and no order made.
        let short = sell(
            Money::new(price.minor - 1_00, Currency::Rub).major_string(),
            page.input("idem"),
            page.input("csrf"),
        );
        let f: Vec<(&str, &str)> = short.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = clerk.post(&sale_path, &f).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(refused.has("id=\"received-error\""), "{}", refused.body);
        assert_eq!(
            store.orders_of_line(&line_id, 100).await.unwrap().len(),
            orders_before
        );

        // No cash without an open till: said, and nothing paid.
        let enough = sell(
            Money::new(price.minor + 100_00, Currency::Rub).major_string(),
            page.input("idem"),
            page.input("csrf"),
        );
        let f: Vec<(&str, &str)> = enough.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let no_till = clerk.post(&sale_path, &f).await;
        assert_eq!(no_till.status, StatusCode::CONFLICT, "{}", no_till.body);
        assert!(no_till.has("id=\"form-error\""), "{}", no_till.body);
        let opened = clerk.open_till("1000").await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
        assert!(opened.has("id=\"till-open\""));

        // Enough cash: sold, paid, and the receipt in the customer's language with the
        // change to give back.
        let enough = sell(
            Money::new(price.minor + 100_00, Currency::Rub).major_string(),
            page.input("idem"),
            page.input("csrf"),
        );
        let f: Vec<(&str, &str)> = enough.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let sold = clerk.post(&sale_path, &f).await;
        assert_eq!(
            sold.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            app.db,
            sold.body
        );
        assert!(
            sold.location().starts_with("/admin/receipts/"),
            "{}",
            sold.location()
        );
        let receipt = clerk.get(sold.location()).await;
        assert_eq!(receipt.status, StatusCode::OK);
        assert!(
            receipt.has("lang=\"zh-CN\"") && receipt.has("找零"),
            "{}",
            receipt.body
        );
        assert_eq!(text_of(&receipt.body, "paid-with"), "现金");
        assert!(
            text_of(&receipt.body, "change").contains("100"),
            "{}",
            receipt.body
        );
        assert!(receipt.has("clerk@simrenew.example"));
        // The same form again (a double-click): the same receipt, sold once.
        let twice = clerk.post(&sale_path, &f).await;
        assert_eq!(twice.status, StatusCode::SEE_OTHER);
        assert_eq!(
            twice.location().split('?').next(),
            sold.location().split('?').next()
        );
        let orders = store.orders_of_line(&line_id, 100).await.unwrap();
        assert_eq!(orders.len(), orders_before + 1, "{}", app.db);
        let order = &orders[0];
        assert_eq!(order.channel, "counter");
        assert_eq!(order.status, simrenew_core::OrderStatus::Fulfilled);
        let paid = store.payments_of_order(&order.id).await.unwrap();
        assert_eq!(paid.len(), 1);
        assert_eq!(
            (paid[0].provider.as_str(), paid[0].recorded_by.as_deref()),
            ("cash", Some("staff:clerk@simrenew.example"))
        );

        // A top-up on the card terminal: the slip's reference is asked, then kept.
        let page = clerk.get(&sale_path).await;
        let mut card = vec![
            ("csrf", page.input("csrf")),
            ("idem", page.input("idem")),
            ("plan", "topup".to_string()),
            ("amount", "500".to_string()),
            ("currency", "RUB".to_string()),
            ("lang", "ru".to_string()),
            ("pay", "terminal".to_string()),
        ];
        let f: Vec<(&str, &str)> = card.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let no_slip = clerk.post(&sale_path, &f).await;
        assert_eq!(no_slip.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(no_slip.has("id=\"reference-error\""));
        card.push(("reference", "T-0042".to_string()));
        let f: Vec<(&str, &str)> = card.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let topped = clerk.post(&sale_path, &f).await;
        assert_eq!(topped.status, StatusCode::SEE_OTHER, "{}", topped.body);
        let slip = clerk
            .get(&format!("{}&paper=80mm", topped.location()))
            .await;
        assert!(
            slip.has("paper-80") && slip.has("T-0042") && slip.has("Пополнение"),
            "{}",
            slip.body
        );

        // The till: the float and this shift's cash; counted 10 short at closing.
        let till = clerk.get("/admin/till").await;
        let expected = 1000_00 + price.minor;
        assert!(
            till.has(&format!("{}", expected / 100))
                || till.has(&format!(
                    "{},{:03}",
                    expected / 100_000,
                    (expected / 100) % 1000
                )),
            "{}",
            till.body
        );
        let counted = Money::new(expected - 10_00, Currency::Rub).major_string();
        let closed = clerk
            .post(
                "/admin/till",
                &[
                    ("csrf", &till.input("csrf")),
                    ("action", "close"),
                    ("counted", &counted),
                    ("note", "a coin rolled away"),
                ],
            )
            .await;
        assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
        assert!(
            closed.has("id=\"till-difference\" class=\"short\""),
            "{}",
            closed.body
        );

        // Support may not sell; the audit log has both sales with who took the money.
        let mut support = staff(&app, DEMO_STAFF[2].0).await;
        assert_eq!(support.get(&sale_path).await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            support.get(topped.location()).await.status,
            StatusCode::FORBIDDEN
        );
        let log = store
            .audit_entries(50, Some("staff:clerk@simrenew.example"))
            .await
            .unwrap();
        let sales: Vec<_> = log.iter().filter(|e| e.action == "counter.paid").collect();
        assert_eq!(sales.len(), 2, "{log:?}");
        assert!(log.iter().any(|e| {
            e.action == "till.close"
                && e.after
                    .as_deref()
                    .unwrap_or("")
                    .contains("a coin rolled away")
        }));
        assert!(
            sales
                .iter()
                .any(|e| e.after.as_deref().unwrap_or("").contains("T-0042"))
        );
        simrenew_store::testing::assert_sound(store).await;
    }
}

#[tokio::test]
async fn a_clerk_hands_out_a_sim_with_the_document_and_imei_within_the_legal_maximum() {
    for app in common::serve_all(|c| c.max_numbers_per_person = 1).await {
        let store = &app._db.store;
        store.seed_demo_staff().await.unwrap();
        let rows: Vec<_> = common::test_iccids(8800, 2)
            .into_iter()
            .enumerate()
            .map(|(i, iccid)| {
                (
                    iccid,
                    simrenew_core::Msisdn::parse(&format!("+7916880000{i}")).unwrap(),
                )
            })
            .collect();
        store
            .import_sim_stock(
                simrenew_core::Operator::Mts,
                simrenew_core::Currency::Rub,
                &rows,
            )
            .await
            .unwrap();
        let mut clerk = staff(&app, DEMO_STAFF[1].0).await;
        let page = clerk.get("/admin/counter/sims").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = page.input("csrf");
        let form = |imei: &'static str, number: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("operator", "mts".to_string()),
                ("doc_type", "passport".to_string()),
                ("doc_country", "CN".to_string()),
                ("doc_number", number.to_string()),
                ("full_name", "LI Na".to_string()),
                ("imei", imei.to_string()),
            ]
        };
        let bad = form("356938035643808", "E7777777");
        let f: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = clerk.post("/admin/counter/sims", &f).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.has("id=\"imei-error\""), "{}", refused.body);
        let good = form("356938035643809", "E7777777");
        let f: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let issued = clerk.post("/admin/counter/sims", &f).await;
        assert_eq!(
            issued.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            app.db,
            issued.body
        );
        assert!(issued.location().starts_with("/admin/counter/lines/"));
        let sale = clerk.get(issued.location()).await;
        assert!(sale.has("+7 916 880-00-00"), "{}", sale.body);
        // Found again by name in the one box, whatever the case and spacing.
        let by_name = clerk.get("/admin/counter?q=li++NA").await;
        assert!(by_name.has("+7 916 880-00-00"), "{}", by_name.body);
        let nobody = clerk.get("/admin/counter?q=Wang+Wei").await;
        assert!(
            !nobody.has("+7 916 880-00-00") && nobody.has("id=\"search-error\""),
            "{}",
            nobody.body
        );
        // The same person again: past the maximum (1 here), said by the document field.
        let again = clerk.post("/admin/counter/sims", &f).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            again.has("id=\"doc_number-error\"") && again.has("legal maximum"),
            "{}",
            again.body
        );
        let mut support = staff(&app, DEMO_STAFF[2].0).await;
        assert_eq!(
            support.get("/admin/counter/sims").await.status,
            StatusCode::FORBIDDEN
        );
    }
}

/// Signs in through the form with a password; the status of the answer.
async fn sign_in_with(app: &common::Served, email: &str, password: &str) -> (Visitor, StatusCode) {
    let mut v = Visitor::new(&app.base, "en");
    let csrf = v.get("/admin/sign-in").await.input("csrf");
    let r = v
        .post(
            "/admin/sign-in",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await;
    (v, r.status)
}

#[tokio::test]
async fn a_password_changed_ends_other_sessions_and_a_member_turned_off_is_out_at_once() {
    for app in common::serve_all(|_| {}).await {
        app._db.store.seed_demo_staff().await.unwrap();
        let clerk_email = DEMO_STAFF[1].0;
        let mut clerk = staff(&app, clerk_email).await;
        let mut elsewhere = staff(&app, clerk_email).await;
        let page = clerk.get("/admin/account/password").await;
        let csrf = page.input("csrf");
        let wrong = clerk
            .post(
                "/admin/account/password",
                &[
                    ("csrf", &csrf),
                    ("current", "not it"),
                    ("new", "a brand new one"),
                ],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        let short = clerk
            .post(
                "/admin/account/password",
                &[
                    ("csrf", &csrf),
                    ("current", DEMO_STAFF_PASSWORD),
                    ("new", "short"),
                ],
            )
            .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        let done = clerk
            .post(
                "/admin/account/password",
                &[
                    ("csrf", &csrf),
                    ("current", DEMO_STAFF_PASSWORD),
                    ("new", "a brand new one"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert!(done.has("id=\"password-changed\""));
        assert_eq!(
            clerk.get("/admin").await.status,
            StatusCode::OK,
            "this session stays"
        );
        assert_eq!(
            elsewhere.get("/admin").await.status,
            StatusCode::SEE_OTHER,
            "the other ends"
        );
        assert_eq!(
            sign_in_with(&app, clerk_email, DEMO_STAFF_PASSWORD).await.1,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            sign_in_with(&app, clerk_email, "a brand new one").await.1,
            StatusCode::SEE_OTHER
        );

        // An admin turns the clerk off: out at once, and no way back in; on again: in.
        let mut admin = staff(&app, DEMO_STAFF[0].0).await;
        let csrf = admin.get("/admin/staff").await.input("csrf");
        let off = admin
            .post(
                "/admin/staff/active",
                &[("csrf", &csrf), ("email", clerk_email), ("active", "0")],
            )
            .await;
        assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
        assert_eq!(
            clerk.get("/admin").await.status,
            StatusCode::SEE_OTHER,
            "{}",
            app.db
        );
        assert_eq!(
            sign_in_with(&app, clerk_email, "a brand new one").await.1,
            StatusCode::UNAUTHORIZED
        );
        let me = admin
            .post(
                "/admin/staff/active",
                &[("csrf", &csrf), ("email", DEMO_STAFF[0].0), ("active", "0")],
            )
            .await;
        assert_eq!(
            me.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "nobody turns themself off"
        );
        // A clerk may not turn anyone off.
        let (mut other_clerk, _) = sign_in_with(&app, DEMO_STAFF[2].0, DEMO_STAFF_PASSWORD).await;
        let c = other_clerk.get("/admin").await.input("csrf");
        let refused = other_clerk
            .post(
                "/admin/staff/active",
                &[("csrf", &c), ("email", DEMO_STAFF[0].0), ("active", "0")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let on = admin
            .post(
                "/admin/staff/active",
                &[("csrf", &csrf), ("email", clerk_email), ("active", "1")],
            )
            .await;
        assert_eq!(on.status, StatusCode::SEE_OTHER);
        assert_eq!(
            sign_in_with(&app, clerk_email, "a brand new one").await.1,
            StatusCode::SEE_OTHER
        );
        let log = app._db.store.audit_entries(50, None).await.unwrap();
        for action in [
            "staff.password_changed",
            "staff.deactivated",
            "staff.activated",
        ] {
            assert!(log.iter().any(|e| e.action == action), "{action}");
        }
    }
}

#[tokio::test]
async fn support_sends_an_esim_install_mail_again_and_it_is_audited() {
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        store.seed_demo_staff().await.unwrap();
        let (order, _) = common::order_with_esim(store, 9).await;
        let mut support = staff(&app, DEMO_STAFF[2].0).await;
        let page = support.get("/admin/customers?q=%2B7+916+123-45-62").await;
        assert!(page.has("resend-esim") && page.has(&order), "{}", page.body);
        let csrf = page.input("csrf");
        // No address on the order, none given: nothing to send, said.
        let nowhere = support
            .post(
                "/admin/customers/resend-esim",
                &[
                    ("csrf", &csrf),
                    ("order", &order),
                    ("q", "+7 916 123-45-62"),
                    ("email", ""),
                ],
            )
            .await;
        assert_eq!(nowhere.status, StatusCode::CONFLICT);
        let sent = support
            .post(
                "/admin/customers/resend-esim",
                &[
                    ("csrf", &csrf),
                    ("order", &order),
                    ("q", "+7 916 123-45-62"),
                    ("email", "Traveller@Example.com"),
                ],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        let back = support.get(sent.location()).await;
        assert!(back.has("id=\"notice\""), "{}", back.body);
        let mails: Vec<simrenew_store::outbox::Message> = store
            .recent_outbox(&[simrenew_store::outbox::MAIL], 10)
            .await
            .unwrap()
            .iter()
            .map(|m| serde_json::from_str(&m.payload).unwrap())
            .collect();
        let to_traveller: Vec<_> = mails
            .iter()
            .filter(|m| m.to == "traveller@example.com")
            .collect();
        assert_eq!(
            to_traveller.len(),
            2,
            "the install mail and the confirmation code apart"
        );
        assert!(
            to_traveller
                .iter()
                .any(|m| m.body.contains(common::CONFIRMATION_CODE))
        );
        assert!(
            to_traveller
                .iter()
                .any(|m| !m.attachments.is_empty() && !m.body.contains(common::CONFIRMATION_CODE))
        );
        let log = store
            .audit_entries(10, Some("staff:support@simrenew.example"))
            .await
            .unwrap();
        assert!(log.iter().any(|e| e.action == "support.resend_esim"));
        // A clerk does not resend.
        let mut clerk = staff(&app, DEMO_STAFF[1].0).await;
        let c = clerk.get("/admin").await.input("csrf");
        let refused = clerk
            .post(
                "/admin/customers/resend-esim",
                &[("csrf", &c), ("order", &order), ("email", "x@example.com")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
}

/// Imports a stock file of MTS SIM cards through the inventory form.
async fn import(admin: &mut Visitor, csrf: &str, csv: &str) -> common::visitor::Page {
    admin
        .post(
            "/admin/inventory",
            &[
                ("csrf", csrf),
                ("operator", "mts"),
                ("kind", "sim"),
                ("csv", csv),
            ],
        )
        .await
}

#[tokio::test]
async fn an_admin_sees_the_stock_warned_when_low_and_imports_a_supplier_file() {
    for app in common::serve_all(|_| {}).await {
        app._db.store.seed_demo_staff().await.unwrap();
        let mut admin = staff(&app, DEMO_STAFF[0].0).await;
        let page = admin.get("/admin/inventory").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.has("low-stock"),
            "an empty shelf is low: {}",
            page.body
        );
        let csrf = page.input("csrf");
        let lines: Vec<String> = common::test_iccids(9100, 6)
            .iter()
            .enumerate()
            .map(|(i, iccid)| format!("{},+7916910000{i}", iccid.as_str()))
            .collect();
        let bad = format!("iccid,number\n{}\n8970199,+79160000000", lines[0]);
        let refused = import(&mut admin, &csrf, &bad).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.has("Line 3") && refused.has("Nothing was imported"),
            "{}",
            refused.body
        );
        assert!(
            app._db.store.sim_stock_counts().await.unwrap().is_empty(),
            "nothing imported"
        );
        let file = format!("iccid,number\n{}\n", lines.join("\n"));
        let done = import(&mut admin, &csrf, &file).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        assert!(done.has("6 added, 0 already there"), "{}", done.body);
        assert_eq!(
            app._db.store.sim_stock_counts().await.unwrap(),
            [("mts".to_string(), 6)]
        );
        let again = import(&mut admin, &csrf, &file).await;
        assert!(again.has("0 added, 6 already there"), "{}", again.body);
        let log = app
            ._db
            .store
            .audit_entries(10, Some("staff:admin@simrenew.example"))
            .await
            .unwrap();
        assert!(log.iter().any(|e| e.action == "inventory.import"));
    }
}

#[tokio::test]
async fn sales_per_day_channel_operator_and_plan_with_a_chart_and_csv() {
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        store.seed_demo_staff().await.unwrap();
        let order = simrenew_store::testing::paid_month_order_for(
            store,
            simrenew_core::LineRef::parse("+7 916 123-45-62").unwrap(),
        )
        .await;
        let mut admin = staff(&app, DEMO_STAFF[0].0).await;
        let page = admin.get("/admin/reports").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.has("mts-month-30gb") && page.has("<td>web</td>"),
            "{}",
            page.body
        );
        assert_eq!(
            page.body.matches("class=\"bar\"").count(),
            30,
            "a bar a day"
        );
        // The renewal rate of the demo's periods ending in the coming two months, as the
        // store counts it (its rule is tested in the store's tests).
        let today = time::OffsetDateTime::now_utc().date();
        let ahead = admin
            .get(&format!(
                "/admin/reports?from={today}&to={}",
                today + time::Duration::days(60)
            ))
            .await;
        let renewals = ahead.body.split("id=\"renewals\"").nth(1).unwrap_or("");
        let mts = renewals.split("<td>mts</td>").nth(1).unwrap_or("");
        let cells: Vec<i64> = mts
            .split("<td class=\"num\">")
            .skip(1)
            .take(2)
            .map(|c| c.split('<').next().unwrap().parse().unwrap())
            .collect();
        let moscow = time::UtcOffset::from_hms(3, 0, 0).unwrap();
        let start = today.midnight().assume_offset(moscow);
        let counted = store
            .renewal_rate(start, start + time::Duration::days(61))
            .await
            .unwrap();
        let mts_counted = counted.iter().find(|r| r.operator == "mts").unwrap();
        assert!(mts_counted.ended > 0);
        assert_eq!(
            cells,
            [mts_counted.ended, mts_counted.renewed],
            "{}",
            ahead.body
        );
        let csv = admin.get("/admin/reports.csv").await;
        assert_eq!(csv.status, StatusCode::OK);
        assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
        let mut lines = csv.body.lines();
        assert_eq!(
            lines.next(),
            Some("day,channel,operator,item,currency,orders,total")
        );
        let row = lines
            .find(|l| l.contains(",web,mts,mts-month-30gb,RUB,"))
            .unwrap_or_else(|| panic!("{}: {}", app.db, csv.body));
        let fields: Vec<&str> = row.split(',').collect();
        let total =
            simrenew_core::Money::parse_major(fields[6], simrenew_core::Currency::Rub).unwrap();
        assert!(fields[5].parse::<i64>().unwrap() >= 1, "{row}");
        assert!(
            total.minor >= order.total.minor,
            "the sale is counted: {row}"
        );
        let wrong = admin
            .get("/admin/reports?from=2026-12-01&to=2026-11-01")
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.has("id=\"form-error\""));
    }
}

/// The plan form's fields as an admin fills them to add `id`.
fn plan_fields(csrf: &str, id: &str, rub: &str) -> Vec<(&'static str, String)> {
    [
        ("csrf", csrf),
        ("id", id),
        ("operator", "beeline"),
        ("kind", "base"),
        ("unit", "days"),
        ("days", "15"),
        ("amount", "1,5"),
        ("data_unit", "GB"),
        ("renewable", "1"),
        ("name_zh", "旅行 15 天"),
        ("name_ru", "Поездка 15 дней"),
        ("name_en", "Trip 15 days"),
        ("price_RUB", rub),
        ("price_CNY", "35"),
        ("ch_web", "1"),
        ("ch_counter", "1"),
        ("sort", "5"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

fn with<'a>(
    fields: &'a [(&'static str, String)],
    change: &[(&'static str, &'a str)],
) -> Vec<(&'static str, &'a str)> {
    let mut out: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| !change.iter().any(|(c, _)| c == k))
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    out.extend(change.iter().filter(|(_, v)| !v.is_empty()).copied());
    out
}

#[tokio::test]
async fn an_admin_adds_changes_and_retires_a_plan_and_buyers_see_each_change() {
    for app in common::serve_all(|_| {}).await {
        app._db.store.seed_demo_staff().await.unwrap();
        let mut admin = staff(&app, DEMO_STAFF[0].0).await;
        let mut clerk = staff(&app, DEMO_STAFF[1].0).await;
        let http = reqwest::Client::new();
        let api_plans = |q: &'static str| {
            let (http, base) = (http.clone(), app.base.clone());
            async move {
                let v: serde_json::Value = http
                    .get(format!("{base}/api/v1/plans?{q}"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                v
            }
        };
        let form = admin.get("/admin/catalog/new").await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.input("csrf");
        let good = plan_fields(&csrf, "beeline-trip-15d", "290");
        // Refusals are said beside their field, in the reader's language, and add nothing.
        for (change, field) in [
            (vec![("id", "Beeline Trip")], "id-error"),
            (vec![("price_RUB", ""), ("price_CNY", "")], "prices-error"),
            (vec![("price_RUB", "-5")], "prices-error"),
            (vec![("amount", "0")], "data-error"),
            (vec![("days", "400")], "validity-error"),
            (
                vec![("name_zh", ""), ("name_ru", ""), ("name_en", " ")],
                "names-error",
            ),
            (vec![("ch_web", ""), ("ch_counter", "")], "channels-error"),
            (vec![("id", "mts-month-30gb")], "id-error"),
        ] {
            let refused = admin
                .post("/admin/catalog/plans", &with(&good, &change))
                .await;
            assert_eq!(
                refused.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}: {change:?}",
                app.db
            );
            assert!(
                refused.has(&format!("id=\"{field}\"")),
                "{change:?}: {}",
                refused.body
            );
        }
        assert!(
            app._db
                .store
                .catalog()
                .await
                .unwrap()
                .iter()
                .all(|e| e.plan.id != "beeline-trip-15d")
        );
        // A clerk may not add one.
        let clerk_csrf = clerk.get("/admin").await.input("csrf");
        let by_clerk = plan_fields(&clerk_csrf, "beeline-trip-15d", "290");
        let refused = clerk
            .post("/admin/catalog/plans", &with(&by_clerk, &[]))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        let added = admin.post("/admin/catalog/plans", &with(&good, &[])).await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let listed = admin.get(added.location()).await;
        assert!(
            listed.has("id=\"catalog-result\"") && listed.has("id=\"plan-beeline-trip-15d\""),
            "{}",
            listed.body
        );
        // Buyers see it: in the API with its names, data and prices, on the web's list.
        let plans = api_plans("operator=beeline&period=days").await;
        let p = plans["plans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "beeline-trip-15d")
            .unwrap_or_else(|| panic!("{}: {plans}", app.db))
            .clone();
        assert_eq!(p["names"]["zh-CN"], "旅行 15 天");
        assert_eq!(p["data"]["bytes"], 3 * (1u64 << 30) / 2);
        let mut web = Visitor::new(&app.base, "ru");
        let page = web.get("/plans?operator=beeline").await;
        assert!(page.has("Поездка 15 дней"), "{}", page.body);
        // Not on the app channel: not sold there.
        let app_only = api_plans("operator=beeline&channel=app").await;
        assert!(!app_only.to_string().contains("beeline-trip-15d"));

        // The edit form shows the plan as saved; a new price takes effect for buyers.
        let edit = admin.get("/admin/catalog/plans/beeline-trip-15d").await;
        assert_eq!(edit.input("price_RUB"), "290.00");
        assert_eq!(edit.input("amount"), "1536", "1.5 GB shown in MB");
        let changed = admin
            .post(
                "/admin/catalog/plans",
                &with(&good, &[("editing", "1"), ("price_RUB", "310")]),
            )
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
        let plans = api_plans("operator=beeline&period=days").await;
        assert!(plans.to_string().contains("31000"), "{plans}");
        // Its operator cannot change.
        let moved = admin
            .post(
                "/admin/catalog/plans",
                &with(&good, &[("editing", "1"), ("operator", "mts")]),
            )
            .await;
        assert_eq!(moved.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(moved.has("id=\"operator-error\""), "{}", moved.body);

        // Resold from eSIM Access: a package code that cannot be one is refused beside its
        // field and changes nothing; a good one is kept, shown again, and cleared.
        let store = &app._db.store;
        let bad = admin
            .post(
                "/admin/catalog/plans",
                &with(&good, &[("editing", "1"), ("supplier", "RU 20/30")]),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.has("id=\"supplier-error\""), "{}", bad.body);
        assert_eq!(store.upstream_plan("beeline-trip-15d").await.unwrap(), None);
        let resold = admin
            .post(
                "/admin/catalog/plans",
                &with(
                    &good,
                    &[
                        ("editing", "1"),
                        ("price_RUB", "310"),
                        ("supplier", "RU_20_30"),
                    ],
                ),
            )
            .await;
        assert_eq!(resold.status, StatusCode::SEE_OTHER, "{}", resold.body);
        assert_eq!(
            store
                .upstream_plan("beeline-trip-15d")
                .await
                .unwrap()
                .map(|s| (s.adapter, s.package_code)),
            Some(("esimaccess".to_string(), "RU_20_30".to_string()))
        );
        let edit = admin.get("/admin/catalog/plans/beeline-trip-15d").await;
        assert_eq!(edit.input("supplier"), "RU_20_30");
        admin
            .post(
                "/admin/catalog/plans",
                &with(
                    &good,
                    &[("editing", "1"), ("price_RUB", "310"), ("supplier", "")],
                ),
            )
            .await;
        assert_eq!(store.upstream_plan("beeline-trip-15d").await.unwrap(), None);

        // Retired: no longer listed for buyers; sold again: listed.
        let csrf = admin.get("/admin/catalog").await.input("csrf");
        let retired = admin
            .post(
                "/admin/catalog/active",
                &[("csrf", &csrf), ("id", "beeline-trip-15d"), ("active", "0")],
            )
            .await;
        assert_eq!(retired.status, StatusCode::SEE_OTHER);
        assert!(
            !api_plans("operator=beeline")
                .await
                .to_string()
                .contains("beeline-trip-15d")
        );
        let shown = admin.get("/admin/catalog").await;
        assert!(
            shown.has("id=\"plan-beeline-trip-15d\" class=\"muted\""),
            "{}",
            shown.body
        );
        admin
            .post(
                "/admin/catalog/active",
                &[("csrf", &csrf), ("id", "beeline-trip-15d"), ("active", "1")],
            )
            .await;
        assert!(
            api_plans("operator=beeline")
                .await
                .to_string()
                .contains("beeline-trip-15d")
        );
        // Each change is in the audit log, by whom.
        let log = admin.get("/admin/audit").await;
        for action in [
            "plan.add",
            "plan.change",
            "plan.retire",
            "plan.restore",
            "plan.fulfilment",
        ] {
            assert!(log.has(action), "{action}: {}", log.body);
        }
    }
}

#[tokio::test]
async fn a_clerk_changes_a_lines_plan_today_and_the_old_data_stays_until_its_end() {
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        store.seed_demo_staff().await.unwrap();
        let mut clerk = staff(&app, DEMO_STAFF[1].0).await;
        let sale_path = clerk.sale_path_at_counter("+7 916 123-45-61").await;
        let line_id = sale_path.rsplit('/').next().unwrap().to_string();
        let line = store.line(&line_id).await.unwrap();
        let before = store.line_detail(&line).await.unwrap();
        let month = before.current_period().unwrap().clone();
        assert_eq!(month.plan_id, "mts-month-30gb");
        let page = clerk.get(&sale_path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            text_of(&page.body, "current-plan").contains("Month 30 GB"),
            "{}",
            page.body
        );
        // A renewal queues by default.
        assert!(page.has("value=\"queued\" checked"), "{}", page.body);
        clerk.open_till("1000").await;
        // Periods are kept to the second: let the demo's month start a second earlier
        // than the change, as it would have days before in a shop.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let sold = clerk
            .post(
                &sale_path,
                &[
                    ("csrf", &page.input("csrf")),
                    ("idem", &page.input("idem")),
                    ("plan", "mts-week-10gb"),
                    ("start", "now"),
                    ("currency", "RUB"),
                    ("lang", "ru"),
                    ("pay", "cash"),
                    ("received", "500"),
                ],
            )
            .await;
        assert_eq!(
            sold.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            app.db,
            sold.body
        );
        let receipt = clerk.get(sold.location()).await;
        assert!(receipt.has("Неделя 10 ГБ"), "{}", receipt.body);

        // The week runs from now; the month's data stays usable until the month's end.
        let after = store.line_detail(&line).await.unwrap();
        let now = after.current_period().unwrap();
        assert_eq!(now.plan_id, "mts-week-10gb", "{}", app.db);
        assert!(
            (time::OffsetDateTime::now_utc() - now.start)
                .whole_seconds()
                .abs()
                < 60,
            "starts now: {:?}",
            now.start
        );
        assert!(
            after
                .periods
                .iter()
                .any(|p| p.plan_id == "mts-month-30gb" && p.end == month.end)
        );
        let month_data = before
            .buckets
            .iter()
            .find(|b| b.valid_until == month.end)
            .map(|b| b.remaining_bytes);
        assert_eq!(
            after
                .buckets
                .iter()
                .find(|b| b.valid_until == month.end)
                .map(|b| b.remaining_bytes),
            month_data,
            "the month's data is kept"
        );
        let page = clerk.get(&sale_path).await;
        assert!(
            text_of(&page.body, "current-plan").contains("Week 10 GB"),
            "{}",
            page.body
        );
    }
}

#[tokio::test]
async fn support_sees_a_customers_payments_and_messages_and_sends_a_receipt_in_their_language() {
    use simrenew_core::{Currency, LineRef, Money, StartMode};
    use simrenew_store::orders::{ItemRequest, OrderRequest, Payment};
    for app in common::serve_all(|_| {}).await {
        let store = &app._db.store;
        store.seed_demo_staff().await.unwrap();
        // The demo customer (zh-CN) pays a week at the counter in cash.
        let owner = store
            .user_by_email("demo@simrenew.example")
            .await
            .unwrap()
            .unwrap();
        let clerk = format!("staff:{}", DEMO_STAFF[1].0);
        store
            .open_till(&clerk, Money::new(0, Currency::Rub))
            .await
            .unwrap();
        let pending = store
            .create_order(
                &OrderRequest {
                    line: LineRef::parse("+79161234561").unwrap(),
                    items: vec![ItemRequest::Renew {
                        plan_id: "mts-week-10gb".into(),
                        start: StartMode::Queued,
                    }],
                    currency: Some(Currency::Rub),
                    channel: "counter".into(),
                    buyer: Some(owner.id.clone()),
                    payment: Payment::External,
                    promo_code: None,
                },
                None,
            )
            .await
            .unwrap();
        store
            .pay_cash(&pending.id, &clerk, Money::new(500_00, Currency::Rub))
            .await
            .unwrap();
        // A password reset mail went to the customer.
        store
            .request_password_reset("demo@simrenew.example", |u, token| {
                simrenew_store::outbox::Message {
                    to: u.email.clone(),
                    subject: "Reset your password".into(),
                    body: format!("secret link {token}"),
                    ..Default::default()
                }
            })
            .await
            .unwrap();

        let mut support = staff(&app, DEMO_STAFF[2].0).await;
        let page = support
            .get("/admin/customers?q=demo%40simrenew.example")
            .await;
        let payments = page
            .body
            .split("id=\"payments\"")
            .nth(1)
            .unwrap_or_default();
        assert!(
            payments.contains("390") && payments.contains("succeeded"),
            "{}",
            page.body
        );
        let messages = page
            .body
            .split("id=\"messages\"")
            .nth(1)
            .unwrap_or_default();
        assert!(messages.contains("Reset your password"), "{}", page.body);
        // Support sees what was sent, never its body (a reset link is a key).
        assert!(!page.has("secret link"), "{}", page.body);
        assert!(page.has("resend-receipt") && page.has("value=\"zh-CN\" selected"));

        // The receipt again, in the customer's Chinese, to the account's address.
        let csrf = page.input("csrf");
        let sent = support
            .post(
                "/admin/customers/resend-receipt",
                &[
                    ("csrf", &csrf),
                    ("order", &pending.id),
                    ("q", "demo@simrenew.example"),
                    ("email", ""),
                    ("lang", "zh-CN"),
                ],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
        let mail: simrenew_store::outbox::Message = store
            .recent_outbox(&[simrenew_store::outbox::MAIL], 1)
            .await
            .unwrap()
            .iter()
            .map(|m| serde_json::from_str(&m.payload).unwrap())
            .next()
            .unwrap();
        assert_eq!(mail.to, "demo@simrenew.example");
        assert!(mail.subject.contains("收据"), "{}", mail.subject);
        assert!(
            mail.body.contains(&pending.id) && mail.body.contains("现金"),
            "{}",
            mail.body
        );
        assert!(mail.body.contains("390"), "{}", mail.body);
        // In Russian to an address the traveller gives; then the page lists both.
        let sent = support
            .post(
                "/admin/customers/resend-receipt",
                &[
                    ("csrf", &csrf),
                    ("order", &pending.id),
                    ("q", "demo@simrenew.example"),
                    ("email", "Friend@Example.com"),
                    ("lang", "ru"),
                ],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER);
        let back = support.get(sent.location()).await;
        assert!(back.has("id=\"notice\""));
        let listed = back
            .body
            .split("id=\"messages\"")
            .nth(1)
            .unwrap_or_default();
        assert!(listed.contains("收据"), "{}", back.body);
        let log = store
            .audit_entries(10, Some("staff:support@simrenew.example"))
            .await
            .unwrap();
        assert_eq!(
            log.iter()
                .filter(|e| e.action == "support.resend_receipt")
                .count(),
            2
        );
        // An anonymous order with no address given: said, nothing sent.
        let anonymous = simrenew_store::testing::paid_month_order_for(
            store,
            LineRef::parse("+79161234562").unwrap(),
        )
        .await;
        let nowhere = support
            .post(
                "/admin/customers/resend-receipt",
                &[
                    ("csrf", &csrf),
                    ("order", &anonymous.id),
                    ("email", ""),
                    ("lang", "en"),
                ],
            )
            .await;
        assert_eq!(nowhere.status, StatusCode::UNPROCESSABLE_ENTITY);
        // A clerk does not send receipts from here.
        let mut clerk_v = staff(&app, DEMO_STAFF[1].0).await;
        let c = clerk_v.get("/admin").await.input("csrf");
        let refused = clerk_v
            .post(
                "/admin/customers/resend-receipt",
                &[
                    ("csrf", &c),
                    ("order", &pending.id),
                    ("email", "x@example.com"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
}
