//! The traveller's pages in a real headless Chromium (Debian's `chromium`), driven over
//! the Chrome DevTools Protocol, at a phone's 360 px width, in each of the three
//! languages: renew a line in two taps from its own link; sign up, attach a line and see
//! its data left; a wrong ICCID shows its error beside the box; no page scrolls sideways;
//! the installed app shows the last balance while the server cannot be reached.
//! Screenshots of the key pages are kept under target/screenshots/.
//!
//! Chromium missing: the tests fail when `CI` is set, and are skipped loudly otherwise.

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

mod common;

const LANGS: [&str; 3] = ["zh-CN", "ru", "en"];
const SECRET: &[u8] = b"browser test secret, 32 bytes or more";

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("SIMRENEW_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!("Chromium not found at {path:?} and CI is set: install Debian's chromium");
    }
    eprintln!(
        "\n*** SKIPPED: browser tests need Chromium at {path:?} (apt install chromium) ***\n"
    );
    None
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A TCP relay in front of the app that can "lose the network": when cut, it drops every
/// open connection and refuses new ones, as a phone out of coverage would see it.
struct Relay {
    port: u16,
    cut: Arc<AtomicBool>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped at once: connection reset
                }
                let upstream = upstream.clone();
                let flag = flag.clone();
                tokio::spawn(async move {
                    let Ok(mut out) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut out);
                    let watch = async {
                        while !flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! { _ = copy => {}, _ = watch => {} }
                });
            }
        });
        Self { port, cut }
    }
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn set_offline(&self, offline: bool) {
        self.cut.store(offline, Ordering::SeqCst);
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// One headless Chromium with one tab, spoken to over the DevTools Protocol.
struct Browser {
    _child: Child,
    _profile: tempdir::Dir,
    ws: Ws,
    session: String,
    next_id: u64,
}

/// A fresh, throw-away profile directory.
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let p =
                std::env::temp_dir().join(format!("simrenew-chromium-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Browser {
    async fn launch(exe: &PathBuf, accept_language: &str) -> Self {
        let profile = tempdir::Dir::new();
        let mut child = Command::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.0.display()))
            .arg(format!("--lang={accept_language}"))
            .arg("about:blank")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromium");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(u) = line.strip_prefix("DevTools listening on ") {
                    return u.trim().to_string();
                }
            }
            panic!("chromium exited before it listened");
        })
        .await
        .expect("chromium did not start");
        // Keep draining stderr so Chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        let mut b = Self {
            _child: child,
            _profile: profile,
            ws,
            session: String::new(),
            next_id: 0,
        };
        let target = b
            .call_browser("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = b
            .call_browser(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b.call("Page.enable", json!({})).await;
        b.call("Runtime.enable", json!({})).await;
        b.call("Network.enable", json!({})).await;
        // A phone: 360 CSS pixels wide, touch, the reader's language.
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 360, "height": 760, "deviceScaleFactor": 2, "mobile": true}),
        )
        .await;
        b.call(
            "Network.setUserAgentOverride",
            json!({
                "userAgent": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36",
                "acceptLanguage": accept_language
            }),
        )
        .await;
        b
    }

    /// Sends one DevTools command and waits for its answer: `Err` holds the error object
    /// Chromium gave instead of a result.
    async fn send(&mut self, mut msg: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        msg["id"] = json!(id);
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .expect("no answer from chromium")
                .unwrap()
                .unwrap();
            let Message::Text(text) = frame else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == json!(id) {
                return match v.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(v["result"].clone()),
                };
            }
        }
    }

    async fn call_browser(&mut self, method: &str, params: Value) -> Value {
        let msg = json!({"method": method, "params": params});
        self.send(msg.clone())
            .await
            .unwrap_or_else(|e| panic!("{msg}: {e}"))
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        let msg = json!({"method": method, "params": params});
        self.try_call(method, params)
            .await
            .unwrap_or_else(|e| panic!("{msg}: {e}"))
    }

    /// A command to the page's session that may fail, as an evaluation does while the
    /// page is between two documents.
    async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let session = self.session.clone();
        self.send(json!({"method": method, "params": params, "sessionId": session}))
            .await
    }

    /// Evaluates JavaScript in the page and returns its value.
    async fn eval(&mut self, js: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{js}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Waits until `js` is true in a fully loaded page, up to 30 s: on two busy cores
    /// (the rest of the suite building and running beside it) a service worker's first
    /// install has been seen to take over 10 s.
    async fn wait_for(&mut self, js: &str) {
        self.wait_for_within(js, Duration::from_secs(30)).await;
    }

    /// [`Self::wait_for`] with a patience of its own; on timeout it also says where the
    /// page's service worker stands.
    async fn wait_for_within(&mut self, js: &str, patience: Duration) {
        if self.holds_within(js, patience).await {
            return;
        }
        let url = self.eval("location.href").await;
        let body = self
            .eval("document.body ? document.body.innerText : ''")
            .await;
        let sw = self
            .eval("navigator.serviceWorker ? navigator.serviceWorker.getRegistration().then(r => r ? JSON.stringify({installing: r.installing && r.installing.state, waiting: r.waiting && r.waiting.state, active: r.active && r.active.state}) : 'no registration') : 'no serviceWorker'")
            .await;
        panic!("timed out waiting for {js} at {url} (service worker: {sw}):\n{body}");
    }

    /// The renewal page of `number`: taps `plan`, the payment method `pay` and Pay.
    async fn renew_and_pay(&mut self, base: &str, number: &str, plan: &str, pay: &str) {
        self.goto(&format!("{base}/renew/{number}")).await;
        self.tap(&format!("label[for='p-{plan}']")).await;
        self.tap(&format!("input[name='pay'][value='{pay}']")).await;
        self.tap("#pay-button").await;
    }

    async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        let path = url
            .split_once("://")
            .map_or(url, |(_, r)| &r[r.find('/').unwrap_or(0)..]);
        let path = path.split('?').next().unwrap_or(path);
        self.wait_for(&format!("location.pathname === {}", json!(path)))
            .await;
    }

    /// Taps an element as a finger would: a real pointer press and release at its centre.
    async fn tap(&mut self, selector: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({s}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            s = json!(selector)
        );
        let at = self.eval(&js).await;
        let (x, y) = match at.as_array() {
            Some(a) => (a[0].as_f64().unwrap(), a[1].as_f64().unwrap()),
            None => panic!("nothing to tap at {selector}"),
        };
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )
            .await;
        }
    }

    /// Whether `js` holds in a fully loaded page within `within`.
    async fn holds_within(&mut self, js: &str, within: Duration) -> bool {
        let check = format!("document.readyState === 'complete' && !!({js})");
        let end = std::time::Instant::now() + within;
        while std::time::Instant::now() < end {
            let r = self
                .try_call(
                    "Runtime.evaluate",
                    json!({"expression": check, "returnByValue": true}),
                )
                .await;
            match r {
                Ok(r) if r["result"]["value"] == json!(true) => return true,
                Ok(_) => {}
                Err(e) if is_navigation_race(&e) => {}
                Err(e) => panic!("{check}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Taps `selector` until `js` holds: on two busy cores a tap on a page that is still
    /// settling has been seen to land where the link no longer was (CI's counter sale).
    /// Taps again, up to three times, only while the element is still there (the page
    /// did not go anywhere), then waits for `js` as `wait_for` does.
    async fn tap_until(&mut self, selector: &str, js: &str) {
        let present = format!("document.querySelector({}) !== null", json!(selector));
        for _ in 0..3 {
            if !self
                .holds_within(&present, Duration::from_millis(100))
                .await
            {
                break;
            }
            self.tap(selector).await;
            if self.holds_within(js, Duration::from_secs(5)).await {
                return;
            }
        }
        self.wait_for(js).await;
    }

    /// Focuses a field by tapping it and types text into it.
    async fn type_into(&mut self, selector: &str, text: &str) {
        self.tap(selector).await;
        self.call("Input.insertText", json!({"text": text})).await;
    }

    async fn text(&mut self, selector: &str) -> String {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); return e ? e.innerText : null; }})()",
            json!(selector)
        );
        self.eval(&js).await.as_str().unwrap_or("").to_string()
    }

    async fn screenshot(&mut self, name: &str) {
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    /// The page is no wider than the screen: nothing to scroll sideways.
    async fn assert_no_horizontal_overflow(&mut self, what: &str) {
        let widths = self
            // Against the device's width: a mobile layout viewport widens to fit
            // content that overflows, so innerWidth alone would never see it.
            .eval(
                "[document.documentElement.scrollWidth, Math.min(window.innerWidth, screen.width)]",
            )
            .await;
        let (scroll, inner) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
        assert!(
            scroll <= inner,
            "{what}: {scroll}px wide in a {inner}px window"
        );
    }
}

/// The demo shop (SQLite) behind a relay, with the demo card on.
/// Whether a DevTools error only says the page moved on to another document while a
/// command was asked of the old one.
fn is_navigation_race(error: &Value) -> bool {
    let message = error["message"].as_str().unwrap_or_default();
    message.contains("navigated or closed")
        || message.contains("context was destroyed")
        || message.contains("Cannot find context")
}

async fn shop() -> (Relay, common::Served) {
    let mut apps = common::serve_all_on(true, |c| {
        c.demo_payments = true;
        c.secret = SECRET.to_vec();
    })
    .await;
    let app = apps.remove(0);
    let relay = Relay::start(app.base.trim_start_matches("http://").to_string()).await;
    (relay, app)
}

#[tokio::test]
async fn renew_in_two_taps_from_the_lines_own_link() {
    let Some(exe) = chromium() else { return };
    let (relay, app) = shop().await;
    for (i, lang) in LANGS.iter().enumerate() {
        // A line nobody has renewed through us yet, one per language.
        let number = format!("7916123456{}", 2 + i);
        let line = app
            ._db
            .store
            .find_line(&simrenew_core::LineRef::parse(&number).unwrap())
            .await
            .unwrap();
        let link = simrenew_web::pages::line_link(SECRET, &number, &line.id);
        let mut b = Browser::launch(&exe, lang).await;
        b.goto(&format!("{}{link}", relay.base())).await;
        assert_eq!(b.eval("document.documentElement.lang").await, json!(lang));
        b.assert_no_horizontal_overflow("renewal page").await;
        b.screenshot(&format!("renew-{lang}")).await;
        // Tap 1: the plan (a line with no plan yet has none preselected); tap 2: pay.
        b.tap("label[for='p-mts-month-30gb']").await;
        assert_eq!(
            b.eval("document.getElementById('p-mts-month-30gb').checked")
                .await,
            json!(true)
        );
        b.tap("#pay-button").await;
        b.wait_for("location.pathname.startsWith('/orders/') && document.getElementById('done')")
            .await;
        let status = b.text("#order-status").await;
        let want = match *lang {
            "zh-CN" => "已完成",
            "ru" => "Выполнен",
            _ => "Done",
        };
        assert_eq!(status, want, "{lang}");
        b.assert_no_horizontal_overflow("receipt").await;
        b.screenshot(&format!("receipt-{lang}")).await;
    }
    let orders = app._db.store.check_orders().await.unwrap();
    assert!(orders.is_sound());
    assert_eq!(
        orders.fulfilled,
        2 + 3,
        "the demo's two and one per language"
    );
}

#[tokio::test]
async fn pay_with_alipay_by_scanning_its_code_in_chinese() {
    let Some(exe) = chromium() else { return };
    let app = common::serve_sandbox_on_sqlite().await;
    let mut b = Browser::launch(&exe, "zh-CN").await;
    b.renew_and_pay(&app.base, "79161234565", "mts-month-30gb", "alipay:qr")
        .await;
    // The order page shows the code to scan, drawn on the page, and the app link.
    b.wait_for("location.pathname.startsWith('/orders/') && document.querySelector('#scan svg')")
        .await;
    let width = b
        .eval("document.querySelector('#scan svg').getBoundingClientRect().width")
        .await;
    assert!(width.as_f64().unwrap_or(0.0) >= 150.0, "QR width {width}");
    assert_eq!(b.text("#scan-h").await, "用支付宝扫码");
    b.assert_no_horizontal_overflow("code to scan").await;
    b.screenshot("scan-alipay-zh-CN").await;
    // On this phone: the link opens "Alipay" (the stand-in), which pays and comes back.
    b.tap("#scan-link").await;
    b.wait_for("document.getElementById('sandbox-pay')").await;
    b.tap("#sandbox-pay").await;
    b.wait_for("location.pathname.startsWith('/orders/') && document.getElementById('done')")
        .await;
    assert_eq!(b.text("#order-status").await, "已完成");
    let orders = app._db.store.check_orders().await.unwrap();
    assert!(orders.is_sound());
    assert_eq!(orders.fulfilled, 3, "the demo's two and this one");
}

#[tokio::test]
async fn the_esim_install_page_in_three_languages_with_working_copy_buttons() {
    let Some(exe) = chromium() else { return };
    let app = common::serve_all_on(true, |_| {}).await.remove(0);
    let (order, _) = common::order_with_esim(&app._db.store, 0).await;
    for lang in LANGS {
        let mut b = Browser::launch(&exe, lang).await;
        b.call_browser(
            "Browser.grantPermissions",
            json!({"origin": app.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]}),
        )
        .await;
        b.goto(&format!("{}/orders/{order}/esim", app.base)).await;
        b.wait_for("document.querySelector('#esim-qr svg')").await;
        let width = b
            .eval("document.querySelector('#esim-qr svg').getBoundingClientRect().width")
            .await;
        assert!(
            width.as_f64().unwrap_or(0.0) >= 150.0,
            "{lang}: QR width {width}"
        );
        let link = b.eval("document.getElementById('apple-link').href").await;
        assert!(
            link.as_str().unwrap_or("").starts_with(
                "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA%3A1%24"
            ),
            "{lang}: {link}"
        );
        b.assert_no_horizontal_overflow("eSIM install page").await;
        b.screenshot(&format!("esim-install-{lang}")).await;
        // The copy button puts the activation code on the clipboard and says so (a
        // headless page has no focus of its own: the clipboard wants one).
        b.call(
            "Emulation.setFocusEmulationEnabled",
            json!({"enabled": true}),
        )
        .await;
        b.tap("#copy-code").await;
        let copied = match lang {
            "zh-CN" => "已复制",
            "ru" => "Скопировано",
            _ => "Copied",
        };
        b.wait_for(&format!(
            "document.getElementById('copy-code').textContent === {}",
            json!(copied)
        ))
        .await;
        assert_eq!(
            b.eval("navigator.clipboard.readText()").await,
            json!("04386-AGYFT-A74Y8-3F815"),
            "{lang}"
        );
        // The confirmation code stands apart, with its own copy button; the QR code's
        // text says only that one is needed (SGP.22 §4.1: `$$1`).
        assert_eq!(
            b.eval("document.getElementById('lpa').textContent.endsWith('$$1')")
                .await,
            json!(true),
            "{lang}"
        );
        b.tap("#copy-cc").await;
        b.wait_for(&format!(
            "document.getElementById('copy-cc').textContent === {}",
            json!(copied)
        ))
        .await;
        assert_eq!(
            b.eval("navigator.clipboard.readText()").await,
            json!(common::CONFIRMATION_CODE),
            "{lang}"
        );
    }
}

#[tokio::test]
async fn sign_up_attach_a_line_and_see_its_data_left() {
    let Some(exe) = chromium() else { return };
    let (relay, app) = shop().await;
    for (i, lang) in LANGS.iter().enumerate() {
        let mut b = Browser::launch(&exe, lang).await;
        let base = relay.base();
        b.goto(&format!("{base}/account/sign-up")).await;
        b.type_into("#email", &format!("traveller{i}@example.com"))
            .await;
        b.type_into("#password", "a long enough password").await;
        b.tap("button[type=submit]").await;
        b.wait_for("location.pathname === '/account'").await;
        b.goto(&format!("{base}/account/lines/add")).await;
        // A Beeline line; its PUK is on the card's holder (demo: 1234567n).
        let n = 2 + i;
        b.type_into("#line", &format!("8 903 123-45-6{n}")).await;
        b.type_into("#puk", &format!("1234567{n}")).await;
        b.tap("button[type=submit]").await;
        b.wait_for(
            "location.pathname.startsWith('/lines/') && document.getElementById('data-left')",
        )
        .await;
        // Renew from the balance is not possible (no money): buy with the demo card.
        b.tap("a.btn[href^='/renew/']").await;
        b.wait_for("location.pathname.startsWith('/renew/')").await;
        b.tap("label[for='p-beeline-week-10gb']").await;
        b.tap("label:has(input[value=demo])").await;
        b.tap("#pay-button").await;
        b.wait_for("document.getElementById('done')").await;
        b.goto(&format!("{base}/lines/790312345{}", 60 + n)).await;
        let left = b.text("#data-left").await;
        let want = match *lang {
            "ru" => "10 ГБ",
            "zh-CN" => "10GB",
            _ => "10 GB",
        };
        assert_eq!(left.replace('\u{a0}', " "), want, "{lang}");
        b.assert_no_horizontal_overflow("line page").await;
        b.screenshot(&format!("line-{lang}")).await;
        b.goto(&format!("{base}/account")).await;
        b.assert_no_horizontal_overflow("account").await;
    }
    drop(app);
}

#[tokio::test]
async fn a_wrong_iccid_shows_its_error_beside_the_box() {
    let Some(exe) = chromium() else { return };
    let (relay, _app) = shop().await;
    for lang in LANGS {
        let mut b = Browser::launch(&exe, lang).await;
        b.goto(&format!("{}/", relay.base())).await;
        b.assert_no_horizontal_overflow("home").await;
        b.screenshot(&format!("home-{lang}")).await;
        b.type_into("#line", "8970 1012 3456 7890 1235").await;
        b.tap("button[type=submit]").await;
        b.wait_for("document.getElementById('line-error')").await;
        let error = b.text("#line-error").await;
        let want = match lang {
            "zh-CN" => "校验位不符",
            "ru" => "контрольная цифра",
            _ => "check digit",
        };
        assert!(error.contains(want), "{lang}: {error}");
        // Beside the box: right under it, and the typed number is still there.
        let gap = b
            .eval("document.getElementById('line-error').getBoundingClientRect().top - document.getElementById('line').getBoundingClientRect().bottom")
            .await
            .as_f64()
            .unwrap();
        assert!(
            (0.0..40.0).contains(&gap),
            "{lang}: error {gap}px below the box"
        );
        assert_eq!(
            b.eval("document.getElementById('line').value").await,
            json!("8970 1012 3456 7890 1235")
        );
        b.screenshot(&format!("iccid-error-{lang}")).await;
        for page in ["/plans", "/help", "/account/sign-in"] {
            b.goto(&format!("{}{page}", relay.base())).await;
            b.assert_no_horizontal_overflow(page).await;
        }
    }
}

#[tokio::test]
async fn offline_the_installed_app_still_shows_the_last_balance() {
    let Some(exe) = chromium() else { return };
    let (relay, _app) = shop().await;
    for lang in LANGS {
        let mut b = Browser::launch(&exe, lang).await;
        let base = relay.base();
        b.goto(&format!("{base}/account/sign-in")).await;
        b.type_into("#email", simrenew_store::demo::DEMO_EMAIL)
            .await;
        b.type_into("#password", simrenew_store::demo::DEMO_PASSWORD)
            .await;
        b.tap("button[type=submit]").await;
        b.wait_for("location.pathname === '/account' && document.querySelector('.balance')")
            .await;
        // The service worker installs (its first install caches the shell through the
        // relay while seven other browsers load the two cores: allow 90 s) and takes
        // control of the pages opened after it is active. A page whose navigation began
        // before the worker was active stays uncontrolled (`clients.claim()` does not
        // reach a client not yet created): seen 2026-12-07/08 as "active: activated" with
        // no controller, about once in seven loaded runs. So: wait until it is active,
        // then open the account again, as the traveller's next visit would.
        let active = b
            .eval(
                "Promise.race([navigator.serviceWorker.ready.then(() => true), \
                 new Promise((r) => setTimeout(() => r(false), 90000))])",
            )
            .await;
        assert_eq!(
            active,
            json!(true),
            "{lang}: the service worker never became active"
        );
        b.goto(&format!("{base}/account")).await;
        b.wait_for("navigator.serviceWorker.controller").await;
        // Chrome finds the app installable (manifest, icons, service worker).
        let errors = b.call("Page.getInstallabilityErrors", json!({})).await;
        assert_eq!(
            errors["installabilityErrors"],
            json!([]),
            "{lang}: not installable"
        );
        b.goto(&format!("{base}/account")).await;
        let balance = b.text(".balance").await;
        assert!(!balance.is_empty());
        tokio::time::sleep(Duration::from_millis(300)).await;
        relay.set_offline(true);
        // Let the relay drop the connections the browser keeps alive.
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.goto(&format!("{base}/account")).await;
        assert_eq!(b.text(".balance").await, balance, "{lang}");
        let banner_shown = b
            .eval("getComputedStyle(document.getElementById('offline')).display !== 'none'")
            .await;
        assert_eq!(banner_shown, json!(true), "{lang}: offline banner");
        assert!(!b.text(".asof").await.is_empty(), "as-of time shown");
        b.screenshot(&format!("offline-{lang}")).await;
        relay.set_offline(false);
    }
}

/// A counter sale as a clerk does it in the browser: sign in to the console, find the
/// customer's line by the number they say, sell a month for cash, and print the receipt
/// in the customer's language — on an 80 mm receipt printer, whose page size the
/// printed PDF has.
#[tokio::test]
async fn a_clerk_sells_for_cash_and_prints_the_receipt_on_80_mm_paper() {
    let Some(exe) = chromium() else { return };
    let app = common::serve_all_on(true, |_| {}).await.remove(0);
    app._db.store.seed_demo_staff().await.unwrap();
    let mut b = Browser::launch(&exe, "ru").await;
    b.goto(&format!("{}/admin/sign-in", app.base)).await;
    b.wait_for("location.pathname === '/admin/sign-in'").await;
    b.type_into("#email", simrenew_store::demo::DEMO_STAFF[1].0)
        .await;
    b.type_into("#password", simrenew_store::demo::DEMO_STAFF_PASSWORD)
        .await;
    b.tap("#admin-sign-in").await;
    b.wait_for("location.pathname === '/admin'").await;
    b.tap("#go-till").await;
    b.wait_for("document.getElementById('open-till') !== null")
        .await;
    b.tap("#open-till").await;
    b.wait_for("document.getElementById('till-open') !== null")
        .await;
    b.goto(&format!("{}/admin", app.base)).await;
    b.tap("#go-counter").await;
    b.wait_for("location.pathname === '/admin/counter'").await;
    b.type_into("#q", "8 916 123-45-62").await;
    b.tap("#search").await;
    b.wait_for("document.querySelector('a.sell') !== null")
        .await;
    b.tap_until("a.sell", "document.getElementById('sell') !== null")
        .await;
    b.tap("input[value='mts-month-30gb']").await;
    b.type_into("#received", "2500").await;
    b.eval("document.getElementById('lang').value = 'zh-CN'")
        .await;
    b.assert_no_horizontal_overflow("counter sale").await;
    b.screenshot("counter-sale-ru").await;
    b.tap("#sell").await;
    b.wait_for("document.getElementById('receipt') !== null")
        .await;
    assert_eq!(b.text("#paid-with").await, "现金");
    let price = app
        ._db
        .store
        .plan("mts-month-30gb")
        .await
        .unwrap()
        .price(simrenew_core::Currency::Rub)
        .unwrap();
    let change = b.text("#change").await.replace([',', ' ', '\u{a0}'], "");
    let want = (2500 - price.minor / 100).to_string();
    assert!(
        change.contains(&want),
        "2500 − the price: {change:?}, not {want}"
    );
    b.screenshot("counter-receipt-zh-CN-a4").await;
    b.tap("#paper-80").await;
    b.wait_for("document.body.classList.contains('paper-80')")
        .await;
    b.screenshot("counter-receipt-zh-CN-80mm").await;
    // Printed as the browser prints it: one page 80 mm wide (CSS named page).
    let pdf = b
        .call("Page.printToPDF", json!({"preferCSSPageSize": true}))
        .await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(pdf["data"].as_str().unwrap())
        .unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let media = text
        .split("/MediaBox [")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse::<f64>().unwrap())
        .collect::<Vec<_>>();
    let width_mm = media[2] * 25.4 / 72.0;
    assert!((width_mm - 80.0).abs() < 1.0, "page {width_mm} mm wide");
}

#[tokio::test]
async fn a_resold_plan_paid_in_chinese_shows_it_is_being_added_then_done_by_itself() {
    use simrenew_esim::upstream::Upstream;
    use simrenew_esim::upstream::esimaccess::EsimAccess;
    use simrenew_esim::upstream::sandbox::{ACCESS_CODE, EsimAccessSandbox, SECRET_KEY};
    let Some(exe) = chromium() else { return };
    // The supplier's stand-in, on its own port, knows the line's card.
    let stand_in = EsimAccessSandbox::new();
    stand_in.add_package("RU_30_30", 30 << 30, 900);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let supplier_base = format!("http://{}", listener.local_addr().unwrap());
    let router = stand_in.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client: Arc<dyn Upstream> =
        Arc::new(EsimAccess::new(&supplier_base, ACCESS_CODE, SECRET_KEY).unwrap());
    let mut apps = common::serve_all_on(true, |c| {
        c.demo_payments = true;
        c.upstream = vec![client.clone()];
    })
    .await;
    let app = apps.remove(0);
    let store = app._db.store.clone();
    let line = store
        .find_line(&simrenew_core::LineRef::parse("79161234565").unwrap())
        .await
        .unwrap();
    stand_in.add_profile(line.iccid.as_str(), 0);
    store
        .set_upstream_plan(
            "test",
            "mts-month-30gb",
            Some(&simrenew_store::upstream::Supplier {
                adapter: "esimaccess".into(),
                package_code: "RU_30_30".into(),
            }),
        )
        .await
        .unwrap();

    let mut b = Browser::launch(&exe, "zh-CN").await;
    b.renew_and_pay(&app.base, "79161234565", "mts-month-30gb", "demo")
        .await;
    // Paid: the page says the operator is adding the plan.
    b.wait_for("location.pathname.startsWith('/orders/') && document.getElementById('activating')")
        .await;
    assert_eq!(b.text("#order-status").await, "已付款");
    assert!(
        b.text("#activating")
            .await
            .contains("运营商正在为您的卡开通套餐")
    );
    b.assert_no_horizontal_overflow("order being added").await;
    b.screenshot("order-activating-zh-CN").await;
    // The supplier confirms; the page, refreshing by itself, says it is done.
    let state = simrenew_web::AppState::new(
        store.clone(),
        simrenew_web::WebConfig {
            upstream: vec![client.clone()],
            ..Default::default()
        },
    );
    assert_eq!(
        simrenew_web::upstream::run_due(&state, time::OffsetDateTime::now_utc()).await,
        1
    );
    b.wait_for("document.getElementById('done')").await;
    assert_eq!(b.text("#order-status").await, "已完成");
    assert_eq!(stand_in.total_bytes(line.iccid.as_str()), Some(30 << 30));
    assert!(store.check_orders().await.unwrap().is_sound());
}
