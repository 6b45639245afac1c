//! Connecting to the database (a SQLite file by default, PostgreSQL for scale-out),
//! applying migrations, and the small conversions every query shares.
//!
//! Both databases take one SQL text with `$n` placeholders through the store's own query
//! layer (`crate::sql`: sqlx's `Any` driver for PostgreSQL, rusqlite in place for SQLite).
//! Only integers and text cross the boundary: instants are Unix seconds, money is minor
//! units, flags are 0/1.
//!
//! SQLite keeps one writer: write transactions hold the one writer connection, reads go
//! through several (WAL lets them run beside the writer). Every connection runs with
//! `synchronous=FULL`, so an acknowledged transaction survives power loss.

use crate::error::Result;
use crate::sql::{Pool, SqliteFile};
use sqlx::any::install_default_drivers;
use std::time::Duration;
use time::OffsetDateTime;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Pool sizes; the defaults suit one process on a small machine.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// Each SQLite reader maps this much of the file into memory (`PRAGMA mmap_size`; 0:
    /// none, the default): a page read is then a memory access instead of a `pread` and a
    /// copy (about a fifth of a line lookup's time at 100,000 lines), at the price of the
    /// mapped pages counting in the RSS once per reader (docs/benchmarks.md, 2026-12-06).
    pub sqlite_mmap_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            sqlite_mmap_bytes: 0,
        }
    }
}

/// The database handle every service call goes through. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) read: Pool,
    pub(crate) write: Pool,
    backend: Backend,
    /// The SQLite file, for the migrations (which run through sqlx's own SQLite driver).
    sqlite: Option<std::sync::Arc<SqliteFile>>,
    /// Exchange rates for top-ups paid in another currency than the line's.
    pub(crate) fx: std::sync::Arc<[simrenew_core::FxRate]>,
}

impl Store {
    /// Connects to `url`: `sqlite://path.db` (created when missing) or `postgres://…`.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Self> {
        install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = crate::pgpool::PgPool::connect(
                url,
                opts.max_connections as usize,
                opts.acquire_timeout,
            )
            .await?;
            let pool = Pool::pg(pool);
            return Ok(Self {
                read: pool.clone(),
                write: pool,
                backend: Backend::Postgres,
                sqlite: None,
                fx: std::sync::Arc::from(Vec::new()),
            });
        }
        let file = sqlite_file(url);
        let write = file.writer()?;
        let read = file.readers(
            opts.max_connections.clamp(1, 64) as usize,
            opts.sqlite_mmap_bytes,
        );
        Ok(Self {
            read,
            write,
            backend: Backend::Sqlite,
            sqlite: Some(std::sync::Arc::new(file)),
            fx: std::sync::Arc::from(Vec::new()),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the migrations of this backend that are not applied yet.
    pub async fn migrate(&self) -> Result<()> {
        if let Some(pool) = self.write.as_pg() {
            let mut conn = pool.open().await?;
            POSTGRES_MIGRATIONS.run(&mut conn).await?;
            sqlx::Connection::close(conn).await?;
        }
        if let Some(file) = &self.sqlite {
            use sqlx::ConnectOptions;
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&file.path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30))
                .connect()
                .await?;
            SQLITE_MIGRATIONS.run(&mut conn).await?;
            sqlx::Connection::close(conn).await?;
        }
        Ok(())
    }

    /// Readiness: the database answers a query.
    pub async fn ping(&self) -> Result<()> {
        crate::sql::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Connections open and idle in the (read) pool, for /metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        self.read.stats()
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// The server's TCP port for a PostgreSQL URL, or `None` when it names a Unix socket.
pub(crate) fn tcp_port_of(url: &str) -> Option<u16> {
    use std::str::FromStr;
    let o = sqlx::postgres::PgConnectOptions::from_str(url).ok()?;
    (!o.get_host().starts_with('/')).then(|| o.get_port())
}

/// Works around sqlx 0.9.0 no longer setting `TCP_NODELAY` on its sockets
/// (transact-rs/sqlx#4335, fixed upstream after 0.9.0): without it an exchange with
/// PostgreSQL can stall 40 ms (Nagle's algorithm against the server's delayed ACK). After
/// each new connection, every TCP socket of this process whose peer is on `port` gets
/// `TCP_NODELAY`, as libpq sets it. Remove when sqlx sets it again.
#[cfg(target_os = "linux")]
pub fn nodelay_to_port(port: u16) {
    for fd in tcp_sockets_to(port) {
        // SAFETY: `fd` was an open socket of this process a moment ago and is only
        // borrowed for one socket call; were it closed and its number reused meanwhile,
        // the call would act on another socket or fail, which is harmless.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let _ = socket2::SockRef::from(&fd).set_tcp_nodelay(true);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn nodelay_to_port(_port: u16) {}

/// The descriptors of this process's TCP sockets connected to a peer on `port` (Linux).
#[cfg(target_os = "linux")]
pub fn tcp_sockets_to(port: u16) -> Vec<std::os::fd::RawFd> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return vec![];
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|t| t.to_string_lossy().starts_with("socket:["));
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<std::os::fd::RawFd>().ok())
        else {
            continue;
        };
        if !is_socket {
            continue;
        }
        // SAFETY: as in `nodelay_to_port`: a borrowed number for read-only socket calls.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&borrowed);
        let stream = sock.r#type().is_ok_and(|t| t == socket2::Type::STREAM);
        if stream
            && sock
                .peer_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .is_some_and(|a| a.port() == port)
        {
            out.push(fd);
        }
    }
    out
}

/// Accepts `sqlite:path`, `sqlite://path` or a bare path; `?mode=ro` opens it read-only,
/// `?mode=rw` only if it exists, otherwise it is created when missing.
fn sqlite_file(url: &str) -> SqliteFile {
    use rusqlite::OpenFlags;
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    let mode = params
        .split('&')
        .find_map(|kv| kv.strip_prefix("mode="))
        .unwrap_or("rwc");
    let base = OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let flags = match mode {
        "ro" => base | OpenFlags::SQLITE_OPEN_READ_ONLY,
        "rw" => base | OpenFlags::SQLITE_OPEN_READ_WRITE,
        _ => base | OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    };
    SqliteFile {
        path: path.to_string(),
        flags,
    }
}

/// The current instant, whole seconds (what the store keeps).
pub fn now() -> OffsetDateTime {
    from_unix(OffsetDateTime::now_utc().unix_timestamp())
}

pub fn from_unix(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A new time-ordered id (UUID v7) as text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A secret token with 244 random bits, hex.
pub fn new_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// `len` random decimal digits (up to 12), for codes people type.
pub fn random_digits(len: u32) -> String {
    let len = len.min(12);
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
    // 60 random bits (a v4 UUID fixes 4 of these 64): next to 10^12 the bias is below 10^-6.
    format!("{:0width$}", n % 10u64.pow(len), width = len as usize)
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// `VALUES` for a multi-row insert: `rows` copies of `row`, each `?` in it replaced by the
/// next placeholder from `$first` on (placeholders written as `$n` in `row` stay as they
/// are, for values shared by every row). `row` is always a constant of ours.
pub(crate) fn values(rows: usize, first: usize, row: &str) -> String {
    let mut next = first;
    let mut out = String::from("VALUES ");
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        for c in row.chars() {
            if c == '?' {
                out.push_str(&format!("${next}"));
                next += 1;
            } else {
                out.push(c);
            }
        }
    }
    out
}

pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn multi_row_values() {
        assert_eq!(
            super::values(2, 2, "($1, ?, ?)"),
            "VALUES ($1, $2, $3), ($1, $4, $5)"
        );
        assert_eq!(super::values(1, 1, "(?, 'RUB')"), "VALUES ($1, 'RUB')");
    }

    #[test]
    fn sqlite_urls() {
        use rusqlite::OpenFlags;
        let f = super::sqlite_file("simrenew.db");
        assert_eq!(f.path, "simrenew.db");
        assert!(f.flags.contains(OpenFlags::SQLITE_OPEN_CREATE));
        assert_eq!(super::sqlite_file("sqlite://x.db").path, "x.db");
        let ro = super::sqlite_file("sqlite:x.db?mode=ro");
        assert_eq!(ro.path, "x.db");
        assert!(ro.flags.contains(OpenFlags::SQLITE_OPEN_READ_ONLY));
        assert!(!ro.flags.contains(OpenFlags::SQLITE_OPEN_CREATE));
    }
}
