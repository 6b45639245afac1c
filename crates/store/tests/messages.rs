//! Messages to people on both databases: the outbox's claims, leases and retries,
//! password resets (one use, sessions ended, nothing said about unknown addresses) and
//! lines proven by an SMS code (limited codes and tries).

use simrenew_core::LineRef;
use simrenew_store::outbox::{MAIL, Message, SMS};
use simrenew_store::{StoreError, testing};

fn mail_with_token(user: &simrenew_store::users::User, token: &str) -> Message {
    Message {
        to: user.email.clone(),
        subject: "reset".into(),
        body: format!("token={token}"),
        ..Default::default()
    }
}

fn token_of(payload: &str) -> String {
    let m: Message = serde_json::from_str(payload).unwrap();
    m.body.strip_prefix("token=").unwrap().to_string()
}

#[tokio::test]
async fn outbox_claims_are_leases_and_failures_come_back_later() {
    for db in testing::all().await {
        let s = &db.store;
        s.seed_demo().await.unwrap();
        for email in ["a@example.com", "b@example.com", "c@example.com"] {
            s.sign_up(email, "password one", None).await.unwrap();
            s.request_password_reset(email, mail_with_token)
                .await
                .unwrap();
        }
        let first = s.claim_due(MAIL, 2, 60).await.unwrap();
        assert_eq!(first.len(), 2, "{}", db.name);
        // Leased: another worker gets only the third.
        let second = s.claim_due(MAIL, 10, 60).await.unwrap();
        assert_eq!(second.len(), 1, "{}", db.name);
        assert!(second[0].id > first[1].id);
        assert!(s.claim_due(MAIL, 10, 60).await.unwrap().is_empty());
        s.mark_delivered(first[0].id).await.unwrap();
        s.mark_failed(first[1].id, "connection refused", 0)
            .await
            .unwrap();
        // The failed one is due again (retry in 0 s), with its error kept; the delivered
        // one never is.
        let again = s.claim_due(MAIL, 10, 60).await.unwrap();
        assert_eq!(
            again.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![first[1].id]
        );
        assert_eq!(again[0].attempts, 2);
        let listed = s.recent_outbox(&[MAIL, SMS], 10).await.unwrap();
        assert_eq!(listed.len(), 3);
        let failed = listed.iter().find(|e| e.id == first[1].id).unwrap();
        assert_eq!(failed.last_error.as_deref(), Some("connection refused"));
        assert!(listed.iter().any(|e| e.delivered_at.is_some()));
    }
}

#[tokio::test]
async fn a_password_reset_works_once_and_ends_every_session() {
    for db in testing::all().await {
        let s = &db.store;
        let user = s
            .sign_up("traveller@example.com", "old password", None)
            .await
            .unwrap();
        let (old_session, _) = s
            .sign_in("traveller@example.com", "old password")
            .await
            .unwrap();
        // Unknown addresses queue nothing and say nothing.
        s.request_password_reset("nobody@example.com", mail_with_token)
            .await
            .unwrap();
        s.request_password_reset("not an address", mail_with_token)
            .await
            .unwrap();
        assert!(
            s.claim_due(MAIL, 10, 60).await.unwrap().is_empty(),
            "{}",
            db.name
        );
        s.request_password_reset(" Traveller@Example.com ", mail_with_token)
            .await
            .unwrap();
        let mails = s.claim_due(MAIL, 10, 60).await.unwrap();
        assert_eq!(mails.len(), 1);
        let token = token_of(&mails[0].payload);
        assert!(s.reset_token_valid(&token).await.unwrap());
        assert!(matches!(
            s.reset_password(&token, "short").await,
            Err(StoreError::Invalid { .. })
        ));
        let new_session = s.reset_password(&token, "new password!").await.unwrap();
        assert_eq!(
            s.user_by_token(&new_session).await.unwrap().map(|u| u.id),
            Some(user.id)
        );
        assert!(
            s.user_by_token(&old_session).await.unwrap().is_none(),
            "old sessions end"
        );
        assert!(matches!(
            s.reset_password(&token, "third password").await,
            Err(StoreError::ResetTokenInvalid)
        ));
        assert!(!s.reset_token_valid(&token).await.unwrap());
        assert!(
            s.sign_in("traveller@example.com", "old password")
                .await
                .is_err()
        );
        assert!(
            s.sign_in("traveller@example.com", "new password!")
                .await
                .is_ok()
        );
    }
}

#[tokio::test]
async fn a_line_proven_by_sms_code_with_limited_codes_and_tries() {
    for db in testing::all().await {
        let s = &db.store;
        s.seed_demo().await.unwrap();
        let me = s
            .sign_up("me@example.com", "password one", None)
            .await
            .unwrap();
        let r = LineRef::parse("+7 916 123-45-63").unwrap();
        let sms = |line: &simrenew_store::lines::Line, code: &str| Message {
            to: line.msisdn.e164(),
            subject: String::new(),
            body: code.to_string(),
            ..Default::default()
        };
        s.start_line_claim(&me.id, &r, sms).await.unwrap();
        let sent = s.claim_due(SMS, 10, 60).await.unwrap();
        assert_eq!(sent.len(), 1, "{}", db.name);
        let msg: Message = serde_json::from_str(&sent[0].payload).unwrap();
        assert_eq!(msg.to, "+79161234563");
        assert_eq!(msg.body.len(), 6);
        let wrong = if msg.body == "000000" {
            "111111"
        } else {
            "000000"
        };
        assert!(matches!(
            s.finish_line_claim(&me.id, &r, wrong).await,
            Err(StoreError::WrongCode)
        ));
        // Another user cannot use my code.
        let other = s
            .sign_up("other@example.com", "password two", None)
            .await
            .unwrap();
        assert!(matches!(
            s.finish_line_claim(&other.id, &r, &msg.body).await,
            Err(StoreError::WrongCode)
        ));
        let line = s.finish_line_claim(&me.id, &r, &msg.body).await.unwrap();
        assert_eq!(line.owner_id.as_deref(), Some(me.id.as_str()));
        // Now it is mine: nobody else can start a claim on it.
        assert!(matches!(
            s.start_line_claim(&other.id, &r, sms).await,
            Err(StoreError::LineAlreadyAttached)
        ));
        // Codes per line and hour are limited; tries per code too.
        let r2 = LineRef::parse("+7 916 123-45-64").unwrap();
        for _ in 0..3 {
            s.start_line_claim(&other.id, &r2, sms).await.unwrap();
        }
        assert!(matches!(
            s.start_line_claim(&other.id, &r2, sms).await,
            Err(StoreError::TooManyCodes)
        ));
        let codes = s.claim_due(SMS, 10, 60).await.unwrap();
        let last: Message = serde_json::from_str(&codes.last().unwrap().payload).unwrap();
        let wrong = if last.body == "000000" {
            "111111"
        } else {
            "000000"
        };
        for _ in 0..5 {
            assert!(matches!(
                s.finish_line_claim(&other.id, &r2, wrong).await,
                Err(StoreError::WrongCode)
            ));
        }
        assert!(matches!(
            s.finish_line_claim(&other.id, &r2, &last.body).await,
            Err(StoreError::TooManyCodes)
        ));
    }
}
