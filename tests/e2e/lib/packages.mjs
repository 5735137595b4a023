// The npm packages of tests/e2e/package-lock.json for the Node code outside tests/e2e (the benchmark and the soak
// under tests/perf): Node resolves a bare import from the importing file's folder upwards, and the one
// node_modules the set-up installs is tests/e2e/node_modules. Importing them through this module keeps one lock
// file for every Node harness of the repository.
export * as dpop from 'dpop';
export * as jose from 'jose';
