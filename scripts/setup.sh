#!/usr/bin/env bash
# Sets up everything a fresh machine needs to build the site, run the model code and run every test.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
if ! command -v /usr/bin/chromium >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
PIP=".venv/bin/pip"
$PIP install -q --upgrade pip
# The CPU build of torch lies on this machine's disk; a bare range would pull a multi-GB CUDA build.
$PIP install -q torch==2.13.0
$PIP install -q -e ".[model,test]"
# tensorflowjs pulls tensorflow-decision-forests, whose generated protobuf code needs runtime 6.31,
# while tensorflow 2.19 declares protobuf<6 (it runs fine on 6.31). tensorflow-hub still imports
# pkg_resources, which setuptools 81 removed. Installed after the resolver, on purpose.
# pip prints its resolver's complaint about the protobuf pin: show the output only if the install fails.
if ! out=$($PIP install -q "protobuf==6.31.*" "setuptools<81" 2>&1); then
    echo "$out" >&2
    exit 1
fi

# TensorFlow.js for the Node parity tests and the vendored copy the widget serves.
npm ci --no-audit --no-fund --loglevel=error
