//! `simrenew serve --demo` as a newcomer runs it, on a fresh SQLite file: a new eSIM is
//! bought through the JSON API, paid at the sandbox YooKassa, released by the sandbox
//! SM-DP+ over mutual TLS with a confirmation code, and installed on the sandbox phone,
//! whose SM-DP+ reports bring it to "installed" on the install page.

use reqwest::{Client, redirect::Policy};
use serde_json::{Value, json};
use std::time::Duration;

mod common;

/// A request's answer as JSON.
async fn json(req: reqwest::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// A request's answer as text.
async fn text(req: reqwest::RequestBuilder) -> String {
    req.send().await.unwrap().text().await.unwrap()
}

/// The text of a page's element `id` (its first text, up to the next tag).
fn text_of(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let rest = &page[at..];
    let start = rest.find('>').unwrap() + 1;
    rest[start..].split('<').next().unwrap().trim().to_string()
}

#[tokio::test]
async fn the_demo_sells_an_esim_that_installs_on_the_sandbox_phone() {
    let demo = common::Demo::start().await;
    let (base, dir) = (demo.base.clone(), demo.dir.clone());
    let http = Client::builder().redirect(Policy::none()).build().unwrap();
    assert!(
        dir.join("simrenew.db").exists(),
        "the embedded default: SQLite in the working directory"
    );

    let bought: Value = json(
        http.post(format!("{base}/api/v1/esims"))
            .header("Idempotency-Key", "demo-esim-1")
            .json(
                &json!({"operator": "megafon", "plan_id": "megafon-month-30gb", "currency": "RUB"}),
            ),
    )
    .await;
    let order = bought["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{bought}"))
        .to_string();
    let start: Value = json(
        http.post(format!("{base}/api/v1/orders/{order}/payments"))
            .json(&json!({"method": "yookassa:bank_card"})),
    )
    .await;
    assert_eq!(start["next"], "redirect", "{start}");
    let confirm = start["url"].as_str().unwrap();
    assert!(
        confirm.starts_with(&format!("{base}/sandbox/")),
        "{confirm}"
    );
    let paid = http
        .post(confirm)
        .form(&[("action", "pay")])
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_redirection(), "{}", paid.status());

    // The notification settles the order; the profile is released with a code.
    let mut esim = Value::Null;
    for _ in 0..200 {
        esim = json(http.get(format!("{base}/api/v1/orders/{order}/esim"))).await;
        if esim["state"] == "released" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(esim["state"], "released", "{esim}");
    let cc = esim["confirmation_code"].as_str().unwrap().to_string();

    // The install page leads to the sandbox phone with the code filled in.
    let page = text(http.get(format!("{base}/orders/{order}/esim"))).await;
    assert!(page.contains(&cc), "the buyer sees the confirmation code");
    let phone_link = page[page
        .find("id=\"sandbox-phone\"")
        .expect("the sandbox phone link")..]
        .split_once("href=\"")
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(l, _)| l.replace("&amp;", "&"))
        .unwrap();
    let phone = text(http.get(format!("{base}{phone_link}"))).await;
    let lpa = esim["activation"]["lpa"].as_str().unwrap();
    assert!(phone.contains(lpa), "{phone}");
    let eid = phone[phone.find("id=\"eid\"").unwrap()..]
        .split_once("value=\"")
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(v, _)| v.to_string())
        .unwrap();
    let installed = text(http.post(format!("{base}/sandbox/esim/phone")).form(&[
        ("code", lpa),
        ("confirmation_code", cc.as_str()),
        ("eid", eid.as_str()),
    ]))
    .await;
    assert!(installed.contains("Installed"), "{installed}");
    let after = text(
        http.get(format!("{base}/orders/{order}/esim"))
            .header("accept-language", "en"),
    )
    .await;
    assert_eq!(text_of(&after, "esim-state"), "Installed");
}
