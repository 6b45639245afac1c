//! The store's own thin query layer over its two databases: one SQL text with `$n`
//! placeholders, bound integers and text, rows read by column name.
//!
//! - PostgreSQL goes through sqlx's `Any` driver (a pool of connections, each statement a
//!   round trip to the server).
//! - SQLite goes through rusqlite, and each statement runs *on the calling task*, in
//!   place: a statement is microseconds of work inside the process, and handing each one
//!   to a connection thread and back (what sqlx's SQLite driver does) cost more than the
//!   statement itself: a renewal is about fourteen statements (docs/benchmarks.md, "Where
//!   the time goes"). Prepared statements are cached per connection.
//!
//! SQLite keeps one writer connection (a write transaction holds it from `BEGIN
//! IMMEDIATE` to `COMMIT`) and a pool of reader connections that WAL lets run beside it.

use crate::error::{Result, StoreError};
use sqlx::Any;
use sqlx::any::AnyRow;
use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore, oneshot};

/// A value bound to a placeholder. NULLs keep their type: PostgreSQL infers parameter
/// types from what is bound.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
}

/// What may be bound to a placeholder.
pub trait Bind {
    fn value(self) -> Value;
    fn null() -> Value;
}

macro_rules! bind_int {
    ($($t:ty),*) => {$(
        impl Bind for $t {
            fn value(self) -> Value {
                Value::Int(i64::from(self))
            }
            fn null() -> Value {
                Value::NullInt
            }
        }
    )*};
}
bind_int!(i64, i32, u32, i16, u16, u8, bool);

impl Bind for String {
    fn value(self) -> Value {
        Value::Text(self)
    }
    fn null() -> Value {
        Value::NullText
    }
}

impl Bind for &str {
    fn value(self) -> Value {
        Value::Text(self.to_string())
    }
    fn null() -> Value {
        Value::NullText
    }
}

impl Bind for &String {
    fn value(self) -> Value {
        Value::Text(self.clone())
    }
    fn null() -> Value {
        Value::NullText
    }
}

impl<T: Bind> Bind for Option<T> {
    fn value(self) -> Value {
        self.map_or_else(T::null, T::value)
    }
    fn null() -> Value {
        T::null()
    }
}

impl<T: Bind + Clone> Bind for &Option<T> {
    fn value(self) -> Value {
        self.clone().value()
    }
    fn null() -> Value {
        T::null()
    }
}

/// SQL text of ours: a literal, or text assembled from constants of ours and marked so
/// with `sqlx::AssertSqlSafe` (never from input: input is always bound).
pub struct Sql(Cow<'static, str>);

impl From<&'static str> for Sql {
    fn from(s: &'static str) -> Self {
        Sql(Cow::Borrowed(s))
    }
}

impl From<sqlx::AssertSqlSafe<String>> for Sql {
    fn from(s: sqlx::AssertSqlSafe<String>) -> Self {
        Sql(Cow::Owned(s.0))
    }
}

impl From<sqlx::AssertSqlSafe<&str>> for Sql {
    fn from(s: sqlx::AssertSqlSafe<&str>) -> Self {
        Sql(Cow::Owned(s.0.to_string()))
    }
}

impl From<sqlx::AssertSqlSafe<&String>> for Sql {
    fn from(s: sqlx::AssertSqlSafe<&String>) -> Self {
        Sql(Cow::Owned(s.0.clone()))
    }
}

/// One statement and its arguments.
pub struct Query {
    sql: Sql,
    args: Vec<Value>,
}

pub fn query(sql: impl Into<Sql>) -> Query {
    Query {
        sql: sql.into(),
        args: Vec::new(),
    }
}

/// Runs statements that change data and need nothing of each other's answers (inserts,
/// mostly), in order, inside `tx`. PostgreSQL gets them as one statement, all but the
/// last as data-modifying `WITH` parts: one round trip instead of one each (a round trip
/// costs the server about 20 µs of CPU and PostgreSQL more; docs/benchmarks.md). Foreign
/// keys are checked at the end of the statement, so a part may refer to a row an earlier
/// part inserts; each part runs to completion (PostgreSQL 15 manual, 7.8.4,
/// "Data-Modifying Statements in WITH"). SQLite runs them one after the other, in place.
pub async fn execute_all(tx: &mut Tx, parts: Vec<Query>) -> Result<()> {
    if tx.backend() == crate::db::Backend::Sqlite || parts.len() < 2 {
        for q in parts {
            q.execute(&mut *tx).await?;
        }
        return Ok(());
    }
    let last = parts.len() - 1;
    let mut sql = String::from("WITH ");
    let mut args = Vec::new();
    for (i, q) in parts.into_iter().enumerate() {
        let text = renumber(&q.sql.0, args.len());
        if i < last {
            let sep = if i + 1 < last { ", " } else { " " };
            sql.push_str(&format!("part{i} AS ({text}){sep}"));
        } else {
            sql.push_str(&text);
        }
        args.extend(q.args);
    }
    Query {
        sql: Sql(Cow::Owned(sql)),
        args,
    }
    .execute(tx)
    .await?;
    Ok(())
}

/// `sql` with each placeholder `$n` outside quotes made `$(n + by)`.
fn renumber(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\'' {
            quoted = !quoted;
        } else if c == '$' && !quoted {
            let mut n = String::new();
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                n.push(d);
            }
            match n.parse::<usize>() {
                Ok(n) => out.push_str(&(n + by).to_string()),
                Err(_) => out.push_str(&n),
            }
        }
    }
    out
}

/// A statement whose first column is the answer.
pub struct QueryScalar<T> {
    q: Query,
    _t: std::marker::PhantomData<fn() -> T>,
}

pub fn query_scalar<T: Col>(sql: impl Into<Sql>) -> QueryScalar<T> {
    QueryScalar {
        q: query(sql),
        _t: std::marker::PhantomData,
    }
}

/// What a statement that changes rows reports.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

impl Query {
    #[must_use]
    pub fn bind<T: Bind>(mut self, v: T) -> Self {
        self.args.push(v.value());
        self
    }

    pub async fn execute<'c>(self, on: impl Into<On<'c>>) -> Result<Done> {
        let mut lease = on.into().lease().await?;
        lease.conn().execute(&self).await
    }

    pub async fn fetch_all<'c>(self, on: impl Into<On<'c>>) -> Result<Vec<Row>> {
        let mut lease = on.into().lease().await?;
        lease.conn().fetch(&self, usize::MAX).await
    }

    pub async fn fetch_optional<'c>(self, on: impl Into<On<'c>>) -> Result<Option<Row>> {
        let mut lease = on.into().lease().await?;
        Ok(lease.conn().fetch(&self, 1).await?.pop())
    }

    pub async fn fetch_one<'c>(self, on: impl Into<On<'c>>) -> Result<Row> {
        self.fetch_optional(on)
            .await?
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }

    fn any(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(&*self.sql.0));
        for a in &self.args {
            q = match a {
                Value::Int(i) => q.bind(*i),
                Value::Text(s) => q.bind(s.as_str()),
                Value::NullInt => q.bind(None::<i64>),
                Value::NullText => q.bind(None::<String>),
            };
        }
        q
    }
}

impl<T: Col> QueryScalar<T> {
    #[must_use]
    pub fn bind<B: Bind>(mut self, v: B) -> Self {
        self.q = self.q.bind(v);
        self
    }

    pub async fn fetch_one<'c>(self, on: impl Into<On<'c>>) -> Result<T> {
        self.q.fetch_one(on).await?.try_get(0usize)
    }

    pub async fn fetch_optional<'c>(self, on: impl Into<On<'c>>) -> Result<Option<T>> {
        self.q
            .fetch_optional(on)
            .await?
            .map(|r| r.try_get(0usize))
            .transpose()
    }

    pub async fn fetch_all<'c>(self, on: impl Into<On<'c>>) -> Result<Vec<T>> {
        self.q
            .fetch_all(on)
            .await?
            .iter()
            .map(|r| r.try_get(0usize))
            .collect()
    }
}

/// A column type the store reads: integers, text, and either of them or NULL.
pub trait Col: Sized + for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> {
    /// From SQLite's value, as strictly as sqlx's `Any` reads it (no text-to-number
    /// conversions).
    fn from_sqlite(v: &rusqlite::types::Value) -> std::result::Result<Self, String>;
}

impl Col for i64 {
    fn from_sqlite(v: &rusqlite::types::Value) -> std::result::Result<Self, String> {
        match v {
            rusqlite::types::Value::Integer(i) => Ok(*i),
            other => Err(format!(
                "expected an integer, found {:?}",
                other.data_type()
            )),
        }
    }
}

impl Col for i32 {
    fn from_sqlite(v: &rusqlite::types::Value) -> std::result::Result<Self, String> {
        i32::try_from(i64::from_sqlite(v)?).map_err(|e| e.to_string())
    }
}

impl Col for bool {
    fn from_sqlite(v: &rusqlite::types::Value) -> std::result::Result<Self, String> {
        Ok(i64::from_sqlite(v)? != 0)
    }
}

impl Col for String {
    fn from_sqlite(v: &rusqlite::types::Value) -> std::result::Result<Self, String> {
        match v {
            rusqlite::types::Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {:?}", other.data_type())),
        }
    }
}

impl<T: Col> Col for Option<T> {
    fn from_sqlite(v: &rusqlite::types::Value) -> std::result::Result<Self, String> {
        match v {
            rusqlite::types::Value::Null => Ok(None),
            v => T::from_sqlite(v).map(Some),
        }
    }
}

/// A column named or numbered.
pub trait ColumnIndex: sqlx::ColumnIndex<AnyRow> + std::fmt::Debug {
    fn position(&self, names: &[String]) -> Option<usize>;
}

impl ColumnIndex for &str {
    fn position(&self, names: &[String]) -> Option<usize> {
        names.iter().position(|n| n == self)
    }
}

impl ColumnIndex for usize {
    fn position(&self, names: &[String]) -> Option<usize> {
        (*self < names.len()).then_some(*self)
    }
}

/// One row of an answer.
pub struct Row(RowData);

enum RowData {
    Sqlite {
        names: Arc<[String]>,
        values: Vec<rusqlite::types::Value>,
    },
    Any(AnyRow),
}

impl Row {
    pub fn try_get<T: Col, I: ColumnIndex>(&self, index: I) -> Result<T> {
        match &self.0 {
            RowData::Any(row) => Ok(sqlx::Row::try_get(row, index)?),
            RowData::Sqlite { names, values } => {
                let i = index
                    .position(names)
                    .ok_or_else(|| sqlx::Error::ColumnNotFound(format!("{index:?}")))?;
                T::from_sqlite(&values[i]).map_err(|e| {
                    StoreError::Db(sqlx::Error::ColumnDecode {
                        index: format!("{index:?}"),
                        source: e.into(),
                    })
                })
            }
        }
    }
}

/// A SQLite connection and the shape of each statement it has run: which argument each
/// SQLite parameter takes and the names of the result's columns, asked of SQLite once per
/// SQL text instead of at every execution (renewals run some fifteen statements inside
/// the one writer: docs/benchmarks.md, 2026-12-06).
pub(crate) struct Lite {
    conn: rusqlite::Connection,
    shapes: std::collections::HashMap<Cow<'static, str>, Shape>,
}

struct Shape {
    /// For SQLite's parameter i (from 1), the index of its argument (from 0).
    args: Vec<usize>,
    columns: Arc<[String]>,
}

/// At most this many shapes are kept per connection (as many as prepared statements).
const SHAPES: usize = 256;

impl Lite {
    fn new(conn: rusqlite::Connection) -> Self {
        Self {
            conn,
            shapes: std::collections::HashMap::new(),
        }
    }
}

impl std::ops::Deref for Lite {
    type Target = rusqlite::Connection;
    fn deref(&self) -> &rusqlite::Connection {
        &self.conn
    }
}

/// What SQLite says of a prepared statement: `$n` placeholders take the n-th argument
/// (SQLite numbers `$`-named parameters in order of appearance, so they are mapped by
/// name, as sqlx does).
fn shape_of(stmt: &rusqlite::Statement<'_>) -> Result<Shape> {
    let args = (1..=stmt.parameter_count())
        .map(|i| match stmt.parameter_name(i) {
            None => Ok(i - 1),
            Some(name) => name
                .strip_prefix(['$', '?'])
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| n.checked_sub(1))
                .ok_or_else(|| StoreError::Corrupt(format!("placeholder {name} in a query"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let columns = stmt.column_names().into_iter().map(String::from).collect();
    Ok(Shape { args, columns })
}

/// A connection: SQLite's writer or one of its readers, or a PostgreSQL connection.
pub struct Conn(ConnKind);

enum ConnKind {
    /// The writer; `in_tx` when a transaction of ours holds it.
    SqliteWrite {
        state: OwnedMutexGuard<WriterState>,
        writer: Arc<Writer>,
        in_tx: bool,
    },
    SqliteRead(ReadLease),
    /// A PostgreSQL connection, in a transaction of ours or not.
    Pg(crate::pgpool::PgLease),
    /// Given back (a committed transaction).
    Closed,
}

impl Conn {
    /// The database behind this connection.
    pub fn backend(&self) -> crate::db::Backend {
        match &self.0 {
            ConnKind::SqliteWrite { .. } | ConnKind::SqliteRead(_) => crate::db::Backend::Sqlite,
            _ => crate::db::Backend::Postgres,
        }
    }

    fn sqlite(&mut self) -> Option<&mut Lite> {
        match &mut self.0 {
            ConnKind::SqliteWrite { state, .. } => Some(&mut state.conn),
            ConnKind::SqliteRead(l) => l.conn.as_mut(),
            _ => None,
        }
    }

    /// SQLite, checked: inside a transaction of ours the database must still be in it.
    /// (SQLite rolls a whole transaction back by itself on some errors, a full disk for
    /// one; a statement run after that would commit on its own: half a change.)
    fn sqlite_checked(&mut self) -> Option<Result<&mut Lite>> {
        if let ConnKind::SqliteWrite {
            state, in_tx: true, ..
        } = &self.0
            && state.conn.is_autocommit()
        {
            return Some(Err(rolled_back()));
        }
        self.sqlite().map(Ok)
    }

    fn pg(&mut self) -> Option<&mut crate::pgpool::PgLease> {
        match &mut self.0 {
            ConnKind::Pg(l) => Some(l),
            _ => None,
        }
    }

    async fn execute(&mut self, q: &Query) -> Result<Done> {
        if let Some(c) = self.sqlite_checked() {
            return sqlite_run(c?, q, 0).map(|(_, n)| Done { rows_affected: n });
        }
        let l = self.pg().ok_or_else(closed)?;
        let r = l.run(|c| q.any().execute(c)).await?;
        Ok(Done {
            rows_affected: r.rows_affected(),
        })
    }

    async fn fetch(&mut self, q: &Query, limit: usize) -> Result<Vec<Row>> {
        if let Some(c) = self.sqlite_checked() {
            return sqlite_run(c?, q, limit).map(|(rows, _)| rows);
        }
        let l = self.pg().ok_or_else(closed)?;
        Ok(if limit == 1 {
            l.run(|c| q.any().fetch_optional(c))
                .await?
                .map(|r| Row(RowData::Any(r)))
                .into_iter()
                .collect()
        } else {
            l.run(|c| q.any().fetch_all(c))
                .await?
                .into_iter()
                .map(|r| Row(RowData::Any(r)))
                .collect()
        })
    }
}

fn closed() -> StoreError {
    StoreError::Db(sqlx::Error::PoolClosed)
}

fn rolled_back() -> StoreError {
    StoreError::CommitFailed("SQLite rolled the transaction back".into())
}

/// Runs one statement on SQLite, in place. Reads at most `limit` rows; returns them and
/// the rows changed.
fn sqlite_run(c: &mut Lite, q: &Query, limit: usize) -> Result<(Vec<Row>, u64)> {
    let Lite { conn, shapes } = c;
    let mut stmt = conn.prepare_cached(&q.sql.0)?;
    let shape = match shapes.get(q.sql.0.as_ref()) {
        // A statement SQLite prepared again (the schema changed) may have other columns.
        Some(shape) if shape.columns.len() == stmt.column_count() => shape,
        _ => {
            if shapes.len() >= SHAPES {
                shapes.clear();
            }
            let shape = shape_of(&stmt)?;
            shapes.entry(q.sql.0.clone()).insert_entry(shape).into_mut()
        }
    };
    for (i, &arg) in shape.args.iter().enumerate() {
        let v = q.args.get(arg).ok_or_else(|| {
            StoreError::Corrupt(format!("placeholder ${} has no argument bound", arg + 1))
        })?;
        let i = i + 1;
        match v {
            Value::Int(n) => stmt.raw_bind_parameter(i, n)?,
            Value::Text(s) => stmt.raw_bind_parameter(i, s)?,
            Value::NullInt | Value::NullText => {
                stmt.raw_bind_parameter(i, rusqlite::types::Null)?
            }
        }
    }
    let n = shape.columns.len();
    let mut out = Vec::new();
    let mut rows = stmt.raw_query();
    while let Some(r) = rows.next()? {
        if out.len() < limit {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(r.get::<_, rusqlite::types::Value>(i)?);
            }
            out.push(Row(RowData::Sqlite {
                names: shape.columns.clone(),
                values,
            }));
        }
    }
    drop(rows);
    let changed = if stmt.readonly() { 0 } else { conn.changes() };
    Ok((out, changed))
}

/// A transaction: committed by `commit`, rolled back when dropped without it.
///
/// On SQLite, transactions commit in groups: a transaction that ends while others wait
/// for the writer leaves its changes in the open database transaction (its own
/// savepoint released into it) and waits; whoever finds no one waiting behind them
/// commits the group with one fsync, and every member learns the outcome. `commit`
/// returns only once the changes are durable, or with an error if they were not: a
/// group commits whole or not at all, and a member rolled back on its own (an error
/// before `commit`) takes only its own changes with it.
pub struct Tx {
    conn: Conn,
    open: bool,
}

/// Most transactions in one group commit.
const MAX_GROUP: usize = 64;
/// How long a member waits for the group's commit before looking for itself (whoever
/// was to carry the group on may have given up waiting for the writer).
const GROUP_WAIT: std::time::Duration = std::time::Duration::from_millis(5);

impl Tx {
    pub async fn commit(mut self) -> Result<()> {
        self.open = false;
        match std::mem::replace(&mut self.conn.0, ConnKind::Closed) {
            ConnKind::Pg(mut l) => l.commit().await,
            ConnKind::SqliteWrite {
                mut state, writer, ..
            } => {
                if state.conn.is_autocommit() {
                    state.fail_group(&rolled_back());
                    return Err(rolled_back());
                }
                if let Err(e) = state.conn.execute_batch("RELEASE member") {
                    state.end_member_rolled_back(&writer);
                    return Err(e.into());
                }
                let waiting = writer.waiting.load(Ordering::Acquire);
                let group = state.group.as_mut().ok_or_else(rolled_back)?;
                if waiting > 0 && group.acks.len() + 1 < MAX_GROUP {
                    let (ack, done) = oneshot::channel();
                    group.acks.push(ack);
                    let epoch = group.epoch;
                    drop(state);
                    writer.wait_for_group(epoch, done).await
                } else {
                    state.commit_group()
                }
            }
            _ => Err(closed()),
        }
    }
}

/// COMMIT waits for the fsync of the WAL (`synchronous=FULL`): on a multi-threaded runtime
/// the worker thread lets its other tasks move while it waits.
fn commit_blocking(c: &rusqlite::Connection) -> Result<()> {
    let run = || c.execute_batch("COMMIT");
    let r = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
        _ => run(),
    };
    Ok(r?)
}

impl Drop for Tx {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        if let ConnKind::SqliteWrite { state, writer, .. } = &mut self.conn.0 {
            // The transaction failed or was abandoned: nothing of it stays.
            state.end_member_rolled_back(writer);
        }
    }
}

/// SQLite's one writer connection and the group of transactions it has open.
pub(crate) struct Writer {
    state: Arc<tokio::sync::Mutex<WriterState>>,
    /// Tasks waiting for the writer (a transaction ending commits its group alone when
    /// no one is).
    waiting: AtomicUsize,
}

pub(crate) struct WriterState {
    conn: Lite,
    group: Option<Group>,
    next_epoch: u64,
}

/// Transactions ended into the open database transaction, waiting for its COMMIT.
struct Group {
    epoch: u64,
    acks: Vec<oneshot::Sender<std::result::Result<(), String>>>,
}

impl Writer {
    async fn lock(self: &Arc<Self>) -> Result<OwnedMutexGuard<WriterState>> {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(&self.waiting);
        tokio::time::timeout(WRITER_WAIT, self.state.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Db(sqlx::Error::PoolTimedOut))
    }

    /// Waits for the group `epoch` to commit; commits it itself if it is still open
    /// after a while (no one carried it on).
    async fn wait_for_group(
        self: &Arc<Self>,
        epoch: u64,
        mut done: oneshot::Receiver<std::result::Result<(), String>>,
    ) -> Result<()> {
        loop {
            match tokio::time::timeout(GROUP_WAIT, &mut done).await {
                Ok(Ok(outcome)) => return outcome.map_err(StoreError::CommitFailed),
                Ok(Err(_)) => return Err(rolled_back()),
                Err(_) => {
                    let mut state = self.lock().await?;
                    if state.group.as_ref().is_some_and(|g| g.epoch == epoch) {
                        // The outcome reaches this member through `done` too.
                        let _ = state.commit_group();
                    }
                }
            }
        }
    }
}

impl WriterState {
    /// Opens a transaction for one member: the group's database transaction (begun
    /// when none is open) and a savepoint of its own inside it.
    fn begin_member(&mut self) -> Result<()> {
        if self.group.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.next_epoch += 1;
            self.group = Some(Group {
                epoch: self.next_epoch,
                acks: Vec::new(),
            });
        }
        if let Err(e) = self.conn.execute_batch("SAVEPOINT member") {
            self.settle_after_member(0);
            return Err(e.into());
        }
        Ok(())
    }

    /// Commits the open group (if any) and tells its members.
    fn commit_group(&mut self) -> Result<()> {
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        let r = if self.conn.is_autocommit() {
            Err(rolled_back())
        } else {
            commit_blocking(&self.conn)
        };
        if r.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let outcome = r.as_ref().map(|_| ()).map_err(ToString::to_string);
        for ack in group.acks {
            let _ = ack.send(outcome.clone());
        }
        r
    }

    /// Rolls the whole group back and tells its members.
    fn fail_group(&mut self, why: &StoreError) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if let Some(group) = self.group.take() {
            for ack in group.acks {
                let _ = ack.send(Err(why.to_string()));
            }
        }
    }

    /// A member ends without committing: its savepoint is undone, the group goes on.
    fn end_member_rolled_back(&mut self, writer: &Writer) {
        if self.conn.is_autocommit() {
            // SQLite rolled back everything already: the members waiting learn it.
            self.fail_group(&rolled_back());
            return;
        }
        if self
            .conn
            .execute_batch("ROLLBACK TO member; RELEASE member")
            .is_err()
        {
            self.fail_group(&rolled_back());
            return;
        }
        self.settle_after_member(writer.waiting.load(Ordering::Acquire));
    }

    /// After a member ended without joining the group: commit the group now if no one
    /// waits to carry it on, and never leave an empty database transaction open (it
    /// would keep other processes from writing).
    fn settle_after_member(&mut self, waiting: usize) {
        match &self.group {
            Some(g) if g.acks.is_empty() => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.group = None;
            }
            Some(_) if waiting == 0 => {
                let _ = self.commit_group();
            }
            _ => {}
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

/// A connection taken from a pool, given back when dropped.
pub struct Pooled(Conn);

impl std::ops::Deref for Pooled {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.0
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.0
    }
}

/// Where a statement runs: a pool (a connection is taken for it) or a connection.
pub enum On<'c> {
    Pool(&'c Pool),
    Conn(&'c mut Conn),
}

impl<'c> From<&'c Pool> for On<'c> {
    fn from(p: &'c Pool) -> Self {
        On::Pool(p)
    }
}

impl<'c> From<&'c mut Conn> for On<'c> {
    fn from(c: &'c mut Conn) -> Self {
        On::Conn(c)
    }
}

impl<'c> From<&'c mut Tx> for On<'c> {
    fn from(t: &'c mut Tx) -> Self {
        On::Conn(&mut t.conn)
    }
}

impl<'c> From<&'c mut Pooled> for On<'c> {
    fn from(p: &'c mut Pooled) -> Self {
        On::Conn(&mut p.0)
    }
}

enum Lease<'c> {
    Borrowed(&'c mut Conn),
    Owned(Pooled),
}

impl<'c> On<'c> {
    async fn lease(self) -> Result<Lease<'c>> {
        Ok(match self {
            On::Conn(c) => Lease::Borrowed(c),
            On::Pool(p) => Lease::Owned(p.acquire().await?),
        })
    }
}

impl Lease<'_> {
    fn conn(&mut self) -> &mut Conn {
        match self {
            Lease::Borrowed(c) => c,
            Lease::Owned(p) => p,
        }
    }
}

/// How long a write transaction waits for the one writer before giving up (as sqlx's
/// pool of one writer did), and a read for a reader connection.
const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
const READER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A pool: SQLite's one writer, SQLite's readers, or PostgreSQL's connections.
#[derive(Clone)]
pub struct Pool(PoolKind);

#[derive(Clone)]
enum PoolKind {
    SqliteWrite(Arc<Writer>),
    SqliteRead(Arc<ReadPool>),
    Pg(Arc<crate::pgpool::PgPool>),
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            PoolKind::SqliteWrite(_) => "Pool(sqlite writer)",
            PoolKind::SqliteRead(_) => "Pool(sqlite readers)",
            PoolKind::Pg(_) => "Pool(postgres)",
        })
    }
}

impl Pool {
    pub(crate) fn pg(pool: Arc<crate::pgpool::PgPool>) -> Self {
        Pool(PoolKind::Pg(pool))
    }

    pub(crate) fn as_pg(&self) -> Option<&crate::pgpool::PgPool> {
        match &self.0 {
            PoolKind::Pg(p) => Some(p),
            _ => None,
        }
    }

    pub async fn acquire(&self) -> Result<Pooled> {
        Ok(Pooled(Conn(match &self.0 {
            PoolKind::SqliteWrite(w) => {
                let mut state = w.lock().await?;
                // A statement outside a transaction commits on its own; the group open
                // before it commits first.
                state.commit_group()?;
                ConnKind::SqliteWrite {
                    state,
                    writer: w.clone(),
                    in_tx: false,
                }
            }
            PoolKind::SqliteRead(r) => ConnKind::SqliteRead(r.clone().lease().await?),
            PoolKind::Pg(p) => ConnKind::Pg(p.lease().await?),
        })))
    }

    /// Begins a transaction. On SQLite it takes the writer at once (`BEGIN IMMEDIATE`),
    /// so a transaction that reads and then writes never finds the database taken from
    /// under it.
    pub async fn begin(&self) -> Result<Tx> {
        let conn = match &self.0 {
            PoolKind::Pg(p) => {
                let mut lease = p.lease().await?;
                lease.begin().await?;
                Conn(ConnKind::Pg(lease))
            }
            PoolKind::SqliteWrite(w) => {
                let mut state = w.lock().await?;
                state.begin_member()?;
                Conn(ConnKind::SqliteWrite {
                    state,
                    writer: w.clone(),
                    in_tx: true,
                })
            }
            PoolKind::SqliteRead(_) => {
                return Err(StoreError::Corrupt(
                    "a transaction was begun on SQLite's readers".into(),
                ));
            }
        };
        Ok(Tx { conn, open: true })
    }

    /// Connections open and idle, for /metrics.
    pub fn stats(&self) -> (u32, usize) {
        match &self.0 {
            PoolKind::Pg(p) => p.stats(),
            PoolKind::SqliteWrite(_) => (1, 1),
            PoolKind::SqliteRead(r) => {
                let idle = r.idle.lock().map_or(0, |v| v.len());
                open_and_idle(r.max, &r.permits, idle)
            }
        }
    }

    pub async fn close(&self) {
        match &self.0 {
            PoolKind::Pg(p) => p.close().await,
            PoolKind::SqliteRead(r) => {
                r.permits.close();
                if let Ok(mut idle) = r.idle.lock() {
                    idle.clear();
                }
            }
            PoolKind::SqliteWrite(_) => {}
        }
    }
}

/// How SQLite files are opened: the path and whether it may be created or written.
#[derive(Debug, Clone)]
pub(crate) struct SqliteFile {
    pub path: String,
    pub flags: rusqlite::OpenFlags,
}

impl SqliteFile {
    /// Every connection: WAL (readers beside the writer), `synchronous=FULL` (each commit
    /// is fsync'd: money is never acknowledged and then lost), a busy wait for other
    /// processes (the CLI beside a server), and foreign keys enforced.
    pub fn open(&self) -> Result<rusqlite::Connection> {
        let c = rusqlite::Connection::open_with_flags(&self.path, self.flags)?;
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )?;
        c.set_prepared_statement_cache_capacity(256);
        Ok(c)
    }

    pub fn writer(&self) -> Result<Pool> {
        let conn = self.open()?;
        // Each transaction of a group commit is a savepoint inside the group's database
        // transaction, so SQLite keeps the original of every page it changes in a
        // sub-journal; kept in a temporary file (the default) that was a write system call
        // per page. In memory it costs a copy (docs/benchmarks.md, 2026-12-06).
        conn.execute_batch("PRAGMA temp_store = MEMORY")?;
        Ok(Pool(PoolKind::SqliteWrite(Arc::new(Writer {
            state: Arc::new(tokio::sync::Mutex::new(WriterState {
                conn: Lite::new(conn),
                group: None,
                next_epoch: 0,
            })),
            waiting: AtomicUsize::new(0),
        }))))
    }

    /// Readers, at most `max`, each mapping up to `mmap_bytes` of the file.
    pub fn readers(&self, max: usize, mmap_bytes: u64) -> Pool {
        Pool(PoolKind::SqliteRead(Arc::new(ReadPool {
            file: self.clone(),
            mmap_bytes,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max)),
            max,
        })))
    }
}

/// A pool's permit to hold one connection: waits up to `wait` for one to be free.
pub(crate) async fn take_permit(
    permits: &Arc<Semaphore>,
    wait: std::time::Duration,
) -> Result<OwnedSemaphorePermit> {
    tokio::time::timeout(wait, permits.clone().acquire_owned())
        .await
        .map_err(|_| StoreError::Db(sqlx::Error::PoolTimedOut))?
        .map_err(|_| closed())
}

/// Connections open and idle in a pool of at most `max`, `idle` of them waiting, for
/// /metrics: those leased (permits taken) and those idle.
pub(crate) fn open_and_idle(max: usize, permits: &Semaphore, idle: usize) -> (u32, usize) {
    let open = max - permits.available_permits() + idle;
    (u32::try_from(open).unwrap_or(u32::MAX), idle)
}

pub(crate) struct ReadPool {
    file: SqliteFile,
    mmap_bytes: u64,
    idle: Mutex<Vec<Lite>>,
    permits: Arc<Semaphore>,
    max: usize,
}

impl ReadPool {
    async fn lease(self: Arc<Self>) -> Result<ReadLease> {
        let permit = take_permit(&self.permits, READER_WAIT).await?;
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = self.file.open()?;
                c.execute_batch(&format!("PRAGMA mmap_size = {}", self.mmap_bytes))?;
                Lite::new(c)
            }
        };
        Ok(ReadLease {
            conn: Some(conn),
            pool: Some(self),
            _permit: Some(permit),
        })
    }
}

pub(crate) struct ReadLease {
    conn: Option<Lite>,
    pool: Option<Arc<ReadPool>>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for ReadLease {
    fn drop(&mut self) {
        if let (Some(c), Some(p)) = (self.conn.take(), &self.pool)
            && !p.permits.is_closed()
            && c.is_autocommit()
            && let Ok(mut idle) = p.idle.lock()
        {
            idle.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Scratch(std::path::PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            for s in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{s}", self.0.display()));
            }
        }
    }

    fn scratch() -> (Scratch, SqliteFile) {
        let path =
            std::env::temp_dir().join(format!("simrenew-sql-{}.db", uuid::Uuid::new_v4().simple()));
        let file = SqliteFile {
            path: path.display().to_string(),
            flags: rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                | rusqlite::OpenFlags::SQLITE_OPEN_CREATE,
        };
        file.open()
            .unwrap()
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .unwrap();
        (Scratch(path), file)
    }

    fn epochs(w: &Pool) -> u64 {
        let PoolKind::SqliteWrite(w) = &w.0 else {
            panic!("not the writer")
        };
        w.state.try_lock().expect("writer idle").next_epoch
    }

    /// Rows as a fresh connection (another process, say) reads them from the file.
    fn committed(file: &SqliteFile) -> Vec<i64> {
        let c = file.open().unwrap();
        let mut s = c.prepare("SELECT id FROM t ORDER BY id").unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn placeholders_are_renumbered_outside_quotes_only() {
        assert_eq!(
            renumber("INSERT INTO t (a, b) VALUES ($1, $2), ($1, $10)", 3),
            "INSERT INTO t (a, b) VALUES ($4, $5), ($4, $13)"
        );
        assert_eq!(
            renumber("SELECT '$1', $1, 'it''s $2', $2", 5),
            "SELECT '$1', $6, 'it''s $2', $7"
        );
        assert_eq!(renumber("SELECT $", 2), "SELECT $");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_transactions_commit_in_groups_each_durable_when_acknowledged() {
        let (_f, file) = scratch();
        let w = file.writer().unwrap();
        let mut tasks = Vec::new();
        for i in 0..200i64 {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = w.begin().await?;
                query("INSERT INTO t (id, v) VALUES ($1, $2)")
                    .bind(i)
                    .bind(format!("row {i}"))
                    .execute(&mut tx)
                    .await?;
                // Every tenth one fails after writing: only its own row goes.
                if i % 10 == 0 {
                    return Err(StoreError::invalid("v", "refused on purpose"));
                }
                tx.commit().await?;
                Ok::<_, StoreError>(i)
            }));
        }
        let mut acknowledged = Vec::new();
        for t in tasks {
            if let Ok(i) = t.await.unwrap() {
                acknowledged.push(i);
            }
        }
        acknowledged.sort_unstable();
        assert_eq!(acknowledged.len(), 180);
        assert_eq!(committed(&file), acknowledged);
        let groups = epochs(&w);
        assert!((1..200).contains(&groups), "{groups} database transactions");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_statement_outside_a_transaction_commits_the_open_group_first() {
        let (_f, file) = scratch();
        let w = file.writer().unwrap();
        let mut tx = w.begin().await.unwrap();
        query("INSERT INTO t (id, v) VALUES (1, 'a')")
            .execute(&mut tx)
            .await
            .unwrap();
        // Someone waits for the writer, so the commit joins a group and waits.
        let w2 = w.clone();
        let other = tokio::spawn(async move {
            query("INSERT INTO t (id, v) VALUES (2, 'b')")
                .execute(&w2)
                .await
                .unwrap();
        });
        while match &w.0 {
            PoolKind::SqliteWrite(x) => x.waiting.load(Ordering::Acquire) == 0,
            _ => false,
        } {
            tokio::task::yield_now().await;
        }
        tx.commit().await.unwrap();
        other.await.unwrap();
        assert_eq!(committed(&file), vec![1, 2]);
    }

    #[tokio::test]
    async fn placeholders_are_matched_by_number_and_values_read_back_by_type() {
        let (_f, file) = scratch();
        let w = file.writer().unwrap();
        query("INSERT INTO t (id, v) VALUES ($2, $1)")
            .bind("text first")
            .bind(7i64)
            .execute(&w)
            .await
            .unwrap();
        let row = query("SELECT id, v, NULL AS absent FROM t")
            .fetch_one(&w)
            .await
            .unwrap();
        assert_eq!(row.try_get::<i64, _>("id").unwrap(), 7);
        assert_eq!(row.try_get::<String, _>("v").unwrap(), "text first");
        assert_eq!(row.try_get::<Option<i64>, _>("absent").unwrap(), None);
        assert!(row.try_get::<i64, _>("v").is_err(), "text is not a number");
        assert!(row.try_get::<String, _>("missing").is_err());
        let none = query("SELECT id FROM t WHERE id = $1")
            .bind(8i64)
            .fetch_optional(&w)
            .await
            .unwrap();
        assert!(none.is_none());
        let unbound = query("SELECT id FROM t WHERE id = $2")
            .bind(1i64)
            .fetch_all(&w)
            .await;
        assert!(
            unbound.is_err(),
            "a placeholder without its argument is refused"
        );
    }

    #[tokio::test]
    async fn a_statement_run_again_binds_each_runs_own_arguments_by_number() {
        let (_f, file) = scratch();
        let w = file.writer().unwrap();
        let insert = "INSERT INTO t (v, id) VALUES ($2, $1)";
        for i in 1..=3i64 {
            query(insert)
                .bind(i)
                .bind(format!("row {i}"))
                .execute(&w)
                .await
                .unwrap();
        }
        let pick = "SELECT v, id FROM t WHERE id = $2 OR v = $1 ORDER BY id";
        for (v, id, want) in [("row 1", 3i64, vec![1, 3]), ("none", 2, vec![2])] {
            let rows = query(pick).bind(v).bind(id).fetch_all(&w).await.unwrap();
            let ids: Vec<i64> = rows.iter().map(|r| r.try_get("id").unwrap()).collect();
            assert_eq!(ids, want);
            assert_eq!(
                rows[0].try_get::<String, _>("v").unwrap(),
                format!("row {}", want[0])
            );
        }
        // The same text with an argument missing is still refused after it was cached.
        assert!(query(pick).bind("row 1").fetch_all(&w).await.is_err());
    }
}
