#!/usr/bin/env bash
# Runs every libFuzzer target of a TIDEKV_FUZZ=ON build for a while (what `make fuzz` does):
#   tests/fuzz/run.sh BUILD_DIR SECONDS_PER_TARGET
# Each target works on a scratch corpus, BUILD_DIR/fuzz/corpus/<target>, seeded from the
# repository's corpus and regressions, so what it learns stays out of the repository but is
# kept for the next run. Crash inputs go to BUILD_DIR/fuzz/artifacts/<target>/.
# Fails if any target crashed, leaked, hung or broke one of its checks.
set -euo pipefail

build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)

# Longest input libFuzzer tries, per target.
max_len() {
  case $1 in
    # A pipeline of requests or a config file of many lines. RESP stays below RESP_INLINE_MAX
    # so that the whole and the chunked parses are compared.
    fuzz_resp | fuzz_config) echo 4096 ;;
    # Batches and change records a few times the size of the seeds.
    *) echo 1024 ;;
  esac
}

# UBSan's reports show where the undefined behaviour happened.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()
for source in "$here"/fuzz_*.c; do
  target=$(basename "$source" .c)
  work=$build/fuzz/corpus/$target
  artifacts=$build/fuzz/artifacts/$target
  log=$build/fuzz/$target.log
  mkdir -p "$work" "$artifacts"
  find "$here/corpus/$target" "$here/regressions/$target" -type f ! -name '.*' -exec cp {} "$work" \;
  echo "fuzz: $target for ${seconds}s (log: $log)"
  if "$build/tests/fuzz/$target" -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" >"$log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" | sed 's/^/  /'
  else
    failed+=("$target")
    tail -n 60 "$log"
    echo "fuzz: $target FAILED; inputs in $artifacts/"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: every target ran ${seconds}s without a crash"
