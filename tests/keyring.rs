//! The OS keyring for real: a Secret Service (gnome-keyring on a private D-Bus session, as
//! tests/run.sh starts it) stores, returns and deletes a cluster's credentials, and
//! `klieg credential` prints them as a kubectl exec plugin would.

use klieg::credentials::{CredentialError, OsKeyring, SecretStore, StoredCredential};

#[test]
#[ignore = "needs a Secret Service: tests/run.sh runs it under dbus-run-session with gnome-keyring"]
fn credentials_round_trip_through_the_secret_service() {
    let store = OsKeyring;
    let entry = format!("cluster/keyring-test-{}", std::process::id());
    let credential = StoredCredential { token: Some("round-trip-secret".into()), ..StoredCredential::default() };
    credential.save(&store, &entry).expect("saved in the Secret Service");
    assert_eq!(StoredCredential::load(&store, &entry).expect("read back"), credential);

    // kubectl runs `klieg credential --entry NAME` from the kubeconfig Klieg writes.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_klieg"))
        .args(["credential", "--entry", &entry])
        .output()
        .expect("run klieg credential");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("ExecCredential JSON");
    assert_eq!(printed["kind"], "ExecCredential");
    assert_eq!(printed["status"]["token"], "round-trip-secret");

    store.delete(&entry).expect("deleted");
    assert!(matches!(store.get(&entry), Err(CredentialError::Missing(_))));
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_klieg"))
        .args(["credential", "--entry", &entry])
        .output()
        .expect("run klieg credential");
    assert!(!missing.status.success(), "a deleted entry is an error");
    assert!(String::from_utf8_lossy(&missing.stderr).contains(&entry));
}
