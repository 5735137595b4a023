//! The benchmark's floor: a proxy-wasm HTTP filter that makes the same host calls as
//! tollgate's allow path on a verified-token cache hit, and nothing else.
//!
//! Per request it runs a fixed list of steps (see [`steps`] for the vocabulary and
//! [`steps::DEFAULT_STEPS`] for the default list), each one host call, then returns
//! `Continue`. No token is looked at, nothing is hashed or parsed. What tollgate costs above
//! this filter is the work of its own code; what this filter costs above "no filter" is the
//! price of running a Wasm filter in Envoy and of those host calls, which no filter making
//! them can avoid.
//!
//! The step list is the plugin configuration (empty: the default list), so the floor can be
//! aligned with tollgate's hot path by editing [`steps::DEFAULT_STEPS`] or the benchmark's
//! Envoy config (`envoy/bench/floor.yaml`). A list that does not parse is logged at critical
//! level and the plugin refuses to start.
//!
//! Not shipped, so `scripts/build.sh` leaves it out; the benchmark and its tests build it
//! (`tests/perf/bench/floor.mjs`):
//! `cargo build -p tollgate-bench-floor --target wasm32-wasip1 --release`.

pub mod steps;

use std::hint::black_box;
use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType, Status};

use steps::Step;

/// A step with its counter resolved to the id the host gave it.
#[derive(Debug)]
enum Op {
    ReadHeaders,
    Time,
    Remove(String),
    Set(String, String),
    Count(u32),
    ReadHeader(String),
    Property(Vec<String>),
    SharedData(String),
    Noop,
}

/// Define the counters the steps name (once per distinct name) and resolve them.
fn compile(steps: Vec<Step>) -> Result<Vec<Op>, String> {
    let mut defined: Vec<(String, u32)> = Vec::new();
    let mut ops = Vec::with_capacity(steps.len());
    for step in steps {
        ops.push(match step {
            Step::ReadHeaders => Op::ReadHeaders,
            Step::Time => Op::Time,
            Step::Remove(name) => Op::Remove(name),
            Step::Set(name, value) => Op::Set(name, value),
            Step::ReadHeader(name) => Op::ReadHeader(name),
            Step::Property(path) => Op::Property(path.split('.').map(str::to_owned).collect()),
            Step::SharedData(key) => Op::SharedData(key),
            Step::Noop => Op::Noop,
            Step::Count(name) => {
                let id = match defined.iter().find(|(n, _)| *n == name) {
                    Some((_, id)) => *id,
                    None => {
                        let id = hostcalls::define_metric(MetricType::Counter, &name).map_err(
                            |status| {
                                format!("cannot define counter {name}: host returned {status:?}")
                            },
                        )?;
                        defined.push((name, id));
                        id
                    }
                };
                Op::Count(id)
            }
        });
    }
    Ok(ops)
}

fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// Run the steps; the first host error ends the request with a 503 (so a benchmark sees it as
/// a non-2xx answer instead of a floor that silently did less).
fn run(ops: &[Op]) -> Result<(), (&'static str, Status)> {
    for op in ops {
        match op {
            // black_box: the decoded headers and the time are "used", as tollgate uses them.
            Op::ReadHeaders => {
                black_box(
                    hostcalls::get_map_bytes(MapType::HttpRequestHeaders)
                        .map_err(|s| ("headers", s))?,
                );
            }
            Op::Time => {
                black_box(hostcalls::get_current_time().map_err(|s| ("time", s))?);
            }
            Op::Remove(name) => hostcalls::remove_map_value(MapType::HttpRequestHeaders, name)
                .map_err(|s| ("remove", s))?,
            Op::Set(name, value) => {
                hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value))
                    .map_err(|s| ("set", s))?
            }
            Op::Count(id) => hostcalls::increment_metric(*id, 1).map_err(|s| ("count", s))?,
            Op::ReadHeader(name) => {
                black_box(
                    hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, name)
                        .map_err(|s| ("header", s))?,
                );
            }
            // A property Envoy does not have is not an error here: the call was made.
            Op::Property(path) => {
                black_box(hostcalls::get_property(path.iter().map(String::as_str).collect()).ok());
            }
            Op::SharedData(key) => {
                black_box(hostcalls::get_shared_data(key).map_err(|s| ("shared", s))?);
            }
            Op::Noop => {}
        }
    }
    Ok(())
}

struct FloorRoot {
    ops: Option<Rc<[Op]>>,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let config = match hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX) {
            Ok(config) => config.unwrap_or_default(),
            Err(status) => {
                log(
                    LogLevel::Critical,
                    &format!(
                        "floor: cannot read the plugin configuration: host returned {status:?}"
                    ),
                );
                return false;
            }
        };
        let compiled = steps::parse_config(&config)
            .map_err(|e| format!("floor: invalid step list: {e}"))
            .and_then(|steps| compile(steps).map_err(|e| format!("floor: {e}")));
        match compiled {
            Ok(ops) => {
                log(
                    LogLevel::Info,
                    &format!("floor: configured, per request: {ops:?}"),
                );
                self.ops = Some(ops.into());
                true
            }
            Err(line) => {
                log(LogLevel::Critical, &line);
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(FloorHttp {
            ops: self.ops.clone(),
        }))
    }
}

struct FloorHttp {
    ops: Option<Rc<[Op]>>,
}

impl Context for FloorHttp {}

impl HttpContext for FloorHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(ops) = &self.ops else {
            return unavailable("no valid step list");
        };
        match run(ops) {
            Ok(()) => Action::Continue,
            Err((step, status)) => unavailable(&format!("host call {step} failed: {status:?}")),
        }
    }
}

fn unavailable(why: &str) -> Action {
    log(LogLevel::Error, &format!("floor: {why}"));
    let _ = hostcalls::send_http_response(503, vec![], Some(b"floor filter failed\n"));
    Action::Pause
}

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_context_id| Box::new(FloorRoot { ops: None }));
}}
