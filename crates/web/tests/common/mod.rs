//! What the HTTP test suites share: the whole app on a random port over a fresh demo
//! database, once per database (SQLite, PostgreSQL).

use simrenew_store::testing::{self, TestDb};

pub mod openapi;
pub mod visitor;

pub const FEED: &str = "test-feed-token";

/// One running app and the database it owns (dropped with it).
pub struct Served {
    pub base: String,
    /// The payment stand-ins' signing keys (apps served with the sandbox).
    #[allow(dead_code)]
    pub keys: Option<SandboxKeys>,
    #[allow(dead_code)]
    pub db: &'static str,
    pub _db: TestDb,
}

/// What tests need to speak as the providers' stand-ins do.
#[allow(dead_code)]
pub struct SandboxKeys {
    pub alipay: std::sync::Arc<simrenew_payments::keys::SigningKey>,
    pub alipay_app_id: String,
    pub wechat: std::sync::Arc<simrenew_payments::keys::SigningKey>,
    pub paypal: std::sync::Arc<simrenew_payments::keys::SigningKey>,
    pub providers: Vec<std::sync::Arc<dyn simrenew_payments::provider::Provider>>,
}

/// The app on each database, seeded with the demo data; `config` adjusts the defaults.
#[allow(dead_code)]
pub async fn serve_all(config: impl Fn(&mut simrenew_web::WebConfig)) -> Vec<Served> {
    serve_all_on(false, config).await
}

/// The same, on SQLite alone when `sqlite_only` (browser tests: the pages' database
/// behaviour is covered on both by the HTTP suites).
pub async fn serve_all_on(
    sqlite_only: bool,
    config: impl Fn(&mut simrenew_web::WebConfig),
) -> Vec<Served> {
    serve(sqlite_only, None, config).await
}

/// The app on each database with YooKassa pointed at the sandbox stand-in mounted on the
/// same server (as `serve --demo` does).
#[allow(dead_code)]
pub async fn serve_all_with_sandbox() -> Vec<Served> {
    serve(false, Some("/webhooks"), |_| {}).await
}

/// The sandboxed app on each database, its configuration adjusted by `config`.
#[allow(dead_code)]
pub async fn serve_all_with_sandbox_and(
    config: impl Fn(&mut simrenew_web::WebConfig),
) -> Vec<Served> {
    serve(false, Some("/webhooks"), config).await
}

/// The sandboxed app on SQLite alone (browser tests).
#[allow(dead_code)]
pub async fn serve_sandbox_on_sqlite() -> Served {
    serve(true, Some("/webhooks"), |_| {}).await.remove(0)
}

/// The same, with the dashboard-configured stand-ins' (YooKassa, Stripe) notifications
/// sent under `path` (a wrong one loses them).
#[allow(dead_code)]
pub async fn serve_all_with_sandbox_notifying(path: &'static str) -> Vec<Served> {
    serve(false, Some(path), |_| {}).await
}

async fn serve(
    sqlite_only: bool,
    sandbox: Option<&'static str>,
    config: impl Fn(&mut simrenew_web::WebConfig),
) -> Vec<Served> {
    simrenew_payments::install_crypto();
    let dbs = if sqlite_only {
        vec![testing::sqlite().await]
    } else {
        testing::all().await
    };
    let mut out = Vec::new();
    for db in dbs {
        let store = db.store.clone().with_fx_rates(vec![
            simrenew_core::FxRate::parse(
                simrenew_core::Currency::Cny,
                simrenew_core::Currency::Rub,
                "12.5",
            )
            .unwrap(),
        ]);
        store.seed_demo().await.unwrap();
        let mut web = simrenew_web::WebConfig {
            feed_token: Some(FEED.into()),
            ..Default::default()
        };
        config(&mut web);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut stands = None;
        if let Some(notify) = sandbox {
            web.public_url = base.clone();
            let all = simrenew_payments::sandbox::all(&base, &format!("{base}{notify}")).unwrap();
            web.providers = all.providers.clone();
            stands = Some(all);
        }
        let state = simrenew_web::AppState::new(store, web);
        let mut app = simrenew_web::app(state);
        let mut keys = None;
        if let Some(all) = stands {
            app = app.merge(all.router);
            keys = Some(SandboxKeys {
                alipay: all.alipay_key,
                alipay_app_id: all.alipay_app_id,
                wechat: all.wechat_key,
                paypal: all.paypal_key,
                providers: all.providers,
            });
        }
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        out.push(Served {
            keys,
            base: format!("http://{addr}"),
            db: db.name,
            _db: db,
        });
    }
    out
}

/// The confirmation code of [`order_with_esim`]'s profile.
#[allow(dead_code)]
pub const CONFIRMATION_CODE: &str = "73915048";

/// An order with a released profile (as after downloadOrder + confirmOrder, with a
/// confirmation code): its id.
#[allow(dead_code)]
pub async fn order_with_esim(store: &simrenew_store::Store, n: u64) -> (String, String) {
    let order = simrenew_store::testing::pending_month_order(
        store,
        simrenew_core::Currency::Rub,
        simrenew_core::StartMode::Queued,
    )
    .await;
    store
        .import_profiles(
            simrenew_core::Operator::Mts,
            "mts-travel",
            &test_iccids(3000 + n, 1),
        )
        .await
        .unwrap();
    let prof = store
        .allocate_profile(
            simrenew_core::Operator::Mts,
            "mts-travel",
            Some(&order.id),
            None,
        )
        .await
        .unwrap();
    let change = simrenew_store::esim::ProfileChange {
        matching_id: Some("04386-AGYFT-A74Y8-3F815"),
        smdp_address: Some("smdp.sandbox.simrenew.example"),
        confirmation_code: Some(CONFIRMATION_CODE),
        ..Default::default()
    };
    store
        .set_profile_state(
            &prof.iccid,
            simrenew_core::esim::ProfileState::Released,
            &change,
        )
        .await
        .unwrap();
    (order.id, prof.iccid)
}

/// `n` valid test ICCIDs (Luhn digit included) from `first` on.
#[allow(dead_code)]
pub fn test_iccids(first: u64, n: u64) -> Vec<simrenew_core::Iccid> {
    (first..first + n)
        .map(|i| {
            let p = format!("897019900{i:010}");
            simrenew_core::Iccid::parse(&format!("{p}{}", simrenew_core::ids::luhn_check_digit(&p)))
                .unwrap()
        })
        .collect()
}
