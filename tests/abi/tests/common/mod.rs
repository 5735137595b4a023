//! Shared set-up for the ABI scenarios: the compiled filter (once per test run), a
//! started VM, request helpers. Each scenario file reads as a script on top of these.

use std::sync::OnceLock;

use tollgate_abi_tests::{Action, FilterModule, FilterVm, LocalResponse, LogLevel};
pub use tollgate_core::testkit::{self, TestKey, NOW};

/// The built filter, compiled once per test binary. Fails fast with the build command.
pub fn module() -> &'static FilterModule {
    static MODULE: OnceLock<FilterModule> = OnceLock::new();
    MODULE.get_or_init(|| match FilterModule::load() {
        Ok(module) => module,
        Err(e) => panic!("{e:?}"),
    })
}

/// A fresh VM (not started).
pub fn new_vm() -> FilterVm {
    FilterVm::new(module()).expect("instantiate the filter")
}

/// A VM started with `config` at unix time `now`; panics if the plugin refuses it.
pub fn started_vm(config: &serde_json::Value, now: u64) -> FilterVm {
    let mut vm = new_vm();
    vm.set_time_seconds(now).unwrap();
    let accepted = vm.start(config.to_string().as_bytes()).unwrap();
    assert!(
        accepted,
        "plugin refused its configuration; critical logs: {:?}",
        vm.logs_at(LogLevel::Critical)
    );
    vm
}

/// A VM with the standard test configuration (`testkit::config()`) at [`NOW`].
pub fn standard_vm() -> FilterVm {
    started_vm(&testkit::config(), NOW)
}

/// `Authorization` value for `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Send one request's headers through a new stream; returns the stream id and the action.
pub fn send(vm: &mut FilterVm, headers: &[(String, String)]) -> (u32, Action) {
    let req = vm.new_http_context().unwrap();
    let action = vm.on_request_headers(req, headers, true).unwrap();
    (req, action)
}

/// Send a request that must be answered locally; returns the local response.
pub fn expect_local_response(vm: &mut FilterVm, headers: &[(String, String)]) -> LocalResponse {
    let (req, action) = send(vm, headers);
    assert_eq!(
        action,
        Action::Pause,
        "a denied request must pause the stream"
    );
    vm.local_response(req)
        .unwrap()
        .expect("the filter sent no local response")
}

/// Send a request that must be forwarded; returns the stream id to inspect its headers.
pub fn expect_forwarded(vm: &mut FilterVm, headers: &[(String, String)]) -> u32 {
    let (req, action) = send(vm, headers);
    assert_eq!(
        vm.local_response(req).unwrap(),
        None,
        "an allowed request must not get a local response"
    );
    assert_eq!(action, Action::Continue);
    req
}

/// The per-request metric families: the filter counts them in the VM and adds the counts to
/// Envoy's counters on its timer, so a test fires the timer (as Envoy does every second)
/// before reading them.
const COUNTED_IN_THE_VM: [&str; 6] = [
    "allowed",
    "denied",
    "would_deny",
    "jwt_cache_hit",
    "jwt_cache_miss",
    "signatures",
];

/// Fire the timer when `family` is counted in the VM, so Envoy's counters have the counts.
fn flush_if_counted_in_the_vm(vm: &mut FilterVm, family: &str) {
    if COUNTED_IN_THE_VM.contains(&family) {
        vm.tick().unwrap();
    }
}

/// Value of metric `name` (the full name after Envoy's `wasmcustom.`), which must have
/// been defined.
pub fn counter(vm: &mut FilterVm, name: &str) -> u64 {
    if let Some((_, family)) = parse_metric(name) {
        flush_if_counted_in_the_vm(vm, &family);
    }
    vm.metric(name)
        .unwrap()
        .unwrap_or_else(|| panic!("metric {name} was never defined"))
}

/// The labels and the family of a filter metric name, read the way the README's
/// `stats_tags` read it: `tollgate.prefix.<p>.provider.<prov>.reason.<r>.denied` is family
/// `denied` with labels stat_prefix, provider and reason.
pub fn parse_metric(name: &str) -> Option<(Vec<(String, String)>, String)> {
    let rest = name.strip_prefix("tollgate.")?;
    let parts: Vec<&str> = rest.split('.').collect();
    let mut labels = Vec::new();
    let mut family = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        let label = match parts[i] {
            "prefix" => Some("stat_prefix"),
            "provider" | "reason" | "signature_path" => Some(parts[i]),
            _ => None,
        };
        match (label, parts.get(i + 1)) {
            (Some(l), Some(v)) if i + 1 < parts.len() - 1 => {
                labels.push((l.to_owned(), (*v).to_owned()));
                i += 2;
            }
            _ => {
                family.push(parts[i]);
                i += 1;
            }
        }
    }
    Some((labels, family.join(".")))
}

/// Sum of metric family `family` over every series whose labels include `labels`
/// (e.g. `("provider", "idsvr")`, `("reason", "expired")`).
pub fn family(vm: &mut FilterVm, family: &str, labels: &[(&str, &str)]) -> u64 {
    flush_if_counted_in_the_vm(vm, family);
    vm.process()
        .metrics()
        .unwrap()
        .iter()
        .filter_map(|m| parse_metric(&m.name).map(|p| (p, m.value)))
        .filter(|((l, f), _)| {
            f == family
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, v)| v)
        .sum()
}
