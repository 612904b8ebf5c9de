#!/usr/bin/env bash
# Fills a test cluster (started with --controllers) with a small, realistic set of objects for
# screenshots and manual checks: nodes, namespaces, deployments, services, a CRD with printer
# columns, secrets. With no kubelet here, it marks scheduled pods Running through /status itself.
#   populate-demo.sh KUBECONFIG
set -euo pipefail
export KUBECONFIG="${1:?usage: populate-demo.sh KUBECONFIG}"
k() { kubectl "$@" 2>&1 | grep -v "version difference" || true; }
for node in node-a node-b node-c; do
  k apply -f - <<NODE
apiVersion: v1
kind: Node
metadata: {name: $node, labels: {kubernetes.io/hostname: $node, node-role.kubernetes.io/worker: ""}}
NODE
  k patch node "$node" --subresource=status --type=merge -p '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status","lastHeartbeatTime":"'"$(date -u +%FT%TZ)"'","lastTransitionTime":"'"$(date -u +%FT%TZ)"'"}],"capacity":{"cpu":"8","memory":"32Gi","pods":"110"},"allocatable":{"cpu":"8","memory":"32Gi","pods":"110"},"nodeInfo":{"kubeletVersion":"v1.20.2","kubeProxyVersion":"v1.20.2","osImage":"Debian GNU/Linux 12","kernelVersion":"6.1.0","containerRuntimeVersion":"containerd://1.7.0","operatingSystem":"linux","architecture":"amd64","machineID":"","systemUUID":"","bootID":""}}}' >/dev/null
done
for ns in shop payments monitoring; do k create namespace "$ns" >/dev/null; done
deploy() { # name namespace replicas image
  k apply -f - <<DEPLOY
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: $2, labels: {app: $1, tier: ${5:-web}}}
spec:
  replicas: $3
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1, tier: ${5:-web}}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: $1, image: $4, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: $2}
spec: {selector: {app: $1}, ports: [{port: 80, targetPort: 8080}]}
DEPLOY
}
deploy storefront shop 4 ghcr.io/example/storefront:2.3.1
deploy cart shop 2 ghcr.io/example/cart:1.9.0
deploy checkout payments 3 ghcr.io/example/checkout:4.0.2
deploy ledger payments 1 ghcr.io/example/ledger:0.8.5 db
deploy grafana monitoring 1 grafana/grafana:10.2.0 ops
k -n payments create secret generic stripe-keys --from-literal=api-key=sk_live_example_not_real >/dev/null
k apply -f - <<'CRD'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.certs.example.io}
spec:
  group: certs.example.io
  scope: Namespaced
  names: {plural: certificates, singular: certificate, kind: Certificate}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    additionalPrinterColumns:
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    - {name: Secret, type: string, jsonPath: .spec.secretName}
    - {name: Issuer, type: string, jsonPath: .spec.issuerRef.name}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
CRD
k wait --for=condition=Established crd/certificates.certs.example.io --timeout=30s >/dev/null
for name in storefront checkout; do
  k apply -f - <<CERT
apiVersion: certs.example.io/v1
kind: Certificate
metadata: {name: $name-tls, namespace: shop}
spec: {secretName: $name-tls, issuerRef: {name: letsencrypt}}
CERT
done
# Give the scheduler a moment, then play kubelet: bound pods become Running, one crash-loops.
sleep 6
now="$(date -u +%FT%TZ)"
i=0
kubectl get pods -A -o jsonpath='{range .items[?(@.spec.nodeName)]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.spec.containers[0].name}{"\n"}{end}' 2>/dev/null |
while read -r ns pod container; do
  i=$((i + 1))
  if [ "$pod" != "${pod#ledger}" ]; then
    state='{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 5m0s restarting failed container"}}'; ready=false; restarts=7; phase=Running
  else
    state='{"running":{"startedAt":"'"$now"'"}}'; ready=true; restarts=0; phase=Running
  fi
  k -n "$ns" patch pod "$pod" --subresource=status --type=merge -p '{"status":{"phase":"'"$phase"'","podIP":"10.244.0.'"$i"'","startTime":"'"$now"'","conditions":[{"type":"Ready","status":"'"$([ $ready = true ] && echo True || echo False)"'"}],"containerStatuses":[{"name":"'"$container"'","ready":'"$ready"',"restartCount":'"$restarts"',"image":"example","imageID":"","state":'"$state"'}]}}' >/dev/null
done
echo "demo objects created"
