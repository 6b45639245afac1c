//! A browser for the page tests: keeps cookies, sends forms, does not follow redirects.
#![allow(dead_code)]

use reqwest::header::{self, HeaderMap};
use reqwest::{Client, StatusCode, redirect};
use std::collections::BTreeMap;

/// A browser: keeps cookies, does not follow redirects (tests look at them).
pub struct Visitor {
    base: String,
    http: Client,
    cookies: BTreeMap<String, String>,
    accept_language: &'static str,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// The value of the first `<input name=…>` of that name.
    pub fn input(&self, name: &str) -> String {
        let at = self
            .body
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap_or_else(|| panic!("no input {name} in:\n{}", self.body));
        let rest = &self.body[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_string()
    }
    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }
    /// The first link (`href`) of the page that starts with `prefix`.
    pub fn link_to(&self, prefix: &str) -> String {
        let at = self
            .body
            .find(&format!("href=\"{prefix}"))
            .unwrap_or_else(|| panic!("no link to {prefix} in:\n{}", self.body));
        let rest = &self.body[at + 6..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

impl Visitor {
    pub fn new(base: &str, accept_language: &'static str) -> Self {
        Self {
            base: base.to_string(),
            http: Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            accept_language,
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn finish(&mut self, res: reqwest::Response) -> Page {
        for c in res.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        Page {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .header(header::ACCEPT, "text/html")
            .header(header::ACCEPT_LANGUAGE, self.accept_language)
            .send()
            .await
            .unwrap();
        self.finish(res).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .header(header::ACCEPT_LANGUAGE, self.accept_language)
            .form(fields)
            .send()
            .await
            .unwrap();
        self.finish(res).await
    }

    /// The raw bytes at a path (pictures).
    pub async fn http_get_bytes(&mut self, path: &str) -> Vec<u8> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "image/png");
        res.bytes().await.unwrap().to_vec()
    }

    /// From a line's own link (`/renew/<number>?k=…`, where a new eSIM's reservation
    /// leads): a month of 30 GB, paid with the demo card. The answer to the form.
    pub async fn buy_a_month_with_the_demo_card(&mut self, renew_link: &str) -> Page {
        let renew = self.get(renew_link).await;
        let path = renew_link
            .split('?')
            .next()
            .unwrap_or(renew_link)
            .to_string();
        self.post(
            &path,
            &[
                ("csrf", &renew.input("csrf")),
                ("idem", &renew.input("idem")),
                ("k", &renew.input("k")),
                ("plan", "mts-month-30gb"),
                ("pay", "demo"),
            ],
        )
        .await
    }

    /// Signs up a new account through the form (signed in afterwards).
    pub async fn sign_up(&mut self, email: &str) {
        let form = self.get("/account/sign-up").await;
        let csrf = form.input("csrf");
        let done = self
            .post(
                "/account/sign-up",
                &[
                    ("csrf", &csrf),
                    ("email", email),
                    ("password", "long enough password"),
                    ("next", "/account"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    }

    /// Signs in with the demo account through the sign-in form.
    pub async fn sign_in_demo(&mut self) {
        let form = self.get("/account/sign-in").await;
        let csrf = form.input("csrf");
        let done = self
            .post(
                "/account/sign-in",
                &[
                    ("csrf", &csrf),
                    ("email", simrenew_store::demo::DEMO_EMAIL),
                    ("password", simrenew_store::demo::DEMO_PASSWORD),
                    ("next", "/account"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    }
    /// A visitor signed in as demo staff member `email` through the console's form (its
    /// session cookie checked: HttpOnly, SameSite=Strict).
    pub async fn staff(base: &str, email: &str) -> Self {
        let mut v = Self::new(base, "en");
        let form = v.get("/admin/sign-in").await;
        assert_eq!(form.status, StatusCode::OK);
        let done = v
            .post(
                "/admin/sign-in",
                &[
                    ("csrf", &form.input("csrf")),
                    ("next", "/admin"),
                    ("email", email),
                    ("password", simrenew_store::demo::DEMO_STAFF_PASSWORD),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{email}: {}", done.body);
        assert_eq!(done.location(), "/admin");
        let set = done.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(
            set.starts_with("staff=")
                && set.contains("HttpOnly")
                && set.contains("SameSite=Strict"),
            "{set}"
        );
        v
    }

    /// Opens this clerk's rouble till with `float` through the till's form.
    /// The counter's search for `q` (a number or ICCID as typed: digits, spaces, `+`,
    /// `-`), and the sale page's path of the line it found.
    pub async fn sale_path_at_counter(&mut self, q: &str) -> String {
        let query = q.replace('+', "%2B").replace(' ', "+");
        let found = self.get(&format!("/admin/counter?q={query}")).await;
        found.link_to("/admin/counter/lines/")
    }

    pub async fn open_till(&mut self, float: &str) -> Page {
        let till = self.get("/admin/till").await;
        self.post(
            "/admin/till",
            &[
                ("csrf", &till.input("csrf")),
                ("action", "open"),
                ("float", float),
                ("currency", "RUB"),
            ],
        )
        .await
    }
}
