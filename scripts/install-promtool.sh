#!/usr/bin/env bash
# Installs promtool (Prometheus's rule checker, used by test/deploy) from Debian's prometheus
# package without installing or starting a Prometheus server.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
apt-get download prometheus 2>/dev/null || { apt-get update -qq && apt-get download prometheus; }
dpkg -x prometheus_*.deb "$tmp/x"
install -m 0755 "$tmp/x/usr/bin/promtool" /usr/local/bin/promtool
promtool --version | head -1
