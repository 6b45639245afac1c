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
        reset_requested(&s).await;
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
        refused_and_waiting(&db.store, port).await;
        assert!(got.lock().unwrap().is_empty());
    }
}

/// A traveller signs up and asks for a password reset: one mail queued.
async fn reset_requested(s: &simrenew_store::Store) {
    s.sign_up("traveller@example.com", "password one", None)
        .await
        .unwrap();
    s.request_password_reset("traveller@example.com", reset_mail)
        .await
        .unwrap();
}

/// A password-reset mail to a server at `port` that refuses its recipient: not delivered,
/// not due again at once (it waits its backoff), with the server's 451 kept.
async fn refused_and_waiting(s: &simrenew_store::Store, port: u16) {
    reset_requested(s).await;
    let mailer = Mailer::new(&format!("smtp://127.0.0.1:{port}"), "noreply@shop.example").unwrap();
    let delivery = Delivery::new(s.clone(), Some(mailer));
    assert_eq!(delivery.run_once().await.unwrap(), 0);
    assert!(s.claim_due(MAIL, 10, 60).await.unwrap().is_empty());
    let listed = s.recent_outbox(&[MAIL], 5).await.unwrap();
    assert!(listed[0].delivered_at.is_none());
    let error = listed[0].last_error.as_deref().unwrap_or("");
    assert!(error.contains("451"), "{error}");
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

/// Queues an eSIM install mail with `picture` attached, as releasing a profile does.
async fn install_mail(
    s: &simrenew_store::Store,
    to: &str,
    subject: &str,
    body: &str,
    picture: &[u8],
) {
    use base64::Engine;
    use simrenew_store::outbox::Attachment;
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
        to: to.into(),
        subject: subject.into(),
        body: body.into(),
        attachments: vec![Attachment {
            name: "esim.png".into(),
            content_type: "image/png".into(),
            data_base64: base64::engine::general_purpose::STANDARD.encode(picture),
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
}

/// A mail with a file (the eSIM install mail and its QR code) goes as RFC 2046
/// multipart/mixed: the text, then the file base64-encoded with its type and name; the
/// bytes that arrive are the bytes queued.
#[tokio::test]
async fn a_mail_with_a_picture_arrives_as_multipart_with_the_same_bytes() {
    use base64::Engine;
    let picture: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    for db in testing::all().await {
        let (port, got) = smtp_listener(false).await;
        let s = db.store.clone();
        install_mail(
            &s,
            "traveller@example.com",
            "Your eSIM",
            "Scan the attached code.",
            &picture,
        )
        .await;
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

/// A real SMTP server (aiosmtpd, tests/smtp_sink/sink.py) whose messages are read by
/// Python's MIME parser: each as a JSON line. None (skipped, loudly) outside CI when
/// Python or PyPI cannot be had.
struct RealSmtp {
    child: std::process::Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
}

impl RealSmtp {
    fn start(refuse: bool) -> Option<Self> {
        use std::io::BufRead;
        let python = testing::python_with(
            include_str!("smtp_sink/requirements.txt"),
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
            "aiosmtpd (a real SMTP server)",
        )?;
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink/sink.py");
        let mut child = std::process::Command::new(python)
            .arg(script)
            .args(refuse.then_some("refuse"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the SMTP server");
        let (tx, lines) = std::sync::mpsc::channel();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let first = lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the SMTP server says its port");
        let port = first
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("not a port: {first}"));
        Some(Self { child, port, lines })
    }

    /// The next message it took, as Python's `email` package read it.
    fn next(&self) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a message");
        serde_json::from_str(&line).unwrap()
    }
}

impl Drop for RealSmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The eSIM install mail in Russian and Chinese with its QR code, through a real SMTP
/// server (aiosmtpd) and read by a real MIME parser (Python's `email`): the envelope, the
/// encoded-word subject and display name (RFC 2047), the text and the picture's bytes come
/// out as they went in, with no defect found; a server that refuses the recipient leaves
/// the mail waiting with its reply.
#[tokio::test]
async fn a_real_smtp_server_and_mime_parser_read_the_install_mail_as_sent() {
    use base64::Engine;
    let picture: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let subject = "Ваша eSIM готова · 您的 eSIM 已就绪";
    let body = "Отсканируйте код во вложении: камера → «Добавить eSIM». Код активации: LPA:1$smdp.example$M-1\n\
                扫描附件中的二维码即可安装。如果无法扫描，请在手机设置中手动输入激活码，然后重启手机。";
    for db in testing::all().await {
        let Some(smtp) = RealSmtp::start(false) else {
            return;
        };
        let s = db.store.clone();
        install_mail(
            &s,
            "Иван Петров <traveller@example.com>",
            subject,
            body,
            &picture,
        )
        .await;
        let mailer = Mailer::new(
            &format!("smtp://127.0.0.1:{}", smtp.port),
            "simrenew <noreply@shop.example>",
        )
        .unwrap();
        let delivery = Delivery::new(s.clone(), Some(mailer));
        assert_eq!(delivery.run_once().await.unwrap(), 1, "{}", db.name);
        let mut got = smtp.next();
        let files = got["attachments"].take();
        assert_eq!(got["mail_from"], "noreply@shop.example", "{got}");
        assert_eq!(
            got["rcpt_tos"],
            serde_json::json!(["traveller@example.com"])
        );
        assert_eq!(got["subject"], subject, "{got}");
        assert_eq!(got["to"], "Иван Петров <traveller@example.com>", "{got}");
        assert_eq!(got["content_type"], "multipart/mixed");
        // Text travels in canonical form, lines ended by CRLF (RFC 2045 §6.8).
        assert_eq!(
            got["text"]
                .as_str()
                .map(|t| t.trim_end().replace("\r\n", "\n")),
            Some(body.to_string())
        );
        assert_eq!(got["defects"], serde_json::json!([]), "{got}");
        let files = files.as_array().unwrap();
        assert_eq!(files.len(), 1, "{got}");
        assert_eq!(
            (&files[0]["name"], &files[0]["type"]),
            (
                &serde_json::json!("esim.png"),
                &serde_json::json!("image/png")
            )
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(files[0]["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(bytes, picture, "{}", db.name);
    }
    // Refused: waits, with the server's reply kept.
    let Some(smtp) = RealSmtp::start(true) else {
        return;
    };
    refused_and_waiting(&testing::sqlite().await.store, smtp.port).await;
}
