#!/usr/bin/env bash
# Installs what a fresh Debian machine with only Node 20 and npm lacks: the npm packages, a host C
# toolchain, (for Cortex-M boards and their emulated twins) the Arm toolchain and QEMU, and Chromium for
# the HTML report's browser test.
# Debian packages are installed only when running as root; otherwise it says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/vitest ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

missing=()
command -v make >/dev/null 2>&1 || missing+=(make)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v arm-none-eabi-gcc >/dev/null 2>&1 || missing+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null 2>&1 || missing+=(qemu-system-arm)
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v gdb-multiarch >/dev/null 2>&1 || missing+=(gdb-multiarch)
command -v ps >/dev/null 2>&1 || missing+=(procps)
# headless Chromium: the HTML report's browser test (test/report/report_browser.test.ts)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 || exit 1
  fi
fi
