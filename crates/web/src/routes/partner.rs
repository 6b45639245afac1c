//! The partner API for third-party sellers, `/partner/v1` (docs/partner-api.md). Every
//! request is signed (`simrenew_core::partner`: HMAC-SHA256 over method, path,
//! timestamp, nonce and the body's hash) with the partner's secret; a missing header, an
//! unknown key, a stale timestamp, a reused nonce, a forged signature and a missing
//! scope are each refused with their own problem type. The secret is kept sealed
//! (AES-256-GCM under a key derived from the server's `secret_key`), since HMAC needs it
//! in the clear to check a signature.
//!
//! Line status and usage, plans with the partner's wholesale prices, orders one at a
//! time or in bulk paid from a prepaid deposit, the deposit, and the webhook log.

use crate::AppState;
use crate::dto::{LineOwnerView, LinePublic, LineView, UsageList};
use crate::problem::{ApiResult, Problem};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::get;
use base64::Engine;
use simrenew_core::partner::{self, SignatureError};
use simrenew_store::partners::{Admission, Partner};

/// The sales channel of every partner order.
const CHANNEL: &str = "partner";

pub fn router() -> Router<AppState> {
    let (routes, spec) = utoipa_axum::router::OpenApiRouter::with_openapi(
        <PartnerDoc as utoipa::OpenApi>::openapi(),
    )
    .routes(utoipa_axum::routes!(line_status))
    .routes(utoipa_axum::routes!(line_usage))
    .routes(utoipa_axum::routes!(plans))
    .routes(utoipa_axum::routes!(create_order))
    .routes(utoipa_axum::routes!(bulk_orders))
    .routes(utoipa_axum::routes!(deposit))
    .routes(utoipa_axum::routes!(deliveries))
    .split_for_parts();
    let spec = crate::openapi::finish(spec);
    routes.route(
        "/partner/v1/openapi.json",
        get(move || {
            let spec = spec.clone();
            async move { Json(spec) }
        }),
    )
}

/// The OpenAPI 3.1 document of `/partner/v1`, served at `/partner/v1/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "simrenew partner API",
        description = "For third-party sellers. Every request is signed: HMAC-SHA256 under the partner's secret of METHOD, PATH?QUERY, X-Simrenew-Timestamp, X-Simrenew-Nonce and hex(SHA-256(body)), joined by newlines (docs/partner-api.md). Errors are RFC 9457 problem details.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    modifiers(&PartnerSecurity),
    tags((name = "partner", description = "Lines and orders for third-party sellers"))
)]
struct PartnerDoc;

struct PartnerSecurity;

impl utoipa::Modify for PartnerSecurity {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "partner_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Simrenew-Key",
                "The key id; with X-Simrenew-Timestamp, X-Simrenew-Nonce and X-Simrenew-Signature",
            ))),
        );
    }
}

/// The sealing key of partner secrets: HMAC-SHA256 of a label under the server's
/// secret, so every server of one shop (same `secret_key`) opens what another sealed.
fn sealing_key(server_secret: &[u8]) -> ring::aead::LessSafeKey {
    let key = hmac_label(server_secret, "simrenew partner secrets v1");
    let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key)
        .expect("32 bytes make an AES-256 key");
    ring::aead::LessSafeKey::new(unbound)
}

fn hmac_label(secret: &[u8], label: &str) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Seals a partner's secret for the store: base64(nonce ‖ ciphertext ‖ tag).
pub fn seal(server_secret: &[u8], secret: &str) -> String {
    let nonce_bytes: [u8; 12] = uuid::Uuid::new_v4().into_bytes()[..12]
        .try_into()
        .expect("12 of 16 bytes");
    let mut buf = secret.as_bytes().to_vec();
    sealing_key(server_secret)
        .seal_in_place_append_tag(
            ring::aead::Nonce::assume_unique_for_key(nonce_bytes),
            ring::aead::Aad::empty(),
            &mut buf,
        )
        .expect("sealing cannot fail for this size");
    let mut out = nonce_bytes.to_vec();
    out.extend_from_slice(&buf);
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Opens a sealed secret; None when it was sealed under another server key.
pub fn open(server_secret: &[u8], sealed: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .ok()?;
    if raw.len() < 12 + 16 {
        return None;
    }
    let (nonce, rest) = raw.split_at(12);
    let mut buf = rest.to_vec();
    let plain = sealing_key(server_secret)
        .open_in_place(
            ring::aead::Nonce::try_assume_unique_for_key(nonce).ok()?,
            ring::aead::Aad::empty(),
            &mut buf,
        )
        .ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

/// The demo shop's partner (`serve --demo`): its key id and secret, published in
/// docs/partner-api.md for the worked example.
pub const DEMO_PARTNER_KEY: &str = "pk_demo";
pub const DEMO_PARTNER_SECRET: &str = "sk_demo_partner_secret";

/// Adds the demo partner, or reseals its secret under this run's server key.
pub async fn seed_demo_partner(
    store: &simrenew_store::Store,
    server_secret: &[u8],
) -> Result<(), simrenew_store::StoreError> {
    let sealed = seal(server_secret, DEMO_PARTNER_SECRET);
    if !store.reseal_partner(DEMO_PARTNER_KEY, &sealed).await? {
        store
            .add_partner(
                "demo",
                "Demo Travel Agency",
                DEMO_PARTNER_KEY,
                &sealed,
                &["lines:read"],
            )
            .await?;
    }
    Ok(())
}

/// A new key id and secret for a partner: (`pk_…`, `sk_…`), the secret shown once.
pub fn new_credentials() -> (String, String) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    (
        format!("pk_{}", &id[..16]),
        format!("sk_{}", simrenew_store::db::new_secret()),
    )
}

fn refused(e: &SignatureError) -> Problem {
    let slug = match e {
        SignatureError::Missing(_) => "partner-signature-missing",
        SignatureError::BadTimestamp | SignatureError::Stale(_) => "partner-stale-request",
        SignatureError::BadNonce => "partner-bad-nonce",
        SignatureError::Mismatch => "partner-bad-signature",
    };
    Problem::new(
        StatusCode::UNAUTHORIZED,
        slug,
        "Request not accepted",
        e.to_string(),
    )
}

/// Checks a request's signature and freshness and spends its nonce; the partner.
pub async fn authenticate(
    s: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    scope: &str,
) -> ApiResult<Partner> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| refused(&SignatureError::Missing(name)))
    };
    let key = header("x-simrenew-key")?;
    let ts = header("x-simrenew-timestamp")?;
    let nonce = header("x-simrenew-nonce")?;
    let sig = header("x-simrenew-signature")?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    partner::check_fresh(ts, nonce, now).map_err(|e| refused(&e))?;
    let unknown = || {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "partner-unknown-key",
            "Request not accepted",
            "X-Simrenew-Key names no active partner",
        )
    };
    let p = s.store.partner_by_key(key).await?.ok_or_else(unknown)?;
    let Some(secret) = open(&s.config.secret, &p.secret_sealed) else {
        tracing::error!(partner = %p.key_id, "a partner secret does not open: secret_key changed?");
        return Err(unknown());
    };
    let path = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let canonical = partner::canonical(method.as_str(), path, ts, nonce, body);
    partner::verify(secret.as_bytes(), &canonical, sig).map_err(|e| refused(&e))?;
    // Only a genuine request spends its nonce (a forger cannot burn the partner's) and
    // counts against the partner's rate, on every server alike.
    let per_minute = u32::try_from(p.rate_per_minute).unwrap_or(u32::MAX);
    match s
        .store
        .admit_partner_request(&p.id, nonce, 2 * partner::MAX_SKEW_SECS, per_minute)
        .await?
    {
        Admission::Admitted => {}
        Admission::Replayed => {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "partner-nonce-reused",
                "Request not accepted",
                "this X-Simrenew-Nonce was used already: a replayed request; sign each request with a new nonce",
            ));
        }
        Admission::RateLimited(wait) => {
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "partner-rate-limited",
                "Too many requests",
                format!(
                    "this key may send {} requests a minute; wait {wait} s",
                    p.rate_per_minute
                ),
            )
            .retry_after(wait));
        }
    }
    if !p.has_scope(scope) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "partner-scope",
            "Not allowed for this key",
            format!("this key lacks the scope {scope}"),
        ));
    }
    Ok(p)
}

/// A line by ICCID or number (scope `lines:read`): to a partner that has sold to it (an
/// order paid from its deposit), the owner's view — status, periods, balance, data left
/// per bucket —; to any other partner, what anyone may see (operator, kind, status).
#[utoipa::path(get, path = "/partner/v1/lines/{line}", tag = "partner", security(("partner_key" = [])),
    params(
        ("line" = String, Path, description = "Phone number or ICCID in any usual form", pattern = "LINE", example = "+79161234561"),
        ("X-Simrenew-Timestamp" = String, Header, description = "Unix seconds; within 300 s of the server's clock", pattern = "^[0-9]{1,12}$"),
        ("X-Simrenew-Nonce" = String, Header, description = "New for every request", pattern = "^[!-~]{8,64}$"),
        ("X-Simrenew-Signature" = String, Header, description = "Lowercase hex HMAC-SHA256 of the canonical string", pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, description = "LineOwnerView for a line the partner sold to, LinePublic otherwise", body = LineView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn line_status(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    req: axum::extract::Request,
) -> ApiResult<Json<LineView>> {
    let (line, sold) = partner_line(&s, req, &raw).await?;
    if !sold {
        return Ok(Json(LineView::Public(LinePublic::new(
            &line,
            simrenew_core::Locale::En,
        ))));
    }
    let detail = s.store.line_detail(&line).await?;
    Ok(Json(LineView::Owner(Box::new(LineOwnerView::new(
        &detail,
        simrenew_core::Locale::En,
    )))))
}

/// A line's recent usage events, newest first, for a partner that has sold to it (scope
/// `lines:read`); any other partner is refused with `partner-line-not-sold`.
#[utoipa::path(get, path = "/partner/v1/lines/{line}/usage", tag = "partner", security(("partner_key" = [])),
    params(
        ("line" = String, Path, description = "Phone number or ICCID in any usual form", pattern = "LINE", example = "+79161234561"),
        ("X-Simrenew-Timestamp" = String, Header, description = "Unix seconds", pattern = "^[0-9]{1,12}$"),
        ("X-Simrenew-Nonce" = String, Header, description = "New for every request", pattern = "^[!-~]{8,64}$"),
        ("X-Simrenew-Signature" = String, Header, description = "Lowercase hex HMAC-SHA256", pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, body = UsageList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn line_usage(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    req: axum::extract::Request,
) -> ApiResult<Json<UsageList>> {
    let (line, sold) = partner_line(&s, req, &raw).await?;
    if !sold {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "partner-line-not-sold",
            "Not your customer's line",
            "this partner has sold nothing to this line: its usage is its owner's to see",
        ));
    }
    Ok(Json(UsageList::new(
        s.store.usage_of_line(&line.id, 200).await?,
    )))
}

/// The line a `lines:read` request names, and whether the partner has sold to it.
async fn partner_line(
    s: &AppState,
    req: axum::extract::Request,
    raw: &str,
) -> ApiResult<(simrenew_store::lines::Line, bool)> {
    let (p, _) = signed(s, req, "lines:read").await?;
    let line = s.store.find_line(&super::line_ref("line", raw)?).await?;
    let sold = s.store.partner_sold_to(&p.id, &line.id).await?;
    Ok((line, sold))
}

/// Authenticates a whole request (its body is part of the signature); the partner and
/// the body.
async fn signed(
    s: &AppState,
    req: axum::extract::Request,
    scope: &str,
) -> ApiResult<(Partner, Bytes)> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, crate::extract::MAX_BODY)
        .await
        .map_err(|e| crate::extract::body_problem(&e, false))?;
    let p = authenticate(s, &parts.method, &parts.uri, &parts.headers, &body, scope).await?;
    Ok((p, body))
}

/// An order a partner places for a customer's line, paid from its prepaid deposit.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "line": "+7 916 123-45-61",
    "items": [{"type": "renew", "plan_id": "mts-month-30gb"}],
    "currency": "RUB"
}))]
pub struct PartnerOrderInput {
    /// The line's phone number or ICCID, in any usual form.
    #[schema(example = "+7 916 123-45-61", pattern = "LINE")]
    pub line: String,
    #[schema(min_items = 1, max_items = 10)]
    pub items: Vec<crate::dto::ItemInput>,
    /// The deposit's currency to pay from (RUB, CNY, USD, EUR); the line's when absent.
    #[serde(default)]
    #[schema(pattern = "^(RUB|CNY|USD|EUR)$")]
    pub currency: Option<String>,
    /// A promo code (3 to 32 letters, digits or `-`, any case). A promotion prices each
    /// item at most once: the lowest of the code and any running campaign, never both.
    #[serde(default)]
    #[schema(example = "WELCOME10", pattern = "PROMO_CODE")]
    pub promo_code: Option<String>,
}

/// Places an order for a line and pays it from the partner's deposit at once (scope
/// `orders:write`): fulfilled by the same renewal rules as every channel, or refused
/// whole (`partner-deposit-short` says how much is missing). The `Idempotency-Key`
/// header is required: the same key and body return the first answer.
#[utoipa::path(post, path = "/partner/v1/orders", tag = "partner", request_body = PartnerOrderInput, security(("partner_key" = [])),
    params(
        ("Idempotency-Key" = String, Header, description = "Unique per intended order", pattern = "^[!-~]{1,255}$"),
        ("X-Simrenew-Timestamp" = String, Header, description = "Unix seconds; within 300 s of the server's clock", pattern = "^[0-9]{1,12}$"),
        ("X-Simrenew-Nonce" = String, Header, description = "New for every request", pattern = "^[!-~]{8,64}$"),
        ("X-Simrenew-Signature" = String, Header, description = "Lowercase hex HMAC-SHA256 of the canonical string", pattern = "^[0-9a-f]{64}$")),
    responses((status = 201, body = crate::dto::OrderDto),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 402, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn create_order(
    State(s): State<AppState>,
    req: axum::extract::Request,
) -> ApiResult<axum::response::Response> {
    let headers = req.headers().clone();
    let (p, body) = signed(&s, req, "orders:write").await?;
    let key = idempotency_key(&headers)?;
    let input = crate::extract::ApiJson::<PartnerOrderInput>::parse(&headers, &body)?;
    let c = super::claim(
        format!("partner:{}", p.id),
        key,
        "POST /partner/v1/orders",
        &input.canonical_hash,
    );
    let placed = place(&s, &p, &c, &input.value).await;
    super::first_answer(&s, &c, placed).await
}

/// Places one partner order, storing its answer under `c`.
async fn place(
    s: &AppState,
    p: &Partner,
    c: &simrenew_store::idempotency::IdemClaim,
    input: &PartnerOrderInput,
) -> ApiResult<axum::response::Response> {
    let req = partner_request(s, p, input).await?;
    let render = |o: &simrenew_store::orders::Order| {
        super::rendered(StatusCode::CREATED, &crate::dto::OrderDto::from(o))
    };
    match s
        .store
        .create_partner_order(
            p,
            &req,
            Some(&simrenew_store::idempotency::Idem {
                claim: c,
                render: &render,
            }),
        )
        .await
    {
        Ok(o) => Ok(super::json(
            StatusCode::CREATED,
            &crate::dto::OrderDto::from(&o),
        )),
        Err(e @ simrenew_store::StoreError::InsufficientBalance { .. }) => Err(order_problem(e)),
        Err(e) => Err(super::refused(e)),
    }
}

/// A partner's order request: the items as the app API takes them, paid from its
/// deposit in the order's currency (the line's when not given).
async fn partner_request(
    s: &AppState,
    p: &Partner,
    input: &PartnerOrderInput,
) -> ApiResult<simrenew_store::orders::OrderRequest> {
    let as_order = crate::dto::OrderInput {
        line: input.line.clone(),
        items: input.items.clone(),
        currency: input.currency.clone(),
        pay_with: None,
        promo_code: input.promo_code.clone(),
    };
    let mut req = super::orders::request(&as_order, None)?;
    let line = s.store.find_line(&req.line).await?;
    let currency = req.currency.unwrap_or(line.currency);
    req.currency = Some(currency);
    req.channel = CHANNEL.into();
    req.payment = simrenew_store::orders::Payment::Deposit(
        simrenew_store::partners::deposit_account(&p.id, currency),
    );
    Ok(req)
}

/// A refused partner order as a problem: a short deposit says by how much.
fn order_problem(e: simrenew_store::StoreError) -> Problem {
    match e {
        simrenew_store::StoreError::InsufficientBalance {
            needed,
            available,
            missing,
        } => {
            let mut problem = Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "partner-deposit-short",
                "The deposit is short",
                format!(
                    "this order needs {needed}; the deposit holds {available}, {missing} short"
                ),
            );
            problem.needed = Some(Box::new(needed.into()));
            problem.available = Some(Box::new(available.into()));
            problem.missing = Some(Box::new(missing.into()));
            problem
        }
        e => Problem::from(e),
    }
}

/// Several orders at once.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "orders": [
        {"line": "+7 916 123-45-61", "items": [{"type": "addon", "plan_id": "mts-addon-1gb"}]},
        {"line": "+7 926 123-45-61", "items": [{"type": "topup", "amount_minor": 50_000}]}
    ],
    "all_or_nothing": true
}))]
pub struct BulkInput {
    #[schema(min_items = 1, max_items = 100)]
    pub orders: Vec<PartnerOrderInput>,
    /// Place all or none: the first refusal undoes the others. Default: each order on
    /// its own.
    #[serde(default)]
    pub all_or_nothing: bool,
}

/// One order's result in a bulk request.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    /// Its position in `orders`.
    pub index: usize,
    /// 201 placed, or the status its problem carries.
    pub status: u16,
    /// The order, as `POST /partner/v1/orders` answers it.
    #[schema(value_type = Option<crate::dto::OrderDto>)]
    pub order: Option<serde_json::Value>,
    pub problem: Option<Problem>,
}

/// Places up to 100 orders, each paid from the deposit, with a result per order
/// (scope `orders:write`). Each order is idempotent under `<Idempotency-Key>#<index>`:
/// a retry of the same request places only what was not placed, and replays the rest.
/// With `all_or_nothing`, one refusal places none.
#[utoipa::path(post, path = "/partner/v1/orders/bulk", tag = "partner", request_body = BulkInput, security(("partner_key" = [])),
    params(
        ("Idempotency-Key" = String, Header, description = "Unique per intended batch", pattern = "^[!-~]{1,200}$"),
        ("X-Simrenew-Timestamp" = String, Header, description = "Unix seconds", pattern = "^[0-9]{1,12}$"),
        ("X-Simrenew-Nonce" = String, Header, description = "New for every request", pattern = "^[!-~]{8,64}$"),
        ("X-Simrenew-Signature" = String, Header, description = "Lowercase hex HMAC-SHA256", pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, body = Vec<BulkResult>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn bulk_orders(
    State(s): State<AppState>,
    req: axum::extract::Request,
) -> ApiResult<Json<Vec<BulkResult>>> {
    let headers = req.headers().clone();
    let (p, body) = signed(&s, req, "orders:write").await?;
    let key = idempotency_key(&headers)?;
    let input = crate::extract::ApiJson::<BulkInput>::parse(&headers, &body)?;
    let n = input.value.orders.len();
    if n == 0 || n > 100 {
        return Err(Problem::invalid("orders", "1 to 100 orders"));
    }
    let problem_at = |index: usize, problem: Problem| BulkResult {
        index,
        status: problem.status,
        order: None,
        problem: Some(problem),
    };
    let mut results: Vec<Option<BulkResult>> = (0..n).map(|_| None).collect();
    let mut todo = Vec::with_capacity(n);
    for (i, o) in input.value.orders.iter().enumerate() {
        let hash = simrenew_store::db::sha256_hex(
            format!("{}|{:?}|{:?}", o.line, o.currency, o.items).as_bytes(),
        );
        let c = super::claim(
            format!("partner:{}", p.id),
            format!("{key}#{i}"),
            "POST /partner/v1/orders/bulk",
            &hash,
        );
        // Placed by an earlier try of this batch: its answer again. An order stored under
        // this position that differs from this one means the key was used for another
        // batch: refused whole, before anything of it is placed.
        if let Some(stored) = s.store.stored_response(&c.scope, &c.key).await? {
            if stored.request_hash != c.request_hash {
                return Err(super::key_reused().field(
                    &format!("orders[{i}]"),
                    "differs from the order placed at this position under this key",
                ));
            }
            results[i] = Some(BulkResult {
                index: i,
                status: stored.status,
                order: serde_json::from_str(&stored.body).ok(),
                problem: None,
            });
            continue;
        }
        match partner_request(&s, &p, o).await {
            Ok(r) => todo.push((i, r, c)),
            Err(problem) => results[i] = Some(problem_at(i, problem)),
        }
    }
    let refused_early = results
        .iter()
        .any(|r| r.as_ref().is_some_and(|r| r.problem.is_some()));
    if input.value.all_or_nothing && refused_early {
        // One is refused before anything is placed: none is.
        for (i, _, _) in &todo {
            let problem = Problem::from(simrenew_store::StoreError::NotPlaced);
            results[*i] = Some(problem_at(*i, problem));
        }
    } else {
        let render = |o: &simrenew_store::orders::Order| {
            super::rendered(StatusCode::CREATED, &crate::dto::OrderDto::from(o))
        };
        let items: Vec<_> = todo
            .iter()
            .map(|(_, r, c)| {
                (
                    r.clone(),
                    simrenew_store::idempotency::Idem {
                        claim: c,
                        render: &render,
                    },
                )
            })
            .collect();
        let placed = s
            .store
            .create_partner_orders(&p, &items, input.value.all_or_nothing)
            .await;
        for ((i, _, _), outcome) in todo.iter().zip(placed) {
            results[*i] = Some(match outcome {
                Ok(o) => BulkResult {
                    index: *i,
                    status: 201,
                    order: serde_json::to_value(crate::dto::OrderDto::from(&o)).ok(),
                    problem: None,
                },
                Err(e) => problem_at(*i, order_problem(e)),
            });
        }
    }
    Ok(Json(results.into_iter().flatten().collect()))
}

/// The Idempotency-Key header, required on partner orders.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<String> {
    headers
        .get(crate::extract::IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .ok_or_else(|| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "idempotency-key-missing",
                "Idempotency-Key needed",
                "send an Idempotency-Key header (a UUID) with every order",
            )
            .field("Idempotency-Key", "missing or not 1-200 visible characters")
        })
}

/// What the partner's deposit holds, per currency it was ever credited in.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DepositDto {
    pub balances: Vec<crate::dto::MoneyDto>,
}

/// What `GET /partner/v1/plans` takes.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PartnerPlansQuery {
    /// The currency to price in (RUB, CNY, USD, EUR); without it only the lists are given.
    #[param(pattern = "^(RUB|CNY|USD|EUR)$")]
    pub currency: Option<String>,
    /// en, ru or zh-CN: the language of each plan's `name` (all are in `names`).
    #[param(pattern = "^(en|ru|zh-CN)$")]
    pub lang: Option<String>,
}

/// A plan as this partner buys it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PartnerPlanDto {
    /// The plan as the public catalog shows it (retail prices, running campaign).
    pub plan: crate::dto::PlanDto,
    /// This partner's wholesale prices, per currency (empty: retail only).
    pub wholesale_prices: Vec<crate::dto::MoneyDto>,
    /// What an order of it paid from the deposit costs now in the currency asked for:
    /// the lower of the wholesale price and the retail price with any campaign, as
    /// `POST /partner/v1/orders` will charge it (a promo code may still lower it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub your_price: Option<PartnerPriceDto>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PartnerPriceDto {
    pub price: crate::dto::MoneyDto,
    /// The catalog's retail price (equal to `price` when nothing lowers it).
    pub list_price: crate::dto::MoneyDto,
    /// `wholesale`, `campaign` or `list`: what made `price`.
    #[schema(pattern = "^(wholesale|campaign|list)$")]
    pub basis: String,
    /// The campaign, when `basis` is `campaign`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_id: Option<String>,
}

/// The plans sold to partners, each with this partner's wholesale prices and, for the
/// currency asked for, the price its deposit pays now (any scope).
#[utoipa::path(get, path = "/partner/v1/plans", tag = "partner", security(("partner_key" = [])),
    params(PartnerPlansQuery,
        ("X-Simrenew-Timestamp" = String, Header, description = "Unix seconds", pattern = "^[0-9]{1,12}$"),
        ("X-Simrenew-Nonce" = String, Header, description = "New for every request", pattern = "^[!-~]{8,64}$"),
        ("X-Simrenew-Signature" = String, Header, description = "Lowercase hex HMAC-SHA256 (the query is part of the signed path)", pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, body = Vec<PartnerPlanDto>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn plans(
    State(s): State<AppState>,
    req: axum::extract::Request,
) -> ApiResult<Json<Vec<PartnerPlanDto>>> {
    let uri = req.uri().clone();
    let (p, _) = signed(&s, req, "").await?;
    let axum::extract::Query(q) = axum::extract::Query::<PartnerPlansQuery>::try_from_uri(&uri)
        .map_err(|e| Problem::invalid("query", e.body_text()))?;
    let currency = q
        .currency
        .as_deref()
        .map(str::parse::<simrenew_core::Currency>)
        .transpose()
        .map_err(|e| Problem::invalid("currency", e.to_string()))?;
    let lang = match q.lang.as_deref() {
        None => simrenew_core::Locale::En,
        Some(l) => l
            .parse()
            .map_err(|_| Problem::invalid("lang", "use en, ru or zh-CN"))?,
    };
    let filter = simrenew_store::catalog::PlanFilter {
        channel: Some(CHANNEL.into()),
        ..Default::default()
    };
    let at = simrenew_store::db::now();
    let (catalog, campaigns, wholesale) = tokio::try_join!(
        s.store.list_plans(&filter),
        s.store.running_campaigns(at),
        s.store.wholesale_prices(&p.id)
    )?;
    let out = catalog
        .iter()
        .map(|plan| {
            let listed = || wholesale.iter().filter(|w| w.plan_id == plan.id);
            let your_price = currency.and_then(|c| {
                let retail =
                    simrenew_core::promotion::price_item(plan, c, CHANNEL, at, &campaigns, None);
                let own = listed().find(|w| w.price.currency == c).map(|w| w.price);
                let priced = simrenew_core::promotion::with_wholesale(retail, own)?;
                let basis = match priced.promotion {
                    Some(_) => "campaign",
                    None if Some(priced.price) == own => "wholesale",
                    None => "list",
                };
                Some(PartnerPriceDto {
                    price: priced.price.into(),
                    list_price: priced.list.into(),
                    basis: basis.into(),
                    promotion_id: priced.promotion.map(|c| c.id.clone()),
                })
            });
            PartnerPlanDto {
                plan: crate::dto::PlanDto::offered(plan, lang, currency, &campaigns, CHANNEL, at),
                wholesale_prices: listed().map(|w| w.price.into()).collect(),
                your_price,
            }
        })
        .collect();
    Ok(Json(out))
}

/// The partner's prepaid deposit (any scope).
#[utoipa::path(get, path = "/partner/v1/deposit", tag = "partner", security(("partner_key" = [])),
    params(
        ("X-Simrenew-Timestamp" = String, Header, description = "Unix seconds", pattern = "^[0-9]{1,12}$"),
        ("X-Simrenew-Nonce" = String, Header, description = "New for every request", pattern = "^[!-~]{8,64}$"),
        ("X-Simrenew-Signature" = String, Header, description = "Lowercase hex HMAC-SHA256", pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, body = DepositDto),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn deposit(
    State(s): State<AppState>,
    req: axum::extract::Request,
) -> ApiResult<Json<DepositDto>> {
    let (p, _) = signed(&s, req, "").await?;
    let mut balances = Vec::new();
    for c in [
        simrenew_core::Currency::Rub,
        simrenew_core::Currency::Cny,
        simrenew_core::Currency::Usd,
        simrenew_core::Currency::Eur,
    ] {
        let m = s.store.partner_deposit(&p.id, c).await?;
        if m.minor != 0 {
            balances.push(m.into());
        }
    }
    Ok(Json(DepositDto { balances }))
}

/// One delivery of the partner's webhook log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryDto {
    /// The event's id (the same in its body): deduplicate by it.
    pub event_id: String,
    /// order.fulfilled
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    pub attempts: i64,
    pub delivered_at: Option<String>,
    /// The HTTP status your endpoint last answered.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// The partner's webhook deliveries, newest first (any scope).
#[utoipa::path(get, path = "/partner/v1/webhooks/deliveries", tag = "partner", security(("partner_key" = [])),
    params(
        ("X-Simrenew-Timestamp" = String, Header, description = "Unix seconds", pattern = "^[0-9]{1,12}$"),
        ("X-Simrenew-Nonce" = String, Header, description = "New for every request", pattern = "^[!-~]{8,64}$"),
        ("X-Simrenew-Signature" = String, Header, description = "Lowercase hex HMAC-SHA256", pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, body = Vec<DeliveryDto>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn deliveries(
    State(s): State<AppState>,
    req: axum::extract::Request,
) -> ApiResult<Json<Vec<DeliveryDto>>> {
    let (p, _) = signed(&s, req, "").await?;
    let events = s.store.partner_events(&p.id, 100).await?;
    Ok(Json(
        events
            .into_iter()
            .map(|e| DeliveryDto {
                event_id: e.id,
                kind: e.kind,
                created_at: crate::dto::ts(e.created_at),
                attempts: e.attempts,
                delivered_at: e.delivered_at.map(crate::dto::ts),
                last_status: e.last_status,
                last_error: e.last_error,
            })
            .collect(),
    ))
}

/// Posts the partners' due events to their webhooks, signed as their requests are (the
/// URL's path, a new timestamp and nonce per attempt, the body's hash, their secret),
/// with `X-Simrenew-Event` naming the type; a 2xx answer delivers, anything else is
/// tried again with backoff (30 s doubling to an hour). Run by `serve` every few
/// seconds. How many were delivered.
pub async fn deliver_events(s: &AppState, http: &reqwest::Client) -> usize {
    let events = match s.store.claim_partner_events(20, 120).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "partner events");
            return 0;
        }
    };
    let mut delivered = 0;
    for e in events {
        let outcome = deliver_one(s, http, &e).await;
        let (status, error) = match &outcome {
            Ok(st) => (Some(*st), None),
            Err((st, err)) => (*st, Some(err.as_str())),
        };
        let retry = simrenew_store::outbox::backoff_secs(e.attempts + 1);
        if let Err(err) = s
            .store
            .record_event_attempt(&e.id, status, error, retry)
            .await
        {
            tracing::warn!(error = %err, event = %e.id, "recording a webhook attempt");
        }
        delivered += usize::from(outcome.is_ok());
    }
    delivered
}

async fn deliver_one(
    s: &AppState,
    http: &reqwest::Client,
    e: &simrenew_store::partners::PartnerEvent,
) -> Result<i64, (Option<i64>, String)> {
    let p = match s.store.partner(&e.partner_id).await {
        Ok(Some(p)) => p,
        _ => return Err((None, "partner unknown".into())),
    };
    let Some(url) = p.webhook_url.clone() else {
        return Err((None, "no webhook URL".into()));
    };
    let Some(secret) = open(&s.config.secret, &p.secret_sealed) else {
        return Err((None, "the partner's secret does not open".into()));
    };
    let Ok(parsed) = reqwest::Url::parse(&url) else {
        return Err((None, "webhook URL unreadable".into()));
    };
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let ts = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let canonical = partner::canonical("POST", &path, &ts, &nonce, e.payload.as_bytes());
    let res = http
        .post(parsed)
        .header("content-type", "application/json")
        .header("X-Simrenew-Key", &p.key_id)
        .header("X-Simrenew-Timestamp", &ts)
        .header("X-Simrenew-Nonce", &nonce)
        .header(
            "X-Simrenew-Signature",
            partner::sign(secret.as_bytes(), &canonical),
        )
        .header("X-Simrenew-Event", &e.kind)
        .body(e.payload.clone())
        .send()
        .await
        .map_err(|err| (None, err.without_url().to_string()))?;
    let status = i64::from(res.status().as_u16());
    if res.status().is_success() {
        Ok(status)
    } else {
        Err((Some(status), format!("answered {status}")))
    }
}

/// Runs [`deliver_events`] every 5 seconds, for ever (`serve`).
pub fn spawn_webhooks(s: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = match reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
        {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "no HTTP client for partner webhooks");
                return;
            }
        };
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_scan: Option<std::time::Instant> = None;
        loop {
            tick.tick().await;
            if last_scan.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
                last_scan = Some(std::time::Instant::now());
                match s.store.queue_plan_endings(simrenew_store::db::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(queued = n, "partner plan.ending events"),
                    Err(e) => tracing::warn!(error = %e, "partner plan.ending scan"),
                }
            }
            let n = deliver_events(&s, &http).await;
            if n > 0 {
                tracing::info!(delivered = n, "partner webhooks");
            }
        }
    })
}
