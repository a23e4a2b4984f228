#!/usr/bin/env bash
# Install the real peer programs pagerd's integration tests talk to (DESIGN.md section 5).
#
#   scripts/peers.sh install   Debian packages: Alertmanager, Prometheus, Nagios 4, wrk, Chromium, systemd, nginx,
#                              Pango and a font (WeasyPrint's PDF statements), poppler-utils (pdftotext),
#                              swaks and Postfix (the mail tests: a real client and the agency's MTA),
#                              CPython's email test messages (the incoming-mail parser's real-world corpus)
#                              PostgreSQL (the second store; scripts/pg.sh starts a server where none runs)
#   scripts/peers.sh prism     npm @stoplight/prism-cli into var/peers/prism (Twilio mock)
#   scripts/peers.sh axe       npm axe-core into var/peers/axe (the portal's accessibility checks in Chromium)
#   scripts/peers.sh all       all three
#   scripts/peers.sh bench-portal  Debian httperf (`make bench-portal`'s fixed-rate load generator; no test needs it)
#
# Idempotent and quiet: a fast no-op when everything is present; one line of output.
# Runs as root without stdin (CI). Exits non-zero with a message on failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian package -> a file it installs (proof that it is there and usable).
DEB_PACKAGES=(
  "prometheus-alertmanager:/usr/bin/prometheus-alertmanager"
  "prometheus:/usr/bin/prometheus"
  "nagios4:/usr/sbin/nagios4"
  "wrk:/usr/bin/wrk"
  "chromium:/usr/bin/chromium"
  "systemd:/lib/systemd/systemd"
  "nginx:/usr/sbin/nginx"
  "libpango-1.0-0:/usr/lib/$(uname -m)-linux-gnu/libpango-1.0.so.0"
  "libpangoft2-1.0-0:/usr/lib/$(uname -m)-linux-gnu/libpangoft2-1.0.so.0"
  "fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
  "poppler-utils:/usr/bin/pdftotext"
  "postgresql:/usr/bin/pg_ctlcluster"
  "haproxy:/usr/sbin/haproxy"
  "swaks:/usr/bin/swaks"
  "postfix:/usr/sbin/postfix"
  "libpython3.11-testsuite:/usr/lib/python3.11/test/test_email/data/msg_01.txt"
)
# Only for `make bench-portal`: an open-loop HTTP load generator (connections at a fixed rate, status classes,
# a 1 ms lifetime histogram). Debian ships neither vegeta nor wrk2; wrk (above) is closed-loop.
BENCH_PORTAL_PACKAGES=(
  "httperf:/usr/bin/httperf"
)
PRISM_DIR="$ROOT/var/peers/prism"
PRISM_PKG="@stoplight/prism-cli@5.14.2"
AXE_DIR="$ROOT/var/peers/axe"
AXE_PKG="axe-core@4.14.1"

die() { echo "peers.sh: $*" >&2; exit 1; }

deb_installed() {
  # dpkg says installed and the program (or library, or font) file exists.
  local pkg="$1" file="$2"
  [[ -e "$file" ]] || return 1
  [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == "install ok installed" ]]
}

install_debs() {
  # the packages of the array named by $1 (default DEB_PACKAGES)
  local -n wanted="${1:-DEB_PACKAGES}"
  local missing=() entry pkg file
  for entry in "${wanted[@]}"; do
    pkg="${entry%%:*}"; file="${entry#*:}"
    deb_installed "$pkg" "$file" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    echo "peers: debian packages present"
    return 0
  fi
  command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
  [[ "$(id -u)" == 0 ]] || die "must run as root to install: ${missing[*]}"
  local log
  log="$(mktemp -t peers-apt.XXXXXX)"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix asks what kind of mail server to set up: none (the tests run instances of their own, each with
  # its own config folder); debconf-set-selections comes with debconf, which apt-get needs anyway.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # The test harnesses start each peer themselves, on loopback ports of their own: the packages' own
  # services (nginx on :80, prometheus on :9090, nagios4, alertmanager) are kept from starting during the
  # install by a policy-rc.d that denies every start, removed afterwards (one already there is left alone).
  local policy=/usr/sbin/policy-rc.d own_policy=""
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
  fi
  if ! apt-get update -qq >"$log" 2>&1; then
    tail -n 20 "$log" >&2; rm -f "$log"; [[ -z "$own_policy" ]] || rm -f "$policy"; die "apt-get update failed"
  fi
  if ! apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" </dev/null >"$log" 2>&1; then
    tail -n 20 "$log" >&2; rm -f "$log"; [[ -z "$own_policy" ]] || rm -f "$policy"; die "apt-get install failed: ${missing[*]}"
  fi
  rm -f "$log"
  [[ -z "$own_policy" ]] || rm -f "$policy"
  for entry in "${wanted[@]}"; do
    pkg="${entry%%:*}"; file="${entry#*:}"
    deb_installed "$pkg" "$file" || die "$pkg installed but $file is missing"
  done
  echo "peers: installed ${missing[*]}"
}

# npm_peer NAME DIR PACKAGE FILE: install PACKAGE into DIR/node_modules unless FILE (under DIR) is there.
npm_peer() {
  local name="$1" dir="$2" pkg="$3" file="$2/$4"
  if [[ -e "$file" ]]; then
    echo "peers: $name present"
    return 0
  fi
  command -v npm >/dev/null || die "npm not found (Debian package npm) - needed for $pkg"
  mkdir -p "$dir"
  [[ -f "$dir/package.json" ]] || echo "{\"name\":\"pagerd-peers-$name\",\"private\":true}" >"$dir/package.json"
  local log
  log="$(mktemp -t peers-npm.XXXXXX)"
  if ! (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
          "$pkg" </dev/null >"$log" 2>&1); then
    tail -n 20 "$log" >&2; rm -f "$log"; die "npm install $pkg failed"
  fi
  rm -f "$log"
  [[ -e "$file" ]] || die "npm install finished but $file is missing"
  echo "peers: installed $name into ${dir#"$ROOT"/}"
}

install_prism() { npm_peer prism "$PRISM_DIR" "$PRISM_PKG" node_modules/.bin/prism; }
install_axe() { npm_peer axe-core "$AXE_DIR" "$AXE_PKG" node_modules/axe-core/axe.min.js; }

case "${1:-}" in
  install) install_debs ;;
  prism) install_prism ;;
  axe) install_axe ;;
  all) install_debs; install_prism; install_axe ;;
  bench-portal) install_debs BENCH_PORTAL_PACKAGES ;;
  *) echo "usage: $0 install|prism|axe|all|bench-portal" >&2; exit 2 ;;
esac
