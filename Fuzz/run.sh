#!/usr/bin/env bash
# Fuzzes dlg with libFuzzer. Usage:
#
#     Fuzz/run.sh [TARGET] [SECONDS] [extra libFuzzer flags…]
#
# TARGET is frontend (the default) or one of the readers: npy, npz,
# safetensors, idx, csv, text, cifar, compiled, checkpoint, onnx; SECONDS defaults to 600.
# Builds Fuzz/ (release, debug info, -sanitize=fuzzer,address), seeds a
# working corpus (Fuzz/corpus-work/TARGET, not in git) — the front end's with
# Graphs/*.dlg, a reader's with valid files written by FuzzSeeds, the ONNX
# target's with the small Graphs/ models exported by `dlg export` at opsets
# 13, 17 and 20 and the PyTorch-made files in Fuzz/seeds/onnx — plus every
# earlier finding of the target, and runs the target for SECONDS in
# libFuzzer's fork mode, which keeps going after a crash so that one run
# collects every finding. Inputs that crash, trap, time out (10 s) or exhaust
# memory (2 GB) are written to Fuzz/crashes/ (the front end's) or
# Fuzz/crashes/TARGET/. The exit status is 1 when the run produced a new
# finding. See Docs/fuzzing.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
target=frontend
if [ $# -gt 0 ] && ! [[ "$1" =~ ^[0-9]+$ ]]; then
    target="$1"
    shift
fi
seconds="${1:-600}"
shift || true

case "$target" in
    frontend) product=FuzzFrontend; crashes=crashes; maxlen=8192 ;;
    npy) product=FuzzNPY ;;
    npz) product=FuzzNPZ ;;
    safetensors) product=FuzzSafetensors ;;
    idx) product=FuzzIDX ;;
    csv) product=FuzzCSV ;;
    text) product=FuzzText ;;
    cifar) product=FuzzCIFAR ;;
    compiled) product=FuzzCompiled ;;
    checkpoint) product=FuzzCheckpoint ;;
    onnx) product=FuzzONNX ;;
    *) echo "unknown target '$target' (frontend, npy, npz, safetensors, idx, csv, text, cifar, compiled, checkpoint, onnx)" >&2; exit 2 ;;
esac
if [ "$target" != frontend ]; then
    crashes="crashes/$target"
    # CIFAR records are 3073 bytes and compiled programs a few kilobytes of JSON.
    # Exported ONNX models are mostly weights: the small ones stay under 64 KB.
    case "$target" in cifar|compiled|onnx) maxlen=65536 ;; *) maxlen=16384 ;; esac
fi

# SwiftPM's `--sanitize fuzzer` makes it link libFuzzer's `main`; the compiler
# flag is repeated with address added because, given several -sanitize flags,
# swiftc keeps only the last one. Dead stripping would drop the coverage
# counters' sections. Without manifest caching, files added to the main
# package (a path dependency here) are always picked up.
flags=(-c release --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -g --disable-dead-strip
       --disable-build-manifest-caching)
# FUZZ_NO_BUILD=1 runs the targets as last built (while the sources change, or to run several in turn).
[ -n "${FUZZ_NO_BUILD:-}" ] || swift build "${flags[@]}" --product "$product"
bindir="$(swift build "${flags[@]}" --show-bin-path)"
bin="$bindir/$product"

corpus="corpus-work/$target"
[ "$target" = frontend ] && corpus=corpus-work
mkdir -p "$corpus" "$crashes"
if [ "$target" = frontend ]; then
    cp ../Graphs/*.dlg "$corpus"/
elif [ "$target" = onnx ]; then
    dlg="${DLG_BIN:-../.build/release/dlg}"
    [ -x "$dlg" ] || (cd .. && swift build -c release --product dlg)
    for g in ../Graphs/*.dlg; do
        for opset in 13 17 20; do
            out="$corpus/$(basename "$g" .dlg)-$opset.onnx"
            "$dlg" export "$g" -o "$out" --opset "$opset" 2>/dev/null || continue
            [ "$(wc -c < "$out")" -le "$maxlen" ] || rm "$out"
        done
    done
    cp seeds/onnx/*.onnx "$corpus"/
else
    [ -n "${FUZZ_NO_BUILD:-}" ] || swift build "${flags[@]}" --product FuzzCompiled
    seeds="$here/.build/seeds"
    rm -rf "$seeds"
    # (It exits from its initializer: no leak report for what it left allocated.)
    ASAN_OPTIONS=detect_leaks=0 DLG_FUZZ_SEEDS="$seeds" "$bindir/FuzzCompiled" >/dev/null
    cp "$seeds/$target"/* "$corpus"/
fi
for f in "$crashes"/*; do
    [ -f "$f" ] && cp "$f" "$corpus/finding-$(basename "$f")"
done
before=$(find "$crashes" -maxdepth 1 -type f | wc -l)

dict=()
[ "$target" = frontend ] && dict=(-dict=dlg.dict)
log="$here/.build/last-run-$target.log"
# Fork mode with one job: a child process runs the inputs; crashes, timeouts
# and out-of-memory are recorded and the run continues until the time is up.
set +e
"$bin" "$corpus" \
    "${dict[@]}" \
    -max_total_time="$seconds" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -max_len="$maxlen" \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -artifact_prefix="$crashes/" \
    -print_final_stats=1 \
    "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

after=$(find "$crashes" -maxdepth 1 -type f | wc -l)
size=$(find "$corpus" -type f | wc -l)
echo "fuzz $target: ${seconds}s, corpus ${size} inputs, findings in Fuzz/$crashes: $before before, $after after (libFuzzer status $status)"
if [ "$after" -gt "$before" ]; then
    echo "fuzz: new findings:"
    ls -t "$crashes" | head -n $((after - before))
    exit 1
fi
