//! A test binary of its own (its own process), so no other test's connections are in the
//! file descriptor table it inspects.

/// sqlx 0.9.0 leaves Nagle's algorithm on; the store turns it off on its PostgreSQL
/// sockets, as libpq does, so no exchange waits 40 ms for a delayed ACK.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn postgres_sockets_have_nodelay() {
    let Some(db) = simrenew_store::testing::postgres().await else {
        return;
    };
    db.store.ping().await.unwrap();
    let port = db
        .url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(5432);
    let fds = simrenew_store::db::tcp_sockets_to(port);
    assert!(
        !fds.is_empty(),
        "the store holds TCP connections to port {port}"
    );
    for fd in fds {
        // SAFETY: an open socket of this process, borrowed for one read-only call.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let Ok(nodelay) = socket2::SockRef::from(&borrowed).tcp_nodelay() else {
            continue;
        };
        assert!(
            nodelay,
            "socket {fd} to port {port} still runs Nagle's algorithm"
        );
    }
}
