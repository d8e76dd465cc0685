#!/usr/bin/env bash
# Builds every fuzz target of services/fuzz once and runs each for a bounded time on a scratch
# copy of its committed seed corpus (the committed corpus never grows here). Prints per target
# the executions, then a closing summary line; exits non-zero if any target crashed, timed
# out or ran out of memory, and names the file that reproduces it. See docs/fuzzing.md.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  libFuzzer -max_total_time per target (default 60)
#   TARGET...           only these targets (default: every [[bin]] of services/fuzz)
# Environment (harness settings, not ferrocast's):
#   FUZZ_JOBS           targets fuzzed at once (default: the number of cores)
#   FUZZ_MAX_LEN        largest input libFuzzer generates, in bytes (default 16384)
#   FUZZ_KEEP_SCRATCH   1 keeps the scratch folder (corpora grown, logs) after a clean run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR="$ROOT/services/fuzz"
SECONDS_PER_TARGET="${1:-60}"
shift $(($# > 0 ? 1 : 0))
JOBS="${FUZZ_JOBS:-$(nproc)}"
MAX_LEN="${FUZZ_MAX_LEN:-16384}"
# A single input may run this long before it counts as a hang.
INPUT_TIMEOUT_S=10
# Resident memory of one fuzzing process, and the largest single allocation: no parser may
# allocate anywhere near this from a header (AddressSanitizer's allocator checks each one).
RSS_LIMIT_MB=2048
MALLOC_LIMIT_MB=256
# Build flags: optimised, debug assertions and overflow checks on, AddressSanitizer (the
# cargo-fuzz default, so `cargo fuzz run` locally builds the same binaries).
BUILD_FLAGS=(--release --debug-assertions --sanitizer address)

log() { printf '[fuzz] %s\n' "$*" >&2; }
die() { printf '[fuzz] error: %s\n' "$*" >&2; exit 1; }

[[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] && ((SECONDS_PER_TARGET > 0)) \
  || die "SECONDS_PER_TARGET must be a positive number of seconds, not '$SECONDS_PER_TARGET'"
# The image ships a nightly toolchain beside stable; never fetch one.
rustup toolchain list | grep -q '^nightly' \
  || die "no nightly toolchain installed (the machine image provides it; it is never fetched)"
cargo fuzz --version >/dev/null 2>&1 || die "cargo-fuzz missing: run scripts/install-test-deps.sh"

cd "$ROOT"
# `cargo fuzz build` has no --locked: check the fuzz workspace's lockfile first (fetching
# only this platform's crates).
cargo +nightly fetch --quiet --locked --target x86_64-unknown-linux-gnu \
  --manifest-path "$FUZZ_DIR/Cargo.toml" \
  || die "services/fuzz/Cargo.lock is out of date (see docs/fuzzing.md, 'Dependencies')"
target_dir="$(cargo +nightly metadata --no-deps --format-version 1 --manifest-path "$FUZZ_DIR/Cargo.toml" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
bin_dir="$target_dir/x86_64-unknown-linux-gnu/release"

if (($# > 0)); then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir "$FUZZ_DIR")
fi
((${#targets[@]} > 0)) || die "no fuzz targets found"

log "building ${#targets[@]} targets"
build_start=$SECONDS
cargo +nightly fuzz build --fuzz-dir "$FUZZ_DIR" "${BUILD_FLAGS[@]}"
build_s=$((SECONDS - build_start))
log "build took ${build_s} s"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/ferrocast-fuzz.XXXXXX")"
log "scratch folder: $scratch"

# run_target NAME: fuzzes one target; its log is $scratch/NAME.log, its exit code NAME.rc.
run_target() {
  local name="$1"
  local corpus="$scratch/corpus/$name" artifacts="$scratch/artifacts/$name/"
  mkdir -p "$corpus" "$artifacts"
  if [ -d "$FUZZ_DIR/corpus/$name" ]; then
    cp -R "$FUZZ_DIR/corpus/$name/." "$corpus/"
  fi
  local rc=0
  # The outer deadline only matters if libFuzzer itself stops answering.
  timeout --kill-after=30 $((SECONDS_PER_TARGET + INPUT_TIMEOUT_S + 120)) \
    "$bin_dir/$name" "$corpus" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout="$INPUT_TIMEOUT_S" \
    -rss_limit_mb="$RSS_LIMIT_MB" -malloc_limit_mb="$MALLOC_LIMIT_MB" -max_len="$MAX_LEN" \
    -print_final_stats=1 -artifact_prefix="$artifacts" \
    >"$scratch/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$scratch/$name.rc"
}

log "fuzzing each target for ${SECONDS_PER_TARGET} s, ${JOBS} at a time"
fuzz_start=$SECONDS
for name in "${targets[@]}"; do
  [ -x "$bin_dir/$name" ] || die "no binary for target '$name' in $bin_dir"
  while (($(jobs -rp | wc -l) >= JOBS)); do
    wait -n || true
  done
  run_target "$name" &
done
wait
fuzz_s=$((SECONDS - fuzz_start))

passed=0 failed=0 total_execs=0
for name in "${targets[@]}"; do
  log_file="$scratch/$name.log"
  rc="$(cat "$scratch/$name.rc" 2>/dev/null || echo "no exit code")"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log_file" | tail -n1)"
  execs="${execs:-0}"
  seed="$(sed -n 's/.*Seed: \([0-9]*\).*/\1/p' "$log_file" | head -n1)"
  total_execs=$((total_execs + execs))
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    printf '%-16s ok      %12s executions (seed %s)\n' "$name" "$execs" "${seed:-?}"
    continue
  fi
  failed=$((failed + 1))
  printf '%-16s FAILED  %12s executions (seed %s, exit %s)\n' "$name" "$execs" "${seed:-?}" "$rc"
  echo "---- $log_file (excerpt)"
  grep -m1 -A3 'panicked at' "$log_file" || true
  grep -m2 -E '^==[0-9]+==ERROR|^SUMMARY' "$log_file" || true
  tail -n 8 "$log_file"
  for artifact in "$scratch/artifacts/$name/"*; do
    [ -e "$artifact" ] || continue
    echo "crash file: $artifact"
    echo "reproduce:  cargo +nightly fuzz run --fuzz-dir services/fuzz $name $artifact"
  done
  echo "----"
done

if ((failed == 0)) && [ "${FUZZ_KEEP_SCRATCH:-0}" != 1 ]; then
  rm -rf "$scratch"
else
  log "kept $scratch"
fi
echo "fuzz summary: ${passed} of ${#targets[@]} targets clean, ${failed} failed;" \
  "${total_execs} executions; build ${build_s} s, fuzzing ${fuzz_s} s (${SECONDS_PER_TARGET} s per target, ${JOBS} at a time)"
((failed == 0))
