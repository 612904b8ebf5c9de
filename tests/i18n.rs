//! Every translation key used in the source exists in every shipped locale, and no locale has
//! keys the others lack, so no user sees a raw key or a silent English fallback.

use std::collections::BTreeSet;
use std::path::Path;

fn locale_keys(code: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("i18n").join(format!("{code}.yml"));
    let text = std::fs::read_to_string(&path).expect("locale file");
    let map: serde_yaml::Mapping = serde_yaml::from_str(&text).expect("valid YAML");
    map.keys().filter_map(|k| k.as_str()).filter(|k| !k.starts_with('_')).map(str::to_string).collect()
}

/// Literal keys in `t!("...")` calls and registered `Text::Key("...")` labels (app and crates),
/// plus the keys returned by `label_key()` functions.
fn keys_used_in_source() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("src"), root.join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            for pattern in [
                "t!(\"",
                "Text::Key(\"",
                "=> \"",
                "(ThemeChoice::Light, \"",
                "(ThemeChoice::Dark, \"",
                "(ThemeChoice::System, \"",
            ] {
                for piece in text.split(pattern).skip(1) {
                    let Some(key) = piece.split('"').next() else { continue };
                    let looks_like_key = key.contains('.')
                        && key.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
                        && !key.starts_with('.');
                    if looks_like_key
                        && (pattern == "t!(\""
                            || pattern == "Text::Key(\""
                            || ["error.", "category.", "theme."].iter().any(|p| key.starts_with(p)))
                    {
                        keys.insert(key.to_string());
                    }
                }
            }
        }
    }
    keys
}

#[test]
fn all_locales_have_the_same_keys() {
    let english = locale_keys("en");
    assert!(english.len() > 50, "en.yml has {} keys", english.len());
    for (code, _) in klieg::LOCALES {
        let keys = locale_keys(code);
        let missing: Vec<_> = english.difference(&keys).collect();
        let extra: Vec<_> = keys.difference(&english).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{code}: missing {missing:?}, extra {extra:?}");
    }
}

#[test]
fn every_key_used_in_the_source_is_translated() {
    let used = keys_used_in_source();
    assert!(used.contains("table.filter_hint") && used.contains("error.unreachable"), "{used:?}");
    for (code, _) in klieg::LOCALES {
        let keys = locale_keys(code);
        let missing: Vec<_> = used.difference(&keys).collect();
        assert!(missing.is_empty(), "{code} lacks {missing:?}");
    }
}
