//! Typed configuration: defaults, then an optional TOML file (`simrenew.toml` in the
//! working directory, or `--config FILE`), then `SIMRENEW_*` environment variables.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://simrenew.db` (default) or `postgres://user@host/db`.
    pub database_url: String,
    /// Where the HTTP server listens.
    pub http_addr: String,
    /// Pool size (readers on SQLite; all connections on PostgreSQL).
    pub db_max_connections: u32,
    /// SQLite: how much of the database file each reader connection maps into memory
    /// (MiB; 0, the default: none). Mapped pages are read without a system call and a copy
    /// each (line lookups about 15 % faster at 100,000 lines); they are the kernel's page
    /// cache, but count in the server's RSS once per reader that touched them.
    pub sqlite_mmap_mb: u32,
    /// The bearer token of usage feeds; usage reporting is refused while unset.
    pub feed_token: Option<String>,
    /// How many RUB one unit of another currency buys, for top-ups paid in it
    /// (`CNY = "12.5"`). The rate used is recorded on each order.
    pub fx_rates: BTreeMap<String, String>,
    /// Log filter (tracing EnvFilter syntax).
    pub log: String,
    /// The address travellers use (`https://shop.example`): an `https://` address makes
    /// cookies Secure; links in e-mails are built on it. Unset: `http://<http_addr>`.
    pub public_url: Option<String>,
    /// Signs CSRF tokens and lines' own links: at least 32 characters, the same on every
    /// server of one shop. A random one is made at start when unset (forms and links
    /// then stop working across a restart). Never logged.
    pub secret_key: Option<String>,
    /// Offer the demo card on the site (settles orders with no money moving). `serve
    /// --demo` turns it on; never in a real shop.
    pub demo_payments: bool,
    /// Support contacts shown on every page; each is optional.
    pub support_phone: Option<String>,
    pub support_telegram: Option<String>,
    pub support_wechat: Option<String>,
    pub support_email: Option<String>,
    /// Where e-mail goes (`smtps://user:pass@host:465`, `smtp://host:587?tls=required`);
    /// unset: e-mails stay in the outbox (the demo shop shows them at /demo/outbox).
    /// Never logged.
    pub smtp_url: Option<String>,
    /// The sender of e-mails.
    pub mail_from: String,
    /// An SMS gateway: `POST <url>` with `{"to", "text"}` and `Bearer <token>` (never
    /// logged). Unset: adding a line by SMS code is offered only in demo shops (the codes
    /// show on /demo/outbox).
    pub sms_gateway_url: Option<String>,
    pub sms_gateway_token: Option<String>,
    /// YooKassa (bank cards incl. Mir, SBP): the shop id and secret key from its
    /// dashboard; both set turns it on. The key is never logged. Notification URL to set
    /// in the dashboard: `<public_url>/webhooks/yookassa`.
    pub yookassa_shop_id: Option<String>,
    pub yookassa_secret_key: Option<String>,
    /// The API's address (YooKassa's own by default).
    pub yookassa_api_url: String,
    /// Alipay (open platform, public-key RSA2 mode): the app id, the application's
    /// private key and Alipay's public key ("支付宝公钥"), each as PEM (a TOML multi-line
    /// string) or the bare base64 the dashboard shows; all three turn it on. Never logged.
    /// Each payment carries its notify URL: `<public_url>/webhooks/alipay`.
    pub alipay_app_id: Option<String>,
    pub alipay_private_key: Option<String>,
    pub alipay_public_key: Option<String>,
    /// The gateway (Alipay's own by default; `https://openapi-sandbox.dl.alipaydev.com/gateway.do`
    /// for Alipay's own sandbox).
    pub alipay_gateway: String,
    /// WeChat Pay API v3 (Native): merchant id, the app id bound to it, the serial number
    /// of the merchant API certificate and its private key (`apiclient_key.pem`), the
    /// WeChat Pay public key and its id (`PUB_KEY_ID_…`), and the APIv3 key (32
    /// characters). All set turns it on. Keys never logged.
    pub wechatpay_mchid: Option<String>,
    pub wechatpay_appid: Option<String>,
    pub wechatpay_serial_no: Option<String>,
    pub wechatpay_private_key: Option<String>,
    pub wechatpay_public_key_id: Option<String>,
    pub wechatpay_public_key: Option<String>,
    pub wechatpay_api_v3_key: Option<String>,
    pub wechatpay_api_url: String,
    /// Stripe (cards in USD and EUR, Checkout Sessions): the secret key and the signing
    /// secret of the webhook endpoint `<public_url>/webhooks/stripe` (events
    /// `checkout.session.completed`, `checkout.session.async_payment_succeeded`,
    /// `checkout.session.expired`). Both set turns it on. Never logged.
    pub stripe_secret_key: Option<String>,
    pub stripe_webhook_secret: Option<String>,
    pub stripe_api_url: String,
    /// PayPal (Orders v2, USD and EUR): the REST app's client id and secret, and the id
    /// of its webhook `<public_url>/webhooks/paypal` (events `CHECKOUT.ORDER.APPROVED`,
    /// `PAYMENT.CAPTURE.COMPLETED`); all three turn it on. The secret is never logged.
    pub paypal_client_id: Option<String>,
    pub paypal_secret: Option<String>,
    pub paypal_webhook_id: Option<String>,
    /// `https://api-m.paypal.com` by default (`https://api-m.sandbox.paypal.com` for
    /// PayPal's own sandbox).
    pub paypal_api_url: String,
    /// eSIM: the SM-DP+'s ES2+ address (`https://…`), our function requester identifier
    /// agreed with its operator, and the files of the mutual-TLS certificates: the CA of
    /// the SM-DP+'s server certificate, our client certificate (chain) and its key (PEM).
    pub esim_smdp_url: Option<String>,
    pub esim_requester_id: Option<String>,
    pub esim_smdp_ca_file: Option<std::path::PathBuf>,
    pub esim_client_cert_file: Option<std::path::PathBuf>,
    pub esim_client_key_file: Option<std::path::PathBuf>,
    /// eSIM: the SM-DP+'s function requester identifier, and how it is known when it
    /// calls `<public_url>/gsma/rsp2/es2plus/handleDownloadProgressInfo`: the bearer token
    /// it presents (never logged), and/or the header in which the reverse proxy says it
    /// verified the SM-DP+'s TLS client certificate (`SUCCESS`, as nginx's
    /// `$ssl_client_verify`). The id and one of the two turn the endpoint on. See
    /// docs/esim.md.
    pub esim_smdp_id: Option<String>,
    pub esim_callback_token: Option<String>,
    pub esim_callback_verify_header: Option<String>,
    /// eSIM: release each profile with an 8-digit confirmation code (SGP.22 §4.1) that
    /// the phone must be given at download; the buyer gets it apart from the QR code.
    pub esim_confirmation_codes: bool,
    /// simrenew runs behind a reverse proxy that appends the client's address to
    /// `X-Forwarded-For`; per-client limits then use that address.
    pub behind_proxy: bool,
    /// The legal maximum of numbers one person may hold (SIMs issued at the counter).
    pub max_numbers_per_person: i64,
    /// When set, `GET /metrics` answers only `Authorization: Bearer <metrics_token>`.
    pub metrics_token: Option<String>,
    /// An order left unpaid this many hours (no payment started meanwhile) is cancelled,
    /// and the promotions it used are given back.
    pub pending_order_hours: u32,
    /// Seconds a client may take to send a request head (also how long an idle
    /// keep-alive connection stays open) and may pause inside a request body
    /// (`simrenew_web::server`); 1 at least.
    pub http_timeout_secs: u32,
    /// Point every connector at local stand-ins mounted under /sandbox (demo shops only;
    /// `serve --demo` turns it on). No money moves.
    pub payments_sandbox: bool,
    /// The VAT code on 54-FZ receipt lines (YooKassa's codes; 1 = no VAT).
    pub vat_code: u8,
    /// eSIM Access, the supplier of resold plans (docs/upstream.md): the API's origin,
    /// the account's access code and its secret key (signs every request; never logged).
    pub esimaccess_url: String,
    pub esimaccess_access_code: Option<String>,
    pub esimaccess_secret_key: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://simrenew.db".into(),
            http_addr: "127.0.0.1:8080".into(),
            db_max_connections: 16,
            sqlite_mmap_mb: 0,
            feed_token: None,
            fx_rates: BTreeMap::new(),
            log: "info,sqlx=warn".into(),
            public_url: None,
            secret_key: None,
            demo_payments: false,
            support_phone: None,
            support_telegram: None,
            support_wechat: None,
            support_email: None,
            smtp_url: None,
            mail_from: "simrenew <noreply@simrenew.example>".into(),
            sms_gateway_url: None,
            sms_gateway_token: None,
            yookassa_shop_id: None,
            yookassa_secret_key: None,
            yookassa_api_url: "https://api.yookassa.ru/v3".into(),
            alipay_app_id: None,
            alipay_private_key: None,
            alipay_public_key: None,
            alipay_gateway: simrenew_payments::alipay::GATEWAY.into(),
            wechatpay_mchid: None,
            wechatpay_appid: None,
            wechatpay_serial_no: None,
            wechatpay_private_key: None,
            wechatpay_public_key_id: None,
            wechatpay_public_key: None,
            wechatpay_api_v3_key: None,
            wechatpay_api_url: simrenew_payments::wechatpay::API.into(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_url: simrenew_payments::stripe::API.into(),
            paypal_client_id: None,
            paypal_secret: None,
            paypal_webhook_id: None,
            paypal_api_url: simrenew_payments::paypal::API.into(),
            esim_smdp_url: None,
            esim_requester_id: None,
            esim_smdp_ca_file: None,
            esim_client_cert_file: None,
            esim_client_key_file: None,
            esim_smdp_id: None,
            esim_callback_token: None,
            esim_callback_verify_header: None,
            esim_confirmation_codes: false,
            behind_proxy: false,
            max_numbers_per_person: 10,
            pending_order_hours: 24,
            http_timeout_secs: 30,
            metrics_token: None,
            payments_sandbox: false,
            vat_code: 1,
            esimaccess_url: simrenew_esim::upstream::esimaccess::BASE_URL.into(),
            esimaccess_access_code: None,
            esimaccess_secret_key: None,
        }
    }
}

impl Config {
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut f = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(p) => f = f.merge(Toml::file_exact(p)),
            None => f = f.merge(Toml::file("simrenew.toml")),
        }
        f.merge(Env::prefixed("SIMRENEW_"))
            .extract()
            .map_err(Box::new)
    }

    /// The configured exchange rates into RUB, checked.
    pub fn fx(&self) -> anyhow::Result<Vec<simrenew_core::FxRate>> {
        use simrenew_core::{Currency, FxRate};
        self.fx_rates
            .iter()
            .map(|(c, r)| {
                let from: Currency = c
                    .parse()
                    .map_err(|e| anyhow::anyhow!("fx_rates.{c}: {e}"))?;
                FxRate::parse(from, Currency::Rub, r)
                    .map_err(|e| anyhow::anyhow!("fx_rates.{c}: {e}"))
            })
            .collect()
    }

    /// The site's address as travellers reach it.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.http_addr))
    }

    /// The site's signing secret: the configured one (checked), or a random one.
    pub fn secret(&self) -> anyhow::Result<Vec<u8>> {
        match &self.secret_key {
            Some(k) if k.len() >= 32 => Ok(k.as_bytes().to_vec()),
            Some(_) => anyhow::bail!("secret_key: must be at least 32 characters"),
            None => {
                tracing::warn!(
                    "secret_key is not set: using a random one; set SIMRENEW_SECRET_KEY so forms and line links survive a restart and work across servers"
                );
                Ok(simrenew_store::db::new_secret().into_bytes())
            }
        }
    }

    /// The database URL with any password hidden, for logs.
    pub fn database_url_redacted(&self) -> String {
        match (self.database_url.find("://"), self.database_url.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                let creds = &self.database_url[s + 3..at];
                match creds.split_once(':') {
                    Some((user, _)) => format!(
                        "{}{user}:***{}",
                        &self.database_url[..s + 3],
                        &self.database_url[at..]
                    ),
                    None => self.database_url.clone(),
                }
            }
            _ => self.database_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password() {
        let c = Config {
            database_url: "postgres://app:s3cret@db:5432/x".into(),
            ..Config::default()
        };
        assert_eq!(c.database_url_redacted(), "postgres://app:***@db:5432/x");
        let c = Config {
            database_url: "postgres://app@db/x".into(),
            ..Config::default()
        };
        assert_eq!(c.database_url_redacted(), "postgres://app@db/x");
    }

    #[test]
    fn bad_rate_is_named() {
        let c = Config {
            fx_rates: BTreeMap::from([("CNY".into(), "abc".into())]),
            ..Config::default()
        };
        assert!(c.fx().unwrap_err().to_string().contains("fx_rates.CNY"));
    }
}
