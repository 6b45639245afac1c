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
    let mut v = Visitor::new(&app.base, "en");
    let form = v.get("/admin/sign-in").await;
    assert_eq!(form.status, StatusCode::OK);
    let done = v
        .post(
            "/admin/sign-in",
            &[
                ("csrf", &form.input("csrf")),
                ("next", "/admin"),
                ("email", email),
                ("password", DEMO_STAFF_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{email}: {}", done.body);
    assert_eq!(done.location(), "/admin");
    let set = done.headers[reqwest::header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.starts_with("staff=") && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    v
}

/// Who may open what: (path, admin, clerk, support).
const PAGES: [(&str, bool, bool, bool); 6] = [
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
