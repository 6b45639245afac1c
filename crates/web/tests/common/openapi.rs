//! Reading the served OpenAPI documents: their patterns, checked to compile and to read
//! lines as the server does.
#![allow(dead_code)]

/// The request example a document gives for component schema `schema` (a whole body).
pub fn example(doc: &serde_json::Value, schema: &str) -> serde_json::Value {
    let e = doc["components"]["schemas"][schema]["example"].clone();
    assert!(e.is_object(), "{schema} has no example");
    e
}

/// Every `pattern` of an OpenAPI document, with where it stands (a JSON pointer), each
/// checked to compile: a client can use them as they are.
pub fn patterns_of(doc: &serde_json::Value) -> Vec<(String, regex::Regex)> {
    fn walk(v: &serde_json::Value, at: &str, out: &mut Vec<(String, regex::Regex)>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map {
                    let here = format!("{at}/{k}");
                    match (k.as_str(), child) {
                        ("pattern", serde_json::Value::String(p)) => {
                            let re = regex::Regex::new(p)
                                .unwrap_or_else(|e| panic!("{here}: {p:?} does not compile: {e}"));
                            out.push((here, re));
                        }
                        _ => walk(child, &here, out),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, "", &mut out);
    out
}

/// The pattern of the `line` path parameter of `path`'s GET, as the document gives it.
pub fn line_param_pattern(doc: &serde_json::Value, path: &str) -> regex::Regex {
    let params = doc["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{path} has no parameters"));
    let line = params
        .iter()
        .find(|p| p["name"] == "line")
        .unwrap_or_else(|| panic!("{path} has no line parameter"));
    regex::Regex::new(line["schema"]["pattern"].as_str().expect("a pattern")).expect("compiles")
}

/// What a line field's pattern must take and refuse: the forms people type, and forms no
/// line can have (a bare 10-digit number that is not a Russian mobile, 16 digits after +).
pub fn assert_line_pattern_reads_as_the_server(re: &regex::Regex) {
    for ok in [
        "+7 916 123-45-61",
        "8 (916) 123 45 61",
        "9161234561",
        "+86 138 0013 8000",
        "8970101 0000000000 5F",
    ] {
        assert!(re.is_match(ok), "{ok:?} should match {re}");
    }
    for bad in [
        "0000000000",
        "+7916123456789012",
        "hello",
        "12345",
        "8916abc4567",
    ] {
        assert!(!re.is_match(bad), "{bad:?} should not match {re}");
    }
}

/// Where a request body's schema leaves an object open to fields it does not name (no
/// `additionalProperties: false`), as JSON pointers into the document: every body the
/// server reads refuses unknown fields, so the document must say so, or a schema-driven
/// client sends bodies the document allows and the server refuses.
pub fn open_request_objects(doc: &serde_json::Value) -> Vec<String> {
    fn walk(
        doc: &serde_json::Value,
        schema: &serde_json::Value,
        at: &str,
        seen: &mut Vec<String>,
        out: &mut Vec<String>,
    ) {
        if !schema.is_object() {
            return;
        }
        if let Some(r) = schema["$ref"].as_str() {
            if !seen.iter().any(|s| s == r) {
                seen.push(r.to_string());
                let target = doc
                    .pointer(r.trim_start_matches('#'))
                    .unwrap_or_else(|| panic!("{at}: {r} not in the document"));
                walk(doc, target, r, seen, out);
            }
            return;
        }
        let is_object = schema["type"] == "object"
            || schema["type"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "object"))
            || schema.get("properties").is_some();
        if is_object && schema["additionalProperties"] != serde_json::Value::Bool(false) {
            out.push(at.to_string());
        }
        if let Some(props) = schema["properties"].as_object() {
            for (k, p) in props {
                walk(doc, p, &format!("{at}/properties/{k}"), seen, out);
            }
        }
        walk(doc, &schema["items"], &format!("{at}/items"), seen, out);
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(parts) = schema[key].as_array() {
                for (i, p) in parts.iter().enumerate() {
                    walk(doc, p, &format!("{at}/{key}/{i}"), seen, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().into_iter().flatten() {
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            let at = format!("/paths/{path}/{method}/requestBody");
            walk(doc, body, &at, &mut seen, &mut out);
        }
    }
    assert!(!seen.is_empty(), "no request body refers to a schema");
    out
}

/// The responses without a `description` (OpenAPI 3.1.0 §4.8.17.1: REQUIRED), as
/// `METHOD path status`: a validator refuses the whole document for one of them.
pub fn undescribed_responses(doc: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            for (status, r) in op["responses"].as_object().into_iter().flatten() {
                let described = r["description"].as_str().is_some_and(|d| !d.is_empty());
                if r.get("$ref").is_none() && !described {
                    out.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    out
}
