//! What the HTTP test suites share: the whole app on a random port over a fresh demo
//! database, once per database (SQLite, PostgreSQL).

use simrenew_store::testing::{self, TestDb};

pub const FEED: &str = "test-feed-token";

/// One running app and the database it owns (dropped with it).
pub struct Served {
    pub base: String,
    pub db: &'static str,
    pub _db: TestDb,
}

/// The app on each database, seeded with the demo data; `config` adjusts the defaults.
pub async fn serve_all(config: impl Fn(&mut simrenew_web::WebConfig)) -> Vec<Served> {
    let mut out = Vec::new();
    for db in testing::all().await {
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
        let state = simrenew_web::AppState::new(store, web);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, simrenew_web::app(state))
                .await
                .unwrap()
        });
        out.push(Served {
            base: format!("http://{addr}"),
            db: db.name,
            _db: db,
        });
    }
    out
}
