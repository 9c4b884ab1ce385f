#!/usr/bin/env bash
# The machine prerequisites of `npx projen test:all` (beyond Node.js and npm): redis-server, chromium, Python with venv,
# a JDK, Maven, Go, openssl, and the tool chain npm ci needs to build aws-lambda-ric's native client; and moto's
# standalone server (PyPI moto[server], pinned below) in a venv at .venv in the repository root, the loopback stand-in for
# DynamoDB and SSM (test/support/moto-server.ts).
#
#   bash scripts/install-test-prereqs.sh           installs the missing ones with apt-get (Debian/Ubuntu; root or sudo)
#   bash scripts/install-test-prereqs.sh --check   only checks: lists what is missing and exits 1 (test:all runs this first)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
root="$(cd "$(dirname "$0")/.." && pwd)"
MOTO_VERSION=5.2.5
venv="$root/.venv"

moto_present() {
  [ -x "$venv/bin/moto_server" ] && [ "$("$venv/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)" = "$MOTO_VERSION" ]
}

# moto in the repository's venv, as the user who owns the checkout (not root when this runs under sudo).
install_moto() {
  moto_present && return 0
  echo "installing moto[server]==$MOTO_VERSION into $venv"
  local as=()
  if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ]; then as=(sudo -u "$SUDO_USER"); fi
  "${as[@]}" python3 -m venv "$venv"
  "${as[@]}" "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  moto_present
}

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
# The binding smoke tests build a venv (Python), a Maven project (Java) and a Go module.
if ! command -v python3 >/dev/null 2>&1; then need+=(python3 python3-venv python3-pip)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then need+=(python3-venv); fi
command -v java >/dev/null 2>&1 || need+=(default-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# npm ci builds aws-lambda-ric's native Runtime API client (test/lambda/real-runtime.test.ts): its preinstall builds
# curl and aws-lambda-cpp from the bundled .tar.xz sources with cmake, its postinstall runs node-gyp (python3, above).
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v make >/dev/null 2>&1 || need+=(make)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)

if [ "${1:-}" = "--check" ]; then
  missing=0
  if [ ${#need[@]} -ne 0 ]; then
    echo "The test suite needs Debian packages that are missing here: ${need[*]}" >&2
    echo "Install them with:  sudo bash scripts/install-test-prereqs.sh   (or: sudo apt-get install ${need[*]})" >&2
    missing=1
  fi
  if ! moto_present; then
    echo "The test suite needs moto's server $MOTO_VERSION in $venv (missing or another version)." >&2
    echo "Install it with:  bash scripts/install-test-prereqs.sh   (or: python3 -m venv .venv && .venv/bin/pip install \"moto[server]==$MOTO_VERSION\")" >&2
    missing=1
  fi
  exit $missing
fi
if [ ${#need[@]} -eq 0 ]; then
  install_moto
  echo "test prerequisites: all present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing: ${need[*]}; this script installs them with apt-get (Debian/Ubuntu). Install the equivalents with your package manager." >&2
  exit 1
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "installing Debian packages: ${need[*]}"
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null
install_moto
