#!/usr/bin/env bash
# Installs promtool (Prometheus's rule checker) and the prometheus server binary, both used by
# test/deploy, from Debian's prometheus package: extracted only, never installed as a service or started.
set -euo pipefail
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
apt-get download prometheus 2>/dev/null || { apt-get update -qq && apt-get download prometheus; }
dpkg -x prometheus_*.deb "$tmp/x"
for bin in promtool prometheus; do
  command -v "$bin" >/dev/null 2>&1 || install -m 0755 "$tmp/x/usr/bin/$bin" "/usr/local/bin/$bin"
done
promtool --version | head -1
prometheus --version | head -1
