//! Loading the built filter and driving it through the proxy-wasm callbacks the way Envoy
//! does: create the root context, start the VM, configure the plugin, then one stream
//! context per request.

use std::path::{Path, PathBuf};

use wasmtime::{
    bail, format_err, Config, Engine, Extern, Instance, Linker, Module, OptLevel, Result, Store,
    WasmParams, WasmResults,
};
use wasmtime_wasi::WasiCtxBuilder;

use crate::abi::{Action, Header, LogLevel, MapType};
use crate::imports;
use crate::process::Process;
use crate::state::{
    CallResponse, ContextState, HeaderMutation, HostState, HttpCall, LocalResponse, LogRecord,
};

/// The command that builds the module these tests load.
pub const BUILD_COMMAND: &str = "cargo build -p tollgate-filter --target wasm32-wasip1 --release";

/// Where the built filter is looked for: `$TOLLGATE_FILTER_WASM`, else
/// `<target dir>/wasm32-wasip1/release/tollgate_filter.wasm` (`$CARGO_TARGET_DIR` or the
/// workspace's `target/`).
pub fn filter_wasm_path() -> PathBuf {
    if let Some(path) = std::env::var_os("TOLLGATE_FILTER_WASM") {
        return PathBuf::from(path);
    }
    // Read at run time (cargo test and nextest set CARGO_MANIFEST_DIR): a value baked in
    // at compile time goes stale when checkouts share one target directory.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("..").join("..").join("target"));
    target_dir
        .join("wasm32-wasip1")
        .join("release")
        .join("tollgate_filter.wasm")
}

/// A compiled filter module (compile once, instantiate many VMs).
#[derive(Clone)]
pub struct FilterModule {
    engine: Engine,
    module: Module,
}

impl FilterModule {
    /// Load the built filter from [`filter_wasm_path`]; fails with the build command when
    /// the file is missing.
    pub fn load() -> Result<Self> {
        Self::from_file(&filter_wasm_path())
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| {
            format_err!(
                "cannot read the filter module {} ({e}). Build it first with:\n    {BUILD_COMMAND}\n\
                 (or point TOLLGATE_FILTER_WASM at a built tollgate_filter.wasm)",
                path.display()
            )
        })?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut config = Config::new();
        // The tests measure behaviour, not speed: compile fast.
        config.cranelift_opt_level(OptLevel::None);
        let engine = Engine::new(&config)?;
        let module = Module::new(&engine, bytes)?;
        Ok(Self { engine, module })
    }

    /// Names of the functions the module imports from `env` (the proxy-wasm host calls).
    pub fn host_imports(&self) -> Vec<String> {
        self.module
            .imports()
            .filter(|i| i.module() == "env")
            .map(|i| i.name().to_string())
            .collect()
    }

    /// Names of the functions the module exports.
    pub fn exports(&self) -> Vec<String> {
        self.module
            .exports()
            .map(|e| e.name().to_string())
            .collect()
    }
}

/// One filter VM (one Envoy worker's copy of the plugin) with its host state.
pub struct FilterVm {
    store: Store<HostState>,
    instance: Instance,
    root_id: Option<u32>,
    next_context_id: u32,
    crashed: Option<String>,
    unimplemented: Vec<String>,
    /// Hold `proxy_on_queue_ready` deliveries until [`FilterVm::deliver_queue_ready`].
    hold_queue_ready: bool,
    /// True while posted callbacks are being delivered (they are not nested).
    delivering: bool,
}

impl FilterVm {
    /// A VM in a fresh process (own clock, shared data and metrics).
    pub fn new(module: &FilterModule) -> Result<Self> {
        Self::in_process(module, &Process::new())
    }

    /// A VM in `process`: VMs of one process share clock, shared data and metrics.
    pub fn in_process(module: &FilterModule, process: &Process) -> Result<Self> {
        let wasi = WasiCtxBuilder::new().inherit_stderr().build_p1();
        let mut store = Store::new(&module.engine, HostState::new(wasi, process.clone()));
        let mut linker: Linker<HostState> = Linker::new(&module.engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut HostState| &mut s.wasi)?;
        let implemented = imports::add_to_linker(&mut linker)?;
        let unimplemented =
            imports::link_unimplemented_as_traps(&mut linker, &module.module, &implemented)?;
        let instance = linker.instantiate(&mut store, &module.module)?;

        if instance
            .get_func(&mut store, "proxy_abi_version_0_2_1")
            .is_none()
        {
            bail!("the module does not export proxy_abi_version_0_2_1: not a proxy-wasm ABI 0.2.1 filter");
        }
        let mut vm = Self {
            store,
            instance,
            root_id: None,
            next_context_id: 1,
            crashed: None,
            unimplemented,
            hold_queue_ready: false,
            delivering: false,
        };
        // A reactor runs its constructors (and the SDK's `main!` body) in `_initialize`.
        if vm.has_export("_initialize") {
            vm.call::<(), ()>("_initialize", None, ())?;
            if vm.has_export("main") {
                vm.call::<(u32, u32), u32>("main", None, (0, 0))?;
            }
        } else if vm.has_export("_start") {
            vm.call::<(), ()>("_start", None, ())?;
        }
        Ok(vm)
    }

    fn has_export(&mut self, name: &str) -> bool {
        self.instance.get_func(&mut self.store, name).is_some()
    }

    /// Host functions the module imports that this host traps on if called.
    pub fn unimplemented_imports(&self) -> &[String] {
        &self.unimplemented
    }

    /// Call export `name` with `current` as the context host calls act on.
    fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &str,
        current: Option<u32>,
        params: P,
    ) -> Result<R> {
        if let Some(why) = &self.crashed {
            bail!("the filter VM crashed earlier and cannot be called again: {why}");
        }
        let func = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .map_err(|e| format_err!("filter export {name}: {e}"))?;
        self.store.data_mut().current = current;
        let result = func.call(&mut self.store, params);
        self.store.data_mut().current = None;
        let result = match result {
            // Like Envoy's event loop: callbacks the filter caused (a shared-queue enqueue)
            // run once the current callback has returned.
            Ok(value) if !self.delivering && !self.hold_queue_ready => {
                self.delivering = true;
                let delivered = self.deliver_posted();
                self.delivering = false;
                delivered.map(|()| value)
            }
            other => other,
        };
        result.map_err(|e| {
            let last_logs: Vec<String> = self
                .store
                .data()
                .logs
                .iter()
                .rev()
                .take(5)
                .map(|l| format!("[{:?}] {}", l.level, l.message))
                .collect();
            let why = format!("{name} trapped: {e:?}; last log lines: {last_logs:?}");
            self.crashed = Some(why.clone());
            format_err!("{why}")
        })
    }

    /// Deliver the owed `proxy_on_queue_ready` callbacks, oldest first (bounded, so a filter
    /// that keeps enqueueing from its own callback fails instead of looping).
    fn deliver_posted(&mut self) -> Result<()> {
        for _ in 0..1000 {
            let Some(token) = (!self.store.data().queue_ready.is_empty())
                .then(|| self.store.data_mut().queue_ready.remove(0))
            else {
                return Ok(());
            };
            let Some(root) = self.store.data().queues.get(&token).map(|q| q.root_id) else {
                continue;
            };
            if !self.store.data().contexts.contains_key(&root) {
                continue;
            }
            let func = self
                .instance
                .get_typed_func::<(u32, u32), ()>(&mut self.store, "proxy_on_queue_ready")
                .map_err(|e| format_err!("filter export proxy_on_queue_ready: {e}"))?;
            self.store.data_mut().current = Some(root);
            let result = func.call(&mut self.store, (root, token));
            self.store.data_mut().current = None;
            result?;
        }
        bail!("the filter keeps enqueueing onto its own queue from on_queue_ready")
    }

    /// Hold (true) or release (false) `proxy_on_queue_ready` deliveries. Held ones are
    /// delivered by [`FilterVm::deliver_queue_ready`], or after the next call once released.
    pub fn hold_queue_ready(&mut self, hold: bool) {
        self.hold_queue_ready = hold;
    }

    /// Deliver the held `proxy_on_queue_ready` callbacks now.
    pub fn deliver_queue_ready(&mut self) -> Result<()> {
        if let Some(why) = &self.crashed {
            bail!("the filter VM crashed earlier and cannot be called again: {why}");
        }
        self.delivering = true;
        let result = self.deliver_posted();
        self.delivering = false;
        result.map_err(|e| {
            let why = format!("proxy_on_queue_ready trapped: {e:?}");
            self.crashed = Some(why.clone());
            format_err!("{why}")
        })
    }

    /// Callbacks owed but held (see [`FilterVm::hold_queue_ready`]).
    pub fn queue_ready_owed(&self) -> usize {
        self.store.data().queue_ready.len()
    }

    // ----- configuration the filter can read -------------------------------------------

    pub fn process(&self) -> &Process {
        &self.store.data().process
    }

    /// Set the clock (shared by the VMs of this process).
    pub fn set_time_seconds(&self, unix_seconds: u64) -> Result<()> {
        self.process().set_time_seconds(unix_seconds)
    }

    pub fn advance_seconds(&self, seconds: u64) -> Result<()> {
        self.process().advance_seconds(seconds)
    }

    pub fn set_vm_configuration(&mut self, bytes: &[u8]) {
        self.store.data_mut().vm_configuration = bytes.to_vec();
    }

    /// Offer (default) or withdraw the `verify_signature` foreign function.
    pub fn offer_verify_signature(&mut self, offered: bool) {
        self.store.data_mut().verify_signature_offered = offered;
    }

    /// Make `verify_signature` answer `verdict` for everything (a broken host), or check
    /// again (`None`).
    pub fn force_verify_signature(&mut self, verdict: Option<bool>) {
        self.store.data_mut().verify_signature_forced = verdict;
    }

    /// `verify_signature` calls so far.
    pub fn verify_signature_calls(&self) -> u64 {
        self.store.data().verify_signature_calls
    }

    /// The host's log level (Trace by default); lines below it are dropped.
    pub fn set_log_level(&mut self, level: LogLevel) {
        self.store.data_mut().log_level = level;
    }

    /// Make property `path` readable through `proxy_get_property`.
    pub fn set_property(&mut self, path: &[&str], value: &[u8]) {
        self.store.data_mut().properties.insert(
            path.iter().map(|s| (*s).to_string()).collect(),
            value.to_vec(),
        );
    }

    // ----- lifecycle ---------------------------------------------------------------------

    /// Create the root context, start the VM and configure the plugin with
    /// `plugin_configuration`. Returns whether the plugin accepted its configuration
    /// (false: Envoy would refuse to load it). Errors if the VM itself refuses to start.
    pub fn start(&mut self, plugin_configuration: &[u8]) -> Result<bool> {
        if self.root_id.is_some() {
            bail!("start called twice");
        }
        let root = self.new_context_id();
        self.store
            .data_mut()
            .contexts
            .insert(root, ContextState::default());
        self.root_id = Some(root);
        self.call::<(u32, u32), ()>("proxy_on_context_create", Some(root), (root, 0))?;
        let vm_config_len = len_u32(self.store.data().vm_configuration.len())?;
        let vm_started =
            self.call::<(u32, u32), u32>("proxy_on_vm_start", Some(root), (root, vm_config_len))?;
        if vm_started == 0 {
            bail!("proxy_on_vm_start returned false");
        }
        self.store.data_mut().plugin_configuration = plugin_configuration.to_vec();
        let len = len_u32(plugin_configuration.len())?;
        let configured =
            self.call::<(u32, u32), u32>("proxy_on_configure", Some(root), (root, len))?;
        Ok(configured != 0)
    }

    /// Send a new plugin configuration to the running root context (an Envoy config update).
    pub fn reconfigure(&mut self, plugin_configuration: &[u8]) -> Result<bool> {
        let root = self.root()?;
        self.store.data_mut().plugin_configuration = plugin_configuration.to_vec();
        let len = len_u32(plugin_configuration.len())?;
        let configured =
            self.call::<(u32, u32), u32>("proxy_on_configure", Some(root), (root, len))?;
        Ok(configured != 0)
    }

    pub fn root(&self) -> Result<u32> {
        self.root_id
            .ok_or_else(|| format_err!("the plugin has not been started"))
    }

    fn new_context_id(&mut self) -> u32 {
        let id = self.next_context_id;
        self.next_context_id += 1;
        id
    }

    /// Create an HTTP stream context (one request) under the root context.
    pub fn new_http_context(&mut self) -> Result<u32> {
        let root = self.root()?;
        let id = self.new_context_id();
        self.store.data_mut().contexts.insert(
            id,
            ContextState {
                root_id: root,
                ..ContextState::default()
            },
        );
        self.call::<(u32, u32), ()>("proxy_on_context_create", Some(id), (id, root))?;
        Ok(id)
    }

    /// Deliver request headers to stream `ctx` (values may be text or raw bytes).
    pub fn on_request_headers<N: AsRef<str>, V: AsRef<[u8]>>(
        &mut self,
        ctx: u32,
        headers: &[(N, V)],
        end_of_stream: bool,
    ) -> Result<Action> {
        let raw: Vec<Header> = headers
            .iter()
            .map(|(n, v)| (n.as_ref().to_string(), v.as_ref().to_vec()))
            .collect();
        self.on_request_headers_raw(ctx, raw, end_of_stream)
    }

    /// Deliver request headers with raw (possibly non-UTF-8) values to stream `ctx`.
    pub fn on_request_headers_raw(
        &mut self,
        ctx: u32,
        headers: Vec<Header>,
        end_of_stream: bool,
    ) -> Result<Action> {
        let count = len_u32(headers.len())?;
        self.stream_mut(ctx)?.request_headers = headers;
        let action = self.call::<(u32, u32, u32), u32>(
            "proxy_on_request_headers",
            Some(ctx),
            (ctx, count, u32::from(end_of_stream)),
        )?;
        Action::from_code(action)
    }

    /// Deliver one chunk of the request body to stream `ctx`, as Envoy does: the chunk joins
    /// what the filter kept buffered (`StopIterationAndBuffer`), the callback gets the size of
    /// that whole buffer, and on `Continue` the buffer goes upstream ([`FilterVm::forwarded_body`]).
    pub fn on_request_body(
        &mut self,
        ctx: u32,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<Action> {
        self.stream_mut(ctx)?.request_body.extend_from_slice(chunk);
        let size = len_u32(self.stream(ctx)?.request_body.len())?;
        let code = self.call::<(u32, u32, u32), u32>(
            "proxy_on_request_body",
            Some(ctx),
            (ctx, size, u32::from(end_of_stream)),
        )?;
        let action = Action::from_code(code)?;
        if action == Action::Continue {
            let stream = self.stream_mut(ctx)?;
            let buffered = std::mem::take(&mut stream.request_body);
            stream.forwarded_body.extend_from_slice(&buffered);
        }
        Ok(action)
    }

    /// The request body bytes stream `ctx` let through to the upstream so far.
    pub fn forwarded_body(&self, ctx: u32) -> Result<Vec<u8>> {
        Ok(self.stream(ctx)?.forwarded_body.clone())
    }

    /// Deliver request trailers to stream `ctx`.
    pub fn on_request_trailers(&mut self, ctx: u32, trailers: &[(&str, &str)]) -> Result<Action> {
        let count = len_u32(trailers.len())?;
        self.stream_mut(ctx)?.request_trailers = trailers
            .iter()
            .map(|(n, v)| ((*n).to_string(), v.as_bytes().to_vec()))
            .collect();
        let action =
            self.call::<(u32, u32), u32>("proxy_on_request_trailers", Some(ctx), (ctx, count))?;
        let action = Action::from_code(action)?;
        if action == Action::Continue {
            // The body held back goes upstream with the trailers.
            let stream = self.stream_mut(ctx)?;
            let buffered = std::mem::take(&mut stream.request_body);
            stream.forwarded_body.extend_from_slice(&buffered);
        }
        Ok(action)
    }

    /// The request trailers of stream `ctx` as they would go upstream now.
    pub fn request_trailers(&self, ctx: u32) -> Result<Vec<(String, String)>> {
        Ok(self
            .stream(ctx)?
            .request_trailers
            .iter()
            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect())
    }

    /// Deliver response headers to stream `ctx`.
    pub fn on_response_headers(
        &mut self,
        ctx: u32,
        headers: &[(&str, &str)],
        end_of_stream: bool,
    ) -> Result<Action> {
        let count = len_u32(headers.len())?;
        self.stream_mut(ctx)?.response_headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_string(), v.as_bytes().to_vec()))
            .collect();
        let action = self.call::<(u32, u32, u32), u32>(
            "proxy_on_response_headers",
            Some(ctx),
            (ctx, count, u32::from(end_of_stream)),
        )?;
        Action::from_code(action)
    }

    /// End stream `ctx` as Envoy does: `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`.
    pub fn finish(&mut self, ctx: u32) -> Result<()> {
        let done = self.call::<u32, u32>("proxy_on_done", Some(ctx), ctx)?;
        if done == 0 {
            // The filter will call proxy_done later; this host has no use for that yet.
            self.store.data_mut().pending_done.insert(ctx);
            bail!("proxy_on_done({ctx}) returned false: the stream is not finished");
        }
        if self.has_export("proxy_on_log") {
            self.call::<u32, ()>("proxy_on_log", Some(ctx), ctx)?;
        }
        self.call::<u32, ()>("proxy_on_delete", Some(ctx), ctx)?;
        self.store.data_mut().contexts.remove(&ctx);
        Ok(())
    }

    /// Fire the root context's timer once (as Envoy does every tick period).
    pub fn tick(&mut self) -> Result<()> {
        let root = self.root()?;
        self.call::<u32, ()>("proxy_on_tick", Some(root), root)
    }

    /// The tick period the root context asked for (ms; 0 = none).
    pub fn tick_period_ms(&self) -> Result<u32> {
        let root = self.root()?;
        Ok(self
            .store
            .data()
            .contexts
            .get(&root)
            .map_or(0, |c| c.tick_period_ms))
    }

    /// Restrict `proxy_http_call` to these clusters (others get BAD_ARGUMENT, as in Envoy).
    pub fn set_known_clusters(&mut self, clusters: &[&str]) {
        self.store.data_mut().known_clusters =
            Some(clusters.iter().map(|c| (*c).to_string()).collect());
    }

    /// Upstreams of callouts the host refused (unknown cluster, missing pseudo headers).
    pub fn refused_http_calls(&self) -> &[String] {
        &self.store.data().refused_http_calls
    }

    /// Fail callout `token` (timeout / connection failure): the ABI delivers a response
    /// with no headers and no body.
    pub fn fail_http_call(&mut self, token: u32) -> Result<()> {
        self.deliver_http_call_response(token, CallResponse::default())
    }

    /// Callouts dispatched and not yet answered.
    pub fn pending_http_calls(&self) -> &[HttpCall] {
        &self.store.data().http_calls
    }

    /// Answer callout `token` (headers include `:status`), as Envoy does when the
    /// upstream replies: `proxy_on_http_call_response` on the root context.
    pub fn respond_to_http_call(
        &mut self,
        token: u32,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<()> {
        let response = CallResponse {
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
            trailers: Vec::new(),
        };
        self.deliver_http_call_response(token, response)
    }

    fn deliver_http_call_response(&mut self, token: u32, response: CallResponse) -> Result<()> {
        let pos = self
            .store
            .data()
            .http_calls
            .iter()
            .position(|c| c.token == token)
            .ok_or_else(|| format_err!("no pending HTTP call with token {token}"))?;
        let call = self.store.data_mut().http_calls.remove(pos);
        let num_headers = len_u32(response.headers.len())?;
        let body_size = len_u32(response.body.len())?;
        let root = self.root()?;
        self.store.data_mut().call_response = Some(response);
        let result = self.call::<(u32, u32, u32, u32, u32), ()>(
            "proxy_on_http_call_response",
            Some(root),
            (root, call.token, num_headers, body_size, 0),
        );
        self.store.data_mut().call_response = None;
        result
    }

    // ----- what the filter did -------------------------------------------------------------

    fn stream(&self, ctx: u32) -> Result<&ContextState> {
        self.store
            .data()
            .contexts
            .get(&ctx)
            .ok_or_else(|| format_err!("no context {ctx}"))
    }

    fn stream_mut(&mut self, ctx: u32) -> Result<&mut ContextState> {
        self.store
            .data_mut()
            .contexts
            .get_mut(&ctx)
            .ok_or_else(|| format_err!("no context {ctx}"))
    }

    /// The request headers of stream `ctx` as they would go upstream now (text, lossy).
    pub fn request_headers(&self, ctx: u32) -> Result<Vec<(String, String)>> {
        Ok(self
            .stream(ctx)?
            .request_headers
            .iter()
            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect())
    }

    /// All values of request header `name` on stream `ctx` (case-insensitive).
    pub fn request_header_values(&self, ctx: u32, name: &str) -> Result<Vec<String>> {
        Ok(self
            .request_headers(ctx)?
            .into_iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .collect())
    }

    /// The single value of request header `name`; errors if it occurs more than once.
    pub fn request_header(&self, ctx: u32, name: &str) -> Result<Option<String>> {
        let mut values = self.request_header_values(ctx, name)?;
        match values.len() {
            0 | 1 => Ok(values.pop()),
            n => bail!("request header {name} occurs {n} times"),
        }
    }

    /// Header changes the filter made on stream `ctx`, in order.
    pub fn header_mutations(&self, ctx: u32) -> Result<Vec<HeaderMutation>> {
        Ok(self.stream(ctx)?.mutations.clone())
    }

    /// Request-header changes only.
    pub fn request_header_mutations(&self, ctx: u32) -> Result<Vec<HeaderMutation>> {
        Ok(self
            .header_mutations(ctx)?
            .into_iter()
            .filter(|m| match m {
                HeaderMutation::Add { map, .. }
                | HeaderMutation::Replace { map, .. }
                | HeaderMutation::Remove { map, .. }
                | HeaderMutation::SetAll { map, .. } => *map == MapType::HttpRequestHeaders,
            })
            .collect())
    }

    /// The local response the filter sent on stream `ctx`, if any.
    pub fn local_response(&self, ctx: u32) -> Result<Option<LocalResponse>> {
        Ok(self.stream(ctx)?.local_response.clone())
    }

    /// The filter state stream `ctx` wrote (`wasm.<name>` → value).
    pub fn filter_state(&self, ctx: u32) -> Result<std::collections::BTreeMap<String, String>> {
        Ok(self
            .stream(ctx)?
            .filter_state
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect())
    }

    /// Stream types the filter resumed on `ctx` (0 = request, 1 = response).
    pub fn resumed(&self, ctx: u32) -> Result<Vec<u32>> {
        Ok(self.stream(ctx)?.continued.clone())
    }

    /// Every line logged so far.
    pub fn logs(&self) -> &[LogRecord] {
        &self.store.data().logs
    }

    /// Lines logged at exactly `level`.
    pub fn logs_at(&self, level: LogLevel) -> Vec<String> {
        self.logs()
            .iter()
            .filter(|l| l.level == level)
            .map(|l| l.message.clone())
            .collect()
    }

    /// Forget the log lines captured so far.
    pub fn clear_logs(&mut self) {
        self.store.data_mut().logs.clear();
    }

    /// Value of counter / gauge `name`; None if the filter never defined it.
    pub fn metric(&self, name: &str) -> Result<Option<u64>> {
        Ok(self.process().metric(name)?.map(|m| m.value))
    }

    /// Contexts that called `proxy_done`.
    pub fn done_calls(&self) -> Vec<Option<u32>> {
        self.store.data().done_calls.clone()
    }

    /// Whether an earlier call trapped (the VM is then dead, as in Envoy).
    pub fn crashed(&self) -> Option<&str> {
        self.crashed.as_deref()
    }

    /// Grow check: bytes of linear memory the filter uses now.
    pub fn memory_size(&mut self) -> Result<usize> {
        match self.instance.get_export(&mut self.store, "memory") {
            Some(Extern::Memory(mem)) => Ok(mem.data_size(&self.store)),
            _ => bail!("filter exports no memory"),
        }
    }
}

fn len_u32(len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| format_err!("length {len} does not fit the 32-bit ABI"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_module_fails_fast_with_the_build_command() {
        let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-filter.wasm");
        let message = match FilterModule::from_file(&missing) {
            Ok(_) => panic!("loaded a module that does not exist"),
            Err(e) => format!("{e:?}"),
        };
        assert!(message.contains(BUILD_COMMAND), "{message}");
        assert!(message.contains("TOLLGATE_FILTER_WASM"), "{message}");
    }

    #[test]
    fn default_path_is_the_release_wasm32_wasip1_artefact() {
        if std::env::var_os("TOLLGATE_FILTER_WASM").is_none() {
            let path = filter_wasm_path();
            assert!(
                path.ends_with("wasm32-wasip1/release/tollgate_filter.wasm"),
                "{}",
                path.display()
            );
        }
    }
}
