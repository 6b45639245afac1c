//! Fresh databases for tests: every test gets its own SQLite file and its own PostgreSQL
//! schema, so tests run in parallel and never see each other's rows.
//!
//! PostgreSQL comes from `SIMRENEW_TEST_POSTGRES_URL` (default: the local server, database
//! `test`). When it cannot be reached the tests fail if `CI` is set, and otherwise run on
//! SQLite only and say so loudly on stderr.

use crate::db::{Store, StoreOptions};

pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One fresh, migrated database; removed when dropped.
pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    pub store: Store,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema { base_url: String, schema: String },
}

pub fn postgres_base_url() -> String {
    std::env::var("SIMRENEW_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_string())
}

/// A fresh SQLite file database, migrated.
pub async fn sqlite() -> TestDb {
    let path = std::env::temp_dir().join(format!(
        "simrenew-test-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TestDb {
        name: "sqlite",
        url,
        store,
        cleanup: Cleanup::File(path),
    }
}

/// A fresh PostgreSQL schema, migrated; `None` (after a loud note) when the server is
/// unreachable outside CI. In CI an unreachable server fails the test.
pub async fn postgres() -> Option<TestDb> {
    let base = postgres_base_url();
    let born = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let schema = format!(
        "t_{born}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let admin = match Store::connect(
        &base,
        &StoreOptions {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("PostgreSQL at {base} is unreachable and CI is set: {e}");
            }
            eprintln!(
                "\n*** SKIPPED on PostgreSQL: {base} unreachable ({e}); set SIMRENEW_TEST_POSTGRES_URL ***\n"
            );
            return None;
        }
    };
    crate::sql::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin.write)
        .await
        .expect("create schema");
    // Schemas of test runs that ended before they could drop theirs: gone after an hour.
    let old = crate::sql::query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'")
        .fetch_all(&admin.write)
        .await
        .unwrap_or_default();
    for row in old {
        let name: String = row.try_get::<String, _>("nspname").unwrap_or_default();
        let stamp = name.split('_').nth(1).and_then(|s| s.parse::<u64>().ok());
        if stamp.is_some_and(|t| t + 3600 < born) {
            let _ = crate::sql::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE"
            )))
            .execute(&admin.write)
            .await;
        }
    }
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .expect("connect postgres schema");
    store.migrate().await.expect("migrate postgres");
    Some(TestDb {
        name: "postgres",
        url,
        store,
        cleanup: Cleanup::Schema {
            base_url: base,
            schema,
        },
    })
}

/// Both databases (PostgreSQL only when reachable, see `postgres`).
pub async fn all() -> Vec<TestDb> {
    let mut v = vec![sqlite().await];
    v.extend(postgres().await);
    v
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(p) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
                }
            }
            Cleanup::Schema { base_url, schema } => {
                let (base, schema) = (base_url.clone(), schema.clone());
                // Drop runs inside the test's runtime, which may still owe a rollback to a
                // transaction the test abandoned: so clean up on a thread of its own and
                // do not wait for it (a schema it misses is dropped by a later run).
                std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async {
                        if let Ok(s) = Store::connect(
                            &base,
                            &StoreOptions {
                                max_connections: 1,
                                ..Default::default()
                            },
                        )
                        .await
                        {
                            let _ = crate::sql::query("SET lock_timeout = '10s'")
                                .execute(&s.write)
                                .await;
                            let _ = crate::sql::query(sqlx::AssertSqlSafe(format!(
                                "DROP SCHEMA {schema} CASCADE"
                            )))
                            .execute(&s.write)
                            .await;
                            s.close().await;
                        }
                    });
                });
            }
        }
    }
}

/// An anonymous order for a month of MTS 30 GB (`mts-month-30gb`) on the demo line
/// +7 916 123-45-62 (nobody's), in `currency`, waiting for payment from outside: what the
/// payment and refund tests start from. Needs the demo data.
pub async fn pending_month_order(
    store: &Store,
    currency: simrenew_core::Currency,
    start: simrenew_core::StartMode,
) -> crate::orders::Order {
    let line = simrenew_core::LineRef::parse("+7 916 123-45-62").expect("demo number");
    pending_month_order_for(store, line, currency, start).await
}

/// The same for another MTS line.
pub async fn pending_month_order_for(
    store: &Store,
    line: simrenew_core::LineRef,
    currency: simrenew_core::Currency,
    start: simrenew_core::StartMode,
) -> crate::orders::Order {
    use crate::orders::{ItemRequest, OrderRequest, Payment};
    store
        .create_order(
            &OrderRequest {
                line,
                items: vec![ItemRequest::Renew {
                    plan_id: "mts-month-30gb".into(),
                    start,
                }],
                currency: Some(currency),
                channel: "web".into(),
                buyer: None,
                payment: Payment::External,
                promo_code: None,
            },
            None,
        )
        .await
        .expect("a pending order")
}

/// A month of 30 GB for `line`, in roubles, paid from outside (the demo card) and so
/// fulfilled.
pub async fn paid_month_order_for(
    store: &Store,
    line: simrenew_core::LineRef,
) -> crate::orders::Order {
    let order = pending_month_order_for(
        store,
        line,
        simrenew_core::Currency::Rub,
        simrenew_core::StartMode::Queued,
    )
    .await;
    store
        .settle_external(&order.id, "demo", None)
        .await
        .expect("paid")
}

/// `order` paid in full through "yookassa" by card as the provider's payment `pid`:
/// opened, pending, its success settled and the order fulfilled. The payment, as a
/// refund starts from it.
pub async fn paid_by_card(
    store: &Store,
    order: &crate::orders::Order,
    pid: &str,
) -> crate::payments::Payment {
    let attempt = store
        .start_payment(&order.id, "yookassa", "bank_card")
        .await
        .expect("payment opened");
    store
        .payment_pending(&attempt.id, pid, None)
        .await
        .expect("payment pending");
    let settled = store
        .payment_succeeded("yookassa", pid, order.total)
        .await
        .expect("payment settled");
    assert!(
        matches!(settled, crate::payments::Settlement::Fulfilled(_)),
        "{settled:?}"
    );
    store.payment(&attempt.id).await.expect("the payment")
}

/// Panics unless the ledger balances and every order's effects match its status.
pub async fn assert_sound(store: &Store) {
    let ledger = store.check_ledger().await.expect("ledger check");
    assert!(ledger.is_sound(), "{ledger:?}");
    let orders = store.check_orders().await.expect("order check");
    assert!(orders.is_sound(), "{orders:?}");
}

/// Runs a statement of the test's own on the database (to age a row, or to check that
/// the database refuses a change): rows affected.
pub async fn execute(store: &Store, sql: &str) -> crate::error::Result<u64> {
    Ok(crate::sql::query(sqlx::AssertSqlSafe(sql))
        .execute(&store.write)
        .await?
        .rows_affected())
}

/// A Python with the packages of `requirements` (pip's format, versions pinned), for
/// tests that check us against outside implementations (providers' SDKs, a real SMTP
/// server): a virtual environment made on first use under `dir` (the test's target
/// directory), one per set of requirements. None, after a loud note, when Python 3 or
/// PyPI cannot be had outside CI; in CI that fails the test. `SIMRENEW_TEST_PYTHON`
/// names a Python that has them already.
pub fn python_with(
    requirements: &str,
    dir: &std::path::Path,
    what: &str,
) -> Option<std::path::PathBuf> {
    use std::process::Command;
    if let Some(p) = std::env::var_os("SIMRENEW_TEST_PYTHON") {
        return Some(p.into());
    }
    let tag = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        requirements.hash(&mut h);
        format!("{:08x}", h.finish() as u32)
    };
    let venv = dir.join(format!("python-{tag}"));
    let python = venv.join("bin/python");
    if python.exists() {
        return Some(python);
    }
    let fail = |why: String| -> Option<std::path::PathBuf> {
        let _ = std::fs::remove_dir_all(&venv);
        if std::env::var_os("CI").is_some() {
            panic!("{what} could not be installed and CI is set: {why}");
        }
        eprintln!(
            "\n*** SKIPPED: {what} could not be installed ({why}); \
             set SIMRENEW_TEST_PYTHON to a Python that has them ***\n"
        );
        None
    };
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status();
    if !matches!(made, Ok(s) if s.success()) {
        return fail(format!("python3 -m venv: {made:?}"));
    }
    let file = venv.join("requirements.txt");
    if let Err(e) = std::fs::write(&file, requirements) {
        return fail(e.to_string());
    }
    // Twice: a registry that hiccups once is not a reason to skip (or, in CI, to fail).
    let install = || {
        Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(&file)
            .status()
    };
    let pip = install();
    if matches!(pip, Ok(s) if s.success()) || matches!(install(), Ok(s) if s.success()) {
        return Some(python);
    }
    fail(format!("pip install: {pip:?}"))
}
