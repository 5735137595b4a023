//! `tollgate-sigbench`: time every algorithm's signature check on every path and write
//! `target/bench/signatures.{md,json}`. `scripts/bench-signatures.sh` (`make
//! bench-signatures`) builds the guests first and passes their paths; run alone, it looks for
//! them where that script puts them.
//!
//! Exit status: 0 with the report on stdout; 2 for a mistake on the command line; 1 when a
//! figure cannot be taken (a guest build is missing, a case fails its check), with the reason.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tollgate_sigbench::guest::Guest;
use tollgate_sigbench::report::{self, Column, Meta, Run, Size};
use tollgate_sigbench::{cases, measure, target_dir, HarnessError, Timing};
use tollgate_sigbench_guest::Mode;

const USAGE: &str = "usage: tollgate-sigbench [--quick | --smoke] [--out DIR] [--native PATH] [--wasm PATH] [--wasm-alt PATH]
                         [--filter PATH] [--filter-alt PATH] [--level L] [--alt-level L]
       tollgate-sigbench --help | --version

Times every signature algorithm tollgate verifies on every path and writes signatures.md and
signatures.json to DIR (default target/bench). `make bench-signatures` builds the guests first.

  --quick          3 batches of ~10 ms per figure instead of 11 of ~100 ms (about 20 s)
  --smoke          one verification per figure: every check, no meaningful timing
  --out DIR        where the report goes (default <target>/bench)
  --native PATH    the guest built for the host (default <target>/release/tollgate-sigbench-guest)
  --wasm PATH      the guest module, release profile
                   (default <target>/wasm32-wasip1/release/tollgate-sigbench-guest.wasm)
  --wasm-alt PATH  the guest module at the other opt-level (default <target>/wasm32-wasip1/sigbench/…)
  --filter PATH, --filter-alt PATH
                   tollgate_filter.wasm at both opt-levels, for the size table
  --level L, --alt-level L
                   the two opt-levels' names in the report (default s and 3)";

/// The profile the script builds the other opt-level with.
const ALT_PROFILE: &str = "sigbench";

struct Options {
    timing: Timing,
    out: PathBuf,
    native: PathBuf,
    wasm: PathBuf,
    wasm_alt: PathBuf,
    filter: PathBuf,
    filter_alt: PathBuf,
    level: String,
    alt_level: String,
}

fn options(args: &[String]) -> Result<Options, HarnessError> {
    let target = target_dir();
    let wasm_dir = target.join("wasm32-wasip1");
    let mut o = Options {
        timing: Timing::DEFAULT,
        out: target.join("bench"),
        native: target.join("release").join("tollgate-sigbench-guest"),
        wasm: tollgate_sigbench::guest_wasm_path(),
        wasm_alt: wasm_dir
            .join(ALT_PROFILE)
            .join("tollgate-sigbench-guest.wasm"),
        filter: wasm_dir.join("release").join("tollgate_filter.wasm"),
        filter_alt: wasm_dir.join(ALT_PROFILE).join("tollgate_filter.wasm"),
        level: "s".into(),
        alt_level: "3".into(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| HarnessError::Usage(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--quick" => o.timing = Timing::QUICK,
            "--smoke" => o.timing = Timing::SMOKE,
            "--out" => o.out = value()?.into(),
            "--native" => o.native = value()?.into(),
            "--wasm" => o.wasm = value()?.into(),
            "--wasm-alt" => o.wasm_alt = value()?.into(),
            "--filter" => o.filter = value()?.into(),
            "--filter-alt" => o.filter_alt = value()?.into(),
            "--level" => o.level = value()?,
            "--alt-level" => o.alt_level = value()?,
            other => return Err(HarnessError::Usage(format!("unknown argument {other:?}"))),
        }
    }
    Ok(o)
}

fn load_average() -> Vec<String> {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .map(str::to_owned)
        .collect()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The wasmtime version locked in Cargo.lock.
fn wasmtime_version() -> String {
    let lock = target_dir().join("..").join("Cargo.lock");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasmtime\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = ")) {
                return v.trim_matches('"').to_owned();
            }
        }
    }
    "(version unknown)".into()
}

/// `YYYY-MM-DD HH:MM UTC` for a unix time, from the core's RFC 3339 form.
fn utc(secs: u64) -> String {
    let t = tollgate_core::time::rfc3339(secs);
    format!("{} {} UTC", &t[..10], &t[11..16])
}

fn size(path: &std::path::Path) -> Result<u64, HarnessError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| HarnessError::Output(format!("cannot read {}: {e}", path.display())))
}

fn column(
    heading: String,
    guest: &Guest,
    mode: Mode,
    cases: &[tollgate_sigbench_guest::Case],
    timing: Timing,
) -> Result<Column, HarnessError> {
    let started = Instant::now();
    let figures = measure(guest, mode, cases, timing)?;
    eprintln!(
        "  {heading}: {} figures in {:.1} s",
        figures.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(Column { heading, figures })
}

fn bench(o: &Options, command: String) -> Result<Run, HarnessError> {
    let started = Instant::now();
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_start = load_average();
    eprintln!(
        "signature micro-benchmark; load average at start: {} ({nproc} CPUs){}",
        load_start.join(" "),
        if report::is_loaded(&load_start, nproc) {
            " — a loaded machine"
        } else {
            ""
        }
    );
    let cases = cases::all()?;
    let native = Guest::native("native", &o.native)?;
    let s = report::level_label(&o.level);
    let alt = report::level_label(&o.alt_level);
    let wasm = Guest::wasm(&format!("wasm {s}"), &o.wasm)?;
    let wasm_alt = Guest::wasm(&format!("wasm {alt}"), &o.wasm_alt)?;
    let t = o.timing;
    let run = Run {
        native: column(format!("native {s}"), &native, Mode::Pure, &cases, t)?,
        wasm: column(format!("Wasm {s}"), &wasm, Mode::Pure, &cases, t)?,
        wasm_alt: column(format!("Wasm {alt}"), &wasm_alt, Mode::Pure, &cases, t)?,
        host: column("host: ring".into(), &native, Mode::Host, &cases, t)?,
        glue: column(
            format!("host: in-VM share, Wasm {s}"),
            &wasm,
            Mode::HostGlue,
            &cases,
            t,
        )?,
        sizes: vec![
            Size {
                artefact: "tollgate_filter.wasm".into(),
                bytes: size(&o.filter)?,
                alt_bytes: size(&o.filter_alt)?,
            },
            Size {
                artefact: "tollgate-sigbench-guest.wasm".into(),
                bytes: size(&o.wasm)?,
                alt_bytes: size(&o.wasm_alt)?,
            },
        ],
        meta: Meta {
            date: utc(SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())),
            nproc,
            cpu_model: cpu_model(),
            load_start,
            load_end: load_average(),
            wasmtime: wasmtime_version(),
            level: o.level.clone(),
            alt_level: o.alt_level.clone(),
            timing: t,
            command,
        },
    };
    eprintln!("measured in {:.0} s", started.elapsed().as_secs_f64());
    Ok(run)
}

fn write(o: &Options, run: &Run) -> Result<String, HarnessError> {
    let fail = |e: std::io::Error| HarnessError::Output(format!("{}: {e}", o.out.display()));
    std::fs::create_dir_all(&o.out).map_err(fail)?;
    let md = report::markdown(run);
    std::fs::write(o.out.join("signatures.md"), &md).map_err(fail)?;
    let json = serde_json::to_string_pretty(&report::json(run))
        .map_err(|e| HarnessError::Output(e.to_string()))?;
    std::fs::write(o.out.join("signatures.json"), json).map_err(fail)?;
    Ok(md)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--version") {
        println!("tollgate-sigbench {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let command = format!("tollgate-sigbench {}", args.join(" "))
        .trim()
        .to_owned();
    let result = options(&args).and_then(|o| {
        let run = bench(&o, command)?;
        let md = write(&o, &run)?;
        println!("{md}");
        eprintln!(
            "wrote {} and signatures.json",
            o.out.join("signatures.md").display()
        );
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(HarnessError::Usage(e)) => {
            eprintln!("error: {e} (see tollgate-sigbench --help)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("tollgate-sigbench: {e}");
            ExitCode::FAILURE
        }
    }
}
