//! Every host call the glue makes, in one place, each with its failure handled.
//!
//! The proxy-wasm SDK's context-trait helpers `unwrap()` host errors; these wrappers call
//! `proxy_wasm::hostcalls` directly so a host error becomes a logged, handled condition
//! instead of a panic that would kill the VM for every later request.

use std::time::{SystemTime, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel, MapType, MetricType, Status};

/// Log a line; logging failures are ignored (there is nowhere else to report them).
pub(crate) fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// Current host time as unix seconds (0 if the host clock is unavailable or before 1970,
/// which makes every token look expired: failing closed).
pub(crate) fn now_seconds() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t: SystemTime| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// The plugin configuration (empty if the host has none).
pub(crate) fn plugin_configuration() -> Result<Vec<u8>, Status> {
    Ok(hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)?.unwrap_or_default())
}

/// All request headers with their raw values.
pub(crate) fn request_headers() -> Result<Vec<(String, Vec<u8>)>, Status> {
    hostcalls::get_map_bytes(MapType::HttpRequestHeaders)
}

/// The first `size` bytes of the request body buffered so far.
pub(crate) fn request_body(size: usize) -> Result<Vec<u8>, Status> {
    Ok(hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size)?.unwrap_or_default())
}

/// Remove every request header called `name`.
pub(crate) fn remove_request_header(name: &str) -> Result<(), Status> {
    hostcalls::remove_map_value(MapType::HttpRequestHeaders, name)
}

/// The names of all request trailers.
pub(crate) fn request_trailer_names() -> Result<Vec<String>, Status> {
    Ok(hostcalls::get_map_bytes(MapType::HttpRequestTrailers)?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// Remove every request trailer called `name`.
pub(crate) fn remove_request_trailer(name: &str) -> Result<(), Status> {
    hostcalls::remove_map_value(MapType::HttpRequestTrailers, name)
}

/// Register this VM's shared queue `name` for the current root context; its id.
pub(crate) fn register_queue(name: &str) -> Result<u32, Status> {
    hostcalls::register_shared_queue(name)
}

/// Put `value` on queue `id`: the root context that registered it gets `on_queue_ready`
/// once the current callback has returned.
pub(crate) fn enqueue(id: u32, value: &[u8]) -> Result<(), Status> {
    hostcalls::enqueue_shared_queue(id, Some(value))
}

/// Take everything queued on `id` (the values are not used: the queue is a doorbell).
pub(crate) fn drain_queue(id: u32) {
    while let Ok(Some(_)) = hostcalls::dequeue_shared_queue(id) {}
}

/// Set request header `name` to exactly one value (replacing any present).
pub(crate) fn set_request_header(name: &str, value: &str) -> Result<(), Status> {
    hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value))
}

/// Add a response header (keeping any of the same name the upstream sent).
pub(crate) fn add_response_header(name: &str, value: &str) -> Result<(), Status> {
    hostcalls::add_map_value(MapType::HttpResponseHeaders, name, value)
}

/// Answer the request locally; the request does not go upstream.
pub(crate) fn send_response(
    status: u32,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), Status> {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    hostcalls::send_http_response(status, headers, Some(body))
}

/// Define a counter; returns its id.
pub(crate) fn define_counter(name: &str) -> Result<u32, Status> {
    hostcalls::define_metric(MetricType::Counter, name)
}

/// Add one to a counter; failures are ignored (metrics never change a decision).
pub(crate) fn increment(metric_id: u32) {
    add_counter(metric_id, 1);
}

/// Add `count` to a counter; failures are ignored (metrics never change a decision).
pub(crate) fn add_counter(metric_id: u32, count: u64) {
    let _ = hostcalls::increment_metric(metric_id, i64::try_from(count).unwrap_or(i64::MAX));
}

/// Define a gauge; returns its id.
pub(crate) fn define_gauge(name: &str) -> Result<u32, Status> {
    hostcalls::define_metric(MetricType::Gauge, name)
}

/// Add `delta` (may be negative) to a gauge; failures are ignored.
pub(crate) fn add_gauge(metric_id: u32, delta: i64) {
    let _ = hostcalls::increment_metric(metric_id, delta);
}

/// This VM's linear memory in bytes.
pub(crate) fn memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) as u64) * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

/// Whether Envoy would print a line at `level` (so work for it can be skipped otherwise).
pub(crate) fn log_enabled(level: LogLevel) -> bool {
    hostcalls::get_log_level().is_ok_and(|current| current as u32 <= level as u32)
}

/// Set a filter-state property of the current stream (Envoy stores it as `wasm.<name>`).
pub(crate) fn set_property(name: &str, value: &str) -> Result<(), Status> {
    hostcalls::set_property(vec![name], Some(value.as_bytes()))
}

/// Set a gauge; failures are ignored.
pub(crate) fn set_gauge(metric_id: u32, value: u64) {
    let _ = hostcalls::record_metric(metric_id, value);
}

/// Ask for `on_tick` every `ms` milliseconds (0: never).
pub(crate) fn set_tick_period_ms(ms: u64) -> Result<(), Status> {
    hostcalls::set_tick_period(std::time::Duration::from_millis(ms))
}

/// A property of the stream or connection (e.g. `connection.sha256_peer_certificate_digest`);
/// None when Envoy has no value for it.
pub(crate) fn property(path: &[&str]) -> Option<Vec<u8>> {
    hostcalls::get_property(path.to_vec()).ok().flatten()
}

/// Shared data (all VMs of the process): value and compare-and-swap token.
pub(crate) fn shared_data(key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), Status> {
    hostcalls::get_shared_data(key)
}

/// Write shared data if `cas` still matches (None: unconditionally).
/// `Err(Status::CasMismatch)` when another VM wrote in between.
pub(crate) fn set_shared_data(key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
    hostcalls::set_shared_data(key, Some(value), cas)
}

/// Send an HTTP request to `cluster` (with `body` unless it is empty); returns the call's
/// token.
pub(crate) fn http_call(
    cluster: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout_ms: u64,
) -> Result<u32, Status> {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    hostcalls::dispatch_http_call(
        cluster,
        headers,
        (!body.is_empty()).then_some(body),
        Vec::new(),
        std::time::Duration::from_millis(timeout_ms),
    )
}

/// A header of the HTTP call response being delivered.
pub(crate) fn http_call_header(name: &str) -> Option<String> {
    hostcalls::get_map_value(MapType::HttpCallResponseHeaders, name)
        .ok()
        .flatten()
}

/// Define a histogram; returns its id.
pub(crate) fn define_histogram(name: &str) -> Result<u32, Status> {
    hostcalls::define_metric(MetricType::Histogram, name)
}

/// Record one value in a histogram; failures are ignored.
pub(crate) fn record(metric_id: u32, value: u64) {
    let _ = hostcalls::record_metric(metric_id, value);
}

/// `:status` of the HTTP call response being delivered (None if absent or unparsable).
pub(crate) fn http_call_status() -> Option<u32> {
    hostcalls::get_map_value(MapType::HttpCallResponseHeaders, ":status")
        .ok()
        .flatten()
        .and_then(|s| s.parse().ok())
}

/// The first `size` bytes of the HTTP call response body being delivered.
pub(crate) fn http_call_body(size: usize) -> Result<Vec<u8>, Status> {
    Ok(hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, size)?.unwrap_or_default())
}

/// Current host time in milliseconds since the epoch (0 if unavailable).
pub(crate) fn now_millis() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t: SystemTime| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Make `context_id` the context later host calls act on (resuming a paused request).
pub(crate) fn set_effective_context(context_id: u32) -> Result<(), Status> {
    hostcalls::set_effective_context(context_id)
}

/// Let the paused request of the effective context go on upstream.
pub(crate) fn resume_request() -> Result<(), Status> {
    hostcalls::resume_http_request()
}
