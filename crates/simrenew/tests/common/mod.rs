//! What the tests of the real binary share.

/// A TCP port free on 127.0.0.1 right now, for a server of the test's own.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
