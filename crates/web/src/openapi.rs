//! The OpenAPI 3.1 document, generated from the handlers' annotations: every route, body
//! and error. Served at `/api/v1/openapi.json`, browsable at `/api/docs`.

use crate::AppState;
use crate::routes::{accounts, esims, lines, orders, plans, system, usage};
use simrenew_core::ids::patterns;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "simrenew API",
        description = "Plans, lines, quotes, orders and usage for prepaid mobile data on Russian SIM cards and eSIMs. \
Errors are RFC 9457 problem details. Every POST that changes money or quota needs an Idempotency-Key header.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    modifiers(&Security),
    tags(
        (name = "catalog", description = "Plans of MTS, Beeline, MegaFon and T2"),
        (name = "lines", description = "Lines by phone number or ICCID"),
        (name = "orders", description = "Quotes and orders: renewals, add-ons, top-ups"),
        (name = "esim", description = "New eSIMs and their activation codes"),
        (name = "usage", description = "Usage reports from feeds"),
        (name = "accounts", description = "Sign-up, sign-in and the owner's lines"),
        (name = "operations", description = "Health, readiness and metrics")
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "session",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        c.add_security_scheme(
            "feed",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        c.add_security_scheme(
            "metrics",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The API routes with their documentation.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(plans::list_plans))
        .routes(routes!(plans::get_plan))
        .routes(routes!(lines::get_line))
        .routes(routes!(lines::line_orders))
        .routes(routes!(lines::line_usage))
        .routes(routes!(orders::quote))
        .routes(routes!(orders::create_order))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::pay_order))
        .routes(routes!(esims::payment_methods))
        .routes(routes!(esims::start_payment))
        .routes(routes!(esims::buy_esim))
        .routes(routes!(esims::order_esim))
        .routes({
            // A feed's report may be larger than other bodies (usage::MAX_REPORT_BODY).
            let (schemas, paths, route) = routes!(usage::report_usage);
            let limit = axum::extract::DefaultBodyLimit::max(usage::MAX_REPORT_BODY);
            (schemas, paths, route.layer(limit))
        })
        .routes(routes!(accounts::sign_up))
        .routes(routes!(accounts::sign_in))
        .routes(routes!(accounts::sign_out))
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::attach_line))
        .routes(routes!(system::healthz))
        .routes(routes!(system::readyz))
        .routes(routes!(system::metrics))
}

/// Patterns too long to repeat in every annotation: an annotation names one
/// (`pattern = "LINE"`) and [`finish`] puts it in. Each is held to its parser by the
/// property tests of `simrenew_core::ids`.
const PATTERNS: [(&str, &str); 4] = [
    ("LINE", patterns::LINE),
    ("EID_OR_BLANK", patterns::EID_OR_BLANK),
    ("IMEI_OR_BLANK", patterns::IMEI_OR_BLANK),
    ("PROMO_CODE", patterns::PROMO_CODE),
];

/// Final touches that need the whole document: the version, and the named patterns.
pub fn finish(mut spec: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    spec.info.version = env!("CARGO_PKG_VERSION").to_string();
    let Ok(mut doc) = serde_json::to_value(&spec) else {
        return spec;
    };
    put_patterns(&mut doc);
    close_variants(&mut doc);
    blank_means_none(&mut doc);
    document_body_failures(&mut doc);
    link_orders(&mut doc);
    describe_responses(&mut doc);
    serde_json::from_value(doc).unwrap_or(spec)
}

/// Optional fields with a format that the server reads as absent when blank (empty or
/// only whitespace, as the pages' forms send them): the format, or blank (JSON Schema
/// 2020-12 Core §10.2.1.2 `anyOf`), so the document allows what the server takes.
fn blank_means_none(doc: &mut serde_json::Value) {
    const FIELDS: [(&str, &str); 1] = [("EsimInput", "email")];
    for (schema, field) in FIELDS {
        let Some(p) = doc
            .pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
            .and_then(|p| p.as_object_mut())
        else {
            continue;
        };
        let Some(format) = p.remove("format") else {
            continue;
        };
        // A schema of its own (utoipa's model keeps `anyOf` only as the whole schema).
        let description = p.remove("description").unwrap_or_default();
        *p = serde_json::json!({
            "anyOf": [
                {"type": "string", "format": format},
                {"type": "string", "pattern": patterns::BLANK},
                {"type": "null"}
            ],
            "description": description,
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
    }
}

/// The variants of a tagged request enum refuse fields of their own (serde's
/// `deny_unknown_fields` on the enum), but utoipa leaves them open in the document: each
/// is closed here (`additionalProperties: false`, JSON Schema 2020-12 Core §10.3.2.3), so
/// the document no longer allows `{"type": "topup", "amount_minor": 100, "plan_id": …}`,
/// which the server refuses.
fn close_variants(doc: &mut serde_json::Value) {
    const TAGGED: [&str; 1] = ["ItemInput"];
    for name in TAGGED {
        let Some(variants) = doc
            .pointer_mut(&format!("/components/schemas/{name}/oneOf"))
            .and_then(|v| v.as_array_mut())
        else {
            continue;
        };
        for v in variants.iter_mut().filter_map(|v| v.as_object_mut()) {
            v.insert("additionalProperties".into(), false.into());
        }
    }
}

/// OpenAPI links (OAS 3.1 §4.8.20) from the answers that create an order to what can be
/// done with it next, so clients (and stateful fuzzers) can follow them: where the new
/// order's id is in the answer, and the operations that take it. Only a new eSIM's order
/// has an eSIM to install: an order for a line the buyer holds links to the others.
fn link_orders(doc: &mut serde_json::Value) {
    const NEXT: [(&str, &str); 5] = [
        ("GetOrder", "get_order"),
        ("PayOrder", "pay_order"),
        ("PaymentMethods", "payment_methods"),
        ("StartPayment", "start_payment"),
        ("OrderEsim", "order_esim"),
    ];
    for (path, id_at, next) in [
        ("/api/v1/orders", "$response.body#/id", &NEXT[..4]),
        ("/api/v1/esims", "$response.body#/order/id", &NEXT[..]),
    ] {
        let Some(created) = doc
            .pointer_mut(&format!(
                "/paths/{}/post/responses/201",
                path.replace('/', "~1")
            ))
            .and_then(|r| r.as_object_mut())
        else {
            continue;
        };
        let links: serde_json::Map<String, serde_json::Value> = next
            .iter()
            .map(|(name, op)| {
                let link = serde_json::json!({"operationId": op, "parameters": {"id": id_at}});
                ((*name).to_string(), link)
            })
            .collect();
        created.insert("links".into(), serde_json::Value::Object(links));
    }
}

/// Every operation of the document (each method's object under each path).
fn operations_mut(doc: &mut serde_json::Value) -> impl Iterator<Item = &mut serde_json::Value> {
    doc.get_mut("paths")
        .and_then(|p| p.as_object_mut())
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|i| i.as_object_mut())
        .flat_map(|i| i.values_mut())
}

/// Every operation that takes a body may answer 413 (`body-too-large`, before the body is
/// read) and 408 (`request-timeout`, the body paused longer than the server's timeout:
/// `server`): said once here rather than in each annotation.
fn document_body_failures(doc: &mut serde_json::Value) {
    for op in operations_mut(doc) {
        if op.get("requestBody").is_none() {
            continue;
        }
        if let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) {
            for (status, description) in [
                (
                    "408",
                    "The body stopped arriving for longer than the server waits (`request-timeout`); send the request again",
                ),
                (
                    "413",
                    "The body is larger than this operation takes (`body-too-large`)",
                ),
            ] {
                responses.entry(status).or_insert_with(|| {
                    serde_json::json!({
                        "description": description,
                        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                    })
                });
            }
        }
    }
}

/// What an answer of `status` means on every operation of ours, for the responses an
/// operation does not describe itself.
fn standard_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted: taken, done later",
        "204" => "Done; no body",
        "303" => "See the `Location`",
        "400" => {
            "The request could not be read: a malformed body, header or parameter (problem details say which)"
        }
        "401" => {
            "Not signed in, or the credentials or signature are not accepted (problem details)"
        }
        "402" => "The balance or deposit is short; the problem says how much is missing",
        "403" => "Not allowed to this caller (problem details)",
        "404" => "Not found (problem details)",
        "409" => {
            "In conflict with the current state, for example an idempotency key reused with another body (problem details)"
        }
        "410" => "Gone (problem details)",
        "415" => "The body is not JSON: send `Content-Type: application/json`",
        "422" => "A field is invalid; the problem details name it and say why",
        "429" => "Too many requests; `Retry-After` says in how many seconds to try again",
        "502" => "A provider or supplier answered with an error (problem details)",
        "503" => "Not available right now (the database or a provider); try again",
        _ => "See the problem details",
    }
}

/// Every Response Object has a `description` (OpenAPI 3.1.0 §4.8.17.1: REQUIRED);
/// utoipa leaves it out when the annotation gives none, and OpenAPI validators refuse
/// such a document. Those get the standard meaning of their status.
fn describe_responses(doc: &mut serde_json::Value) {
    for responses in
        operations_mut(doc).filter_map(|op| op.get_mut("responses").and_then(|r| r.as_object_mut()))
    {
        for (status, r) in responses.iter_mut() {
            let Some(r) = r.as_object_mut().filter(|r| !r.contains_key("$ref")) else {
                continue;
            };
            if r.get("description")
                .and_then(|d| d.as_str())
                .is_none_or(str::is_empty)
            {
                r.insert("description".into(), standard_description(status).into());
            }
        }
    }
}

/// Replaces every `"pattern": NAME` of [`PATTERNS`], wherever it stands (component
/// schemas, inline bodies, parameters), and bounds the field's length as the parsers do.
fn put_patterns(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let mut named = false;
            for (k, child) in map.iter_mut() {
                if let (true, serde_json::Value::String(s)) = (k == "pattern", &*child)
                    && let Some((_, full)) = PATTERNS.iter().find(|(name, _)| name == s)
                {
                    *child = serde_json::Value::String((*full).to_string());
                    named = true;
                } else {
                    put_patterns(child);
                }
            }
            if named {
                map.entry("maxLength")
                    .or_insert(serde_json::json!(patterns::MAX_CHARS));
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(put_patterns),
        _ => {}
    }
}

/// The document as served (for tests and `simrenew openapi`).
pub fn spec() -> utoipa::openapi::OpenApi {
    finish(api_router().split_for_parts().1)
}
