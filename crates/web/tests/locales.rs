//! The message files: every key in every language, every key used somewhere, every
//! message parses and formats, and Russian counts have their three plural forms.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};
use simrenew_web::pages::i18n::LOCALES;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const LANGS: [&str; 3] = ["en", "ru", "zh-CN"];

/// Keys made at run time from data: each prefix must itself appear in the code.
const DYNAMIC_PREFIXES: [&str; 9] = [
    "month-",
    "status-",
    "method-",
    "scan-title-",
    "scan-open-",
    "esim-state-",
    "esim-advice-",
    "admin-role-",
    "admin-till-",
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// key -> message text, per language.
fn messages(lang: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let dir = crate_dir().join("locales").join(lang);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(path.extension().unwrap(), "ftl", "{path:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some((k, v)) = line.split_once(" = ")
                && !line.starts_with(' ')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                assert!(
                    out.insert(k.to_string(), v.to_string()).is_none(),
                    "{lang}: {k} defined twice"
                );
                current = Some(k.to_string());
            } else if let Some(k) = &current {
                let m = out.get_mut(k).unwrap();
                m.push('\n');
                m.push_str(line);
            }
        }
    }
    out
}

fn sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "html") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_key_in_every_language() {
    let all: Vec<BTreeSet<String>> = LANGS
        .iter()
        .map(|l| messages(l).into_keys().collect())
        .collect();
    let union: BTreeSet<&String> = all.iter().flatten().collect();
    for (lang, keys) in LANGS.iter().zip(&all) {
        let missing: Vec<_> = union.iter().filter(|k| !keys.contains(**k)).collect();
        assert!(missing.is_empty(), "{lang} lacks {missing:?}");
    }
    assert!(union.len() > 100, "only {} keys found", union.len());
}

#[test]
fn every_key_is_used() {
    let mut code = String::new();
    sources(&crate_dir().join("src"), &mut code);
    sources(&crate_dir().join("templates"), &mut code);
    // The payment connectors name their methods' labels.
    sources(&crate_dir().join("../payments/src"), &mut code);
    for prefix in DYNAMIC_PREFIXES {
        assert!(
            code.contains(&format!("\"{prefix}{{")),
            "dynamic prefix {prefix} is not used"
        );
    }
    let unused: Vec<String> = messages("en")
        .into_keys()
        .filter(|k| !DYNAMIC_PREFIXES.iter().any(|p| k.starts_with(p)))
        .filter(|k| !code.contains(&format!("\"{k}\"")))
        .collect();
    assert!(unused.is_empty(), "unused keys: {unused:?}");
}

#[test]
fn every_message_formats() {
    for lang in LANGS {
        let id: LanguageIdentifier = lang.parse().unwrap();
        for (key, source) in messages(lang) {
            // Every variable the message names, given a count (numbers format everywhere).
            let args: HashMap<Cow<'static, str>, FluentValue> = source
                .split('$')
                .skip(1)
                .map(|rest| {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    (Cow::Owned(name), FluentValue::from(2))
                })
                .collect();
            let text = LOCALES.try_lookup_with_args(&id, &key, &args);
            assert!(
                text.as_deref().is_some_and(|t| !t.trim().is_empty()),
                "{lang}: {key} does not format (syntax error in the .ftl file?)"
            );
        }
    }
}

#[test]
fn russian_counts_have_three_forms() {
    for (key, text) in messages("ru") {
        if text.contains("$n ->") {
            for form in ["[one]", "[few]", "[many]"] {
                assert!(text.contains(form), "ru {key} lacks {form}");
            }
        }
    }
}
