# The two commands a newcomer needs: `make demo` and `make test`.
# Both install whatever is missing first (scripts/setup.sh).
.PHONY: demo test setup build bench bench-signatures fmt oci release

demo:   ## build everything and run the demo stack on loopback
	bash scripts/demo.sh

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

oci:    ## the filter as OCI images (target/dist/oci); prints the digest the manifests pin
	bash scripts/setup.sh && bash scripts/build.sh && node scripts/oci-image.mjs --out target/dist/oci

release: ## target/dist: tollgate_filter.wasm, oci/, tollgate-site-www.tar.gz, SHA256SUMS
	bash scripts/setup.sh && bash scripts/build.sh && bash scripts/release.sh

fmt:
	cargo fmt --all
