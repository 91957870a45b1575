# dlg — build, test and demo entry points. `make test` and `make demo` work on
# a fresh Debian machine with Swift: they install OpenBLAS and zlib headers,
# and Open MPI (for data-parallel training, Docs/distributed.md), with apt
# when missing.

SWIFT ?= swift
# Package.swift declares a test target only when its Tests/ folder exists, a
# fact SwiftPM's shared manifest cache does not see: without this, a test
# folder added by a merge stays invisible until Package.swift itself changes.
SWIFTPM_FLAGS ?= --manifest-cache none
DLG_DEBUG := .build/debug/dlg
DLG_RELEASE := .build/release/dlg
# The MNIST sample (the 10,000-image test set) used by the integration tests.
MNIST_DIR ?= ../shared/data/mnist

.PHONY: all deps build release test demo check-graphs bench docs clean

all: build

# System libraries found through pkg-config: openblas and zlib; Open MPI (ompi)
# and its mpirun. Without Open MPI dlg still builds, and trains in one process.
deps:
	@if ! pkg-config --exists openblas zlib 2>/dev/null; then \
		echo "installing libopenblas-dev zlib1g-dev pkg-config"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libopenblas-dev zlib1g-dev pkg-config >/dev/null; \
	fi
	@if ! pkg-config --exists ompi 2>/dev/null || ! command -v mpirun >/dev/null; then \
		echo "installing openmpi-bin libopenmpi-dev"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null; \
	fi

build: deps
	$(SWIFT) build $(SWIFTPM_FLAGS)

release: deps
	$(SWIFT) build -c release $(SWIFTPM_FLAGS)

# Unit tests in debug; the CLI tests run the release dlg (DLG_BIN), which the
# MNIST training tests need, with the MNIST sample when it is there.
test: deps
	$(SWIFT) build --build-tests $(SWIFTPM_FLAGS)
	$(SWIFT) build -c release --product dlg $(SWIFTPM_FLAGS)
	DLG_BIN=$(abspath $(DLG_RELEASE)) \
	$(if $(wildcard $(MNIST_DIR)/t10k-images-idx3-ubyte.gz),DLG_MNIST_DIR=$(abspath $(MNIST_DIR))) \
	$(SWIFT) test --skip-build --parallel $(SWIFTPM_FLAGS)

# Rewrite the documents generated from the code — Docs/ops.md, Docs/diagnostics.md, Docs/library.md,
# the pass list of Docs/passes.md, the option tables of Docs/cli.md — by running
# the tests that compare them with DLG_RECORD=1.
docs: deps
	$(SWIFT) build --build-tests $(SWIFTPM_FLAGS)
	DLG_RECORD=1 $(SWIFT) test --skip-build $(SWIFTPM_FLAGS) --filter 'ReferenceDocsTests|DiagnosticCatalogTests|CLIReferenceTests'

# Compile every example model.
check-graphs: build
	$(DLG_DEBUG) check Graphs/*.dlg

# The main job: train the shapes CNN on the built-in shapes images (no
# downloads), with live progress; save a checkpoint and training curves.
demo: deps
	$(SWIFT) build -c release --product dlg
	@mkdir -p out
	$(DLG_RELEASE) summary Graphs/shapes_cnn.dlg
	$(DLG_RELEASE) train Graphs/shapes_cnn.dlg --checkpoint out/shapes_cnn.safetensors --plot out/shapes_cnn.svg --log out/shapes_cnn.jsonl
	$(DLG_RELEASE) eval Graphs/shapes_cnn.dlg --weights out/shapes_cnn.safetensors

# Release-build benchmarks (Benchmarks/README.md): kernels against their
# references, the compiler's stages, fused against unfused training steps.
BENCH := Benchmarks/.build/release/dlg-benchmarks
bench: deps
	$(SWIFT) build -c release --package-path Benchmarks
	$(BENCH) gemm
	$(BENCH) conv
	$(BENCH) elementwise
	$(BENCH) frontend
	$(BENCH) autodiff
	$(BENCH) compile
	$(BENCH) fusion

clean:
	rm -rf .build
