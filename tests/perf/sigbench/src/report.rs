//! The report: a Markdown table per unit (µs per verification, verifications per second), the
//! `.wasm` sizes at both opt-levels, and the same as JSON with every batch.

use serde_json::{json, Value};

use crate::cases::NAMES;
use crate::{Figure, Timing};

/// Load average (1 min) per CPU at start above which the report calls the machine loaded (the
/// end-to-end benchmark's threshold, `tests/perf/bench/filter-bench.mjs`).
pub const LOADED_PER_CPU: f64 = 0.3;

/// Where and how the figures were taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    pub nproc: usize,
    pub cpu_model: String,
    /// `/proc/loadavg`'s three load averages at start and at the end.
    pub load_start: Vec<String>,
    pub load_end: Vec<String>,
    /// The wasmtime version (from Cargo.lock).
    pub wasmtime: String,
    /// The release profile's opt-level (what the filter ships with) and the other one.
    pub level: String,
    pub alt_level: String,
    pub timing: Timing,
    pub command: String,
}

impl Meta {
    /// Whether the 1-minute load average at start marks the machine as loaded.
    pub fn loaded(&self) -> bool {
        is_loaded(&self.load_start, self.nproc)
    }
}

/// `load[0]` (the 1-minute average) above [`LOADED_PER_CPU`] × `nproc`.
pub fn is_loaded(load: &[String], nproc: usize) -> bool {
    load.first()
        .and_then(|l| l.parse::<f64>().ok())
        .is_some_and(|l| l > LOADED_PER_CPU * nproc as f64)
}

/// One column of figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub heading: String,
    pub figures: Vec<Figure>,
}

impl Column {
    fn get(&self, name: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.name == name)
    }
}

/// A file's size at both opt-levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Size {
    pub artefact: String,
    pub bytes: u64,
    pub alt_bytes: u64,
}

/// Every figure of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub meta: Meta,
    /// Pure path, native (the release profile).
    pub native: Column,
    /// Pure path, Wasm at the release opt-level.
    pub wasm: Column,
    /// Pure path, Wasm at the other opt-level.
    pub wasm_alt: Column,
    /// Host path: verify_signature on ring, natively (P1363 → DER included).
    pub host: Column,
    /// The filter's in-VM share of the host path, Wasm at the release opt-level.
    pub glue: Column,
    pub sizes: Vec<Size>,
}

/// `"s"` for `s`/`"s"`, `3` for `3`: how Cargo.toml spells the level.
pub fn level_label(level: &str) -> String {
    let bare = level.trim_matches('"');
    if bare.parse::<u32>().is_ok() {
        bare.to_owned()
    } else {
        format!("\"{bare}\"")
    }
}

/// Microseconds with the precision that matters at their size.
pub fn micros(nanos: f64) -> String {
    let us = nanos / 1000.0;
    if us < 10.0 {
        format!("{us:.2}")
    } else if us < 1000.0 {
        format!("{us:.1}")
    } else {
        grouped(us.round() as u64)
    }
}

/// An integer with thin groups of three (`12 345`).
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn ratio(value: f64) -> String {
    format!("{value:.2}×")
}

/// A Markdown table (first column left-aligned, the rest right-aligned).
pub fn table(header: &[String], body: &[Vec<String>]) -> String {
    let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
    let rule = format!(
        "|{}|",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "--:" })
            .collect::<Vec<_>>()
            .join("|")
    );
    let mut out = vec![line(header), rule];
    out.extend(body.iter().map(|r| line(r)));
    out.join("\n")
}

/// The lines that say where and how the figures were taken.
pub fn describe(meta: &Meta) -> Vec<String> {
    let loaded = if meta.loaded() {
        " (a loaded machine)"
    } else {
        ""
    };
    let batches = if meta.timing.batch_micros == 0 {
        "one verification per figure (smoke: no timing)".to_owned()
    } else {
        format!(
            "median of {} batches of about {} ms per figure",
            meta.timing.batches,
            meta.timing.batch_micros / 1000
        )
    };
    vec![
        format!(
            "{} · {} CPUs ({}) · load average at start {}{loaded}, at the end {}",
            meta.date,
            meta.nproc,
            meta.cpu_model,
            meta.load_start.join(" "),
            meta.load_end.join(" ")
        ),
        format!(
            "wasmtime {} (Cranelift, optimising for speed) · {batches} · `{}`",
            meta.wasmtime, meta.command
        ),
    ]
}

/// The whole Markdown report.
pub fn markdown(run: &Run) -> String {
    let meta = &run.meta;
    let (s, alt) = (level_label(&meta.level), level_label(&meta.alt_level));
    let mut out = vec![
        "# Signature checks per algorithm and path".to_owned(),
        String::new(),
    ];
    out.extend(describe(meta).into_iter().map(|l| format!("{l}  ")));
    out.push(String::new());
    if meta.loaded() {
        out.push(format!(
            "**Figures from a loaded machine** (load average {} on {} CPUs at start, {} at the end): \
             compare ratios within this run, not absolute figures across runs.",
            meta.load_start.first().map_or("?", String::as_str),
            meta.nproc,
            meta.load_end.first().map_or("?", String::as_str),
        ));
        out.push(String::new());
    }
    out.push(
        "Envoy runs the filter on V8, not wasmtime: what a signature check costs a request in Envoy \
         is the end-to-end benchmark's figure (`make bench`). These figures compare algorithms, \
         paths and opt-levels under one engine."
            .to_owned(),
    );
    out.push(String::new());

    out.push("## µs per verification".to_owned());
    out.push(String::new());
    let header: Vec<String> = vec![
        "algorithm".into(),
        format!("native (opt-level {s})"),
        format!("Wasm, opt-level {s} (shipped)"),
        format!("Wasm, opt-level {alt}"),
        format!("speed-up at {alt}"),
        format!("Wasm {s} ÷ native"),
        "host: ring (native, incl. P1363→DER)".into(),
        format!("host: filter's in-VM share (Wasm {s})"),
        format!("Wasm {s} ÷ host"),
    ];
    let cell = |c: &crate::report::Column, name: &str| {
        c.get(name)
            .map_or("—".to_owned(), |f| micros(f.median_nanos))
    };
    let body: Vec<Vec<String>> = NAMES
        .iter()
        .filter(|n| run.wasm.get(n).is_some() || run.native.get(n).is_some())
        .map(|name| {
            let n = run.native.get(name).map(|f| f.median_nanos);
            let w = run.wasm.get(name).map(|f| f.median_nanos);
            let w3 = run.wasm_alt.get(name).map(|f| f.median_nanos);
            let h = run.host.get(name).map(|f| f.median_nanos);
            let g = run.glue.get(name).map(|f| f.median_nanos);
            let r = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) if b > 0.0 => ratio(a / b),
                _ => "—".to_owned(),
            };
            vec![
                (*name).to_owned(),
                cell(&run.native, name),
                cell(&run.wasm, name),
                cell(&run.wasm_alt, name),
                r(w, w3),
                r(w, n),
                cell(&run.host, name),
                cell(&run.glue, name),
                r(w, h.zip(g).map(|(h, g)| h + g)),
            ]
        })
        .collect();
    out.push(table(&header, &body));
    out.push(String::new());
    out.push(format!(
        "Native and Wasm: tollgate-core's pure-Rust verifier (`Verifiers::pure()`), the same loop \
         compiled for the host and for wasm32-wasip1 with the release profile (opt-level {s}; the \
         {alt} column overrides only the opt-level). Host: the path Envoy serves for ES256, ES384 and \
         RS256/384/512, its verification on ring standing in for Envoy's BoringSSL (Envoy also \
         re-parses the key on every call and crosses out of the VM, which is not measured here); \
         the in-VM share is what the filter itself runs per call (P1363→DER for ECDSA, encoding \
         the arguments, decoding the answer). \"Wasm {s} ÷ host\" compares the pure path with the \
         sum of the two host columns."
    ));
    out.push(String::new());

    out.push("## Verifications per second".to_owned());
    out.push(String::new());
    let header: Vec<String> = vec![
        "algorithm".into(),
        "native".into(),
        format!("Wasm {s}"),
        format!("Wasm {alt}"),
        "host: ring".into(),
    ];
    let rate = |c: &Column, name: &str| {
        c.get(name)
            .map_or("—".to_owned(), |f| grouped(f.per_second().round() as u64))
    };
    let body: Vec<Vec<String>> = body
        .iter()
        .filter_map(|row| row.first())
        .map(|name| {
            vec![
                name.clone(),
                rate(&run.native, name),
                rate(&run.wasm, name),
                rate(&run.wasm_alt, name),
                rate(&run.host, name),
            ]
        })
        .collect();
    out.push(table(&header, &body));
    out.push(String::new());

    if !run.sizes.is_empty() {
        out.push("## Module sizes".to_owned());
        out.push(String::new());
        let header: Vec<String> = vec![
            "module".into(),
            format!("opt-level {s} (bytes)"),
            format!("opt-level {alt} (bytes)"),
            format!("{alt} ÷ {s}"),
        ];
        let body: Vec<Vec<String>> = run
            .sizes
            .iter()
            .map(|size| {
                vec![
                    format!("`{}`", size.artefact),
                    grouped(size.bytes),
                    grouped(size.alt_bytes),
                    ratio(size.alt_bytes as f64 / size.bytes.max(1) as f64),
                ]
            })
            .collect();
        out.push(table(&header, &body));
        out.push(String::new());
    }
    out.join("\n")
}

fn column_json(column: &Column) -> Value {
    json!({
        "heading": column.heading,
        "figures": column.figures.iter().map(|f| json!({
            "name": f.name,
            "alg": f.alg,
            "iterations": f.iterations,
            "batch_nanos": f.batch_nanos,
            "median_nanos": f.median_nanos,
            "per_second": f.per_second(),
        })).collect::<Vec<_>>(),
    })
}

/// The run as JSON (every batch's time).
pub fn json(run: &Run) -> Value {
    let m = &run.meta;
    json!({
        "meta": {
            "date": m.date,
            "nproc": m.nproc,
            "cpu_model": m.cpu_model,
            "load_start": m.load_start,
            "load_end": m.load_end,
            "loaded": m.loaded(),
            "wasmtime": m.wasmtime,
            "opt_level": m.level,
            "alt_opt_level": m.alt_level,
            "batch_micros": m.timing.batch_micros,
            "batches": m.timing.batches,
            "command": m.command,
        },
        "native": column_json(&run.native),
        "wasm": column_json(&run.wasm),
        "wasm_alt": column_json(&run.wasm_alt),
        "host": column_json(&run.host),
        "host_glue": column_json(&run.glue),
        "sizes": run.sizes.iter().map(|s| json!({
            "module": s.artefact, "bytes": s.bytes, "alt_bytes": s.alt_bytes,
        })).collect::<Vec<_>>(),
    })
}
