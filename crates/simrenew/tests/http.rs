//! The real `simrenew serve` against clients that do not finish: a request head sent a
//! piece at a time and then nothing, a body that stops half-way, a keep-alive connection
//! left idle. Each is cut off after `http_timeout_secs` (1 s here) instead of holding a
//! connection for ever; a complete request is answered as usual; SIGTERM drains and exits.

use std::io::ErrorKind;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

mod common;
use common::free_port;

/// How long a test waits for the server to close a connection before calling it held
/// open: many times the 1 s limit, so a slow machine does not fail the test.
const PATIENCE: Duration = Duration::from_secs(15);

struct Server {
    child: Child,
    addr: String,
    _db: simrenew_store::testing::TestDb,
}

async fn start(timeout_secs: &str) -> Server {
    // The connection handling is the same on either database: a SQLite file.
    let db = simrenew_store::testing::sqlite().await;
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_simrenew"))
        .arg("serve")
        .env("SIMRENEW_DATABASE_URL", &db.url)
        .env("SIMRENEW_HTTP_ADDR", &addr)
        .env("SIMRENEW_HTTP_TIMEOUT_SECS", timeout_secs)
        .env("SIMRENEW_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("start simrenew");
    let server = Server {
        child,
        addr,
        _db: db,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&server.addr).await.is_err() {
        assert!(Instant::now() < deadline, "simrenew did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

/// Reads until the server closes the connection (or resets it); everything read. Fails
/// the test if the connection is still open after [`PATIENCE`].
async fn read_until_closed(c: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, c.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open; read so far: {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) if e.kind() == ErrorKind::ConnectionReset => break,
            Ok(Err(e)) => panic!("reading: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Sends a POST to `path` whose body (100 bytes announced, in Russian) stops after
/// `begun`; what the server said before it closed the connection.
async fn stalled(server: &Server, path: &str, content_type: &str, begun: &str) -> String {
    let mut c = TcpStream::connect(&server.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: simrenew\r\nAccept-Language: ru\r\nContent-Type: {content_type}\r\nContent-Length: 100\r\n\r\n{begun}"
    );
    c.write_all(head.as_bytes()).await.unwrap();
    read_until_closed(&mut c).await
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off_and_complete_requests_answered() {
    let mut server = start("1").await;

    // A request head that never ends: closed without an answer.
    let mut head = TcpStream::connect(&server.addr).await.unwrap();
    head.write_all(b"GET /healthz HTTP/1.1\r\nHost: simrenew\r\n")
        .await
        .unwrap();
    let said = read_until_closed(&mut head).await;
    assert!(!said.contains("200 OK"), "{said}");

    // A body that stops half-way: 408 with a problem that says so, then closed. The
    // partner API reads its body whole before checking the signature; a payment
    // notification is cut off before any provider is asked.
    for (path, begun) in [
        ("/api/v1/sessions", "{\"email\": \"a"),
        ("/partner/v1/orders", "{\"line\": \"+7"),
        ("/webhooks/yookassa", "{\"type\""),
    ] {
        let said = stalled(&server, path, "application/json", begun).await;
        assert!(said.starts_with("HTTP/1.1 408"), "{path}: {said}");
        assert!(said.contains("application/problem+json"), "{path}: {said}");
        assert!(said.contains("request-timeout"), "{path}: {said}");
    }
    // A page's form: a 408 page in the visitor's language, saying nothing was done.
    let said = stalled(
        &server,
        "/account/sign-in",
        "application/x-www-form-urlencoded",
        "email=a",
    )
    .await;
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains("text/html"), "{said}");
    assert!(said.contains("Слишком медленное соединение"), "{said}");

    // A complete request is answered; the connection, then left idle, is closed.
    let mut idle = TcpStream::connect(&server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: simrenew\r\n\r\n")
        .await
        .unwrap();
    let said = read_until_closed(&mut idle).await;
    assert!(said.starts_with("HTTP/1.1 200 OK"), "{said}");
    assert!(said.ends_with("{\"status\":\"ok\"}"), "{said}");

    // SIGTERM with a connection open: the server drains it and exits cleanly.
    let _open = TcpStream::connect(&server.addr).await.unwrap();
    let pid = server.child.id().expect("running");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(PATIENCE, server.child.wait())
        .await
        .expect("simrenew did not exit after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn a_zero_timeout_is_refused_with_the_setting_named() {
    let db = simrenew_store::testing::sqlite().await;
    let out = Command::new(env!("CARGO_BIN_EXE_simrenew"))
        .arg("serve")
        .env("SIMRENEW_DATABASE_URL", &db.url)
        .env("SIMRENEW_HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("SIMRENEW_HTTP_TIMEOUT_SECS", "0")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("http_timeout_secs: must be at least 1"),
        "{err}"
    );
}
