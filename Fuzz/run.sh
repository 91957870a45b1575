#!/usr/bin/env bash
# Fuzzes the dlg front end with libFuzzer. Usage:
#
#     Fuzz/run.sh [SECONDS] [extra libFuzzer flags…]     (default 600 seconds)
#
# Builds Fuzz/ (release, debug info, -sanitize=fuzzer,address),
# seeds a working corpus (Fuzz/corpus-work, not in git) with Graphs/*.dlg and
# every earlier finding in Fuzz/crashes, and runs the target for SECONDS in
# libFuzzer's fork mode, which keeps going after a crash so that one run
# collects every finding. Inputs that crash, trap, time out (10 s) or exhaust
# memory (2 GB) are written to Fuzz/crashes/. The exit status is 1 when the
# run produced a new finding. See Docs/fuzzing.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
seconds="${1:-600}"
shift || true

# SwiftPM's `--sanitize fuzzer` makes it link libFuzzer's `main`; the compiler
# flag is repeated with address added because, given several -sanitize flags,
# swiftc keeps only the last one. Dead stripping would drop the coverage
# counters' sections. Without manifest caching, files added to the main
# package (a path dependency here) are always picked up.
flags=(-c release --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -g --disable-dead-strip
       --disable-build-manifest-caching)
swift build "${flags[@]}"
bin="$(swift build "${flags[@]}" --show-bin-path)/FuzzFrontend"

mkdir -p corpus-work crashes
cp ../Graphs/*.dlg corpus-work/
for f in crashes/*; do
    [ -f "$f" ] && cp "$f" "corpus-work/finding-$(basename "$f")"
done
before=$(find crashes -type f | wc -l)

log="$here/.build/last-run.log"
# Fork mode with one job: a child process runs the inputs; crashes, timeouts
# and out-of-memory are recorded and the run continues until the time is up.
set +e
"$bin" corpus-work \
    -dict=dlg.dict \
    -max_total_time="$seconds" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -max_len=8192 \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -artifact_prefix=crashes/ \
    -print_final_stats=1 \
    "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

after=$(find crashes -type f | wc -l)
corpus=$(find corpus-work -type f | wc -l)
echo "fuzz: ${seconds}s, corpus ${corpus} inputs, findings in Fuzz/crashes: $before before, $after after (libFuzzer status $status)"
if [ "$after" -gt "$before" ]; then
    echo "fuzz: new findings:"
    ls -t crashes | head -n $((after - before))
    exit 1
fi
