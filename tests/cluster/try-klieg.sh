#!/usr/bin/env bash
# Starts a real Kubernetes v1.20.2 control plane on loopback, fills it with sample workloads and
# opens Klieg on it. Everything it started stops when Klieg closes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$(mktemp -d -t klieg-try-XXXXXX)"
trap 'bash "$here/cluster.sh" stop "$dir"' EXIT
bash "$here/cluster.sh" start "$dir" --controllers --owner-pid $$
bash "$here/populate-demo.sh" "$dir/kubeconfig"
cd "$here/../.."
cargo run --release -- --kubeconfig "$dir/kubeconfig"
