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

/// A keyring entry added for one server goes only to that server: kubectl, reading a stranger's
/// kubeconfig that names the entry for its own server, gets a refusal instead of the token.
#[test]
#[ignore = "needs a Secret Service: tests/run.sh runs it under dbus-run-session with gnome-keyring"]
fn the_credential_command_hands_an_entry_only_to_its_own_server() {
    let store = OsKeyring;
    let entry = format!("cluster/bound-test-{}", std::process::id());
    let own = "https://127.0.0.1:1";
    StoredCredential { token: Some("bound-secret".into()), server: Some(own.into()), ..StoredCredential::default() }
        .save(&store, &entry)
        .expect("saved");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubectl_to = |server: &str| {
        let kubeconfig = dir.path().join("config");
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {{server: '{server}', insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      args: [credential, --entry, '{entry}']\n      interactiveMode: Never\n      provideClusterInfo: true\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\n",
            env!("CARGO_BIN_EXE_klieg")
        );
        std::fs::write(&kubeconfig, text).expect("write");
        let output =
            crate::common::run_kubectl(&kubeconfig, &["get", "--raw", "/version", "--request-timeout=5s"], None);
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    // Its own server: the plugin answers, and kubectl goes on to connect (nobody listens there).
    let to_own = kubectl_to(own);
    assert!(!to_own.contains("getting credentials"), "{to_own}");
    // Another server: the plugin refuses, naming both.
    let to_other = kubectl_to("https://127.0.0.2:1");
    assert!(to_other.contains("getting credentials"), "{to_other}");
    // A caller that does not say which server it talks to gets nothing either.
    let bare = std::process::Command::new(env!("CARGO_BIN_EXE_klieg"))
        .args(["credential", "--entry", &entry])
        .env_remove("KUBERNETES_EXEC_INFO")
        .output()
        .expect("run klieg credential");
    assert!(!bare.status.success());
    let said = String::from_utf8_lossy(&bare.stderr);
    assert!(said.contains("does not name its server") && !said.contains("bound-secret"), "{said}");
    store.delete(&entry).expect("deleted");
}

/// An added OIDC user through kubectl's door: `klieg credential` renews the expired id-token at
/// the issuer, prints it with its expiry, and saves the rotated refresh token to the keyring; a
/// second run reuses the still valid token.
#[test]
#[ignore = "needs a Secret Service: tests/run.sh runs it under dbus-run-session with gnome-keyring"]
fn the_credential_command_renews_an_oidc_user_and_saves_the_rotation() {
    use crate::common::oidc::{CLIENT_ID, CLIENT_SECRET, Issuer};
    let issuer = Issuer::start("bob", "refresh-0", 600);
    let store = OsKeyring;
    let entry = format!("cluster/oidc-test-{}", std::process::id());
    let expired = issuer.mint(-60);
    let settings = [
        ("id-token", expired.as_str()),
        ("refresh-token", "refresh-0"),
        ("client-id", CLIENT_ID),
        ("client-secret", CLIENT_SECRET),
        ("idp-issuer-url", issuer.url.as_str()),
        ("idp-certificate-authority", &issuer.ca_file.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    StoredCredential { oidc: Some(settings), ..StoredCredential::default() }.save(&store, &entry).expect("saved");
    let run = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_klieg"))
            .args(["credential", "--entry", &entry])
            .output()
            .expect("run klieg credential");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("ExecCredential JSON")
    };
    let printed = run();
    let token = printed["status"]["token"].as_str().expect("a token").to_string();
    assert_ne!(token, expired, "renewed");
    assert_eq!(token.split('.').count(), 3, "a JWT");
    assert!(printed["status"]["expirationTimestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{printed}");
    assert_eq!(issuer.refreshes(), 1);
    let stored = StoredCredential::load(&store, &entry).expect("read back").oidc.expect("oidc");
    assert_eq!(stored.get("refresh-token").map(String::as_str), Some("refresh-1-of-bob"));
    assert_eq!(stored.get("id-token"), Some(&token));
    // Still valid: printed again without asking the issuer.
    assert_eq!(run()["status"]["token"].as_str(), Some(token.as_str()));
    assert_eq!(issuer.refreshes(), 1);
    store.delete(&entry).expect("deleted");
}
