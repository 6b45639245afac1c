//! simrenew's HTTP adapters: the JSON API under `/api/v1` (with its OpenAPI 3.1 document
//! and Swagger UI), health, readiness and Prometheus metrics. Handlers translate HTTP to
//! store calls and back; the rules are in `simrenew-core`, the transactions in
//! `simrenew-store`.

pub mod dto;
pub mod esim;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod payments;
pub mod problem;
pub mod routes;
pub mod server;
pub mod throttle;
pub mod upstream;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use simrenew_store::Store;
use std::sync::Arc;

/// What the HTTP layer needs to know besides the store.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The bearer token usage feeds present; usage reporting is off when unset.
    pub feed_token: Option<String>,
    /// When set, `GET /metrics` answers only `Authorization: Bearer <this>` (the order
    /// counts are business figures); unset, anyone who reaches the server may scrape.
    pub metrics_token: Option<String>,
    /// Signs CSRF tokens and lines' own links. Every server of one shop must share it.
    pub secret: Vec<u8>,
    /// Mark cookies Secure (and use the `__Host-` prefix): on for a site served over HTTPS.
    pub secure_cookies: bool,
    /// Offer the demo card, which settles orders with no money moving (demo shops only).
    pub demo_payments: bool,
    /// How travellers reach a person, shown on every page.
    pub support: Arc<pages::Support>,
    /// The site's address as travellers reach it, for links in e-mails.
    pub public_url: String,
    /// The payment providers configured (YooKassa, Alipay, WeChat Pay…), in the order
    /// their methods are offered.
    pub providers: Vec<Arc<dyn simrenew_payments::provider::Provider>>,
    /// The VAT code on 54-FZ receipt lines (YooKassa's codes: 1 = no VAT).
    pub vat_code: u8,
    /// The SM-DP+ we order eSIM profiles from (ES2+), when configured.
    pub es2: Option<Arc<simrenew_esim::es2plus::Es2Client>>,
    /// The SM-DP+ that reports download progress to us (ES2+ handleDownloadProgressInfo).
    pub esim_callback: Option<EsimCallback>,
    /// Release eSIMs with a confirmation code the phone must be given at download
    /// (shown to the buyer apart from the QR code).
    pub esim_confirmation_codes: bool,
    /// simrenew runs behind a reverse proxy that appends the client's address to
    /// `X-Forwarded-For`: per-client limits use that address instead of the proxy's.
    pub behind_proxy: bool,
    /// A demo shop's stand-in phone (`/sandbox/esim/phone`) installs eSIMs: the install
    /// page links to it.
    pub esim_sandbox_phone: bool,
    /// The legal maximum of numbers one person may hold from this shop (counter SIMs).
    pub max_numbers_per_person: i64,
    /// Lines may be proven by a code sent by SMS (a gateway is configured, or a demo shop
    /// shows the codes on its outbox page).
    pub sms_codes: bool,
    /// Suppliers of plans the business resells (eSIM Access…), by adapter name.
    pub upstream: Vec<Arc<dyn simrenew_esim::upstream::Upstream>>,
}

impl Default for WebConfig {
    /// A configuration for tests and demos: a random secret, plain-HTTP cookies.
    fn default() -> Self {
        Self {
            feed_token: None,
            metrics_token: None,
            secret: simrenew_store::db::new_secret().into_bytes(),
            secure_cookies: false,
            demo_payments: false,
            support: Arc::default(),
            public_url: "http://127.0.0.1:8080".into(),
            providers: Vec::new(),
            vat_code: 1,
            sms_codes: false,
            esim_callback: None,
            esim_confirmation_codes: false,
            behind_proxy: false,
            esim_sandbox_phone: false,
            max_numbers_per_person: 10,
            es2: None,
            upstream: Vec::new(),
        }
    }
}

/// Who may call our ES2+ endpoint: the SM-DP+'s function requester identifier and the
/// bearer token agreed with it (behind the mutual-TLS terminator; see docs/esim.md).
/// Who may call our ES2+ endpoint: the SM-DP+'s function requester identifier, and how
/// the caller is known to be it — a bearer token agreed with its operator, and/or the
/// reverse proxy's word that it verified the SM-DP+'s TLS client certificate (SGP.22
/// secures ES2+ by mutual TLS, so a conformant SM-DP+ sends no token). At least one.
#[derive(Clone)]
pub struct EsimCallback {
    pub smdp_id: String,
    pub token: Option<String>,
    /// A request header the proxy sets to `SUCCESS` after verifying the client
    /// certificate (nginx: `proxy_set_header X-Client-Verify $ssl_client_verify;`), and
    /// strips from what clients send.
    pub verify_header: Option<String>,
}

impl std::fmt::Debug for EsimCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsimCallback")
            .field("smdp_id", &self.smdp_id)
            .finish_non_exhaustive()
    }
}

/// eSIM numbers one client address may reserve in half an hour (the time a reservation
/// is held unpaid).
pub const RESERVATIONS_PER_CLIENT: u32 = 5;

/// Shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    /// Failed sign-ins per e-mail address, to slow down password guessing.
    pub sign_in_throttle: Arc<throttle::Throttle>,
    /// eSIM numbers reserved per client address: nobody holds the stock for half an hour
    /// by asking again and again.
    pub reserve_throttle: Arc<throttle::Throttle>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> Self {
        Self {
            config: Arc::new(config),
            sign_in_throttle: Arc::new(throttle::Throttle::new(
                store.clone(),
                "sign-in",
                10,
                std::time::Duration::from_secs(15 * 60),
            )),
            reserve_throttle: Arc::new(throttle::Throttle::new(
                store.clone(),
                "reserve",
                RESERVATIONS_PER_CLIENT,
                std::time::Duration::from_secs(30 * 60),
            )),
            store,
        }
    }
    /// Whether a scrape may read /metrics: no token configured, or the right one sent.
    pub fn may_scrape(&self, token: Option<&str>) -> bool {
        match (self.config.metrics_token.as_deref(), token) {
            (None, _) => true,
            (Some(expected), Some(given)) => secret_matches(expected, given),
            (Some(_), None) => false,
        }
    }

    /// Constant-time comparison with the configured feed token.
    pub fn feed_token_matches(&self, token: &str) -> bool {
        self.config
            .feed_token
            .as_deref()
            .is_some_and(|t| secret_matches(t, token))
    }
}

/// Whether `given` is the configured secret `expected` (never when none is set),
/// compared in constant time.
pub fn secret_matches(expected: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    // Install the recorder before the first request is counted.
    metrics::handle();
    let (api, spec) = openapi::api_router().split_for_parts();
    let spec = openapi::finish(spec);
    let api = api.route_layer(axum::middleware::from_fn(metrics::track));
    let pages = pages::router(&state);
    Router::new()
        .merge(api)
        .merge(pages)
        .merge(routes::webhooks::router())
        .merge(routes::es2plus::router())
        .merge(routes::partner::router())
        .merge(utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/v1/openapi.json", spec))
        .fallback(pages::site::fallback)
        .layer(axum::middleware::from_fn(pages::security_headers))
        .layer(DefaultBodyLimit::max(extract::MAX_BODY))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse;
            problem::Problem::internal().into_response()
        }))
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}
