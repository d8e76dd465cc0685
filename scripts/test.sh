#!/usr/bin/env bash
# The test command: installs every tool the tests need (apt, npm), then checks formatting and
# lints, the deployment artefacts (Helm chart, Dockerfile, dashboards and alert rules against
# the metrics contract), and runs every test in the workspace, end-to-end tests included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-test-deps.sh
cargo fmt --all -- --check
python3 scripts/check-observability.py
scripts/check-deploy.sh
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
