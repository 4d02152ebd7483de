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

# 300 KB until the teaching features (scenario files parsed in the app,
# lessons, links, gallery, exports) took it to 341 KB, 332 KB after
# savings; BENCHMARKS.md ("The release bundle") says what was measured
# and tried.
step "release bundle size (wasm + js + css, snippets included, gzipped, at most 335 KB)"
total=0
for f in $(find dist -name '*.wasm' -o -name '*.js' -o -name '*.css' | sort); do
  n=$(gzip -9 -c "$f" | wc -c)
  printf '  %-48s %8d bytes gzipped\n' "$f" "$n"
  total=$((total + n))
done
printf '  %-48s %8d bytes (limit 335000)\n' "total" "$total"
if [ "$total" -gt 335000 ]; then
  echo "test: the release bundle is over 335 KB gzipped" >&2
  exit 1
fi

step "all tests passed"
