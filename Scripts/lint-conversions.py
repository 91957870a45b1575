#!/usr/bin/env python3
"""Lists the unchecked numeric conversions on dlg's input paths.

A conversion such as `Int(x)` from a Double, `UInt64(n)` from an Int or
`Int32(v)` traps when the value does not fit (or is NaN): on a path that
reads files or the command line, that is a crash on bad input. This script
finds every initializer call of an integer type — Int, Int8…Int64, UInt,
UInt8…UInt64 — in the files that read input (INPUT_PATHS below) and reports
those that are neither of a form that cannot trap nor justified:

- forms that cannot trap: the labelled initializers (`exactly:` and
  `clamping:`, which do not trap, `truncatingIfNeeded:`, `bitPattern:`,
  `ascii:`, `radix:`), an integer literal argument, a constant
  (`Int.max`, `MemoryLayout<…>`, a system constant), and the widening of a
  fixed-size unsigned field read by a ByteReader (`Int(try r.u32BE(…))`);
- justified: a comment `// conversion: REASON` at the end of the line or on
  the line above it, saying why the value always fits (a guard above, a
  widening, a failable parse of text, …).

Usage: Scripts/lint-conversions.py [ROOT]   (default: the repository)
Prints each unjustified conversion as FILE:LINE: TEXT and exits 1 if there is
one; with --list, prints every conversion with its justification and exits 0.
"""
import os
import re
import sys

# Files that read input: data files, checkpoints, compiled programs, the command line.
INPUT_PATHS = [
    "Sources/DLGData",
    "Sources/DLGTrain/Checkpoint.swift",
    "Sources/DLGTrain/DataLoader.swift",
    "Sources/DLGTrain/Metrics.swift",
    "Sources/DLGTrain/Setting.swift",
    "Sources/DLGTrain/TrainConfig.swift",
    "Sources/DLGTrain/Trainer.swift",
    "Sources/DLGRuntime/CompiledModel.swift",
    "Sources/DLGRuntime/StateStore.swift",
    "Sources/DLGONNX/ONNXReader.swift",
    "Sources/DLGONNX/ONNXImporter.swift",
    "Sources/DLGONNX/ONNXImportOps.swift",
    "Sources/DLGONNX/ONNXImportPatterns.swift",
    "Sources/dlg",
]
# Built-in data sets computed from their arguments, not read.
EXCLUDED = {"Sources/DLGData/Synthetic.swift"}

CALL = re.compile(r"(?<![\w.\]])(U?Int(?:8|16|32|64)?)\(")
SAFE_LABELS = ("exactly:", "clamping:", "truncatingIfNeeded:", "bitPattern:", "ascii:", "radix:")
LITERAL = re.compile(r"(0x[0-9A-Fa-f_]+|0o[0-7_]+|0b[01_]+|\d[\d_]*)\s*\)")
WIDENING = re.compile(r"try \w+\.(u8|u16LE|u32LE|u32BE)\(")
CONSTANT = re.compile(r"(U?Int(8|16|32|64)?\.max\b|MemoryLayout<|_SC_|RLIMIT_)")
JUSTIFIED = re.compile(r"//\s*conversion:\s*\S")


def files(root):
    for p in INPUT_PATHS:
        full = os.path.join(root, p)
        if os.path.isdir(full):
            for name in sorted(os.listdir(full)):
                if name.endswith(".swift"):
                    yield os.path.join(p, name)
        elif os.path.exists(full):
            yield p


def conversions(root):
    """(path, line number, text, justification or None) for every conversion that can trap."""
    for rel in files(root):
        if rel in EXCLUDED:
            continue
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            lines = f.read().split("\n")
        for i, line in enumerate(lines):
            code = line.split("//")[0] if "//" in line and '"' not in line.split("//")[0][-1:] else line
            for m in CALL.finditer(code):
                rest = code[m.end():].lstrip()
                if rest.startswith(SAFE_LABELS) or LITERAL.match(rest) or WIDENING.match(rest) or CONSTANT.match(rest):
                    continue
                why = None
                for candidate in (line, lines[i - 1] if i > 0 else ""):
                    j = JUSTIFIED.search(candidate)
                    if j:
                        why = candidate[j.start():].split("conversion:", 1)[1].strip()
                        break
                yield rel, i + 1, line.strip(), why


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    listing = "--list" in sys.argv
    bad = 0
    total = 0
    for rel, n, text, why in conversions(root):
        total += 1
        if listing:
            print(f"{rel}:{n}: {text}\n    justified: {why or 'NO'}")
        elif why is None:
            bad += 1
            print(f"{rel}:{n}: unchecked conversion: {text}")
    if not listing:
        print(f"lint-conversions: {total} conversions on input paths, {total - bad} justified, {bad} not")
    sys.exit(1 if bad and not listing else 0)


if __name__ == "__main__":
    main()
