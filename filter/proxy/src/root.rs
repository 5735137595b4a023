//! Root context: a thin adapter. Configuration (engine, metrics, key fetching, signature
//! path), the timer, the fetch doorbell and the answers to key fetches.

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};
use tollgate_core::Engine;

use crate::flow;
use crate::host;
use crate::http::TollgateHttp;
use crate::keys::{self, TICK_MS};

use crate::metrics::{Metrics, FLUSH_MS};
use crate::shared::Shared;
use crate::signatures;

pub(crate) struct TollgateRoot {
    context_id: u32,
    /// None until a configuration was accepted.
    shared: Option<Rc<RefCell<Shared>>>,
}

impl TollgateRoot {
    pub(crate) fn new(context_id: u32) -> Self {
        Self {
            context_id,
            shared: None,
        }
    }

    /// Build the engine, counters and signature path from `config`; the error is the log
    /// line. Returns the shared state and the line saying which signature path is used.
    fn configure(config: &[u8]) -> Result<(Shared, String), String> {
        // Secrets written as {"env": NAME} come from the VM's environment (Envoy's
        // `vm_config.environment_variables`, Istio's `vmConfig.env`), read through WASI.
        let env = |name: &str| std::env::var(name).ok();
        let mut engine = Engine::from_json_with_env(config, keys::cache_secret(), &env)
            .map_err(|e| format!("invalid configuration: {e}"))?;
        let (verifiers, signature_line) = signatures::choose(engine.config().signature_path)?;
        let metrics = Metrics::define(
            &engine.config().stat_prefix,
            &engine.provider_names(),
            verifiers.host_algorithms().len(),
        )
        .map_err(|(name, status)| {
            format!("cannot define metric {name}: host returned {status:?}")
        })?;
        engine.set_verifiers(verifiers);
        engine.set_explain(host::log_enabled(LogLevel::Debug));
        let (outbound, keys) = keys::new(&engine)?;
        Ok((
            Shared {
                engine,
                metrics,
                outbound,
                keys,
                doorbell: None,
                response_nonces: Default::default(),
            },
            signature_line,
        ))
    }

    /// This VM's doorbell queue for the current root context (named after a random tag of
    /// the VM, so the worker VMs of a process never share one). None if the host refuses;
    /// fetches then wait for the next tick.
    fn doorbell(&self) -> Option<u32> {
        static VM_TAG: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let tag = VM_TAG.get_or_init(keys::worker_id);
        let name = format!("tollgate.fetch.{tag:016x}");
        match host::register_queue(&name) {
            Ok(id) => Some(id),
            Err(status) => {
                host::log(
                    LogLevel::Warn,
                    &format!("no fetch doorbell ({status:?}); key fetches wait for the timer"),
                );
                None
            }
        }
    }

    fn shared(&self) -> Option<std::cell::RefMut<'_, Shared>> {
        self.shared.as_ref()?.try_borrow_mut().ok()
    }
}

impl Context for TollgateRoot {
    /// Every key fetch and introspection call is dispatched by the root context, so every
    /// answer arrives here.
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let caller = self.context_id;
        let Some(mut shared) = self.shared() else {
            return;
        };
        let Shared {
            engine,
            outbound,
            keys,
            ..
        } = &mut *shared;
        let Some(limit) = outbound.body_limit(token_id) else {
            host::log(
                LogLevel::Debug,
                &format!("answer to an unknown call {token_id} ignored"),
            );
            return;
        };
        let (status, body) = keys::read_answer(num_headers, body_size, limit);
        let response = keys::response(status, body_size, &body);
        let max_age = keys::max_age();
        let now = host::now_seconds();
        let mut waiters = outbound
            .on_answer(
                keys,
                engine,
                token_id,
                &response,
                max_age,
                now,
                host::now_millis(),
            )
            .unwrap_or_default();
        // Discovery answered: the JWKS request is sent from here, the root context.
        waiters.extend(outbound.flush(keys, now));
        flow::resume(&mut shared, waiters, caller);
    }
}

impl RootContext for TollgateRoot {
    fn on_tick(&mut self) {
        let caller = self.context_id;
        let Some(mut shared) = self.shared() else {
            return;
        };
        let now = host::now_seconds();
        shared.metrics.flush();
        shared.metrics.report_memory(host::memory_bytes());
        let Shared {
            engine,
            outbound,
            keys,
            ..
        } = &mut *shared;
        // Debug logging may have been switched on or off (Envoy's /logging).
        engine.set_explain(host::log_enabled(LogLevel::Debug));
        outbound.tick(keys, engine, now);
        let mut due = outbound.flush(keys, now);
        due.extend(outbound.due_waiters(keys, now, host::now_millis()));
        flow::resume(&mut shared, due, caller);
    }

    /// The doorbell: a request decided that a key fetch is due; send it from here.
    fn on_queue_ready(&mut self, queue_id: u32) {
        host::drain_queue(queue_id);
        let caller = self.context_id;
        let Some(mut shared) = self.shared() else {
            return;
        };
        let Shared { outbound, keys, .. } = &mut *shared;
        let released = outbound.flush(keys, host::now_seconds());
        flow::resume(&mut shared, released, caller);
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
                format!("cannot read the plugin configuration: host returned {status:?}")
            })
            .and_then(|config| Self::configure(&config));
        let (mut shared, signature_line) = match configured {
            Ok(configured) => configured,
            Err(line) => {
                host::log(LogLevel::Critical, &line);
                return false;
            }
        };
        if !shared.outbound.is_empty() {
            shared.doorbell = self.doorbell();
        }
        // The DPoP replay store's bucket secret, shared by the VMs of this process. Without
        // it DPoP requests get 503 (and the next one tries to create it again).
        if let Err(status) = crate::environment::ensure_replay_secret() {
            host::log(
                LogLevel::Error,
                &format!("cannot create the DPoP replay store's secret: host returned {status:?}"),
            );
        }
        host::log(
            LogLevel::Info,
            &format!(
                "configured: version {}, root context {}, providers: {}; {signature_line}",
                env!("CARGO_PKG_VERSION"),
                self.context_id,
                shared.engine.provider_names().join(", ")
            ),
        );
        // The timer hands the counted requests to Envoy's counters, drives remote key
        // fetches (every second) and reports the memory gauge.
        let period = FLUSH_MS.min(TICK_MS);
        shared.metrics.report_memory(host::memory_bytes());
        if let Err(status) = host::set_tick_period_ms(period) {
            host::log(
                LogLevel::Critical,
                &format!("cannot set the timer: host returned {status:?}"),
            );
            return false;
        }
        // Requests paused under the previous configuration would never be resumed by the
        // new one: decide them now, under the configuration they started with.
        if let Some(old) = self.shared.replace(Rc::new(RefCell::new(shared))) {
            if let Ok(mut old) = old.try_borrow_mut() {
                old.metrics.retire();
                let waiters = old.outbound.take_all_waiters();
                flow::resume(&mut old, waiters, self.context_id);
            }
        }
        // Keys other workers already fetched are used at once, but nothing is fetched here:
        // Envoy configures (and at once discards) an extra VM while it loads a
        // configuration, and a fetch started there would hold the fetch lease for a VM that
        // no longer exists. The first fetch starts on the first tick, or with the first
        // request that needs the keys.
        if let Some(mut shared) = self.shared() {
            let Shared {
                engine,
                outbound,
                keys,
                ..
            } = &mut *shared;
            outbound.adopt_all(keys, engine, host::now_seconds());
        }
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(TollgateHttp::new(context_id, self.shared.clone())))
    }
}
