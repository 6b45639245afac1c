//! The providers' own SDKs against our stand-ins: every connector is tested against a
//! stand-in of its provider (the other tests of this crate and of `simrenew-web`), so the
//! stand-ins must speak the provider's protocol exactly. Here the client libraries the
//! providers publish (or, for WeChat Pay, the one most shops use) drive each stand-in as
//! they drive the real API: their request signatures must pass the stand-in's checks, the
//! stand-in's answers and notifications must pass theirs (Alipay RSA2 response and
//! notification signatures, WeChat Pay `Wechatpay-Signature` and AEAD_AES_256_GCM
//! resources, `Stripe-Signature`), and their models must read the stand-in's objects.
//!
//! The SDKs are Python packages (versions pinned in `provider_sdks/requirements.txt`),
//! installed on first use into a virtual environment in the target directory
//! (`<target>/tmp/python-*`), or taken from `SIMRENEW_TEST_PYTHON`. When they cannot
//! be installed (no Python 3, no PyPI) the test fails if `CI` is set, and otherwise is
//! reported as skipped, loudly.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};
use simrenew_payments::sandbox;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// What the stand-ins sent to the shop, per provider: headers and body as received.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

const REQUIREMENTS: &str = include_str!("provider_sdks/requirements.txt");

async fn record(
    State(got): State<Received>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
        .collect();
    let body = String::from_utf8_lossy(&body).into_owned();
    got.lock()
        .unwrap()
        .push((provider, json!({"headers": headers, "body": body})));
    // What Alipay waits for; the others take any 2xx.
    "success"
}

async fn sent(State(got): State<Received>, Path(provider): Path<String>) -> axum::Json<Value> {
    let all = got.lock().unwrap();
    axum::Json(Value::Array(
        all.iter()
            .filter(|(p, _)| *p == provider)
            .map(|(_, n)| n.clone())
            .collect(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_providers_sdks_pay_and_refund_through_our_stand_ins() {
    let Some(python) = simrenew_store::testing::python_with(
        REQUIREMENTS,
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        "the providers' SDKs",
    ) else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let got: Received = Arc::default();
    let ali = sandbox::alipay::alipay(&format!("{base}/alipay"));
    let wx = sandbox::wechatpay::wechatpay(&format!("{base}/wechatpay"));
    let (paypal, _) =
        sandbox::paypal::paypal(&format!("{base}/paypal"), &format!("{base}/shop/paypal"));
    let app = Router::new()
        .nest(
            "/yookassa",
            sandbox::yookassa(
                &format!("{base}/yookassa"),
                &format!("{base}/shop/yookassa"),
            ),
        )
        .nest(
            "/stripe",
            sandbox::stripe::stripe(&format!("{base}/stripe"), &format!("{base}/shop/stripe")),
        )
        .nest("/alipay", ali.router)
        .nest("/wechatpay", wx.router)
        .nest("/paypal", paypal)
        .merge(
            Router::new()
                .route("/shop/{provider}", post(record).get(sent))
                .with_state(got.clone()),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let settings = json!({
        "base": base,
        "yookassa": {"shop_id": sandbox::SHOP_ID, "secret_key": sandbox::SECRET_KEY},
        "stripe": {"secret_key": sandbox::stripe::SECRET_KEY, "webhook_secret": sandbox::stripe::WEBHOOK_SECRET},
        "alipay": {
            "app_id": ali.app_id,
            "app_private_key": ali.app_private_key,
            "alipay_public_key": ali.alipay_public_key,
        },
        "wechatpay": {
            "mchid": sandbox::wechatpay::MCHID,
            "appid": sandbox::wechatpay::APPID,
            "serial_no": sandbox::wechatpay::SERIAL_NO,
            "merchant_private_key": wx.merchant_private_key,
            "public_key": wx.wechat_public_key,
            "public_key_id": sandbox::wechatpay::KEY_ID,
            "api_v3_key": sandbox::wechatpay::API_V3_KEY,
        },
        "paypal": {
            "client_id": sandbox::paypal::CLIENT_ID,
            "secret": sandbox::paypal::SECRET,
            "webhook_id": sandbox::paypal::WEBHOOK_ID,
        },
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/provider_sdks/drive.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            // Alipay's SDK stamps its requests with the machine's local time, which the
            // gateway reads as Beijing time: it runs where the shop's clock is China's.
            .env("TZ", "Asia/Shanghai")
            .arg(script)
            .arg(settings.to_string())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the SDKs' run failed:\n{stdout}\n{stderr}"
    );
    // Every provider's run said what it saw through its SDK.
    for provider in ["yookassa", "stripe", "alipay", "wechatpay", "paypal"] {
        assert!(
            stdout.lines().any(|l| l == format!("{provider}: ok")),
            "{provider} did not finish:\n{stdout}\n{stderr}"
        );
    }
}
