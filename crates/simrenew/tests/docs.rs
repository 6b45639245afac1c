//! The examples a newcomer and a partner copy from the documents, run as written against
//! `serve --demo`: the README's first look at the API (curl, as a shell script) and the
//! partner API's signed requests (curl with openssl, and Python's standard library).
//! Only the address changes (the documents say 127.0.0.1:8080). A document whose example
//! no longer works fails here. Needs bash, curl, openssl and python3; without them the test
//! is skipped loudly, and fails when `CI` is set.

mod common;

/// The fenced block of `lang` that follows `heading` in `doc` (a path from the workspace).
fn block(doc: &str, heading: &str, lang: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let after = &text[text
        .find(heading)
        .unwrap_or_else(|| panic!("{doc}: no {heading:?}"))..];
    let fence = format!("```{lang}\n");
    let start = after
        .find(&fence)
        .unwrap_or_else(|| panic!("{doc}: no {lang} block after {heading:?}"))
        + fence.len();
    let len = after[start..].find("\n```").expect("a closed block");
    after[start..start + len].to_string()
}

/// Runs `program -c code`; its standard output, or None (skipped) when the program is
/// missing outside CI.
fn run(program: &str, code: &str) -> Option<String> {
    match std::process::Command::new(program)
        .arg("-c")
        .arg(code)
        .output()
    {
        Ok(out) => {
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
            assert!(
                out.status.success(),
                "{program} failed:\n{code}\n{stdout}\n{stderr}"
            );
            Some(stdout)
        }
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "\n*** SKIPPED: {program} cannot run ({e}); the documents' examples are not checked ***\n"
            );
            None
        }
        Err(e) => panic!("{program} cannot run and CI is set: {e}"),
    }
}

fn tools_present() -> bool {
    ["curl", "openssl", "sha256sum"].iter().all(|t| {
        let found = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {t}"))
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "{t} is missing and CI is set"
            );
            eprintln!(
                "\n*** SKIPPED: {t} is missing; the documents' curl examples are not checked ***\n"
            );
        }
        found
    })
}

#[tokio::test]
async fn the_documents_examples_work_as_written_against_the_demo() {
    if !tools_present() {
        return;
    }
    let demo = common::Demo::start().await;
    let here = |code: String| code.replace("http://127.0.0.1:8080", &demo.base);

    // README: plans, a lookup, sign in, the owner's view, a renewal paid from the balance.
    let readme = here(block("README.md", "## A first look at the API", "sh"));
    let script = format!("set -e\n{readme}");
    let Some(out) = tokio::task::spawn_blocking(move || run("bash", &script))
        .await
        .unwrap()
    else {
        return;
    };
    for (what, needle) in [
        (
            "the plans in yuan, named in Chinese",
            "\"currency\":\"CNY\"",
        ),
        ("the owner's view with the balance", "\"balance\""),
        ("the renewal fulfilled at once", "\"status\":\"fulfilled\""),
    ] {
        assert!(
            out.contains(needle),
            "README: {what}: no {needle} in\n{out}"
        );
    }
    assert!(
        !out.contains("\"type\":\"/problems/"),
        "README: a refusal in\n{out}"
    );

    // The partner API: one signed lookup with curl and openssl, one with Python.
    let curl = here(block(
        "docs/partner-api.md",
        "### curl (with openssl)",
        "sh",
    ));
    let out = tokio::task::spawn_blocking(move || run("bash", &curl))
        .await
        .unwrap()
        .unwrap_or_default();
    // As the page says: the demo partner sold nothing yet, so the public view.
    assert!(
        out.contains("\"msisdn_masked\":\"+7 916 ***-**-61\"")
            && out.contains("\"owner_view\":false"),
        "partner-api.md, curl: {out}"
    );
    let python = here(block(
        "docs/partner-api.md",
        "### Python (standard library only)",
        "python",
    ));
    let Some(out) = tokio::task::spawn_blocking(move || run("python3", &python))
        .await
        .unwrap()
    else {
        return;
    };
    assert!(
        out.starts_with("(200, ") && out.contains("+7 916 ***-**-61"),
        "partner-api.md, Python: {out}"
    );
}
