#!/usr/bin/env bash
# The test command: installs every tool the tests need (apt, npm), then checks formatting and
# lints, the benchmark report's rules (loadtest/bench/report_test.py), the deployment artefacts
# (Helm chart, Dockerfile, dashboards and alert rules against the metrics contract), runs every
# test in the workspace, end-to-end tests included, then fuzzes every wire parser for a bounded
# time (scripts/fuzz.sh, docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-test-deps.sh
cargo fmt --all -- --check
cargo fmt --manifest-path services/fuzz/Cargo.toml -- --check
python3 scripts/check-observability.py
python3 loadtest/bench/report_test.py
scripts/check-deploy.sh
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
scripts/fuzz.sh 60
