//! Outbox e-mail delivered to a real SMTP listener on loopback (RFC 5321 §3 and §4: the
//! greeting, EHLO, MAIL, RCPT, DATA ended by a lone dot, QUIT), on both databases; a
//! server that refuses the recipient leaves the message due again later, with its error.

use simrenew_jobs::{Delivery, Mailer};
use simrenew_store::outbox::{MAIL, Message};
use simrenew_store::testing;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What one SMTP transaction delivered: (MAIL FROM, RCPT TO, DATA).
type Received = Arc<Mutex<Vec<(String, String, String)>>>;

/// A minimal SMTP server: answers as RFC 5321 says, and refuses every recipient with a
/// 451 (temporary failure) when `refuse` is set.
async fn smtp_listener(refuse: bool) -> (u16, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Received = Arc::default();
    let store = got.clone();
    tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            let got = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 test.invalid ESMTP ready\r\n")
                    .await
                    .unwrap();
                let (mut from, mut to) = (String::new(), String::new());
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-test.invalid\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        from = line[10..].trim().to_string();
                        b"250 2.1.0 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        to = line[8..].trim().to_string();
                        if refuse {
                            b"451 4.3.0 try again later\r\n"
                        } else {
                            b"250 2.1.5 OK\r\n"
                        }
                    } else if upper == "DATA" {
                        w.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                            .await
                            .unwrap();
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        got.lock().unwrap().push((from.clone(), to.clone(), data));
                        b"250 2.0.0 queued\r\n"
                    } else if upper == "QUIT" {
                        w.write_all(b"221 2.0.0 bye\r\n").await.unwrap();
                        return;
                    } else if upper == "RSET" || upper == "NOOP" {
                        b"250 2.0.0 OK\r\n"
                    } else {
                        b"502 5.5.1 not implemented\r\n"
                    };
                    if w.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, got)
}

fn reset_mail(user: &simrenew_store::users::User, token: &str) -> Message {
    Message {
        to: user.email.clone(),
        subject: "Reset your password".into(),
        body: format!(
            "Open this link within an hour:\nhttps://shop.example/account/reset/{token}\n"
        ),
        ..Default::default()
    }
}

#[tokio::test]
async fn outbox_mail_reaches_an_smtp_server() {
    for db in testing::all().await {
        let (port, got) = smtp_listener(false).await;
        let s = db.store.clone();
        s.sign_up("traveller@example.com", "password one", None)
            .await
            .unwrap();
        s.request_password_reset("traveller@example.com", reset_mail)
            .await
            .unwrap();
        let mailer = Mailer::new(
            &format!("smtp://127.0.0.1:{port}"),
            "simrenew <noreply@shop.example>",
        )
        .unwrap();
        let delivery = Delivery::new(s.clone(), Some(mailer));
        assert_eq!(delivery.run_once().await.unwrap(), 1, "{}", db.name);
        assert_eq!(delivery.run_once().await.unwrap(), 0, "delivered once");
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        let (from, to, data) = &got[0];
        assert_eq!(from, "<noreply@shop.example>");
        assert_eq!(to, "<traveller@example.com>");
        assert!(data.contains("Subject: Reset your password"), "{data}");
        assert!(data.contains("/account/reset/"), "{data}");
        let listed = s.recent_outbox(&[MAIL], 5).await.unwrap();
        assert!(listed[0].delivered_at.is_some());
    }
}

#[tokio::test]
async fn a_refused_mail_waits_and_keeps_its_error() {
    for db in testing::all().await {
        let (port, got) = smtp_listener(true).await;
        let s = db.store.clone();
        s.sign_up("traveller@example.com", "password one", None)
            .await
            .unwrap();
        s.request_password_reset("traveller@example.com", reset_mail)
            .await
            .unwrap();
        let mailer =
            Mailer::new(&format!("smtp://127.0.0.1:{port}"), "noreply@shop.example").unwrap();
        let delivery = Delivery::new(s.clone(), Some(mailer));
        assert_eq!(delivery.run_once().await.unwrap(), 0, "{}", db.name);
        // Not due again at once: it waits its backoff.
        assert!(s.claim_due(MAIL, 10, 60).await.unwrap().is_empty());
        let listed = s.recent_outbox(&[MAIL], 5).await.unwrap();
        assert!(listed[0].delivered_at.is_none());
        assert!(
            listed[0]
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("451"),
            "{:?}",
            listed[0].last_error
        );
        assert!(got.lock().unwrap().is_empty());
    }
}

/// (The SMTP pool lives on the Tokio runtime, so even a failed build needs one.)
#[tokio::test]
async fn bad_settings_are_named_without_their_secrets() {
    let e = Mailer::new("ftp://user:secret@host", "noreply@shop.example")
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("smtp_url:") && !e.contains("secret"), "{e}");
    let e = Mailer::new("smtp://host", "not a mailbox")
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("mail_from:"), "{e}");
}

/// A mail with a file (the eSIM install mail and its QR code) goes as RFC 2046
/// multipart/mixed: the text, then the file base64-encoded with its type and name; the
/// bytes that arrive are the bytes queued.
#[tokio::test]
async fn a_mail_with_a_picture_arrives_as_multipart_with_the_same_bytes() {
    use base64::Engine;
    use simrenew_store::outbox::Attachment;
    let picture: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    for db in testing::all().await {
        let (port, got) = smtp_listener(false).await;
        let s = db.store.clone();
        let iccid = simrenew_core::Iccid::parse("8970199000000009990").unwrap();
        s.import_profiles(
            simrenew_core::Operator::Mts,
            "mts-esim",
            std::slice::from_ref(&iccid),
        )
        .await
        .unwrap();
        s.allocate_profile(simrenew_core::Operator::Mts, "mts-esim", None, None)
            .await
            .unwrap();
        let mail = Message {
            to: "traveller@example.com".into(),
            subject: "Your eSIM".into(),
            body: "Scan the attached code.".into(),
            attachments: vec![Attachment {
                name: "esim.png".into(),
                content_type: "image/png".into(),
                data_base64: base64::engine::general_purpose::STANDARD.encode(&picture),
            }],
        };
        let messages = [(MAIL, mail)];
        let change = simrenew_store::esim::ProfileChange {
            matching_id: Some("M-1"),
            smdp_address: Some("smdp.example"),
            messages: &messages,
            ..Default::default()
        };
        s.set_profile_state(
            iccid.as_str(),
            simrenew_core::esim::ProfileState::Released,
            &change,
        )
        .await
        .unwrap();
        let mailer =
            Mailer::new(&format!("smtp://127.0.0.1:{port}"), "noreply@shop.example").unwrap();
        let delivery = Delivery::new(s.clone(), Some(mailer));
        assert_eq!(delivery.run_once().await.unwrap(), 1, "{}", db.name);
        let got = got.lock().unwrap().clone();
        let data = &got[0].2;
        assert!(data.contains("Content-Type: multipart/mixed"), "{data}");
        assert!(data.contains("Scan the attached code."), "{data}");
        let part = &data[data
            .find("Content-Type: image/png")
            .expect("the picture's part")..];
        assert!(data.contains("attachment; filename=\"esim.png\""), "{data}");
        assert!(part.contains("Content-Transfer-Encoding: base64"), "{part}");
        let body: String = part
            .split("\n\n")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|l| !l.starts_with("--"))
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .unwrap();
        assert_eq!(bytes, picture, "{}", db.name);
    }
}
