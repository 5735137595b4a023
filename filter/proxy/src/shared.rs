//! What the root context and the HTTP contexts of one VM share: the compiled configuration
//! with its verified-token cache, the metric ids, the outbound calls (remote key fetching)
//! and the fetch doorbell. A VM is single-threaded; the contexts hold it in an `Rc<RefCell<…>>`.

use proxy_wasm::types::LogLevel;
use tollgate_core::Engine;

use tollgate_core::remote::Outbound;

use crate::host;
use crate::keys::KeysHost;
use crate::metrics::Metrics;

/// One configuration's state in one VM.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) metrics: Metrics,
    /// The outbound calls (key fetches) and the requests waiting for them.
    pub(crate) outbound: Outbound,
    /// The host those calls go through.
    pub(crate) keys: KeysHost,
    /// This VM's shared queue: a request that decided a key fetch is due rings it, and the
    /// root context dispatches the fetch (`on_queue_ready`). None when nothing is remote.
    pub(crate) doorbell: Option<u32>,
    /// Fresh DPoP server nonces for the responses of allowed requests, by HTTP context
    /// (see [`crate::guidance`]).
    pub(crate) response_nonces: std::collections::HashMap<u32, String>,
}

impl Shared {
    /// Ask the root context to dispatch the fetches a request decided on. Without a
    /// doorbell (or if ringing fails) the next tick sends them, within a second.
    pub(crate) fn ring(&self) {
        if !self.outbound.has_pending() {
            return;
        }
        if let Some(id) = self.doorbell {
            if let Err(status) = host::enqueue(id, b"fetch") {
                host::log(
                    LogLevel::Warn,
                    &format!("cannot ring the fetch doorbell ({status:?}); the next tick sends the fetch"),
                );
            }
        }
    }
}
