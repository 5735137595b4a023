//! The `env.proxy_*` host functions of ABI 0.2.1 that this host implements.
//!
//! Strict by default: every other function the module imports from `env` is linked to a
//! trap that names it (see [`link_unimplemented_as_traps`]), so a filter that starts using
//! a host call this host does not model fails its test loudly instead of silently passing.
//! Argument errors that Envoy would answer with a status are answered with that status;
//! misuse that is a filter bug (e.g. reading request headers outside a stream) traps.

use std::collections::BTreeSet;

use wasmtime::{bail, format_err, Caller, Extern, Linker, Memory, Module, Result};

use crate::abi::{
    deserialize_map, deserialize_property_path, serialize_map, BufferType, LogLevel, MapType,
    MetricType, Status,
};
use crate::state::{ContextState, HeaderMutation, HostState, HttpCall, LocalResponse, LogRecord};

type C<'a> = Caller<'a, HostState>;

fn memory(caller: &mut C<'_>) -> Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(mem)) => Ok(mem),
        _ => bail!("filter exports no memory"),
    }
}

fn read_bytes(caller: &mut C<'_>, ptr: u32, len: u32) -> Result<Vec<u8>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let mem = memory(caller)?;
    let mut buf = vec![0u8; len as usize];
    mem.read(&*caller, ptr as usize, &mut buf)
        .map_err(|_| format_err!("filter passed out-of-bounds buffer {ptr}+{len}"))?;
    Ok(buf)
}

fn read_string(caller: &mut C<'_>, ptr: u32, len: u32) -> Result<String> {
    String::from_utf8(read_bytes(caller, ptr, len)?)
        .map_err(|_| format_err!("filter passed a non-UTF-8 string"))
}

fn write_bytes(caller: &mut C<'_>, ptr: u32, bytes: &[u8]) -> Result<()> {
    let mem = memory(caller)?;
    mem.write(&mut *caller, ptr as usize, bytes)
        .map_err(|_| format_err!("filter passed out-of-bounds return pointer {ptr}"))
}

fn write_u32(caller: &mut C<'_>, ptr: u32, value: u32) -> Result<()> {
    write_bytes(caller, ptr, &value.to_le_bytes())
}

/// Copy `bytes` into memory the guest allocates (`proxy_on_memory_allocate`), and store
/// the pointer and size at the guest's return slots. Empty data returns a null pointer.
fn return_bytes(caller: &mut C<'_>, bytes: &[u8], ret_data: u32, ret_size: u32) -> Result<()> {
    let size = u32::try_from(bytes.len()).map_err(|_| format_err!("return value too large"))?;
    let ptr = if bytes.is_empty() {
        0
    } else {
        // `malloc` is the deprecated allocator, used only without proxy_on_memory_allocate.
        let alloc = match caller
            .get_export("proxy_on_memory_allocate")
            .or_else(|| caller.get_export("malloc"))
        {
            Some(Extern::Func(f)) => f.typed::<u32, u32>(&*caller)?,
            _ => bail!("filter exports neither proxy_on_memory_allocate nor malloc"),
        };
        let ptr = alloc.call(&mut *caller, size)?;
        if ptr == 0 {
            bail!("proxy_on_memory_allocate({size}) returned null");
        }
        write_bytes(caller, ptr, bytes)?;
        ptr
    };
    write_u32(caller, ret_data, ptr)?;
    write_u32(caller, ret_size, size)
}

fn current_stream<'s>(state: &'s mut HostState, what: &str) -> Result<&'s mut ContextState> {
    let id = state
        .current
        .ok_or_else(|| format_err!("{what} called outside any context"))?;
    state
        .contexts
        .get_mut(&id)
        .ok_or_else(|| format_err!("{what}: current context {id} does not exist"))
}

fn header_map(state: &mut HostState, map: MapType, what: &str) -> Result<Vec<crate::abi::Header>> {
    match map {
        MapType::HttpCallResponseHeaders => state
            .call_response
            .as_ref()
            .map(|r| r.headers.clone())
            .ok_or_else(|| format_err!("{what}: no HTTP call response is being delivered")),
        MapType::HttpCallResponseTrailers => state
            .call_response
            .as_ref()
            .map(|r| r.trailers.clone())
            .ok_or_else(|| format_err!("{what}: no HTTP call response is being delivered")),
        _ => {
            let ctx = current_stream(state, what)?;
            if ctx.root_id == 0 {
                bail!("{what}({map:?}) called from a root context");
            }
            ctx.map(map)
                .cloned()
                .ok_or_else(|| format_err!("{what}: map {map:?} is not modelled by this host"))
        }
    }
}

/// Apply one mutation to a stream's header map and record it.
fn mutate(state: &mut HostState, what: &str, mutation: HeaderMutation) -> Result<u32> {
    let map = match &mutation {
        HeaderMutation::Add { map, .. }
        | HeaderMutation::Replace { map, .. }
        | HeaderMutation::Remove { map, .. }
        | HeaderMutation::SetAll { map, .. } => *map,
    };
    let ctx = current_stream(state, what)?;
    if ctx.root_id == 0 {
        bail!("{what}({map:?}) called from a root context");
    }
    let headers = ctx
        .map_mut(map)
        .ok_or_else(|| format_err!("{what}: map {map:?} is not modelled by this host"))?;
    match &mutation {
        HeaderMutation::Add { name, value, .. } => {
            headers.push((name.to_ascii_lowercase(), value.clone()));
        }
        HeaderMutation::Replace { name, value, .. } => {
            let name = name.to_ascii_lowercase();
            match headers.iter().position(|(n, _)| *n == name) {
                Some(first) => {
                    let mut index = 0;
                    headers.retain(|(n, _)| {
                        let keep = *n != name || index == first;
                        index += 1;
                        keep
                    });
                    if let Some(slot) = headers.iter_mut().find(|(n, _)| *n == name) {
                        slot.1.clone_from(value);
                    }
                }
                None => headers.push((name, value.clone())),
            }
        }
        HeaderMutation::Remove { name, .. } => {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
        HeaderMutation::SetAll { pairs, .. } => {
            *headers = pairs
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect();
        }
    }
    ctx.mutations.push(mutation);
    Ok(Status::Ok.code())
}

/// Register every implemented host function; returns their names.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> Result<BTreeSet<&'static str>> {
    let mut names = BTreeSet::new();
    let mut reg = |name: &'static str| {
        names.insert(name);
        name
    };

    linker.func_wrap(
        "env",
        reg("proxy_log"),
        |mut caller: C<'_>, level: u32, ptr: u32, len: u32| -> Result<u32> {
            let level = LogLevel::from_code(level)?;
            let message = String::from_utf8_lossy(&read_bytes(&mut caller, ptr, len)?).into_owned();
            if level < caller.data().log_level {
                return Ok(Status::Ok.code());
            }
            let context_id = caller.data().current;
            caller.data_mut().logs.push(LogRecord {
                level,
                message,
                context_id,
            });
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_get_log_level"),
        |mut caller: C<'_>, ret: u32| -> Result<u32> {
            // Trace unless a test lowers it: the tests see everything.
            let level = caller.data().log_level.code();
            write_u32(&mut caller, ret, level)?;
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_get_current_time_nanoseconds"),
        |mut caller: C<'_>, ret: u32| -> Result<u32> {
            let now = caller.data().process.time_nanos()?;
            write_bytes(&mut caller, ret, &now.to_le_bytes())?;
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_set_tick_period_milliseconds"),
        |mut caller: C<'_>, period: u32| -> Result<u32> {
            let ctx = current_stream(caller.data_mut(), "proxy_set_tick_period_milliseconds")?;
            if ctx.root_id != 0 {
                bail!("proxy_set_tick_period_milliseconds called from a stream context");
            }
            ctx.tick_period_ms = period;
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_get_buffer_bytes"),
        |mut caller: C<'_>,
         buffer: u32,
         start: u32,
         max_size: u32,
         ret_data: u32,
         ret_size: u32|
         -> Result<u32> {
            let buffer = BufferType::from_code(buffer)?;
            let state = caller.data();
            let bytes = match buffer {
                BufferType::VmConfiguration => state.vm_configuration.clone(),
                BufferType::PluginConfiguration => state.plugin_configuration.clone(),
                BufferType::HttpRequestBody => match state
                    .current
                    .and_then(|id| state.contexts.get(&id))
                {
                    Some(ctx) if ctx.root_id != 0 => ctx.request_body.clone(),
                    _ => bail!("proxy_get_buffer_bytes(HttpRequestBody) outside a stream context"),
                },
                BufferType::HttpCallResponseBody => match &state.call_response {
                    Some(r) => r.body.clone(),
                    None => bail!(
                        "proxy_get_buffer_bytes(HttpCallResponseBody) outside a callout response"
                    ),
                },
                other => {
                    bail!("proxy_get_buffer_bytes: buffer {other:?} is not modelled by this host")
                }
            };
            let start = start as usize;
            if start > bytes.len() {
                return Ok(Status::BadArgument.code());
            }
            let end = start.saturating_add(max_size as usize).min(bytes.len());
            let slice = bytes.get(start..end).unwrap_or_default().to_vec();
            return_bytes(&mut caller, &slice, ret_data, ret_size)?;
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_get_header_map_pairs"),
        |mut caller: C<'_>, map: u32, ret_data: u32, ret_size: u32| -> Result<u32> {
            let map = MapType::from_code(map)?;
            let pairs = header_map(caller.data_mut(), map, "proxy_get_header_map_pairs")?;
            return_bytes(&mut caller, &serialize_map(&pairs), ret_data, ret_size)?;
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_get_header_map_value"),
        |mut caller: C<'_>,
         map: u32,
         key_ptr: u32,
         key_len: u32,
         ret_data: u32,
         ret_size: u32|
         -> Result<u32> {
            let map = MapType::from_code(map)?;
            let key = read_string(&mut caller, key_ptr, key_len)?;
            let pairs = header_map(caller.data_mut(), map, "proxy_get_header_map_value")?;
            match pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(&key)) {
                Some((_, value)) => {
                    let value = value.clone();
                    return_bytes(&mut caller, &value, ret_data, ret_size)?;
                    Ok(Status::Ok.code())
                }
                None => Ok(Status::NotFound.code()),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_set_header_map_pairs"),
        |mut caller: C<'_>, map: u32, ptr: u32, len: u32| -> Result<u32> {
            let map = MapType::from_code(map)?;
            let pairs = deserialize_map(&read_bytes(&mut caller, ptr, len)?)?;
            mutate(
                caller.data_mut(),
                "proxy_set_header_map_pairs",
                HeaderMutation::SetAll { map, pairs },
            )
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_add_header_map_value"),
        |mut caller: C<'_>, map: u32, kp: u32, kl: u32, vp: u32, vl: u32| -> Result<u32> {
            let map = MapType::from_code(map)?;
            let name = read_string(&mut caller, kp, kl)?;
            let value = read_bytes(&mut caller, vp, vl)?;
            mutate(
                caller.data_mut(),
                "proxy_add_header_map_value",
                HeaderMutation::Add { map, name, value },
            )
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_replace_header_map_value"),
        |mut caller: C<'_>, map: u32, kp: u32, kl: u32, vp: u32, vl: u32| -> Result<u32> {
            let map = MapType::from_code(map)?;
            let name = read_string(&mut caller, kp, kl)?;
            let value = read_bytes(&mut caller, vp, vl)?;
            mutate(
                caller.data_mut(),
                "proxy_replace_header_map_value",
                HeaderMutation::Replace { map, name, value },
            )
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_remove_header_map_value"),
        |mut caller: C<'_>, map: u32, kp: u32, kl: u32| -> Result<u32> {
            let map = MapType::from_code(map)?;
            let name = read_string(&mut caller, kp, kl)?;
            mutate(
                caller.data_mut(),
                "proxy_remove_header_map_value",
                HeaderMutation::Remove { map, name },
            )
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_get_property"),
        |mut caller: C<'_>, pp: u32, pl: u32, ret_data: u32, ret_size: u32| -> Result<u32> {
            let path = deserialize_property_path(&read_bytes(&mut caller, pp, pl)?)?;
            match caller.data().properties.get(&path).cloned() {
                Some(value) => {
                    return_bytes(&mut caller, &value, ret_data, ret_size)?;
                    Ok(Status::Ok.code())
                }
                None => Ok(Status::NotFound.code()),
            }
        },
    )?;

    // Envoy stores what a stream context sets as filter state `wasm.<path>`, readable by
    // RBAC, access logs and other filters. A root context has no stream to store it on.
    linker.func_wrap(
        "env",
        reg("proxy_set_property"),
        |mut caller: C<'_>, pp: u32, pl: u32, vp: u32, vl: u32| -> Result<u32> {
            let path = deserialize_property_path(&read_bytes(&mut caller, pp, pl)?)?;
            let value = read_bytes(&mut caller, vp, vl)?;
            let name = match path.as_slice() {
                [name] if !name.is_empty() => name.clone(),
                _ => bail!("proxy_set_property: path {path:?} is not one filter state name"),
            };
            let ctx = current_stream(caller.data_mut(), "proxy_set_property")?;
            if ctx.root_id == 0 {
                bail!("proxy_set_property called from a root context");
            }
            ctx.filter_state.insert(format!("wasm.{name}"), value);
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_get_shared_data"),
        |mut caller: C<'_>,
         kp: u32,
         kl: u32,
         ret_data: u32,
         ret_size: u32,
         ret_cas: u32|
         -> Result<u32> {
            let key = read_string(&mut caller, kp, kl)?;
            let entry = caller.data().process.lock()?.shared_data.get(&key).cloned();
            match entry {
                Some(entry) => {
                    return_bytes(&mut caller, &entry.value, ret_data, ret_size)?;
                    write_u32(&mut caller, ret_cas, entry.cas)?;
                    Ok(Status::Ok.code())
                }
                None => Ok(Status::NotFound.code()),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_set_shared_data"),
        |mut caller: C<'_>, kp: u32, kl: u32, vp: u32, vl: u32, cas: u32| -> Result<u32> {
            let key = read_string(&mut caller, kp, kl)?;
            let value = read_bytes(&mut caller, vp, vl)?;
            let status = caller.data().process.lock()?.set_shared(&key, &value, cas);
            Ok(status.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_call_foreign_function"),
        |mut caller: C<'_>,
         np: u32,
         nl: u32,
         ap: u32,
         al: u32,
         ret_data: u32,
         ret_size: u32|
         -> Result<u32> {
            let name = read_string(&mut caller, np, nl)?;
            let arguments = read_bytes(&mut caller, ap, al)?;
            let state = caller.data_mut();
            if name != "verify_signature" || !state.verify_signature_offered {
                return Ok(Status::NotFound.code());
            }
            state.verify_signature_calls += 1;
            let answer = match state.verify_signature_forced {
                Some(verdict) => Ok(crate::foreign::encode_result(verdict, "")),
                None => crate::foreign::verify_signature(&arguments),
            };
            match answer {
                Ok(bytes) => {
                    return_bytes(&mut caller, &bytes, ret_data, ret_size)?;
                    Ok(Status::Ok.code())
                }
                Err(status) => Ok(status.code()),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_register_shared_queue"),
        |mut caller: C<'_>, np: u32, nl: u32, ret_token: u32| -> Result<u32> {
            let name = read_string(&mut caller, np, nl)?;
            let state = caller.data_mut();
            let ctx_id = state
                .current
                .ok_or_else(|| format_err!("proxy_register_shared_queue outside any context"))?;
            let root_id = match state.contexts.get(&ctx_id) {
                Some(c) if c.root_id == 0 => ctx_id,
                Some(c) => c.root_id,
                None => bail!("proxy_register_shared_queue: no context {ctx_id}"),
            };
            // As Envoy: registering a name again returns the same queue, now owned by the
            // registering root context, keeping what is queued.
            let existing = state
                .queues
                .iter()
                .find(|(_, q)| q.name == name)
                .map(|(t, _)| *t);
            let token = match existing {
                Some(t) => t,
                None => u32::try_from(state.queues.len() + 1)
                    .map_err(|_| format_err!("too many queues"))?,
            };
            let queue = state.queues.entry(token).or_default();
            queue.name = name;
            queue.root_id = root_id;
            write_u32(&mut caller, ret_token, token)?;
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_enqueue_shared_queue"),
        |mut caller: C<'_>, token: u32, vp: u32, vl: u32| -> Result<u32> {
            let value = read_bytes(&mut caller, vp, vl)?;
            let state = caller.data_mut();
            match state.queues.get_mut(&token) {
                Some(q) => {
                    q.items.push_back(value);
                    state.queue_ready.push(token);
                    Ok(Status::Ok.code())
                }
                None => Ok(Status::NotFound.code()),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_dequeue_shared_queue"),
        |mut caller: C<'_>, token: u32, ret_data: u32, ret_size: u32| -> Result<u32> {
            let item = match caller.data_mut().queues.get_mut(&token) {
                None => return Ok(Status::NotFound.code()),
                Some(q) => q.items.pop_front(),
            };
            match item {
                Some(bytes) => {
                    return_bytes(&mut caller, &bytes, ret_data, ret_size)?;
                    Ok(Status::Ok.code())
                }
                None => Ok(Status::Empty.code()),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_continue_stream"),
        |mut caller: C<'_>, stream: u32| -> Result<u32> {
            let ctx = current_stream(caller.data_mut(), "proxy_continue_stream")?;
            if ctx.root_id == 0 {
                bail!("proxy_continue_stream called from a root context");
            }
            if stream > 1 {
                bail!("proxy_continue_stream: stream type {stream} is not modelled by this host");
            }
            ctx.continued.push(stream);
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_send_local_response"),
        |mut caller: C<'_>,
         status: u32,
         dp: u32,
         dl: u32,
         bp: u32,
         bl: u32,
         hp: u32,
         hl: u32,
         grpc_status: i32|
         -> Result<u32> {
            let details = read_string(&mut caller, dp, dl)?;
            let body = read_bytes(&mut caller, bp, bl)?;
            let headers = deserialize_map(&read_bytes(&mut caller, hp, hl)?)?;
            let ctx = current_stream(caller.data_mut(), "proxy_send_local_response")?;
            if ctx.root_id == 0 {
                bail!("proxy_send_local_response called from a root context");
            }
            if let Some(previous) = &ctx.local_response {
                bail!(
                    "proxy_send_local_response called twice on one stream (first status {})",
                    previous.status
                );
            }
            ctx.local_response = Some(LocalResponse {
                status,
                details,
                headers,
                body,
                grpc_status,
            });
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_http_call"),
        |mut caller: C<'_>,
         up: u32,
         ul: u32,
         hp: u32,
         hl: u32,
         bp: u32,
         bl: u32,
         tp: u32,
         tl: u32,
         timeout_ms: u32,
         ret_token: u32|
         -> Result<u32> {
            let upstream = read_string(&mut caller, up, ul)?;
            let headers = deserialize_map(&read_bytes(&mut caller, hp, hl)?)?;
            let body = read_bytes(&mut caller, bp, bl)?;
            let trailers = deserialize_map(&read_bytes(&mut caller, tp, tl)?)?;
            let state = caller.data_mut();
            let context_id = state
                .current
                .ok_or_else(|| format_err!("proxy_http_call outside any context"))?;
            // As Envoy: an unknown cluster, or a request without the required pseudo
            // headers, is refused with BAD_ARGUMENT.
            let unknown_cluster = state
                .known_clusters
                .as_ref()
                .is_some_and(|known| !known.contains(&upstream));
            let has = |name: &str| headers.iter().any(|(n, v)| n == name && !v.is_empty());
            if unknown_cluster || !(has(":authority") && has(":method") && has(":path")) {
                state.refused_http_calls.push(upstream);
                return Ok(Status::BadArgument.code());
            }
            let token = state.next_http_call_token;
            state.next_http_call_token = token.wrapping_add(1).max(1);
            state.http_calls.push(HttpCall {
                token,
                context_id,
                upstream,
                headers,
                body,
                trailers,
                timeout_ms,
            });
            write_u32(&mut caller, ret_token, token)?;
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_set_effective_context"),
        |mut caller: C<'_>, context_id: u32| -> Result<u32> {
            let state = caller.data_mut();
            if state.contexts.contains_key(&context_id) {
                state.current = Some(context_id);
                Ok(Status::Ok.code())
            } else {
                Ok(Status::BadArgument.code())
            }
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_done"),
        |mut caller: C<'_>| -> Result<u32> {
            let state = caller.data_mut();
            let current = state.current;
            state.done_calls.push(current);
            match current {
                Some(id) if state.pending_done.remove(&id) => Ok(Status::Ok.code()),
                _ => Ok(Status::NotFound.code()),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_define_metric"),
        |mut caller: C<'_>, kind: u32, np: u32, nl: u32, ret_id: u32| -> Result<u32> {
            let kind = MetricType::from_code(kind)?;
            let name = read_string(&mut caller, np, nl)?;
            let id = caller.data().process.lock()?.define_metric(kind, &name)?;
            write_u32(&mut caller, ret_id, id)?;
            Ok(Status::Ok.code())
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_increment_metric"),
        |caller: C<'_>, id: u32, offset: i64| -> Result<u32> {
            let mut process = caller.data().process.lock()?;
            let Some(metric) = process.metric_mut(id) else {
                return Ok(Status::NotFound.code());
            };
            match metric.kind {
                MetricType::Counter if offset < 0 => Ok(Status::BadArgument.code()),
                MetricType::Counter | MetricType::Gauge => {
                    metric.value = metric.value.saturating_add_signed(offset);
                    Ok(Status::Ok.code())
                }
                MetricType::Histogram => Ok(Status::BadArgument.code()),
            }
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_record_metric"),
        |caller: C<'_>, id: u32, value: u64| -> Result<u32> {
            let mut process = caller.data().process.lock()?;
            let Some(metric) = process.metric_mut(id) else {
                return Ok(Status::NotFound.code());
            };
            match metric.kind {
                // A counter never goes down.
                MetricType::Counter if value < metric.value => Ok(Status::BadArgument.code()),
                MetricType::Counter => {
                    metric.value = value;
                    Ok(Status::Ok.code())
                }
                // Gauge: the value; histogram: the last recorded sample.
                MetricType::Gauge | MetricType::Histogram => {
                    metric.value = value;
                    Ok(Status::Ok.code())
                }
            }
        },
    )?;

    linker.func_wrap(
        "env",
        reg("proxy_get_metric"),
        |mut caller: C<'_>, id: u32, ret: u32| -> Result<u32> {
            let found = caller
                .data()
                .process
                .lock()?
                .metric_mut(id)
                .map(|m| (m.kind, m.value));
            match found {
                None => Ok(Status::NotFound.code()),
                Some((MetricType::Histogram, _)) => Ok(Status::BadArgument.code()),
                Some((_, value)) => {
                    write_bytes(&mut caller, ret, &value.to_le_bytes())?;
                    Ok(Status::Ok.code())
                }
            }
        },
    )?;

    Ok(names)
}

/// Link every import of `module` that nothing else provides to a trap naming it.
pub(crate) fn link_unimplemented_as_traps(
    linker: &mut Linker<HostState>,
    module: &Module,
    implemented: &BTreeSet<&'static str>,
) -> Result<Vec<String>> {
    let mut stubbed = Vec::new();
    for import in module.imports() {
        if import.module() != "env" || implemented.contains(import.name()) {
            continue;
        }
        let Some(ty) = import.ty().func().cloned() else {
            bail!(
                "filter imports env.{} which is not a function; this host cannot provide it",
                import.name()
            );
        };
        let name = import.name().to_string();
        let message = format!(
            "filter called host function env.{name}, which this test host does not implement \
             (strict by default: implement it in tests/abi/src/imports.rs)"
        );
        linker.func_new("env", &name, ty, move |_caller, _params, _results| {
            Err(format_err!("{message}"))
        })?;
        stubbed.push(name);
    }
    Ok(stubbed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Process;

    fn stream_state(headers: &[(&str, &str)]) -> HostState {
        let wasi = wasmtime_wasi::WasiCtxBuilder::new().build_p1();
        let mut state = HostState::new(wasi, Process::new());
        state.contexts.insert(1, ContextState::default());
        state.contexts.insert(
            2,
            ContextState {
                root_id: 1,
                request_headers: headers
                    .iter()
                    .map(|(n, v)| ((*n).to_string(), v.as_bytes().to_vec()))
                    .collect(),
                ..ContextState::default()
            },
        );
        state.current = Some(2);
        state
    }

    fn headers(state: &HostState) -> Vec<(String, String)> {
        state.contexts[&2]
            .request_headers
            .iter()
            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    #[test]
    fn replace_keeps_one_value_in_place_and_adds_when_absent() {
        let mut state = stream_state(&[("a", "1"), ("x", "old1"), ("b", "2"), ("x", "old2")]);
        let map = MapType::HttpRequestHeaders;
        let replace = |name: &str, value: &str| HeaderMutation::Replace {
            map,
            name: name.into(),
            value: value.as_bytes().to_vec(),
        };
        mutate(&mut state, "t", replace("X", "new")).unwrap();
        mutate(&mut state, "t", replace("y", "added")).unwrap();
        assert_eq!(
            headers(&state),
            vec![
                ("a".into(), "1".into()),
                ("x".into(), "new".into()),
                ("b".into(), "2".into()),
                ("y".into(), "added".into()),
            ]
        );
        assert_eq!(state.contexts[&2].mutations.len(), 2);
    }

    #[test]
    fn remove_drops_every_value_case_insensitively() {
        let mut state = stream_state(&[("x-user-id", "a"), ("other", "b"), ("X-User-Id", "c")]);
        let remove = HeaderMutation::Remove {
            map: MapType::HttpRequestHeaders,
            name: "x-user-id".into(),
        };
        mutate(&mut state, "t", remove).unwrap();
        assert_eq!(headers(&state), vec![("other".into(), "b".into())]);
    }

    #[test]
    fn header_writes_outside_a_stream_are_filter_bugs() {
        let mut state = stream_state(&[]);
        state.current = Some(1); // the root context
        let add = HeaderMutation::Add {
            map: MapType::HttpRequestHeaders,
            name: "x".into(),
            value: b"y".to_vec(),
        };
        assert!(mutate(&mut state, "t", add.clone()).is_err());
        state.current = None;
        assert!(mutate(&mut state, "t", add).is_err());
    }
}
