//! PostgreSQL's connections, pooled by the store itself.
//!
//! sqlx's pool pings a connection each time it is handed out and each time it comes back
//! (`Sync`, then wait for `ReadyForQuery`): two round trips to the server around every
//! statement run outside a transaction and around every transaction, which made a line
//! lookup three round trips instead of one (docs/benchmarks.md, 2026-12-06, third run).
//! This pool trusts a connection whose last exchange finished, and only that one:
//!
//! - a lease dropped in the middle of an exchange (the request was abandoned while a
//!   statement ran) closes its connection: its protocol state is unknown;
//! - an exchange that failed for any reason but the server's own refusal of the statement
//!   (a constraint, a lock timeout…) closes its connection too: the socket may be broken;
//! - a transaction dropped open is rolled back on a task of its own before its connection
//!   is given back, so its row locks go at once;
//! - a connection that sat idle for [`PING_WHEN_IDLE_FOR`] is pinged before it is handed
//!   out (a restarted server shows there first), and replaced when the ping fails;
//! - as in sqlx's pool, a connection found idle for 10 minutes is closed instead of
//!   used, and one 30 minutes old is closed when it comes back.

use crate::error::{Result, StoreError};
use sqlx::AnyConnection;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A connection idle this long is pinged before it is handed out.
pub const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(10);
/// A connection found idle this long is closed instead of used (as sqlx's pool did).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// A connection this old is closed when it comes back (as sqlx's pool did): a server
/// process's caches do not grow without end.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// A connection and when it was opened.
struct Held {
    conn: AnyConnection,
    born: Instant,
}

/// Closes a connection politely (a `Terminate` message) on a task of its own.
fn close_later(conn: AnyConnection) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            let _ = sqlx::Connection::close(conn).await;
        });
    }
}

pub(crate) struct PgPool {
    options: sqlx::any::AnyConnectOptions,
    /// The server's TCP port (`None`: a Unix socket), for `TCP_NODELAY` on new sockets.
    tcp_port: Option<u16>,
    /// Idle connections and since when each is idle.
    idle: Mutex<Vec<(Held, Instant)>>,
    permits: Arc<Semaphore>,
    max: usize,
    acquire_timeout: Duration,
}

impl PgPool {
    /// A pool of at most `max` connections to `url`; one is opened now, so that a server
    /// that cannot be reached is an error here.
    pub async fn connect(url: &str, max: usize, acquire_timeout: Duration) -> Result<Arc<Self>> {
        use std::str::FromStr;
        let pool = Arc::new(Self {
            options: sqlx::any::AnyConnectOptions::from_str(url)?,
            tcp_port: crate::db::tcp_port_of(url),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max.max(1))),
            max: max.max(1),
            acquire_timeout,
        });
        let first = pool.open().await?;
        pool.put(Held {
            conn: first,
            born: Instant::now(),
        });
        Ok(pool)
    }

    pub(crate) async fn open(&self) -> Result<AnyConnection> {
        use sqlx::ConnectOptions;
        let conn = self.options.connect().await?;
        if let Some(port) = self.tcp_port {
            crate::db::nodelay_to_port(port);
        }
        Ok(conn)
    }

    fn put(&self, held: Held) {
        if held.born.elapsed() >= MAX_LIFETIME || self.permits.is_closed() {
            close_later(held.conn);
        } else if let Ok(mut idle) = self.idle.lock() {
            idle.push((held, Instant::now()));
        }
    }

    fn take_idle(&self) -> Option<(Held, Instant)> {
        self.idle.lock().ok().and_then(|mut v| v.pop())
    }

    /// A connection for one statement or one transaction.
    pub async fn lease(self: &Arc<Self>) -> Result<PgLease> {
        let permit = crate::sql::take_permit(&self.permits, self.acquire_timeout).await?;
        let mut found = None;
        while let Some((mut held, since)) = self.take_idle() {
            let idle = since.elapsed();
            if idle >= IDLE_TIMEOUT {
                close_later(held.conn);
            } else if idle < PING_WHEN_IDLE_FOR
                || sqlx::Connection::ping(&mut held.conn).await.is_ok()
            {
                found = Some(held);
                break;
            }
        }
        let held = match found {
            Some(h) => h,
            None => Held {
                conn: self.open().await?,
                born: Instant::now(),
            },
        };
        Ok(PgLease {
            conn: Some(held.conn),
            born: held.born,
            busy: false,
            in_tx: false,
            pool: self.clone(),
            permit: Some(permit),
        })
    }

    /// Connections open and idle.
    pub fn stats(&self) -> (u32, usize) {
        let idle = self.idle.lock().map_or(0, |v| v.len());
        crate::sql::open_and_idle(self.max, &self.permits, idle)
    }

    pub async fn close(&self) {
        self.permits.close();
        let idle: Vec<_> = self
            .idle
            .lock()
            .map(|mut v| v.drain(..).collect())
            .unwrap_or_default();
        for (held, _) in idle {
            let _ = sqlx::Connection::close(held.conn).await;
        }
    }
}

/// One connection taken from the pool; given back when dropped (see the module's rules).
pub(crate) struct PgLease {
    conn: Option<AnyConnection>,
    born: Instant,
    /// An exchange has begun and not finished.
    busy: bool,
    /// A transaction of ours is open on the connection.
    in_tx: bool,
    pool: Arc<PgPool>,
    permit: Option<OwnedSemaphorePermit>,
}

impl PgLease {
    /// Runs one exchange on the connection; the connection is kept afterwards only if the
    /// exchange finished, with an answer or with the server's refusal of the statement.
    pub async fn run<'a, T, F>(
        &'a mut self,
        f: impl FnOnce(&'a mut AnyConnection) -> F,
    ) -> Result<T>
    where
        F: Future<Output = std::result::Result<T, sqlx::Error>> + 'a,
    {
        let busy = &mut self.busy;
        let conn = self
            .conn
            .as_mut()
            .ok_or(StoreError::Db(sqlx::Error::PoolClosed))?;
        *busy = true;
        let r = f(conn).await;
        if matches!(&r, Ok(_) | Err(sqlx::Error::Database(_))) {
            *busy = false;
        }
        Ok(r?)
    }

    pub async fn begin(&mut self) -> Result<()> {
        self.run(|c| sqlx::Executor::execute(c, "BEGIN")).await?;
        self.in_tx = true;
        Ok(())
    }

    /// COMMIT: the transaction is over whatever the answer (PostgreSQL ends a transaction
    /// whose COMMIT fails).
    pub async fn commit(&mut self) -> Result<()> {
        let r = self.run(|c| sqlx::Executor::execute(c, "COMMIT")).await;
        self.in_tx = false;
        r.map(|_| ())
    }
}

impl Drop for PgLease {
    fn drop(&mut self) {
        let (Some(mut conn), Some(permit)) = (self.conn.take(), self.permit.take()) else {
            return;
        };
        if self.busy {
            // Closed without a goodbye: the server rolls back whatever was open.
            return;
        }
        let born = self.born;
        if !self.in_tx {
            self.pool.put(Held { conn, born });
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pool = self.pool.clone();
        rt.spawn(async move {
            if sqlx::Executor::execute(&mut conn, "ROLLBACK").await.is_ok() {
                pool.put(Held { conn, born });
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::sql::{Pool, query, query_scalar};

    /// The pool of a fresh test schema, limited to one connection so that reusing a
    /// connection and replacing it can be told apart by the server's process id.
    async fn one_connection() -> Option<(crate::testing::TestDb, Pool)> {
        let db = crate::testing::postgres().await?;
        let pool = super::PgPool::connect(&db.url, 1, std::time::Duration::from_secs(10))
            .await
            .expect("connect");
        query("CREATE TABLE pool_probe (id BIGINT PRIMARY KEY)")
            .execute(&db.store.write)
            .await
            .expect("table");
        Some((db, Pool::pg(pool)))
    }

    async fn backend(pool: &Pool) -> i64 {
        query_scalar::<i64>("SELECT pg_backend_pid()::bigint")
            .fetch_one(pool)
            .await
            .expect("pid")
    }

    #[tokio::test]
    async fn a_connection_is_reused_after_a_finished_statement_and_after_a_refused_one() {
        let Some((_db, pool)) = one_connection().await else {
            return;
        };
        let pid = backend(&pool).await;
        query("INSERT INTO pool_probe (id) VALUES (1)")
            .execute(&pool)
            .await
            .unwrap();
        let refused = query("INSERT INTO pool_probe (id) VALUES (1)")
            .execute(&pool)
            .await;
        assert!(refused.is_err(), "the duplicate key is refused");
        assert_eq!(backend(&pool).await, pid, "the same connection serves on");
    }

    #[tokio::test]
    async fn a_statement_abandoned_half_way_takes_its_connection_with_it() {
        let Some((_db, pool)) = one_connection().await else {
            return;
        };
        let pid = backend(&pool).await;
        let abandoned = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            query("SELECT pg_sleep(30)").execute(&pool),
        )
        .await;
        assert!(abandoned.is_err(), "the sleep was cut short");
        let next = backend(&pool).await;
        assert_ne!(next, pid, "a new connection, not the one still sleeping");
    }

    #[tokio::test]
    async fn a_transaction_dropped_open_is_rolled_back_and_its_locks_released() {
        let Some((db, pool)) = one_connection().await else {
            return;
        };
        let pid = backend(&pool).await;
        query("INSERT INTO pool_probe (id) VALUES (7)")
            .execute(&pool)
            .await
            .unwrap();
        {
            let mut tx = pool.begin().await.unwrap();
            query("SELECT id FROM pool_probe WHERE id = 7 FOR UPDATE")
                .fetch_one(&mut tx)
                .await
                .unwrap();
            query("INSERT INTO pool_probe (id) VALUES (8)")
                .execute(&mut tx)
                .await
                .unwrap();
            // dropped without commit
        }
        // Another connection takes the row's lock: it would wait were the lock still held.
        let mut other = db.store.write.begin().await.unwrap();
        query("SET LOCAL lock_timeout = '5s'")
            .execute(&mut other)
            .await
            .unwrap();
        query("SELECT id FROM pool_probe WHERE id = 7 FOR UPDATE")
            .fetch_one(&mut other)
            .await
            .expect("the dropped transaction's row lock is gone");
        other.commit().await.unwrap();
        let rows = query_scalar::<i64>("SELECT count(*) FROM pool_probe WHERE id = 8")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(rows, 0, "the dropped transaction's insert is gone");
        assert_eq!(backend(&pool).await, pid, "its connection came back");
    }
}
