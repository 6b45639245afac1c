//! Staff accounts on SQLite and PostgreSQL: added and audited with before and after;
//! sign-in by password, then by the authenticator's code once set up (a code is good
//! once); sessions that end when idle and at the end of the shift; and an audit log the
//! database itself refuses to change.

use simrenew_core::staff::Role;
use simrenew_core::totp;
use simrenew_store::StoreError;
use simrenew_store::testing;

#[tokio::test]
async fn staff_sign_in_with_a_second_factor_and_everything_is_audited() {
    for db in testing::all().await {
        let s = &db.store;
        let clerk = s
            .add_staff(
                "cli:root",
                "Clerk@Shop.example",
                "Anna",
                Role::Clerk,
                "counter password",
            )
            .await
            .unwrap();
        assert_eq!(
            (clerk.email.as_str(), clerk.role),
            ("clerk@shop.example", Role::Clerk)
        );
        assert!(matches!(
            s.add_staff(
                "cli:root",
                "clerk@shop.example",
                "Anna",
                Role::Clerk,
                "counter password"
            )
            .await,
            Err(StoreError::EmailTaken)
        ));
        assert!(matches!(
            s.add_staff("cli:root", "x@shop.example", "X", Role::Clerk, "short")
                .await,
            Err(StoreError::Invalid { .. })
        ));
        // A wrong password is refused as an unknown address is, and both are recorded.
        for (email, pw) in [
            ("clerk@shop.example", "wrong password"),
            ("nobody@shop.example", "x"),
        ] {
            assert!(matches!(
                s.staff_sign_in(email, pw, None).await,
                Err(StoreError::BadCredentials)
            ));
        }
        let (token, me) = s
            .staff_sign_in("clerk@shop.example", "counter password", None)
            .await
            .unwrap();
        assert_eq!(me.id, clerk.id);
        assert_eq!(s.staff_by_token(&token).await.unwrap(), Some(me.clone()));

        // The second factor: kept only once a code proves the app has the secret.
        let key = b"0123456789abcdefghij";
        let secret = totp::base32_encode(key);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!(
            matches!(
                s.enable_totp(&me, &secret, "000000").await,
                Err(StoreError::WrongTotp)
            ) || totp::code_at(key, totp::step_of(now)) == "000000"
        );
        let code = totp::code_at(key, totp::step_of(now));
        let me = s.enable_totp(&me, &secret, &code).await.unwrap();
        assert!(me.totp);
        // Now the password alone asks for the code; the code used to set it up is spent,
        // so the next one (the app shows it in the next step) signs in, once.
        assert!(matches!(
            s.staff_sign_in("clerk@shop.example", "counter password", None)
                .await,
            Err(StoreError::TotpRequired)
        ));
        assert!(matches!(
            s.staff_sign_in("clerk@shop.example", "counter password", Some(&code))
                .await,
            Err(StoreError::WrongTotp)
        ));
        let next = totp::code_at(key, totp::step_of(now) + 1);
        let (t2, _) = s
            .staff_sign_in("clerk@shop.example", "counter password", Some(&next))
            .await
            .unwrap();
        assert!(
            matches!(
                s.staff_sign_in("clerk@shop.example", "counter password", Some(&next))
                    .await,
                Err(StoreError::WrongTotp)
            ),
            "a code is good once"
        );

        // Sessions end when idle, and at the end of the shift however busy.
        testing::execute(
            s,
            "UPDATE staff_sessions SET last_seen_at = last_seen_at - 31 * 60",
        )
        .await
        .unwrap();
        assert_eq!(s.staff_by_token(&token).await.unwrap(), None, "{}", db.name);
        assert_eq!(s.staff_by_token(&t2).await.unwrap(), None);
        s.add_staff(
            "cli:root",
            "help@shop.example",
            "Li",
            Role::Support,
            "support password",
        )
        .await
        .unwrap();
        let (t3, support) = s
            .staff_sign_in("help@shop.example", "support password", None)
            .await
            .unwrap();
        assert!(s.staff_by_token(&t3).await.unwrap().is_some());
        testing::execute(s, "UPDATE staff_sessions SET expires_at = created_at")
            .await
            .unwrap();
        assert_eq!(s.staff_by_token(&t3).await.unwrap(), None);
        s.staff_sign_out(&t3, &support).await.unwrap();

        // The log: who did what, with before and after, newest first.
        let log = s.audit_entries(50, None).await.unwrap();
        let actions: Vec<&str> = log.iter().rev().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "staff.add",
                "staff.sign_in_failed",
                "staff.sign_in_failed",
                "staff.sign_in",
                "staff.totp_enabled",
                "staff.totp_failed",
                "staff.sign_in",
                "staff.totp_failed",
                "staff.add",
                "staff.sign_in",
                "staff.sign_out"
            ],
            "{}",
            db.name
        );
        let added = log
            .iter()
            .find(|e| {
                e.action == "staff.add" && e.subject.as_deref() == Some("staff:clerk@shop.example")
            })
            .unwrap();
        assert_eq!(added.actor, "cli:root");
        assert!(
            added
                .after
                .as_deref()
                .unwrap()
                .contains("\"role\":\"clerk\"")
        );
        let enabled = log
            .iter()
            .find(|e| e.action == "staff.totp_enabled")
            .unwrap();
        assert!(
            enabled
                .before
                .as_deref()
                .unwrap()
                .contains("\"totp\":false")
        );
        assert!(enabled.after.as_deref().unwrap().contains("\"totp\":true"));
        assert!(
            log.iter()
                .all(|e| !e.after.as_deref().unwrap_or("").contains(&secret)),
            "the secret is never logged"
        );
    }
}

#[tokio::test]
async fn nobody_edits_or_removes_the_audit_log() {
    for db in testing::all().await {
        let s = &db.store;
        s.add_staff(
            "cli:root",
            "a@shop.example",
            "A",
            Role::Admin,
            "admin password",
        )
        .await
        .unwrap();
        for sql in [
            "UPDATE audit_log SET actor = 'someone else'",
            "DELETE FROM audit_log",
        ] {
            let e = testing::execute(s, sql).await;
            assert!(
                e.as_ref()
                    .err()
                    .is_some_and(|e| e.to_string().contains("append-only")),
                "{}: {sql}: {e:?}",
                db.name
            );
        }
        assert_eq!(
            s.audit_entries(10, None).await.unwrap()[0].actor,
            "cli:root"
        );
    }
}
