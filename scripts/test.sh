#!/usr/bin/env bash
# Runs every test on a fresh or warm machine: installs what is missing,
# then the native tests of the whole workspace, the browser tests in
# headless Chromium, and a release build of the web app.
#
#   scripts/test.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/bootstrap.sh"
# shellcheck source=env.sh
source "$here/env.sh"
cd "$PFNSCOPE_ROOT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "native tests (cargo test --workspace)"
cargo test --workspace --locked

step "browser tests (wasm-bindgen-test in headless Chromium)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver} \
  cargo test --locked --target wasm32-unknown-unknown -p pfnscope-web

step "release build of the web app (trunk build --release)"
trunk build --release

step "all tests passed"
