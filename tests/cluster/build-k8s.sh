#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler v1.20.2 from Debian's
# `kubernetes` source package, once per machine; the binaries are cached under
# ${KLIEG_K8S_CACHE:-$HOME/.cache/klieg/k8s-1.20.2-r2}. Prints the cache folder on success.
set -euo pipefail
cache="${KLIEG_K8S_CACHE:-$HOME/.cache/klieg/k8s-1.20.2-r2}"
bins="kube-apiserver kube-controller-manager kube-scheduler"
have_all=1
for b in $bins; do [ -x "$cache/$b" ] || have_all=0; done
if [ "$have_all" = 1 ]; then echo "$cache"; exit 0; fi
work="$HOME/.cache/klieg/k8s-src"
mkdir -p "$work" "$cache"
cd "$work"
if [ ! -d kubernetes-src ]; then
  rm -rf tmp && mkdir tmp && cd tmp
  apt-get source -q --download-only kubernetes=1.20.5+really1.20.2-1.1+deb12u1 >&2
  dpkg-source -x ./*.dsc tree >&2
  cd .. && mv tmp/tree kubernetes-src && rm -rf tmp
fi
cd kubernetes-src
# The vendored reflect2 v1.0.1 crashes under Go 1.18+ (map iteration through a changed runtime
# signature: the apiserver segfaults encoding custom resources). Debian's reflect2 1.0.2 is the
# upstream fix; swap its sources in. modules.txt may keep saying v1.0.1: Go does not hash vendor/.
reflect2_fix=/usr/share/gocode/src/github.com/modern-go/reflect2
if [ ! -f vendor/github.com/modern-go/reflect2/go_above_118.go ]; then
  [ -f "$reflect2_fix/go_above_118.go" ] || { echo "install golang-github-modern-go-reflect2-dev" >&2; exit 1; }
  rm -f vendor/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/*.s
  cp "$reflect2_fix"/*.go "$reflect2_fix"/*.s vendor/github.com/modern-go/reflect2/ 2>/dev/null || cp "$reflect2_fix"/*.go vendor/github.com/modern-go/reflect2/
  rm -rf _output/bin _output/local/bin
fi
# Debian's patches are applied by dpkg-source; the Makefile needs rsync and builds offline from vendor/.
export KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20 KUBE_GIT_TREE_STATE=clean
export GOCACHE="$HOME/.cache/klieg/go-build" CGO_ENABLED=0
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" >&2
for b in $bins; do
  cp "_output/bin/$b" "$cache/$b.tmp" && mv "$cache/$b.tmp" "$cache/$b"
done
echo "$cache"
