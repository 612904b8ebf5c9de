//! The index against a throwaway key pair made for each test: a good index verifies; a changed
//! byte, another key's signature, an older serial, a malformed document and a bad entry are each
//! refused with their cause.

use super::{CatalogError, verify_index};

/// A fresh key pair: the public key's file text, and a signer of bytes.
fn keys() -> (String, impl Fn(&[u8]) -> String) {
    let pair = minisign::KeyPair::generate_unencrypted_keypair().expect("a key pair");
    let public = pair.pk.to_box().expect("a public key box").to_string();
    let secret = pair.sk;
    let sign = move |bytes: &[u8]| {
        minisign::sign(None, &secret, std::io::Cursor::new(bytes), None, None).expect("a signature").to_string()
    };
    (public, sign)
}

fn index(serial: u64, sha256: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "serial": serial,
        "timestamp": "2026-12-02T00:00:00Z",
        "plugins": [{ "id": "io.klieg.flux", "versions": [{
            "version": "0.2.0", "api": ">=1.1, <2", "url": "https://plugins.example.org/flux-0.2.0.tar.gz",
            "size": 4096, "sha256": sha256, "capabilities": ["notify"], "summary": "Flux at a glance",
            "categories": ["gitops"], "license": "Apache-2.0"
        }] }]
    }))
    .expect("json")
}

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn a_signed_index_verifies_and_names_its_plugins() {
    let (public, sign) = keys();
    let bytes = index(7, SHA);
    let verified = verify_index(&bytes, &sign(&bytes), &public, Some(7)).expect("verifies");
    assert_eq!(verified.serial, 7);
    assert_eq!(verified.plugins[0].id, "io.klieg.flux");
    assert_eq!(verified.plugins[0].versions[0].capabilities, ["notify"]);
    // The key's base64 line alone works too (as a setting holds it).
    let line = public.lines().nth(1).expect("the key line");
    assert!(verify_index(&bytes, &sign(&bytes), line, None).is_ok());
}

#[test]
fn a_changed_byte_another_key_an_older_serial_and_bad_entries_are_refused() {
    let (public, sign) = keys();
    let bytes = index(7, SHA);
    let signature = sign(&bytes);
    let mut tampered = bytes.clone();
    let at = tampered.iter().position(|b| *b == b'7').expect("the serial");
    tampered[at] = b'9';
    assert!(matches!(verify_index(&tampered, &signature, &public, None), Err(CatalogError::BadSignature(_))));
    let (_, other_signer) = keys();
    let forged = other_signer(&bytes);
    assert!(matches!(verify_index(&bytes, &forged, &public, None), Err(CatalogError::BadSignature(_))));
    assert_eq!(
        verify_index(&bytes, &signature, &public, Some(8)),
        Err(CatalogError::Rollback { seen: 8, got: 7 }),
        "an older index than seen is a rollback"
    );
    let not_json = b"{ not json".to_vec();
    assert!(matches!(verify_index(&not_json, &sign(&not_json), &public, None), Err(CatalogError::Malformed(_))));
    let bad_hash = index(7, "not-a-hash");
    let refused = verify_index(&bad_hash, &sign(&bad_hash), &public, None).expect_err("a bad sha256");
    assert!(refused.to_string().contains("io.klieg.flux") && refused.to_string().contains("sha256"), "{refused}");
    assert!(matches!(verify_index(&bytes, &signature, "not a key", None), Err(CatalogError::BadKey(_))));
    let huge = vec![b' '; super::MAX_INDEX_BYTES + 1];
    assert_eq!(verify_index(&huge, &signature, &public, None), Err(CatalogError::TooLarge));
}
