//! The fuzz binary.
//!
//! Built with `--features libfuzzer` and the coverage flags (scripts/fuzz.sh does both), it
//! is a libFuzzer binary: `TOLLGATE_FUZZ_TARGET=<target> tollgate-fuzz [libFuzzer flags]
//! CORPUS…`. Built without the feature it replays inputs, uninstrumented:
//! `tollgate-fuzz <target> FILE…` runs each file once, and a broken invariant panics with a
//! message that says which one. `tollgate-fuzz --list` lists the targets.
#![cfg_attr(feature = "libfuzzer", no_main)]

#[cfg(feature = "libfuzzer")]
mod fuzzing {
    use std::sync::OnceLock;

    /// The target named by `TOLLGATE_FUZZ_TARGET`, looked up once.
    fn target() -> &'static tollgate_fuzz::Target {
        static TARGET: OnceLock<&'static tollgate_fuzz::Target> = OnceLock::new();
        TARGET.get_or_init(|| {
            let name = std::env::var("TOLLGATE_FUZZ_TARGET").unwrap_or_default();
            tollgate_fuzz::target(&name).unwrap_or_else(|| {
                let names: Vec<&str> = tollgate_fuzz::TARGETS.iter().map(|t| t.name).collect();
                panic!("set TOLLGATE_FUZZ_TARGET to one of {names:?}, not {name:?}")
            })
        })
    }

    libfuzzer_sys::fuzz_target!(|data: &[u8]| (target().run)(data));
}

#[cfg(not(feature = "libfuzzer"))]
fn main() -> std::process::ExitCode {
    use std::process::ExitCode;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for t in tollgate_fuzz::TARGETS {
            println!("{:<10} {}", t.name, t.about);
        }
        return ExitCode::SUCCESS;
    }
    let Some(target) = args.first().and_then(|n| tollgate_fuzz::target(n)) else {
        eprintln!("usage: tollgate-fuzz <target> [FILE…] | --list");
        return ExitCode::from(2);
    };
    for f in &args[1..] {
        match std::fs::read(f) {
            Ok(data) => {
                eprintln!("{}: {f}", target.name);
                (target.run)(&data);
            }
            Err(e) => {
                eprintln!("{f}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}
