#!/usr/bin/env bash
# Installs the system packages Klieg's build, tests and screenshots need (Debian bookworm).
set -euo pipefail
# apt needs root: as root (CI machines, containers) it runs as is; elsewhere through sudo.
if [ "$(id -u)" != 0 ]; then exec sudo bash "$0" "$@"; fi
export DEBIAN_FRONTEND=noninteractive
src=/etc/apt/sources.list.d/debian-src.sources
if [ ! -f "$src" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$src"
fi
apt-get update -q
apt-get install -y -q --no-install-recommends \
  golang-go etcd-server etcd-client rsync jq dpkg-dev openssl curl ca-certificates iproute2 \
  xvfb libgl1-mesa-dri libegl1 libgl1 libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 \
  libx11-xcb1 imagemagick fonts-noto-cjk \
  dbus-x11 gnome-keyring libdbus-1-dev pkg-config golang-github-modern-go-reflect2-dev prometheus
