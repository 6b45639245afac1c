//! Background jobs. Today: delivering the outbox's messages, e-mails over SMTP (lettre,
//! rustls) and SMS through an HTTP gateway.
//! Messages are rendered when they are queued (in the reader's language), so delivery
//! only moves bytes: claim due rows, send, mark each delivered or due again with backoff.
//! A topic without a configured transport is left in the outbox, where the demo shop's
//! outbox page shows it; nothing of a message's body (it may hold a reset link or a code)
//! is ever logged.

use base64::Engine;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use simrenew_store::Store;
use simrenew_store::outbox::{MAIL, Message, SMS};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("smtp_url: {0}")]
    SmtpUrl(String),
    #[error("mail_from: {0}")]
    From(String),
    #[error("sms_gateway_url: {0}")]
    SmsUrl(String),
    #[error(transparent)]
    Store(#[from] simrenew_store::StoreError),
}

/// Where e-mail goes: an SMTP server (`smtps://user:pass@host:465`,
/// `smtp://host:587?tls=required`, or plain `smtp://host:25` on a trusted network).
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(smtp_url: &str, from: &str) -> Result<Self, JobError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            // The URL may hold a password: say what is wrong, not the URL.
            .map_err(|e| JobError::SmtpUrl(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| JobError::From(e.to_string()))?;
        Ok(Self { transport, from })
    }

    async fn send(&self, m: &Message) -> Result<(), String> {
        let to: Mailbox = m.to.parse().map_err(|e| format!("recipient: {e}"))?;
        let builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone());
        let email = if m.attachments.is_empty() {
            builder.header(ContentType::TEXT_PLAIN).body(m.body.clone())
        } else {
            // RFC 2046 multipart/mixed: the text first, then each file.
            let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(m.body.clone()));
            for a in &m.attachments {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&a.data_base64)
                    .map_err(|e| format!("attachment {}: {e}", a.name))?;
                let kind = ContentType::parse(&a.content_type)
                    .map_err(|e| format!("attachment {}: {e}", a.name))?;
                parts = parts.singlepart(Attachment::new(a.name.clone()).body(bytes, kind));
            }
            builder.multipart(parts)
        }
        .map_err(|e| format!("message: {e}"))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// An SMS gateway over HTTP: `POST <url>` with the JSON `{"to": "+7…", "text": "…"}` and
/// `Authorization: Bearer <token>`; any 2xx answer means accepted. SMS providers offer
/// such an endpoint, or a small bridge to their own API does.
pub struct SmsGateway {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl SmsGateway {
    pub fn new(url: &str, token: &str) -> Result<Self, JobError> {
        // rustls with ring, as every HTTP client of simrenew (reqwest is built without a
        // crypto provider of its own).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| JobError::SmsUrl(e.to_string()))?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(JobError::SmsUrl("must be an http(s) URL".into()));
        }
        Ok(Self {
            url: url.to_string(),
            token: token.to_string(),
            http,
        })
    }

    async fn send(&self, m: &Message) -> Result<(), String> {
        let res = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"to": m.to, "text": m.body}))
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(format!("gateway answered {}", res.status()))
        }
    }
}

/// How long a claimed message is reserved for one delivery attempt.
const LEASE_SECS: i64 = 120;
/// Messages per round.
const BATCH: i64 = 20;

pub use simrenew_store::outbox::backoff_secs;

/// Delivers the outbox's messages through the transports it has.
pub struct Delivery {
    store: Store,
    mailer: Option<Mailer>,
    sms: Option<SmsGateway>,
}

/// Where one topic's messages go.
enum Transport<'a> {
    Mail(&'a Mailer),
    Sms(&'a SmsGateway),
}

impl Transport<'_> {
    async fn send(&self, m: &Message) -> Result<(), String> {
        match self {
            Self::Mail(t) => t.send(m).await,
            Self::Sms(t) => t.send(m).await,
        }
    }
}

impl Delivery {
    pub fn new(store: Store, mailer: Option<Mailer>) -> Self {
        Self {
            store,
            mailer,
            sms: None,
        }
    }

    /// Delivers SMS through `gateway` too.
    pub fn with_sms(mut self, gateway: Option<SmsGateway>) -> Self {
        self.sms = gateway;
        self
    }

    /// One round: every due e-mail and SMS that has a transport, each delivered or
    /// rescheduled. Returns how many went.
    pub async fn run_once(&self) -> Result<usize, JobError> {
        let mut sent = 0;
        if let Some(m) = &self.mailer {
            sent += self.drain(MAIL, Transport::Mail(m)).await?;
        }
        if let Some(g) = &self.sms {
            sent += self.drain(SMS, Transport::Sms(g)).await?;
        }
        Ok(sent)
    }

    async fn drain(&self, topic: &str, transport: Transport<'_>) -> Result<usize, JobError> {
        let mut sent = 0;
        loop {
            let due = self.store.claim_due(topic, BATCH, LEASE_SECS).await?;
            if due.is_empty() {
                return Ok(sent);
            }
            for d in due {
                let outcome = match serde_json::from_str::<Message>(&d.payload) {
                    Ok(m) => transport.send(&m).await,
                    Err(e) => Err(format!("unreadable payload: {e}")),
                };
                match &outcome {
                    Ok(()) => sent += 1,
                    Err(e) => {
                        tracing::warn!(id = d.id, topic, attempts = d.attempts, error = %e, "message not delivered; will retry");
                    }
                }
                self.store.finish_due(&d, &outcome).await?;
            }
        }
    }

    /// Runs a round every `every`, for ever.
    pub fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.run_once().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sent = n, "messages delivered"),
                    Err(e) => tracing::warn!(error = %e, "outbox delivery round failed"),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stops_at_an_hour() {
        assert_eq!(backoff_secs(1), 30);
        assert_eq!(backoff_secs(2), 60);
        assert_eq!(backoff_secs(5), 480);
        assert_eq!(backoff_secs(50), 3600);
        assert_eq!(backoff_secs(0), 30);
    }
}
