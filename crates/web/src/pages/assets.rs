//! Static files compiled into the binary: the stylesheet, the small script, icons, the web
//! app manifest and the service worker. Assets are served under a name with a hash of
//! their content (`/assets/app.3f2a9c1d0b.css`) and cached for a year; the manifest and the
//! service worker keep fixed names (browsers look them up by name) and are revalidated.

use crate::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::OnceLock;

struct Asset {
    name: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

const FILES: &[Asset] = &[
    Asset {
        name: "app.css",
        body: include_bytes!("../../assets/app.css"),
        content_type: "text/css; charset=utf-8",
    },
    Asset {
        name: "receipt80.css",
        body: include_bytes!("../../assets/receipt80.css"),
        content_type: "text/css; charset=utf-8",
    },
    Asset {
        name: "app.js",
        body: include_bytes!("../../assets/app.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        name: "icon.svg",
        body: include_bytes!("../../assets/icon.svg"),
        content_type: "image/svg+xml",
    },
    Asset {
        name: "icon-192.png",
        body: include_bytes!("../../assets/icon-192.png"),
        content_type: "image/png",
    },
    Asset {
        name: "icon-512.png",
        body: include_bytes!("../../assets/icon-512.png"),
        content_type: "image/png",
    },
];

const SERVICE_WORKER: &str = include_str!("../../assets/sw.js");

struct Table {
    /// name -> hashed URL
    urls: HashMap<&'static str, String>,
    /// hashed file name -> asset
    by_hashed: HashMap<String, &'static Asset>,
    /// A hash over every asset: the service worker's cache version.
    version: String,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut urls = HashMap::new();
        let mut by_hashed = HashMap::new();
        let mut all = String::new();
        for a in FILES {
            let h = &simrenew_store::db::sha256_hex(a.body)[..10];
            all.push_str(h);
            let (stem, ext) = a.name.rsplit_once('.').unwrap_or((a.name, ""));
            let hashed = format!("{stem}.{h}.{ext}");
            urls.insert(a.name, format!("/assets/{hashed}"));
            by_hashed.insert(hashed, a);
        }
        Table {
            urls,
            by_hashed,
            version: simrenew_store::db::sha256_hex(all.as_bytes())[..12].to_string(),
        }
    })
}

/// The URL of an asset by its plain name (`app.css`).
pub fn url(name: &str) -> String {
    table()
        .urls
        .get(name)
        .cloned()
        .unwrap_or_else(|| format!("/assets/{name}"))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/{file}", get(asset))
        .route("/sw.js", get(service_worker))
        .route("/manifest.webmanifest", get(manifest))
}

async fn asset(Path(file): Path<String>) -> Response {
    let Some(a) = table().by_hashed.get(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        a.body,
    )
        .into_response()
}

/// The service worker, with the URLs of the shell it caches and its cache version filled
/// in. Served from the root so that its scope is the whole site.
async fn service_worker() -> Response {
    let t = table();
    let shell: Vec<String> = ["app.css", "app.js", "icon.svg", "icon-192.png"]
        .iter()
        .map(|n| format!("\"{}\"", url(n)))
        .collect();
    let body = SERVICE_WORKER
        .replace("__VERSION__", &t.version)
        .replace("\"__SHELL__\"", &shell.join(", "));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The web app manifest (W3C Web Application Manifest): what "Add to Home Screen" and
/// Chrome's install prompt read. Names stay in the three languages' common form.
async fn manifest() -> Response {
    let body = serde_json::json!({
        "name": "simrenew — 续费 · продление · renew",
        "short_name": "simrenew",
        "description": "Renew Russian SIM and eSIM data plans from anywhere / 在境外为俄罗斯手机卡续费 / Продление тарифов российских SIM и eSIM",
        "id": "/",
        "start_url": "/account?source=pwa",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b6e4f",
        "icons": [
            {"src": url("icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": url("icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": url("icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
            {"src": url("icon.svg"), "sizes": "any", "type": "image/svg+xml"}
        ]
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/manifest+json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body.to_string(),
    )
        .into_response()
}
