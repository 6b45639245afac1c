//! The `simrenew` binary: configuration, the CLI, and `serve`.

mod config;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::Config;
use simrenew_core::{Currency, LineRef, Money};
use simrenew_store::{Store, StoreOptions};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "simrenew",
    version,
    about = "Sell, renew and charge prepaid mobile data on SIM cards and eSIMs"
)]
struct Cli {
    /// A TOML configuration file (default: simrenew.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve HTTP.
    Serve {
        /// Seed demo plans, lines and an account into an empty database.
        #[arg(long)]
        demo: bool,
    },
    /// Apply migrations and exit.
    Migrate,
    /// Add many demo lines (for benchmarks), owned by bench@simrenew.example.
    Demo {
        #[arg(long, default_value_t = 1000)]
        lines: u64,
    },
    /// Manual, audited adjustments of a line's balance.
    Balance {
        #[command(subcommand)]
        action: BalanceAction,
    },
    /// eSIM profiles: inventory and the SM-DP+ (docs/esim.md).
    Esim {
        #[command(subcommand)]
        action: EsimAction,
    },
    /// Staff of the console at /admin (docs/staff.md).
    Staff {
        #[command(subcommand)]
        action: StaffAction,
    },
    /// Sellers of the partner API (docs/partner-api.md).
    Partner {
        #[command(subcommand)]
        action: PartnerAction,
    },
    /// Plans resold from a supplier's API (docs/upstream.md).
    Upstream {
        #[command(subcommand)]
        action: UpstreamAction,
    },
    /// Operator actions on a line.
    Line {
        #[command(subcommand)]
        action: LineAction,
    },
    /// Refund part or all of a provider payment, within the refund policy (docs/payments.md).
    Refund {
        /// The payment's id (simrenew's, from the `payments` table).
        #[arg(long)]
        payment: String,
        /// In the payment's currency, for example 250 or 99.50.
        #[arg(long)]
        amount: String,
        #[arg(long)]
        reason: String,
    },
    /// Check a provider's settlement report (CSV, as the provider publishes it) against
    /// the payments and refunds settled with it; prints what matches, what differs and
    /// what is missing on either side; exits 1 unless everything matches.
    Reconcile {
        /// yookassa, stripe, alipay, wechatpay or paypal.
        #[arg(long)]
        provider: String,
        /// The report file.
        #[arg(long)]
        file: std::path::PathBuf,
        /// First day covered, YYYY-MM-DD (UTC).
        #[arg(long)]
        from: String,
        /// Last day covered, YYYY-MM-DD (UTC), inclusive.
        #[arg(long)]
        to: String,
        /// Record the fees of matched payments in the ledger (once per payment).
        #[arg(long)]
        record_fees: bool,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that every currency's postings sum to zero and every balance matches its postings.
    LedgerCheck,
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Subcommand)]
enum BalanceAction {
    /// Credit (or with a negative amount, debit) a line's balance.
    Credit {
        /// Phone number or ICCID.
        #[arg(long)]
        line: String,
        /// Amount in major units, e.g. 500 or 499.90.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        #[arg(long, default_value = "RUB")]
        currency: String,
        /// Why: kept in the ledger and the audit log.
        #[arg(long)]
        reason: String,
        /// Who: kept in the audit log (default: $USER).
        #[arg(long)]
        actor: Option<String>,
    },
}

#[derive(Subcommand)]
enum UpstreamAction {
    /// Have a supplier fulfil a plan (top-ups of the line's own ICCID), or ours again
    /// with --local; audited.
    Plan {
        #[arg(long)]
        plan: String,
        /// The supplier's adapter: esimaccess.
        #[arg(long, default_value = simrenew_esim::upstream::esimaccess::NAME)]
        adapter: String,
        /// The supplier's package code.
        #[arg(long, required_unless_present = "local")]
        package: Option<String>,
        #[arg(long)]
        local: bool,
    },
}

#[derive(Subcommand)]
enum LineAction {
    Suspend {
        #[arg(long)]
        line: String,
    },
    Activate {
        #[arg(long)]
        line: String,
    },
}

#[derive(clap::Subcommand)]
enum PartnerAction {
    /// Adds a partner and prints its key id and secret (once). Needs `secret_key` set:
    /// the secret is sealed with it.
    Add {
        #[arg(long)]
        name: String,
        /// Comma-separated: lines:read.
        #[arg(long, default_value = "lines:read")]
        scopes: String,
    },
    /// Credits a partner's prepaid deposit with money they paid in (audited).
    Deposit {
        #[arg(long)]
        key: String,
        /// In major units, for example 10000 or 99.50.
        #[arg(long)]
        amount: String,
        #[arg(long, default_value = "RUB")]
        currency: String,
        /// What it was (the bank transfer's reference).
        #[arg(long)]
        memo: String,
    },
    /// Sets (or, without --url, clears) where a partner's events are posted.
    Webhook {
        #[arg(long)]
        key: String,
        #[arg(long)]
        url: Option<String>,
    },
    /// Replaces a partner's wholesale price list with a file of `plan_id,currency,price`
    /// lines (price in major units), clears it with --clear, or prints it. A plan not
    /// listed is sold to the partner at the retail price.
    Prices {
        #[arg(long)]
        key: String,
        #[arg(long, conflicts_with = "clear")]
        file: Option<std::path::PathBuf>,
        #[arg(long)]
        clear: bool,
    },
    /// Sets how many requests a minute a partner may send (default 120).
    Rate {
        #[arg(long)]
        key: String,
        #[arg(long)]
        per_minute: i64,
    },
}

#[derive(clap::Subcommand)]
enum StaffAction {
    /// Adds a member of staff (the first admin, say). The first password is read from
    /// SIMRENEW_STAFF_PASSWORD, or made and printed once.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, clerk or support.
        #[arg(long)]
        role: String,
    },
    /// Lists the staff.
    List,
}

#[derive(clap::Subcommand)]
enum EsimAction {
    /// Adds the ICCIDs of a file (one per line, as the SM-DP+'s batch lists them) to the
    /// inventory as available profiles of an operator and profile type.
    Import {
        #[arg(long)]
        operator: String,
        #[arg(long = "type")]
        profile_type: String,
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// Adds new eSIM numbers for sale at /esim/new: a file of `ICCID,number` lines (the
    /// batch's profiles and the numbers they carry); their profile type is
    /// `<operator>-esim`.
    ImportLines {
        #[arg(long)]
        operator: String,
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// Profiles per operator and state.
    Counts,
    /// Releases a profile for an order through the SM-DP+ (downloadOrder, confirmOrder),
    /// optionally bound to a device's EID; prints where the buyer installs it.
    Release {
        #[arg(long)]
        order: String,
        #[arg(long)]
        operator: String,
        #[arg(long = "type")]
        profile_type: String,
        #[arg(long)]
        eid: Option<String>,
    },
    /// Cancels an order's failed profile and releases a new one (limited per order).
    Reissue {
        #[arg(long)]
        order: String,
    },
}

/// mimalloc, not glibc's malloc. Under renewals the server's memory kept growing with
/// glibc, by about 20 MB each time another of its per-thread arenas (up to 8 per core) took
/// a turn at the peak of a burst (tokio's workers move between threads as SQLite commits
/// wait for their fsync), and an arena keeps what it once held: anonymous memory 10 → 89 MB
/// over eight 6-second bursts of renewals, still rising. With mimalloc it stays at about
/// 26 MB (docs/benchmarks.md, 2026-12-06, fourth run).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes, without a backtrace: this is for the operator.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config =
        Config::load(cli.config.as_deref()).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli.command, config))
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    let opts = StoreOptions {
        max_connections: config.db_max_connections,
        sqlite_mmap_bytes: u64::from(config.sqlite_mmap_mb) << 20,
        ..Default::default()
    };
    let store = Store::connect(&config.database_url, &opts)
        .await
        .with_context(|| {
            format!(
                "cannot open the database at {}",
                config.database_url_redacted()
            )
        })?;
    store.migrate().await.context("migrations failed")?;
    Ok(store.with_fx_rates(config.fx()?))
}

/// The demo's resold plan and the stand-in supplier's package that fulfils it.
const DEMO_RESOLD_PLAN: (&str, &str) = ("mts-travel-30d-20gb", "RU_20_30");

fn actor(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("USER").ok())
        .map_or_else(|| "cli".into(), |u| format!("cli:{u}"))
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { demo } => {
            if demo {
                if config.fx_rates.is_empty() {
                    config.fx_rates = [("CNY", "12.5"), ("USD", "90"), ("EUR", "97")]
                        .into_iter()
                        .map(|(a, b)| (a.into(), b.into()))
                        .collect();
                }
                config
                    .feed_token
                    .get_or_insert_with(|| "demo-feed-token".into());
                config.demo_payments = true;
                config.payments_sandbox = true;
                // The demo shows the whole eSIM path, confirmation code included.
                config.esim_confirmation_codes = true;
                config
                    .support_email
                    .get_or_insert_with(|| "help@simrenew.example".into());
                config
                    .support_telegram
                    .get_or_insert_with(|| "simrenew_demo".into());
            }
            let store = open(&config).await?;
            if demo {
                let info = store.seed_demo().await?;
                if store.seed_demo_staff().await? > 0 {
                    eprintln!(
                        "Demo staff at /admin: admin@, clerk@ and support@simrenew.example / {}",
                        simrenew_store::demo::DEMO_STAFF_PASSWORD
                    );
                }
                if info.seeded {
                    eprintln!(
                        "Seeded demo data: 32 plans, {} lines, account {} / {}",
                        info.lines.len(),
                        simrenew_store::demo::DEMO_EMAIL,
                        simrenew_store::demo::DEMO_PASSWORD
                    );
                    // One plan the demo resells from its stand-in of eSIM Access.
                    store
                        .set_upstream_plan(
                            "demo",
                            DEMO_RESOLD_PLAN.0,
                            Some(&simrenew_store::upstream::Supplier {
                                adapter: simrenew_esim::upstream::esimaccess::NAME.into(),
                                package_code: DEMO_RESOLD_PLAN.1.into(),
                            }),
                        )
                        .await?;
                }
            }
            serve(store, &config, demo).await
        }
        Command::Migrate => {
            open(&config).await?;
            eprintln!("migrations applied to {}", config.database_url_redacted());
            Ok(())
        }
        Command::Demo { lines } => {
            let store = open(&config).await?;
            let started = std::time::Instant::now();
            let mut last = 0;
            let first = store
                .generate_lines(lines, |done| {
                    if done - last >= 50_000 || done == lines {
                        eprintln!("{done} / {lines} lines");
                        last = done;
                    }
                })
                .await?;
            eprintln!(
                "added {lines} lines (+7900{first:07} onwards) in {:.1}s, owned by {} / {}",
                started.elapsed().as_secs_f64(),
                simrenew_store::demo::BENCH_EMAIL,
                simrenew_store::demo::BENCH_PASSWORD
            );
            Ok(())
        }
        Command::Balance {
            action:
                BalanceAction::Credit {
                    line,
                    amount,
                    currency,
                    reason,
                    actor: who,
                },
        } => {
            let store = open(&config).await?;
            let currency: Currency = currency.parse()?;
            let amount = Money::parse_major(&amount, currency)?;
            let line = store
                .find_line(&LineRef::parse(&line).context("--line")?)
                .await?;
            let balance = store
                .adjust_balance(&line.id, amount, &reason, &actor(who))
                .await?;
            println!("{} balance is now {balance}", line.msisdn.display());
            Ok(())
        }
        Command::Esim { action } => esim_command(&config, action).await,
        Command::Staff { action } => staff_command(&config, action).await,
        Command::Partner { action } => partner_command(&config, action).await,
        Command::Upstream {
            action:
                UpstreamAction::Plan {
                    plan,
                    adapter,
                    package,
                    local,
                },
        } => {
            let store = open(&config).await?;
            if adapter != simrenew_esim::upstream::esimaccess::NAME {
                anyhow::bail!(
                    "--adapter: the supplier adapters are: {}",
                    simrenew_esim::upstream::esimaccess::NAME
                );
            }
            let supplier = match (local, package) {
                (true, _) | (false, None) => None,
                (false, Some(package_code)) => Some(simrenew_store::upstream::Supplier {
                    adapter,
                    package_code,
                }),
            };
            store
                .set_upstream_plan(&actor(None), &plan, supplier.as_ref())
                .await?;
            match supplier {
                Some(s) => println!("{plan} is fulfilled by {} as {}", s.adapter, s.package_code),
                None => println!("{plan} is fulfilled by simrenew's own buckets"),
            }
            Ok(())
        }
        Command::Line { action } => {
            let store = open(&config).await?;
            let (raw, status) = match &action {
                LineAction::Suspend { line } => (line, "suspended"),
                LineAction::Activate { line } => (line, "active"),
            };
            let line = store
                .find_line(&LineRef::parse(raw).context("--line")?)
                .await?;
            store
                .set_line_status(&line.id, status, &actor(None))
                .await?;
            println!("{} is now {status}", line.msisdn.display());
            Ok(())
        }
        Command::Refund {
            payment,
            amount,
            reason,
        } => {
            let store = open(&config).await?;
            let p = store.payment(&payment).await?;
            let amount = simrenew_core::Money::parse_major(&amount, p.amount.currency)
                .map_err(|e| anyhow::anyhow!("amount: {e}"))?;
            let (providers, _) = providers(&config)?;
            let r = simrenew_web::payments::refund(
                &store,
                &providers,
                config.vat_code,
                &payment,
                amount,
                &reason,
            )
            .await?;
            println!("refund {} of {}: {}", r.id, r.amount, r.status);
            Ok(())
        }
        Command::Reconcile {
            provider,
            file,
            from,
            to,
            record_fees,
            json,
        } => {
            let day = |s: &str, what: &str| {
                time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                    .map(|d| d.midnight().assume_utc())
                    .map_err(|_| anyhow::anyhow!("--{what}: {s:?} is not a date YYYY-MM-DD"))
            };
            let (from, to) = (
                day(&from, "from")?,
                day(&to, "to")? + time::Duration::days(1),
            );
            let bytes =
                std::fs::read(&file).with_context(|| format!("--file {}", file.display()))?;
            let store = open(&config).await?;
            let report =
                simrenew_web::payments::reconcile(&store, &provider, &bytes, from, to, record_fees)
                    .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_reconciliation(&report);
            }
            if !report.clean() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::LedgerCheck => {
            let store = open(&config).await?;
            let check = store.check_ledger().await?;
            println!(
                "{} postings; sums per currency: {:?}",
                check.postings, check.sums
            );
            if !check.is_sound() {
                anyhow::bail!("ledger is NOT sound: {check:?}");
            }
            let orders = store.check_orders().await?;
            println!("{} orders, {} fulfilled", orders.orders, orders.fulfilled);
            if !orders.is_sound() {
                anyhow::bail!("orders are NOT sound: {orders:?}");
            }
            println!("ledger and orders are sound");
            Ok(())
        }
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&simrenew_web::openapi::spec())?
            );
            Ok(())
        }
    }
}

async fn serve(store: Store, config: &Config, demo: bool) -> anyhow::Result<()> {
    if config.http_timeout_secs == 0 {
        anyhow::bail!("http_timeout_secs: must be at least 1 (seconds)");
    }
    let (providers, sandbox) = providers(config)?;
    // The SM-DP+: in demo shops a stand-in (mutual TLS, its own CA) stocked with the
    // demo's eSIMs; otherwise the configured one, if any.
    let verify_header = config
        .esim_callback_verify_header
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty());
    if let Some(h) = verify_header
        && axum::http::HeaderName::from_bytes(h.as_bytes()).is_err()
    {
        anyhow::bail!("esim_callback_verify_header: {h:?} is not an HTTP header name");
    }
    let mut esim_callback = match &config.esim_smdp_id {
        Some(id) if config.esim_callback_token.is_some() || verify_header.is_some() => {
            Some(simrenew_web::EsimCallback {
                smdp_id: id.clone(),
                token: config.esim_callback_token.clone(),
                verify_header: verify_header.map(|h| h.to_ascii_lowercase()),
            })
        }
        _ => None,
    };
    let mut esim_phone = None;
    let es2 = if config.payments_sandbox {
        store.seed_demo_esims().await?;
        let smdp = simrenew_esim::sandbox::start().await?;
        for (op, iccid, _) in simrenew_store::demo::demo_esim_stock() {
            smdp.stock(&format!("{}-esim", op.code()), &[iccid.as_str()]);
        }
        // The stand-in reports downloads to us as a real SM-DP+ would, with a token of
        // this run's.
        let token = simrenew_store::db::new_secret();
        smdp.report_to(simrenew_esim::sandbox::Callback {
            url: format!(
                "{}/gsma/rsp2/es2plus/handleDownloadProgressInfo",
                config.public_url().trim_end_matches('/')
            ),
            token: token.clone(),
        });
        esim_callback = Some(simrenew_web::EsimCallback {
            smdp_id: simrenew_esim::sandbox::SMDP_ID.into(),
            token: Some(token),
            verify_header: None,
        });
        tracing::warn!(smdp = %smdp.base, "eSIM sandbox on: the SM-DP+ and the phone at /sandbox/esim/phone are local stand-ins");
        let client = smdp.client()?;
        esim_phone = Some(simrenew_esim::sandbox::phone_router(smdp));
        Some(std::sync::Arc::new(client))
    } else if config.esim_smdp_url.is_some() {
        Some(std::sync::Arc::new(es2_client(config)?))
    } else {
        None
    };
    let secret = config.secret()?;
    if config.payments_sandbox {
        simrenew_web::routes::partner::seed_demo_partner(&store, &secret).await?;
    }
    // Suppliers of resold plans: the demo's stand-in of eSIM Access under
    // /sandbox/esimaccess, or the real one when its keys are set.
    let mut upstream: Vec<std::sync::Arc<dyn simrenew_esim::upstream::Upstream>> = Vec::new();
    let mut upstream_sandbox = None;
    if config.payments_sandbox {
        let stand_in = simrenew_esim::upstream::sandbox::EsimAccessSandbox::new();
        stand_in.add_package(DEMO_RESOLD_PLAN.1, 20 << 30, 900);
        // The demo's MTS cards are the supplier's profiles: their renewals with the
        // resold plan are top-ups there.
        for n in 1..=5 {
            let iccid = simrenew_store::demo::demo_iccid(simrenew_core::Operator::Mts, n);
            stand_in.add_profile(iccid.as_str(), 0);
        }
        upstream.push(std::sync::Arc::new(
            simrenew_esim::upstream::esimaccess::EsimAccess::new(
                &format!(
                    "{}/sandbox/esimaccess",
                    config.public_url().trim_end_matches('/')
                ),
                simrenew_esim::upstream::sandbox::ACCESS_CODE,
                simrenew_esim::upstream::sandbox::SECRET_KEY,
            )?,
        ));
        upstream_sandbox = Some(axum::Router::new().nest("/sandbox/esimaccess", stand_in.router()));
    } else if let (Some(code), Some(key)) = (
        &config.esimaccess_access_code,
        &config.esimaccess_secret_key,
    ) {
        upstream.push(std::sync::Arc::new(
            simrenew_esim::upstream::esimaccess::EsimAccess::new(
                &config.esimaccess_url,
                code,
                key,
            )?,
        ));
    }
    let state = simrenew_web::AppState::new(
        store.clone(),
        simrenew_web::WebConfig {
            feed_token: config.feed_token.clone(),
            metrics_token: config.metrics_token.clone(),
            secret,
            secure_cookies: config.public_url().starts_with("https://"),
            demo_payments: config.demo_payments,
            support: std::sync::Arc::new(simrenew_web::pages::Support {
                phone: config.support_phone.clone(),
                telegram: config.support_telegram.clone(),
                wechat: config.support_wechat.clone(),
                email: config.support_email.clone(),
            }),
            public_url: config.public_url(),
            providers,
            vat_code: config.vat_code,
            sms_codes: config.sms_gateway_url.is_some() || config.demo_payments,
            es2,
            esim_confirmation_codes: config.esim_confirmation_codes,
            behind_proxy: config.behind_proxy,
            esim_sandbox_phone: esim_phone.is_some(),
            max_numbers_per_person: config.max_numbers_per_person,
            esim_callback,
            upstream,
        },
    );
    // Payments whose notification has not come: asked of their provider every minute.
    let payments_state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            simrenew_web::payments::refresh_open(&payments_state, 60).await;
            simrenew_web::payments::refresh_refunds(&payments_state, 60).await;
            // eSIMs paid for and not released yet (the buyer did not come back).
            simrenew_web::esim::release_paid(&payments_state).await;
            // eSIMs of refunded orders no phone has: cancelled at the SM-DP+, restocked.
            if let Some(smdp) = payments_state.config.es2.as_deref() {
                simrenew_web::esim::take_back_refunded(&payments_state.store, smdp).await;
            }
            // New eSIM numbers not paid for in 30 minutes (and no payment under way) go
            // back, their unpaid orders cancelled.
            let hold = simrenew_web::routes::esims::RESERVATION_SECS;
            if let Err(e) = payments_state.store.expire_reservations(hold).await {
                tracing::warn!(error = %e, "eSIM reservations");
            }
        }
    });
    // Partners' webhooks: due events posted every 5 s, retried with backoff.
    simrenew_payments::install_crypto();
    simrenew_web::routes::partner::spawn_webhooks(state.clone());
    // Resold plans: the supplier asked every 5 s, its usage read every 50 s.
    simrenew_web::upstream::spawn(state.clone(), std::time::Duration::from_secs(5));
    let mut app = simrenew_web::app(state);
    if let Some(stands) = sandbox {
        tracing::warn!("payments sandbox on: providers are local stand-ins, no money moves");
        app = app.merge(stands);
    }
    if let Some(phone) = esim_phone {
        app = app.merge(phone);
    }
    if let Some(stand_in) = upstream_sandbox {
        app = app.merge(stand_in);
    }
    // Messages to people: delivered from the outbox by SMTP when configured.
    let mailer = match &config.smtp_url {
        Some(url) => Some(simrenew_jobs::Mailer::new(url, &config.mail_from)?),
        None => {
            tracing::info!("smtp_url is not set: e-mails stay in the outbox");
            None
        }
    };
    let sms = match &config.sms_gateway_url {
        Some(url) => Some(simrenew_jobs::SmsGateway::new(
            url,
            config.sms_gateway_token.as_deref().unwrap_or(""),
        )?),
        None => None,
    };
    simrenew_jobs::Delivery::new(store.clone(), mailer)
        .with_sms(sms)
        .spawn(std::time::Duration::from_secs(5));
    simrenew_web::metrics::spawn_upkeep(std::time::Duration::from_secs(5));
    // Housekeeping: expired sessions and idempotency keys past their retention; orders
    // left unpaid past `pending_order_hours`.
    let housekeeping = store.clone();
    let unpaid_after = time::Duration::hours(i64::from(config.pending_order_hours));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            match housekeeping.purge_expired().await {
                Ok((sessions, keys)) if sessions + keys > 0 => tracing::info!(
                    sessions,
                    keys,
                    "purged expired sessions and idempotency keys"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
            }
            let cutoff = time::OffsetDateTime::now_utc() - unpaid_after;
            match housekeeping.cancel_unpaid_orders(cutoff).await {
                Ok(0) => {}
                Ok(orders) => tracing::info!(orders, "cancelled orders left unpaid"),
                Err(e) => tracing::warn!(error = %e, "cancelling unpaid orders failed"),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(&config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.http_addr))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %config.database_url_redacted(), "simrenew listening");
    eprintln!("simrenew is running: open http://{addr}/  (API explorer: http://{addr}/api/docs)");
    if demo {
        eprintln!(
            "demo: usage feed token is {:?}",
            config.feed_token.as_deref().unwrap_or("")
        );
    }
    // Slow or idle clients are cut off after http_timeout_secs; the peer's address reaches
    // per-client limits (extract::ClientIp).
    let timeout = std::time::Duration::from_secs(u64::from(config.http_timeout_secs));
    simrenew_web::server::serve(listener, app, timeout, shutdown()).await?;
    store.close().await;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

/// The payment connectors: in demo shops every provider's sandbox stand-in (and the
/// router that serves them), else each provider whose settings are all given.
type Providers = Vec<std::sync::Arc<dyn simrenew_payments::provider::Provider>>;

fn providers(config: &Config) -> anyhow::Result<(Providers, Option<axum::Router>)> {
    use simrenew_payments::keys::{SigningKey, VerifyingKey};
    use simrenew_payments::{alipay::Alipay, wechatpay, yookassa::YooKassa};
    use std::sync::Arc;
    let public = config.public_url();
    let public = public.trim_end_matches('/');
    if config.payments_sandbox {
        let stands = simrenew_payments::sandbox::all(public, &format!("{public}/webhooks"))?;
        return Ok((stands.providers, Some(stands.router)));
    }
    let mut out: Vec<Arc<dyn simrenew_payments::provider::Provider>> = Vec::new();
    if let (Some(id), Some(key)) = (&config.yookassa_shop_id, &config.yookassa_secret_key) {
        out.push(Arc::new(YooKassa::new(&config.yookassa_api_url, id, key)?));
    }
    if let (Some(app), Some(private), Some(public_key)) = (
        &config.alipay_app_id,
        &config.alipay_private_key,
        &config.alipay_public_key,
    ) {
        out.push(Arc::new(Alipay::new(
            &config.alipay_gateway,
            app,
            private,
            public_key,
        )?));
    }
    if let (
        Some(mchid),
        Some(appid),
        Some(serial),
        Some(private),
        Some(key_id),
        Some(key),
        Some(v3),
    ) = (
        &config.wechatpay_mchid,
        &config.wechatpay_appid,
        &config.wechatpay_serial_no,
        &config.wechatpay_private_key,
        &config.wechatpay_public_key_id,
        &config.wechatpay_public_key,
        &config.wechatpay_api_v3_key,
    ) {
        out.push(Arc::new(wechatpay::WeChatPay::new(
            &config.wechatpay_api_url,
            wechatpay::Credentials {
                mchid: mchid.clone(),
                appid: appid.clone(),
                serial_no: serial.clone(),
                private_key: SigningKey::parse(private)
                    .map_err(|e| anyhow::anyhow!("wechatpay_private_key: {e}"))?,
                wechat_key_id: key_id.clone(),
                wechat_key: VerifyingKey::parse(key)
                    .map_err(|e| anyhow::anyhow!("wechatpay_public_key: {e}"))?,
                api_v3_key: v3.clone(),
            },
        )?));
    }
    if let (Some(key), Some(hook)) = (&config.stripe_secret_key, &config.stripe_webhook_secret) {
        out.push(Arc::new(simrenew_payments::stripe::Stripe::new(
            &config.stripe_api_url,
            key,
            hook,
        )?));
    }
    if let (Some(id), Some(secret), Some(hook)) = (
        &config.paypal_client_id,
        &config.paypal_secret,
        &config.paypal_webhook_id,
    ) {
        out.push(Arc::new(simrenew_payments::paypal::PayPal::new(
            &config.paypal_api_url,
            id,
            secret,
            hook,
        )?));
    }
    Ok((out, None))
}

/// The findings of a reconciliation, for a person.
fn print_reconciliation(r: &simrenew_web::payments::ReconcileReport) {
    use simrenew_core::reconcile::Finding;
    let mut counts = [0usize; 4];
    for f in &r.findings {
        match f {
            Finding::Matched { .. } => counts[0] += 1,
            Finding::Differs { line, ours } => {
                counts[1] += 1;
                println!(
                    "DIFFERS      line {:>5}  {}  report {}  here {} ({})",
                    line.line, line.reference, line.gross, ours.amount, ours.id
                );
            }
            Finding::OnlyInReport { line } => {
                counts[2] += 1;
                println!(
                    "ONLY REPORT  line {:>5}  {}  {} {:?}",
                    line.line, line.reference, line.gross, line.entry
                );
            }
            Finding::OnlyHere { ours } => {
                counts[3] += 1;
                println!(
                    "ONLY HERE               {}  {} {:?} ({})",
                    ours.provider_id.as_deref().unwrap_or("-"),
                    ours.amount,
                    ours.entry,
                    ours.id
                );
            }
        }
    }
    println!(
        "{}: {} matched, {} differ, {} only in the report, {} only here; {} fees recorded",
        r.provider, counts[0], counts[1], counts[2], counts[3], r.fees_recorded
    );
}

/// `simrenew esim …`.
async fn esim_command(config: &Config, action: EsimAction) -> anyhow::Result<()> {
    let store = open(config).await?;
    let operator = |s: &str| {
        s.parse::<simrenew_core::Operator>()
            .map_err(|_| anyhow::anyhow!("--operator: {s:?} is not mts, beeline, megafon or t2"))
    };
    let install_url = |order: &str| {
        format!(
            "{}/orders/{order}/esim",
            config.public_url().trim_end_matches('/')
        )
    };
    match action {
        EsimAction::Import {
            operator: op,
            profile_type,
            file,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("--file {}", file.display()))?;
            let mut iccids = Vec::new();
            for (n, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                iccids.push(
                    simrenew_core::Iccid::parse(line.trim())
                        .map_err(|e| anyhow::anyhow!("line {}: {e}", n + 1))?,
                );
            }
            let (added, known) = store
                .import_profiles(operator(&op)?, &profile_type, &iccids)
                .await?;
            println!("{added} profiles added, {known} already known");
        }
        EsimAction::ImportLines { operator: op, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("--file {}", file.display()))?;
            let rows = simrenew_core::parse_stock_csv(&text)?;
            let op = operator(&op)?;
            let (added, known) = store
                .import_esim_lines(op, &format!("{}-esim", op.code()), &rows)
                .await?;
            println!("{added} eSIM numbers added, {known} already known");
        }
        EsimAction::Counts => {
            for (op, state, n) in store.profile_counts().await? {
                println!("{op:<8} {:<11} {n}", state.code());
            }
        }
        EsimAction::Release {
            order,
            operator: op,
            profile_type,
            eid,
        } => {
            let eid = eid
                .map(|e| simrenew_core::Eid::parse(&e).map_err(|e| anyhow::anyhow!("--eid: {e}")))
                .transpose()?;
            let smdp = es2_client(config)?;
            let public_url = config.public_url();
            let r = release(&store, &smdp, config, &public_url);
            let p = simrenew_web::esim::release_for_order(
                &r,
                &order,
                operator(&op)?,
                &profile_type,
                eid.as_ref().map(|e| e.as_str()),
            )
            .await?;
            println!(
                "profile {} {}; install at {}",
                p.iccid,
                p.state.code(),
                install_url(&order)
            );
        }
        EsimAction::Reissue { order } => {
            let smdp = es2_client(config)?;
            let public_url = config.public_url();
            let r = release(&store, &smdp, config, &public_url);
            let p = simrenew_web::esim::reissue(&r, &order, None).await?;
            println!(
                "profile {} {} (reissue {}); install at {}",
                p.iccid,
                p.state.code(),
                p.reissues,
                install_url(&order)
            );
        }
    }
    Ok(())
}

/// The ES2+ client of the configured SM-DP+.
/// `simrenew partner …`.
async fn partner_command(config: &Config, action: PartnerAction) -> anyhow::Result<()> {
    let (name, scopes) = match action {
        PartnerAction::Add { name, scopes } => (name, scopes),
        PartnerAction::Deposit {
            key,
            amount,
            currency,
            memo,
        } => {
            let currency: simrenew_core::Currency = currency
                .parse()
                .map_err(|e| anyhow::anyhow!("--currency: {e}"))?;
            let amount = simrenew_core::Money::parse_major(&amount, currency)
                .map_err(|e| anyhow::anyhow!("--amount: {e}"))?;
            let store = open(config).await?;
            let now = store
                .credit_partner(&actor(None), &key, amount, &memo)
                .await?;
            println!("{key}: deposit now {now}");
            return Ok(());
        }
        PartnerAction::Webhook { key, url } => {
            let store = open(config).await?;
            store
                .set_partner_webhook(&actor(None), &key, url.as_deref())
                .await?;
            println!("{key}: webhook {}", url.as_deref().unwrap_or("off"));
            return Ok(());
        }
        PartnerAction::Prices { key, file, clear } => {
            let store = open(config).await?;
            if clear {
                store.set_wholesale_prices(&actor(None), &key, &[]).await?;
            }
            if let Some(file) = file {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                let rows = simrenew_core::partner::parse_price_list(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                if rows.is_empty() {
                    anyhow::bail!(
                        "{}: no prices in it (to clear the list, use --clear)",
                        file.display()
                    );
                }
                let list: Vec<_> = rows
                    .iter()
                    .map(
                        |(plan_id, price)| simrenew_store::partners::WholesalePrice {
                            plan_id,
                            price: *price,
                        },
                    )
                    .collect();
                store
                    .set_wholesale_prices(&actor(None), &key, &list)
                    .await?;
            }
            let p = store
                .partner_by_key(&key)
                .await?
                .ok_or_else(|| anyhow::anyhow!("--key: no active partner {key}"))?;
            let list = store.wholesale_prices(&p.id).await?;
            println!("{key}: {} wholesale prices", list.len());
            for l in list {
                println!(
                    "{},{},{}",
                    l.plan_id,
                    l.price.currency,
                    l.price.major_string()
                );
            }
            return Ok(());
        }
        PartnerAction::Rate { key, per_minute } => {
            let store = open(config).await?;
            store
                .set_partner_rate(&actor(None), &key, per_minute)
                .await?;
            println!("{key} may send {per_minute} requests a minute");
            return Ok(());
        }
    };
    if config.secret_key.is_none() {
        anyhow::bail!(
            "secret_key is not set: a partner's secret is sealed with it, and a random key would be lost at the next start (set SIMRENEW_SECRET_KEY as for serve)"
        );
    }
    let store = open(config).await?;
    let secret = config.secret()?;
    let (key, plain) = simrenew_web::routes::partner::new_credentials();
    let sealed = simrenew_web::routes::partner::seal(&secret, &plain);
    let scopes: Vec<&str> = scopes
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let p = store
        .add_partner(&actor(None), &name, &key, &sealed, &scopes)
        .await?;
    println!(
        "partner {} added with scopes {}",
        p.name,
        p.scopes.join(" ")
    );
    println!("key id: {key}");
    println!("secret (shown once): {plain}");
    Ok(())
}

/// `simrenew staff …`.
async fn staff_command(config: &Config, action: StaffAction) -> anyhow::Result<()> {
    let store = open(config).await?;
    match action {
        StaffAction::Add { email, name, role } => {
            let role: simrenew_core::staff::Role =
                role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let (password, made) = match std::env::var("SIMRENEW_STAFF_PASSWORD") {
                Ok(p) if !p.is_empty() => (p, false),
                _ => (simrenew_store::db::new_secret()[..20].to_string(), true),
            };
            let s = store
                .add_staff(&actor(None), &email, &name, role, &password)
                .await?;
            println!("added {} ({}) as {}", s.email, s.name, s.role);
            if made {
                println!("first password (shown once): {password}");
            }
        }
        StaffAction::List => {
            for s in store.list_staff().await? {
                println!(
                    "{:<32} {:<8} {:<24} {}",
                    s.email,
                    s.role,
                    s.name,
                    if s.totp { "2FA" } else { "" }
                );
            }
        }
    }
    Ok(())
}

/// How the CLI releases eSIMs: as `serve` does.
fn release<'a>(
    store: &'a Store,
    smdp: &'a simrenew_esim::es2plus::Es2Client,
    config: &Config,
    public_url: &'a str,
) -> simrenew_web::esim::Release<'a> {
    simrenew_web::esim::Release {
        store,
        smdp,
        public_url,
        confirmation_codes: config.esim_confirmation_codes,
    }
}

fn es2_client(config: &Config) -> anyhow::Result<simrenew_esim::es2plus::Es2Client> {
    let (Some(url), Some(requester), Some(ca), Some(cert), Some(key)) = (
        &config.esim_smdp_url,
        &config.esim_requester_id,
        &config.esim_smdp_ca_file,
        &config.esim_client_cert_file,
        &config.esim_client_key_file,
    ) else {
        anyhow::bail!(
            "the SM-DP+ is not configured: esim_smdp_url, esim_requester_id, esim_smdp_ca_file, esim_client_cert_file, esim_client_key_file (docs/esim.md)"
        );
    };
    let read = |p: &std::path::PathBuf, what: &str| {
        std::fs::read_to_string(p).with_context(|| format!("{what} {}", p.display()))
    };
    let tls = simrenew_esim::es2plus::Tls {
        server_ca_pem: read(ca, "esim_smdp_ca_file")?,
        client_cert_pem: read(cert, "esim_client_cert_file")?,
        client_key_pem: read(key, "esim_client_key_file")?,
    };
    Ok(simrenew_esim::es2plus::Es2Client::new(
        url, requester, &tls,
    )?)
}
