#!/usr/bin/env bash
# The test command: installs every tool the tests need (apt, npm), then checks formatting and
# lints and runs every test in the workspace, end-to-end tests included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-test-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
