#!/usr/bin/env bash
# Installs what pfnscope needs on a fresh machine and skips what is already
# there, so a second run takes seconds. Everything comes from the package
# registries (crates.io, Debian, npm); nothing is downloaded from elsewhere.
#
#   scripts/bootstrap.sh        # target, wasm-bindgen-cli, trunk, wasm-opt, chromium
#
# Afterwards `source scripts/env.sh` puts the tools on PATH.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }

# 1. The wasm target for the installed rustc.
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "wasm32-unknown-unknown target present"
else
  say "adding wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock, so the
#    CLI, the test runner and the library always agree.
want_wb=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' "$PFNSCOPE_ROOT/Cargo.lock")
if [ -z "$want_wb" ]; then
  echo "bootstrap: no wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$want_wb" ]; then
  say "wasm-bindgen-cli $want_wb present"
else
  say "installing wasm-bindgen-cli $want_wb (about 2 minutes)"
  # Not --locked: the CLI's own lockfile pins a crate this registry lacks.
  cargo install wasm-bindgen-cli --version "$want_wb" --force
fi

# 3. Trunk, the web app's builder and dev server.
if [ "$(trunk --version 2>/dev/null | awk '{print $2}')" = "$PFNSCOPE_TRUNK_VERSION" ]; then
  say "trunk $PFNSCOPE_TRUNK_VERSION present"
else
  say "installing trunk $PFNSCOPE_TRUNK_VERSION (about 7 minutes)"
  cargo install --locked trunk --version "$PFNSCOPE_TRUNK_VERSION" --force
fi

# 4. wasm-opt from npm's binaryen (Debian's binaryen is too old for today's wasm).
if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" = "$PFNSCOPE_BINARYEN_VERSION" ]; then
  say "wasm-opt $PFNSCOPE_BINARYEN_VERSION present"
else
  say "installing binaryen $PFNSCOPE_BINARYEN_VERSION from npm"
  mkdir -p "$PFNSCOPE_TOOLS"
  npm install --prefix "$PFNSCOPE_TOOLS" --no-audit --no-fund --silent "binaryen@$PFNSCOPE_BINARYEN_VERSION"
fi

# 5. Chromium and its driver for the headless browser tests.
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  say "chromium and chromedriver present"
else
  say "installing chromium and chromium-driver from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# 6. Crates for Trunk's offline build (Trunk runs cargo with --offline).
say "fetching crates"
cargo fetch --manifest-path "$PFNSCOPE_ROOT/Cargo.toml" --quiet
say "done"
