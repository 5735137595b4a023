//! Per-VM host state: what the filter can read (configuration, headers, properties) and
//! what it did (logs, header mutations, local responses, callouts, ...).

use std::collections::{BTreeMap, BTreeSet};

use wasmtime_wasi::p1::WasiP1Ctx;

use crate::abi::{Header, LogLevel, MapType};
use crate::process::Process;

/// One line the filter logged through `proxy_log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub level: LogLevel,
    pub message: String,
    /// The context current when the filter logged (None: outside any callback).
    pub context_id: Option<u32>,
}

/// A local response sent with `proxy_send_local_response`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub details: String,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    pub grpc_status: i32,
}

impl LocalResponse {
    /// First value of header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// Number of headers named `name` (case-insensitive).
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A change the filter made to a header map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderMutation {
    Add {
        map: MapType,
        name: String,
        value: Vec<u8>,
    },
    Replace {
        map: MapType,
        name: String,
        value: Vec<u8>,
    },
    Remove {
        map: MapType,
        name: String,
    },
    SetAll {
        map: MapType,
        pairs: Vec<Header>,
    },
}

/// A callout the filter dispatched with `proxy_http_call`, waiting for the test to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall {
    pub token: u32,
    /// Context that was current when the call was dispatched.
    pub context_id: u32,
    pub upstream: String,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    pub trailers: Vec<Header>,
    pub timeout_ms: u32,
}

impl HttpCall {
    /// First value of header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// The answer to an HTTP callout, readable by the filter during `proxy_on_http_call_response`.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallResponse {
    pub(crate) headers: Vec<Header>,
    pub(crate) body: Vec<u8>,
    pub(crate) trailers: Vec<Header>,
}

/// One context (root or stream) as the host tracks it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContextState {
    /// 0 for a root context, otherwise the root it belongs to.
    pub(crate) root_id: u32,
    pub(crate) request_headers: Vec<Header>,
    /// The request body Envoy holds for the filter: what arrived since the last body
    /// callback that let data through (`StopIterationAndBuffer` keeps it growing).
    pub(crate) request_body: Vec<u8>,
    /// The request body bytes let through to the upstream so far, in order.
    pub(crate) forwarded_body: Vec<u8>,
    pub(crate) request_trailers: Vec<Header>,
    pub(crate) response_headers: Vec<Header>,
    pub(crate) mutations: Vec<HeaderMutation>,
    pub(crate) local_response: Option<LocalResponse>,
    /// Stream types (0 request, 1 response) the filter resumed with `proxy_continue_stream`.
    pub(crate) continued: Vec<u32>,
    /// Tick period requested by a root context (ms, 0 = off).
    pub(crate) tick_period_ms: u32,
    /// Filter state the stream wrote with `proxy_set_property`, under the names Envoy
    /// gives it (`wasm.` + the property path).
    pub(crate) filter_state: BTreeMap<String, Vec<u8>>,
}

impl ContextState {
    pub(crate) fn map(&self, map: MapType) -> Option<&Vec<Header>> {
        match map {
            MapType::HttpRequestHeaders => Some(&self.request_headers),
            MapType::HttpRequestTrailers => Some(&self.request_trailers),
            MapType::HttpResponseHeaders => Some(&self.response_headers),
            _ => None,
        }
    }

    pub(crate) fn map_mut(&mut self, map: MapType) -> Option<&mut Vec<Header>> {
        match map {
            MapType::HttpRequestHeaders => Some(&mut self.request_headers),
            MapType::HttpRequestTrailers => Some(&mut self.request_trailers),
            MapType::HttpResponseHeaders => Some(&mut self.response_headers),
            _ => None,
        }
    }
}

/// A shared queue registered by this VM (`proxy_register_shared_queue`). Queues are
/// modelled per VM: a VM enqueues onto the queues it registered itself, which is all the
/// filter does (its fetch doorbell).
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedQueue {
    pub(crate) name: String,
    /// The root context that registered it: it gets `proxy_on_queue_ready`.
    pub(crate) root_id: u32,
    pub(crate) items: std::collections::VecDeque<Vec<u8>>,
}

/// Everything the host keeps for one VM (the wasmtime `Store` data).
pub(crate) struct HostState {
    pub(crate) wasi: WasiP1Ctx,
    pub(crate) process: Process,
    pub(crate) vm_configuration: Vec<u8>,
    pub(crate) plugin_configuration: Vec<u8>,
    pub(crate) properties: BTreeMap<Vec<String>, Vec<u8>>,
    pub(crate) logs: Vec<LogRecord>,
    pub(crate) contexts: BTreeMap<u32, ContextState>,
    /// The context the current callback runs in (host calls act on it).
    pub(crate) current: Option<u32>,
    pub(crate) http_calls: Vec<HttpCall>,
    pub(crate) next_http_call_token: u32,
    /// Set only while `proxy_on_http_call_response` runs.
    pub(crate) call_response: Option<CallResponse>,
    /// Contexts that called `proxy_done`.
    pub(crate) done_calls: Vec<Option<u32>>,
    /// Contexts whose `proxy_on_done` returned false (waiting for `proxy_done`).
    pub(crate) pending_done: BTreeSet<u32>,
    /// Clusters `proxy_http_call` may target; None = any.
    pub(crate) known_clusters: Option<BTreeSet<String>>,
    /// Upstreams of callouts refused with BAD_ARGUMENT.
    pub(crate) refused_http_calls: Vec<String>,
    /// Shared queues by token.
    pub(crate) queues: BTreeMap<u32, SharedQueue>,
    /// Queue tokens whose root context is owed `proxy_on_queue_ready` (Envoy posts it to
    /// the worker's event loop: it runs after the current callback has returned).
    pub(crate) queue_ready: Vec<u32>,
    /// Whether `verify_signature` exists (Envoy has it; other hosts may not).
    pub(crate) verify_signature_offered: bool,
    /// Answer every `verify_signature` call with this instead of checking (a broken host).
    pub(crate) verify_signature_forced: Option<bool>,
    /// `verify_signature` calls so far.
    pub(crate) verify_signature_calls: u64,
    /// The host's log level: lines below it are dropped, as Envoy drops them.
    pub(crate) log_level: LogLevel,
}

impl HostState {
    pub(crate) fn new(wasi: WasiP1Ctx, process: Process) -> Self {
        Self {
            wasi,
            process,
            vm_configuration: Vec::new(),
            plugin_configuration: Vec::new(),
            properties: BTreeMap::new(),
            logs: Vec::new(),
            contexts: BTreeMap::new(),
            current: None,
            http_calls: Vec::new(),
            next_http_call_token: 1,
            call_response: None,
            done_calls: Vec::new(),
            pending_done: BTreeSet::new(),
            known_clusters: None,
            refused_http_calls: Vec::new(),
            queues: BTreeMap::new(),
            queue_ready: Vec::new(),
            verify_signature_offered: true,
            verify_signature_forced: None,
            verify_signature_calls: 0,
            log_level: LogLevel::Trace,
        }
    }
}
