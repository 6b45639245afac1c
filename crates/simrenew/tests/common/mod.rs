//! What the tests of the real binary share.

/// A TCP port free on 127.0.0.1 right now, for a server of the test's own.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `base` answers `GET /readyz` with 200, at most `secs` seconds.
#[allow(dead_code)] // not every test binary starts a server
pub async fn wait_ready(base: &str, secs: u64) {
    simrenew_payments::install_crypto();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status() == reqwest::StatusCode::OK
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "simrenew at {base} did not become ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The real binary serving on a free port of 127.0.0.1 (`configure` gives the arguments
/// and settings), ready; killed when the child is dropped. The child and its base URL.
#[allow(dead_code)]
pub async fn serve(
    ready_within_secs: u64,
    configure: impl FnOnce(&mut tokio::process::Command),
) -> (tokio::process::Child, String) {
    let port = free_port();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_simrenew"));
    configure(&mut command);
    let child = command
        .env("SIMRENEW_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("SIMRENEW_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("start simrenew");
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, ready_within_secs).await;
    (child, base)
}

/// `simrenew serve --demo` as a newcomer runs it: the embedded default (SQLite in a fresh
/// working directory), ready to answer. Killed when dropped; its directory is removed.
#[allow(dead_code)] // used by some test binaries only
pub struct Demo {
    pub base: String,
    pub dir: std::path::PathBuf,
    _server: tokio::process::Child,
}

#[allow(dead_code)]
impl Demo {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("simrenew-demo-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let (server, base) = serve(60, |c| {
            c.args(["serve", "--demo"])
                .current_dir(&dir)
                .env_remove("SIMRENEW_DATABASE_URL");
        })
        .await;
        Self {
            base,
            dir,
            _server: server,
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
