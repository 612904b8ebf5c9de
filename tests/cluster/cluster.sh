#!/usr/bin/env bash
# A real Kubernetes v1.20.2 control plane on loopback for Klieg's tests: etcd, kube-apiserver
# (TLS, token auth, RBAC) and, with --controllers, kube-controller-manager and kube-scheduler.
#
#   cluster.sh start DIR [--controllers] [--owner-pid PID] [--apiserver-flag FLAG]...
#                                                             start; writes DIR/kubeconfig, DIR/env
#   cluster.sh stop DIR                                       stop everything it started, by PID
#   cluster.sh stop-apiserver DIR | start-apiserver DIR       bounce the apiserver (same port)
#
# With --owner-pid, a watchdog stops the cluster when that process ends, so a crashed or
# failed test run never leaves servers behind. Every process is stopped by the PID it wrote.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmd="${1:?usage: cluster.sh start|stop|stop-apiserver|start-apiserver DIR}"
dir="${2:?missing DIR}"
shift 2
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

stop_pid_file() {
  local file="$1" pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

wait_ready() {
  local port="$1"
  for _ in $(seq 1 120); do
    if curl -sf --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer admin-token" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  echo "kube-apiserver did not become ready; see $dir/apiserver.log" >&2
  tail -20 "$dir/apiserver.log" >&2 || true
  return 1
}

start_apiserver() {
  # shellcheck disable=SC1091
  source "$dir/ports"
  "$bin/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" --insecure-port=0 \
    --tls-cert-file="$dir/pki/server.crt" --tls-private-key-file="$dir/pki/server.key" \
    --client-ca-file="$dir/pki/ca.crt" --token-auth-file="$dir/pki/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$dir/pki/sa.key" --service-account-signing-key-file="$dir/pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none \
    --requestheader-client-ca-file="$dir/pki/ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$dir/pki/front-proxy.crt" --proxy-client-key-file="$dir/pki/front-proxy.key" \
    $(cat "$dir/admission") $(cat "$dir/extra-flags" 2>/dev/null) \
    >>"$dir/apiserver.log" 2>&1 &
  echo $! >"$dir/apiserver.pid"
  wait_ready "$API_PORT"
}

case "$cmd" in
start)
  controllers=0
  owner=""
  extra_flags=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --controllers) controllers=1 ;;
      --owner-pid) owner="$2"; shift ;;
      --apiserver-flag) extra_flags="$extra_flags $2"; shift ;;
      *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
  done
  bin="$("$here/build-k8s.sh")"
  echo "$bin" >"$dir/bin"
  mkdir -p "$dir/pki"
  (
    cd "$dir/pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj /CN=klieg-test-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=kube-apiserver 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 30 -extfile server.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    # The aggregation layer's client certificate, for APIServices such as metrics.k8s.io.
    openssl req -newkey rsa:2048 -nodes -keyout front-proxy.key -out front-proxy.csr -subj /CN=front-proxy-client 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >front-proxy.ext
    openssl x509 -req -in front-proxy.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out front-proxy.crt -days 30 -extfile front-proxy.ext 2>/dev/null
    cat >tokens.csv <<'TOKENS'
admin-token,admin,1,"system:masters"
viewer-token,viewer,2
team-token,team-user,3
TOKENS
  )
  cat >"$dir/ports" <<PORTS
ETCD_PORT=$(free_port)
ETCD_PEER_PORT=$(free_port)
API_PORT=$(free_port)
PORTS
  # shellcheck disable=SC1091
  source "$dir/ports"
  echo "$extra_flags" >"$dir/extra-flags"
  if [ "$controllers" = 1 ]; then echo "" >"$dir/admission"; else echo "--disable-admission-plugins=ServiceAccount" >"$dir/admission"; fi
  etcd --name default --data-dir "$dir/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  if [ -n "$owner" ]; then
    # The watchdog runs in its own session, so it outlives a killed test runner.
    # When the owner is gone (static clusters are never dropped), it also removes the folder.
    setsid bash -c "while kill -0 $owner 2>/dev/null && [ -f '$dir/etcd.pid' ]; do sleep 1; done; '$here/cluster.sh' stop '$dir'; kill -0 $owner 2>/dev/null || rm -rf '$dir'" \
      >/dev/null 2>&1 </dev/null &
  fi
  start_apiserver
  cat >"$dir/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
current-context: real-admin
clusters:
- name: real
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $dir/pki/ca.crt
users:
- name: admin
  user:
    token: admin-token
- name: viewer
  user:
    token: viewer-token
- name: team-user
  user:
    token: team-token
contexts:
- name: real-admin
  context: {cluster: real, user: admin}
KCFG
  if [ "$controllers" = 1 ]; then
    "$bin/kube-controller-manager" --kubeconfig="$dir/kubeconfig" --leader-elect=false --secure-port=0 --port=0 \
      --service-account-private-key-file="$dir/pki/sa.key" --root-ca-file="$dir/pki/ca.crt" --controllers='*' \
      >"$dir/controller-manager.log" 2>&1 &
    echo $! >"$dir/controller-manager.pid"
    "$bin/kube-scheduler" --kubeconfig="$dir/kubeconfig" --leader-elect=false --port=0 --secure-port=0 \
      >"$dir/scheduler.log" 2>&1 &
    echo $! >"$dir/scheduler.pid"
  fi
  echo "KUBECONFIG=$dir/kubeconfig" >"$dir/env"
  echo "API_PORT=$API_PORT" >>"$dir/env"
  echo "cluster ready: https://127.0.0.1:$API_PORT (kubeconfig $dir/kubeconfig)"
  ;;
stop)
  for name in scheduler controller-manager apiserver etcd; do stop_pid_file "$dir/$name.pid"; done
  ;;
stop-apiserver)
  stop_pid_file "$dir/apiserver.pid"
  ;;
start-apiserver)
  bin="$(cat "$dir/bin")"
  start_apiserver
  ;;
*)
  echo "unknown command $cmd" >&2
  exit 2
  ;;
esac
