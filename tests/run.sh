#!/usr/bin/env bash
# Runs every Klieg test: unit tests, integration tests against a real kube-apiserver v1.20.2
# (built once per machine by tests/cluster/build-k8s.sh; each test binary starts its own control
# plane on loopback and stops it by PID), and egui_kittest UI tests. Ends with one summary line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/klieg/target}"
bash tests/cluster/build-k8s.sh >/dev/null
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --workspace --all-targets --no-fail-fast 2>&1 | tee "$log" || status=$?
# The OS keyring for real: a Secret Service (gnome-keyring) on a private D-Bus session, with a
# fresh data folder so no keyring left from another run asks for its password. (`--workspace`,
# as above: the same packages give the same features, so nothing is built again.)
keyring_home="$(mktemp -d)"
XDG_DATA_HOME="$keyring_home" dbus-run-session -- sh -c \
  'echo -n klieg-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && cargo test --locked --workspace --test klieg keyring:: -- --ignored' \
  2>&1 | tee -a "$log" || status=$?
rm -rf "$keyring_home"
passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
echo "klieg: $passed passed, $failed failed"
exit "$status"
