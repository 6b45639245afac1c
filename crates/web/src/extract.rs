//! Request extractors: JSON bodies whose errors name the field at fault, the bearer
//! session, the usage feed's token, the `Idempotency-Key` header and the reader's language.

use crate::AppState;
use crate::problem::Problem;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use simrenew_core::Locale;
use simrenew_store::users::User;

/// Bodies larger than this are refused before parsing.
pub const MAX_BODY: usize = 256 * 1024;

/// A JSON body, plus a hash of its canonical form (for idempotency).
pub struct ApiJson<T> {
    pub value: T,
    /// SHA-256 of the body re-serialized with sorted keys: the same JSON sent with other
    /// spacing or key order counts as the same request.
    pub canonical_hash: String,
}

impl<T: DeserializeOwned> ApiJson<T> {
    /// Reads a JSON body already in hand (the partner API reads it whole to check its
    /// signature): the media type, then the JSON, then the fields, each refused by name.
    pub fn parse(headers: &axum::http::HeaderMap, bytes: &[u8]) -> Result<Self, Problem> {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Send JSON",
                "the body must be application/json",
            ));
        }
        let generic: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "The body is not valid JSON",
                e.to_string(),
            )
        })?;
        let canonical = serde_json::to_vec(&generic).unwrap_or_default();
        let value: T = serde_path_to_error::deserialize(generic).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "body".to_string()
            } else {
                path
            };
            Problem::invalid(&field, e.into_inner().to_string())
        })?;
        Ok(Self {
            value,
            canonical_hash: simrenew_store::db::sha256_hex(&canonical),
        })
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let headers = req.headers().clone();
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        Self::parse(&headers, &bytes)
    }
}

/// A request body as bytes, read by the same rule as [`ApiJson`]'s (for peers that sign
/// or encode their bodies their own way: payment notifications, the SM-DP+): a body that
/// stalls is 408, one over the route's limit 413, one cut off 400 (`body_problem`).
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|e| body_problem(&e, e.status() == StatusCode::PAYLOAD_TOO_LARGE))
    }
}

/// Why a request body could not be read, from whatever reading it failed with (axum's
/// extractor, which says itself when the limit was hit: `over_limit`, or
/// `axum::body::to_bytes`, whose error holds the limit's): larger than the route takes
/// (413), stopped arriving for longer than the server's timeout (408, `server`), or cut
/// off (400).
pub fn body_problem(e: &(dyn std::error::Error + 'static), over_limit: bool) -> Problem {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Body too slow",
                "the request body stopped arriving before it was complete; send the request again",
            );
        }
        if over_limit || c.is::<http_body_util::LengthLimitError>() {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Body too large",
                e.to_string(),
            );
        }
        cause = c.source();
    }
    Problem::new(
        StatusCode::BAD_REQUEST,
        "body-unreadable",
        "Body not readable",
        e.to_string(),
    )
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whatever bearer token came, unchecked (the caller decides what it must be).
pub struct Bearer(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        Ok(Self(bearer(parts).map(str::to_string)))
    }
}

/// The signed-in user, when a valid bearer token came; `None` for anonymous callers.
/// A token that is present but wrong or expired is refused (401), not ignored.
pub struct MaybeUser(pub Option<User>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser
where
    AppState: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let Some(token) = bearer(parts) else {
            return Ok(Self(None));
        };
        let app = AppState::from_ref(state);
        if app.feed_token_matches(token) {
            return Ok(Self(None));
        }
        match app.store.user_by_token(token).await? {
            Some(u) => Ok(Self(Some(u))),
            None => Err(Problem::unauthorized(
                "the session token is unknown or expired: sign in again",
            )),
        }
    }
}

/// The session token a request carries, not yet checked: for handlers that check it in
/// the same statement as their read (one round trip), and answer 401 themselves when the
/// store finds no live session for it. The feed token counts as no session.
pub struct SessionToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for SessionToken
where
    AppState: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let app = AppState::from_ref(state);
        Ok(Self(
            bearer(parts)
                .filter(|t| !app.feed_token_matches(t))
                .map(str::to_string),
        ))
    }
}

/// A signed-in user (401 otherwise).
pub struct SignedIn(pub User);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn
where
    AppState: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match MaybeUser::from_request_parts(parts, state).await?.0 {
            Some(u) => Ok(Self(u)),
            None => Err(Problem::unauthorized(
                "sign in first: send Authorization: Bearer <token> from POST /api/v1/sessions",
            )),
        }
    }
}

/// A usage feed, authenticated by the configured feed token.
pub struct Feed;

impl<S: Send + Sync> FromRequestParts<S> for Feed
where
    AppState: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let app = AppState::from_ref(state);
        match bearer(parts) {
            Some(t) if app.feed_token_matches(t) => Ok(Self),
            Some(_) => Err(Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Not a usage feed",
                "this token may not report usage",
            )),
            None => Err(Problem::unauthorized(
                "usage feeds send Authorization: Bearer <feed token>",
            )),
        }
    }
}

/// The `Idempotency-Key` header, required on every POST that changes money or quota
/// (1 to 255 visible ASCII characters).
pub struct IdempotencyKey(pub String);

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let missing = || {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "idempotency-key-missing",
                "Idempotency-Key required",
                "send an Idempotency-Key header (for example a UUID) so a retry cannot pay twice",
            )
            .field(
                "Idempotency-Key",
                "missing or not 1 to 255 visible ASCII characters",
            )
        };
        let v = parts.headers.get(IDEMPOTENCY_HEADER).ok_or_else(missing)?;
        let s = v.to_str().map_err(|_| missing())?.trim();
        // Exactly what the documents' pattern says: 1 to 255 visible ASCII characters.
        if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(missing());
        }
        // The IETF draft's form, a Structured Field string
        // (draft-ietf-httpapi-idempotency-key-header §2: `Idempotency-Key: "8e03…"`), names
        // the same key as its content; any other value is the key as it stands (`"` too).
        let key = s
            .strip_prefix('"')
            .and_then(|k| k.strip_suffix('"'))
            .filter(|k| !k.is_empty())
            .unwrap_or(s);
        Ok(Self(key.to_string()))
    }
}

/// The reader's language: `?lang=` if given, else `Accept-Language`, else English.
pub struct Lang(pub Locale);

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let from_query = parts.uri.query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("lang="))
                .map(|v| v.replace("%2D", "-"))
        });
        if let Some(l) = from_query {
            return l
                .parse()
                .map(Self)
                .map_err(|e: String| Problem::invalid("lang", e));
        }
        let header = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Ok(Self(Locale::negotiate(header)))
    }
}

/// The client's address, for per-client limits: the connection's peer, or — when the
/// operator says simrenew runs behind a reverse proxy (`behind_proxy`) — the last
/// address that proxy appended to `X-Forwarded-For` (earlier entries are the client's
/// own say and are ignored). `unknown` when neither is there (a server started without
/// connection info, as in some tests).
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Self, std::convert::Infallible> {
        let app = AppState::from_ref(state);
        if app.config.behind_proxy
            && let Some(last) = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .rfind(|s| s.parse::<std::net::IpAddr>().is_ok())
        {
            return Ok(Self(last.to_string()));
        }
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
        Ok(Self(peer))
    }
}
