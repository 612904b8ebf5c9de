#!/usr/bin/env bash
# Runs every Klieg test: unit tests, integration tests against a real kube-apiserver v1.20.2
# (built once per machine by tests/cluster/build-k8s.sh; each test binary starts its own control
# plane on loopback and stops it by PID), and egui_kittest UI tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/klieg/target}"
bash tests/cluster/build-k8s.sh >/dev/null
cargo test --locked
