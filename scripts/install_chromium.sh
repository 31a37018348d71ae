#!/usr/bin/env bash
# Headless Chromium for the report rendering test (tests/e2e/test_report_e2e.py). Debian's `chromium`
# package; installed only when missing. Needs root (or sudo) and access to the Debian package mirror.
# Usage: scripts/install_chromium.sh   (exit 0 when chromium is available afterwards)
set -euo pipefail
BIN="${CORPUSFORGE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$BIN" ]; then
  echo "chromium: $("$BIN" --version 2>/dev/null || echo present) ($BIN)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: $BIN not found and apt-get is not available; install Chromium with your package manager and set" \
       "CORPUSFORGE_CHROMIUM to its path" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: installing chromium needs root; run as root or install sudo" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Only refresh the package lists when the package is unknown (keeps CI fast and quiet).
if ! apt-cache show chromium >/dev/null 2>&1; then
  $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq chromium >/dev/null
echo "chromium: $("$BIN" --version 2>/dev/null || echo installed) ($BIN)"
