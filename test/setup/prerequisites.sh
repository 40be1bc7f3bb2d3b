#!/usr/bin/env bash
# Makes the test suite's prerequisites true before it runs (`npm test` and CI both come here).
# The browser tests drive a system Chromium; the project never downloads a browser itself.
# Root with apt-get (a fresh Debian machine, CI): installs Debian's chromium package.
# Anyone else: stops at once with one line saying what to install.
set -euo pipefail

browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$browser" ] && exit 0

if [ -z "${CHROMIUM_PATH:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium package for the browser tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  [ -x "$browser" ] && exit 0
fi

echo "The browser tests need Chromium, not found at $browser: install Debian's package with 'sudo apt-get install chromium', or set CHROMIUM_PATH to a Chromium or Chrome executable." >&2
exit 1
