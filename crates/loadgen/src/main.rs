//! `simrenew-loadgen`: drives a running `simrenew serve` and reports requests per second
//! and latency percentiles, beside floors measured in the same run:
//! - the HTTP floor: `GET /healthz` on the same server, same connections;
//! - the database floor: PostgreSQL `pgbench` (TPC-B-like) at the same client count, or
//!   for SQLite a bare loop of one-row durable transactions (`synchronous=FULL`, WAL).
//!
//! Lines are the bench lines of `simrenew demo --lines N` (`+7900<serial>`, operator by
//! serial mod 4, owned by bench@simrenew.example). Every request loop is bounded in time.

use anyhow::Context;
use clap::Parser;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser, Clone)]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    base: String,
    /// How many bench lines exist (serials 0..lines).
    #[arg(long)]
    lines: u64,
    /// Concurrent connections for the read scenarios.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Concurrent clients for renewals and the database floor.
    #[arg(long, default_value_t = 16)]
    writers: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The database the server uses: sqlite://… or postgres://… (for the floor).
    #[arg(long)]
    db_floor: String,
    /// The server's pid, to report its resident memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Renewals start from this serial (so repeated runs use fresh lines).
    #[arg(long, default_value_t = 0)]
    renew_offset: u64,
    /// Only these scenarios (for profiling one of them): healthz, reads, renewals, floor.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "healthz,reads,renewals,floor",
        value_parser = ["healthz", "reads", "renewals", "floor"]
    )]
    only: Vec<String>,
}

impl Args {
    fn wants(&self, scenario: &str) -> bool {
        self.only.iter().any(|s| s == scenario)
    }
}

const OPS: [&str; 4] = ["mts", "beeline", "megafon", "t2"];

fn msisdn(serial: u64) -> String {
    format!("+7900{serial:07}")
}

struct Stats {
    ok: u64,
    errors: u64,
    seconds: f64,
    lat_us: Vec<u32>,
    /// CPU time spent during the scenario: by the server, by this load generator, and by
    /// PostgreSQL's processes (when the server uses PostgreSQL).
    cpu: Cpu,
}

/// CPU time (seconds) of the processes that share the machine, read from `/proc`.
#[derive(Clone, Copy, Default)]
struct Cpu {
    server: Option<f64>,
    loadgen: Option<f64>,
    postgres: Option<f64>,
}

/// User plus system time of one process from `/proc/<pid>/stat` (fields 14 and 15, in
/// USER_HZ ticks, 100 per second on Linux: proc(5)).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The CPU time of every process named `postgres` (the server and its backends).
fn postgres_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|pid| cpu_seconds(&pid))
        .sum()
}

impl Cpu {
    fn since(self, before: Self) -> Self {
        let d = |a: Option<f64>, b: Option<f64>| Some(a? - b?);
        Self {
            server: d(self.server, before.server),
            loadgen: d(self.loadgen, before.loadgen),
            postgres: d(self.postgres, before.postgres),
        }
    }
}

impl Stats {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.seconds
    }
    fn pct(&self, p: f64) -> f64 {
        if self.lat_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.lat_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.lat_us[i]) / 1000.0
    }
    /// CPU microseconds per successful request, or `-` where unknown.
    fn cpu_per_request(&self, seconds: Option<f64>) -> String {
        match seconds {
            Some(s) if self.ok > 0 => format!("{:.0}", s * 1e6 / self.ok as f64),
            _ => "-".into(),
        }
    }

    /// Prints the scenario's table row.
    fn print(&self, name: &str) {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} | {} / {} / {} |",
            self.rps(),
            self.pct(0.5),
            self.pct(0.99),
            self.errors,
            self.cpu_per_request(self.cpu.server),
            self.cpu_per_request(self.cpu.loadgen),
            self.cpu_per_request(self.cpu.postgres),
        );
    }
}

/// Which processes' CPU time a scenario reports.
#[derive(Clone, Copy)]
struct Probe {
    server: Option<u32>,
    postgres: bool,
}

impl Probe {
    /// The CPU time of those processes so far.
    fn now(self) -> Cpu {
        Cpu {
            server: self.server.and_then(|p| cpu_seconds(&p.to_string())),
            loadgen: cpu_seconds("self"),
            postgres: self.postgres.then(postgres_cpu_seconds),
        }
    }
}

/// Runs `make(i, n)` in `conc` loops for `secs`, timing each request; `None` when the
/// scenario was not asked for.
async fn run<F, Fut>(enabled: bool, probe: Probe, conc: usize, secs: u64, make: F) -> Option<Stats>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    if !enabled {
        return None;
    }
    let make = Arc::new(make);
    let errors = Arc::new(AtomicU64::new(0));
    let cpu = probe.now();
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..conc {
        let (make, errors) = (make.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                if make(i, n).await {
                    lat.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
            lat
        }));
    }
    let mut lat_us = Vec::new();
    for t in tasks {
        lat_us.extend(t.await.unwrap_or_default());
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = probe.now().since(cpu);
    lat_us.sort_unstable();
    Some(Stats {
        ok: lat_us.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        seconds,
        lat_us,
        cpu,
    })
}

fn rss_mb(pid: Option<u32>) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    simrenew_payments::install_crypto();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.connections * 2)
        .timeout(Duration::from_secs(30))
        .build()?;
    let r = http
        .post(format!("{}/api/v1/sessions", a.base))
        .json(&json!({"email": "bench@simrenew.example", "password": "simrenew-bench"}))
        .send()
        .await
        .context("sign in as the bench account (run `simrenew demo --lines N` first)")?;
    let token = r.json::<Value>().await?["token"]
        .as_str()
        .context("no token")?
        .to_string();
    let idle_rss = rss_mb(a.pid);
    println!(
        "| scenario | requests/s | p50 ms | p99 ms | errors | CPU µs per request: server / load generator / PostgreSQL |\n|---|---|---|---|---|---|"
    );
    let probe = Probe {
        server: a.pid,
        postgres: a.db_floor.starts_with("postgres"),
    };

    let (h, base) = (http.clone(), a.base.clone());
    let floor = run(
        a.wants("healthz"),
        probe,
        a.connections,
        a.seconds,
        move |_, _| {
            let (h, base) = (h.clone(), base.clone());
            async move {
                h.get(format!("{base}/healthz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        },
    )
    .await;
    if let Some(stats) = &floor {
        stats.print(&format!(
            "GET /healthz (HTTP floor), {} conns",
            a.connections
        ));
    }

    let (h, base, tok, lines) = (http.clone(), a.base.clone(), token.clone(), a.lines);
    let seed = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let seed = Arc::new(seed);
    let reads = run(
        a.wants("reads"),
        probe,
        a.connections,
        a.seconds,
        move |_, _| {
            let (h, base, tok) = (h.clone(), base.clone(), tok.clone());
            // A cheap shared xorshift: spreads lookups over all lines.
            let mut x = seed.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let serial = x % lines;
            async move {
                h.get(format!("{base}/api/v1/lines/{}", msisdn(serial)))
                    .bearer_auth(&tok)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        },
    )
    .await;
    let load_rss = rss_mb(a.pid);
    if let Some(stats) = &reads {
        stats.print(&format!(
            "GET /api/v1/lines/{{id}} by owner, {} conns",
            a.connections
        ));
    }

    let (h, base, tok) = (http.clone(), a.base.clone(), token.clone());
    let next = Arc::new(AtomicU64::new(a.renew_offset));
    let lines = a.lines;
    let writes = run(a.wants("renewals"), probe, a.writers, a.seconds, move |_, _| {
        let (h, base, tok) = (h.clone(), base.clone(), tok.clone());
        // Each renewal its own key: lines are renewed again once every line had one, and a
        // key made from the line alone would replay the first answer instead.
        let seq = next.fetch_add(1, Ordering::Relaxed);
        let serial = seq % lines;
        async move {
            let body = json!({"line": msisdn(serial), "items": [{"type": "renew", "plan_id": format!("{}-day-unlim", OPS[(serial % 4) as usize])}], "pay_with": "balance"});
            let key = format!("bench-{}-{seq}", std::process::id());
            match h.post(format!("{base}/api/v1/orders")).bearer_auth(&tok).header("Idempotency-Key", key).json(&body).send().await {
                Ok(r) => r.status().as_u16() == 201,
                Err(_) => false,
            }
        }
    })
    .await;
    if let Some(stats) = &writes {
        stats.print(&format!(
            "POST /api/v1/orders renewal paid from balance, {} clients",
            a.writers
        ));
    }

    let db_floor = if !a.wants("floor") {
        None
    } else if a.db_floor.starts_with("postgres") {
        Some(pgbench(&a).await?)
    } else {
        Some(sqlite_floor(&a).await?)
    };
    if let Some((name, tps)) = &db_floor {
        println!("| database floor: {name} | {tps:.0} | | | | |");
    }
    let rps = |s: &Option<Stats>| s.as_ref().map_or(f64::NAN, Stats::rps);
    println!();
    println!(
        "ratios: lines/healthz = {:.2}; renewals/db-floor = {:.2}; server RSS idle {} MB, after reads {} MB, now {} MB",
        rps(&reads) / rps(&floor),
        rps(&writes) / db_floor.map_or(f64::NAN, |(_, tps)| tps),
        idle_rss.map_or("?".into(), |m| format!("{m:.0}")),
        load_rss.map_or("?".into(), |m| format!("{m:.0}")),
        rss_mb(a.pid).map_or("?".into(), |m| format!("{m:.0}")),
    );
    Ok(())
}

/// PostgreSQL floor: pgbench's TPC-B-like script at the same client count, on a scratch
/// database `simrenew_pgbench` of the same server (scale = clients, so branches do not
/// serialize everything).
async fn pgbench(a: &Args) -> anyhow::Result<(String, f64)> {
    let url = a
        .db_floor
        .split('?')
        .next()
        .unwrap_or(&a.db_floor)
        .to_string();
    let scratch = match url.rfind('/') {
        Some(i) => format!("{}/simrenew_pgbench", &url[..i]),
        None => anyhow::bail!("cannot derive a scratch database from {url}"),
    };
    let admin = tokio::process::Command::new("psql")
        .args([
            url.as_str(),
            "-qc",
            "DROP DATABASE IF EXISTS simrenew_pgbench",
        ])
        .status()
        .await?;
    anyhow::ensure!(admin.success(), "psql failed");
    tokio::process::Command::new("psql")
        .args([url.as_str(), "-qc", "CREATE DATABASE simrenew_pgbench"])
        .status()
        .await?;
    let scale = a.writers.to_string();
    let init = tokio::process::Command::new("pgbench")
        .args(["-q", "-i", "-s", &scale, &scratch])
        .output()
        .await?;
    anyhow::ensure!(
        init.status.success(),
        "pgbench -i failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let c = a.writers.to_string();
    let t = a.seconds.to_string();
    let out = tokio::process::Command::new("pgbench")
        .args(["-c", &c, "-j", "2", "-T", &t, &scratch])
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .and_then(|l| l.split('=').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .with_context(|| format!("pgbench output: {text}"))?;
    Ok((
        format!("pgbench TPC-B-like, {c} clients, scale {scale} (tps)"),
        tps,
    ))
}

/// SQLite floor: one-row durable transactions in a loop (WAL, synchronous=FULL), on a
/// scratch file beside the server's database, through rusqlite, as the server reaches
/// SQLite (statements run in place, no connection thread): what the engine and the disk
/// allow one writer, with nothing of ours around it.
async fn sqlite_floor(a: &Args) -> anyhow::Result<(String, f64)> {
    let path = a
        .db_floor
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("x.db")
        .to_string();
    let scratch = format!("{path}.floor");
    let _ = std::fs::remove_file(&scratch);
    let conn = rusqlite::Connection::open(&scratch)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
         INSERT INTO t (id, v) VALUES (1, 0);",
    )?;
    let end = Instant::now() + Duration::from_secs(a.seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while Instant::now() < end {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.prepare_cached("UPDATE t SET v = v + 1 WHERE id = 1")?
            .execute([])?;
        conn.execute_batch("COMMIT")?;
        n += 1;
    }
    let tps = n as f64 / start.elapsed().as_secs_f64();
    drop(conn);
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{scratch}{s}"));
    }
    Ok(("SQLite one-row durable transaction loop (tx/s)".into(), tps))
}
