#!/usr/bin/env bash
# Set-up for a fresh Debian bookworm machine (as root, or with sudo):
# guest toolchains, LLVM for the AOT compiler, then pywamr and its test tools
# into the current Python environment.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
packages=(cmake npm patch clang-14 lld-14 wabt binaryen llvm-14-dev zlib1g-dev
          rustc cargo libstd-rust-dev-wasm32 wasi-libc libclang-rt-14-dev-wasm32)
missing=()
for p in "${packages[@]}"; do
  # npm and cmake may come from elsewhere (e.g. a nodejs that bundles npm): any will do.
  case "$p" in npm|cmake|patch) command -v "$p" >/dev/null && continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
python -m pip install --upgrade --quiet pip
python -m pip install --quiet ".[test,bench]"
