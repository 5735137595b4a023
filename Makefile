# The two commands a newcomer needs: `make demo` and `make test`.
# Both install whatever is missing first (scripts/setup.sh; the demo only what it runs).
.PHONY: demo test setup build bench bench-signatures fuzz soak fmt oci release

# `make fuzz FUZZ_SECONDS=600`, `make soak SOAK_SECONDS=1800`: the long runs.
FUZZ_SECONDS ?= 8
SOAK_SECONDS ?= 30

# `make demo ARGS="--help"`: the demo's options (--check, ports, --stop ...).
demo:   ## build what the demo runs and run the demo stack on loopback; ARGS="..." passes its options
	@TOLLGATE_DEMO_COMMAND="make demo" exec bash scripts/demo.sh $(ARGS)

test:   ## every check and every test (what CI runs)
	bash scripts/test.sh

setup:  ## only install what is missing
	bash scripts/setup.sh

build:  ## only build the filter and the site
	bash scripts/setup.sh && bash scripts/build.sh

bench:  ## filter benchmark (table + chart in target/bench/) and page size; BENCH_ARGS="--quick" for a short run
	bash scripts/bench.sh $(BENCH_ARGS)

bench-signatures: ## signature checks per algorithm and path, opt-level "s" vs 3, cache memory per entry (target/bench/); BENCH_ARGS="--quick"
	bash scripts/bench-signatures.sh $(BENCH_ARGS)

fuzz:   ## every fuzz target for FUZZ_SECONDS seconds (default 8, under a minute in all); prints inputs tried and crashes
	bash scripts/setup.sh && FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

soak:   ## Envoy + filter under load while the key server misbehaves, SOAK_SECONDS (default 30) + memory phases
	bash scripts/setup.sh && bash scripts/build.sh && SOAK_SECONDS=$(SOAK_SECONDS) bash scripts/soak.sh

oci:    ## the filter as OCI images (target/dist/oci); prints the digest the manifests pin
	bash scripts/setup.sh && bash scripts/build.sh && node scripts/oci-image.mjs --out target/dist/oci

release: ## target/dist: tollgate_filter.wasm, oci/, tollgate-site-www.tar.gz, SHA256SUMS
	bash scripts/setup.sh && bash scripts/build.sh && bash scripts/release.sh

fmt:
	cargo fmt --all && cargo fmt --manifest-path fuzz/Cargo.toml --all
