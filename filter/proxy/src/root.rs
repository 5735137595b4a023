//! Root context: configuration and what all requests of this VM share.

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};
use tollgate_core::remote::Waiter;
use tollgate_core::Engine;

use crate::host;
use crate::http::{self, TollgateHttp};
use crate::keys::{RemoteKeys, TICK_MS};
use crate::metrics::Metrics;

/// What the root context and its HTTP contexts share: the compiled configuration with
/// its verified-token cache, the counter ids, and the remote key fetching.
pub struct Shared {
    pub engine: Engine,
    pub metrics: Metrics,
    pub remote: RemoteKeys,
    /// This VM's shared queue: a request that decided a key fetch is due rings it, and the
    /// root context dispatches the fetch (`on_queue_ready`). None when nothing is remote.
    pub doorbell: Option<u32>,
}

impl Shared {
    /// Ask the root context to dispatch the fetches a request decided on. Without a
    /// doorbell (or if ringing fails) the next tick sends them, within a second.
    pub fn ring(&self) {
        if !self.remote.has_pending() {
            return;
        }
        if let Some(id) = self.doorbell {
            if let Err(status) = host::enqueue(id, b"fetch") {
                host::log(
                    LogLevel::Warn,
                    &format!("tollgate: cannot ring the fetch doorbell ({status:?}); the next tick sends the fetch"),
                );
            }
        }
    }
}

pub struct TollgateRoot {
    context_id: u32,
    /// None until a configuration was accepted.
    shared: Option<Rc<RefCell<Shared>>>,
}

impl TollgateRoot {
    pub fn new(context_id: u32) -> Self {
        Self {
            context_id,
            shared: None,
        }
    }

    /// This VM's doorbell queue for the current root context (named after the VM's random
    /// worker id so that the worker VMs of a process never share one). None if the host
    /// refuses; fetches then wait for the next tick.
    fn doorbell(&self) -> Option<u32> {
        static VM_TAG: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let tag = VM_TAG.get_or_init(crate::keys::worker_id);
        let name = format!("tollgate.fetch.{tag:016x}");
        match host::register_queue(&name) {
            Ok(id) => Some(id),
            Err(status) => {
                host::log(
                    LogLevel::Warn,
                    &format!(
                        "tollgate: no fetch doorbell ({status:?}); key fetches wait for the timer"
                    ),
                );
                None
            }
        }
    }

    /// Build the engine and counters from `config`; the error is the log line.
    fn configure(config: &[u8]) -> Result<Shared, String> {
        let engine = Engine::from_json(config)
            .map_err(|e| format!("tollgate: invalid configuration: {e}"))?;
        let metrics = Metrics::define(&engine.provider_names()).map_err(|(name, status)| {
            format!("tollgate: cannot define metric {name}: host returned {status:?}")
        })?;
        let remote = RemoteKeys::new(&engine)?;
        Ok(Shared {
            engine,
            metrics,
            remote,
            doorbell: None,
        })
    }
}

/// Decide the requests that waited for keys, now that their fetch ended or their wait ran
/// out: each is answered or let through (it does not wait a second time).
fn resume(shared: &mut Shared, waiters: Vec<Waiter>, caller: u32) {
    if waiters.is_empty() {
        return;
    }
    for waiter in waiters {
        if let Err(status) = host::set_effective_context(waiter.context_id) {
            // The request is gone (the client closed it).
            host::log(
                LogLevel::Debug,
                &format!(
                    "tollgate: [{}] cannot resume: {status:?}",
                    waiter.context_id
                ),
            );
            continue;
        }
        http::process(shared, waiter.context_id, false, true);
    }
    // Later host calls of this callback act on the context it was called for again.
    let _ = host::set_effective_context(caller);
}

/// The answer to one of our key fetches. The SDK delivers it to the context that was
/// active when the call was dispatched: the root context (timer, start) or the HTTP
/// context of the request that triggered it; both end up here.
pub fn on_fetch_answer(
    shared: &RefCell<Shared>,
    caller: u32,
    token: u32,
    num_headers: usize,
    body_size: usize,
) {
    let Ok(mut shared) = shared.try_borrow_mut() else {
        return;
    };
    let Shared { engine, remote, .. } = &mut *shared;
    let now = host::now_seconds();
    match remote.on_response(engine, token, num_headers, body_size, now) {
        Some(mut waiters) => {
            // Discovery answered: the JWKS request is sent from here, the root context.
            waiters.extend(remote.flush(now));
            resume(&mut shared, waiters, caller);
        }
        None => host::log(
            LogLevel::Debug,
            &format!("tollgate: answer to an unknown call {token} ignored"),
        ),
    }
}

/// The doorbell rang (or the timer fired): send the fetches requests decided on.
fn flush_fetches(shared: &RefCell<Shared>, caller: u32) {
    let Ok(mut shared) = shared.try_borrow_mut() else {
        return;
    };
    let released = shared.remote.flush(host::now_seconds());
    resume(&mut shared, released, caller);
}

impl Context for TollgateRoot {
    /// Every key fetch is dispatched by the root context, so every answer arrives here.
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        if let Some(shared) = &self.shared {
            on_fetch_answer(shared, self.context_id, token_id, num_headers, body_size);
        }
    }
}

impl RootContext for TollgateRoot {
    fn on_tick(&mut self) {
        let Some(shared) = &self.shared else { return };
        let Ok(mut shared) = shared.try_borrow_mut() else {
            return;
        };
        let now = host::now_seconds();
        let Shared { engine, remote, .. } = &mut *shared;
        remote.tick(engine, now);
        let mut due = remote.flush(now);
        due.extend(remote.due_waiters(now, host::now_millis()));
        resume(&mut shared, due, self.context_id);
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        host::drain_queue(queue_id);
        if let Some(shared) = &self.shared {
            flush_fetches(shared, self.context_id);
        }
    }

    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        true
    }

    /// Parse and check the whole configuration once. On error, log the field at critical
    /// level and return false: Envoy then refuses to load the plugin. A rejected
    /// reconfiguration leaves the previous, valid one in place.
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let configured = host::plugin_configuration()
            .map_err(|status| {
                format!("tollgate: cannot read the plugin configuration: host returned {status:?}")
            })
            .and_then(|config| Self::configure(&config));
        match configured {
            Ok(mut shared) => {
                if !shared.remote.is_empty() {
                    shared.doorbell = self.doorbell();
                }
                let providers = shared.engine.provider_names().join(", ");
                host::log(
                    LogLevel::Info,
                    &format!(
                        "tollgate: configured: version {}, root context {}, providers: {providers}",
                        env!("CARGO_PKG_VERSION"),
                        self.context_id
                    ),
                );
                // Remote key sets: a timer drives the fetches; the first one starts now.
                let period = if shared.remote.is_empty() { 0 } else { TICK_MS };
                if let Err(status) = host::set_tick_period_ms(period) {
                    host::log(
                        LogLevel::Critical,
                        &format!("tollgate: cannot set the timer: host returned {status:?}"),
                    );
                    return false;
                }
                let shared = Rc::new(RefCell::new(shared));
                // Requests paused under the previous configuration would never be resumed
                // by the new one: decide them now, under the configuration they started with.
                if let Some(old) = self.shared.replace(shared) {
                    if let Ok(mut old) = old.try_borrow_mut() {
                        let waiters = old.remote.take_all_waiters();
                        resume(&mut old, waiters, self.context_id);
                    }
                }
                // Keys other workers already fetched are used at once, but nothing is
                // fetched here: Envoy configures (and at once discards) an extra VM while it
                // loads a configuration, and a fetch started there would hold the fetch lease
                // for a VM that no longer exists, keeping the first requests waiting for the
                // whole lease. The first fetch starts on the first tick, or with the first
                // request that needs the keys.
                if let Some(shared) = &self.shared {
                    if let Ok(mut shared) = shared.try_borrow_mut() {
                        let Shared { engine, remote, .. } = &mut *shared;
                        remote.adopt_all(engine, host::now_seconds());
                    }
                }
                true
            }
            Err(line) => {
                host::log(LogLevel::Critical, &line);
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(TollgateHttp::new(context_id, self.shared.clone())))
    }
}
