//! The command line: help and version on stdout, mistakes exit 2 with one line, a missing
//! guest build exits 1 naming the build command (before anything is timed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate-sigbench"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn help_and_version_answer_on_stdout() {
    let (code, out, err) = run(&["--version"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            concat!("tollgate-sigbench ", env!("CARGO_PKG_VERSION"), "\n"),
            ""
        )
    );
    for args in [&["--help"][..], &["--quick", "-h"]] {
        let (code, out, err) = run(args);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
        assert!(
            out.starts_with("usage: tollgate-sigbench [--quick | --smoke]"),
            "{out}"
        );
    }
}

#[test]
fn command_line_mistakes_exit_2_with_one_line() {
    for (args, line) in [
        (
            &["--bogus"][..],
            "error: unknown argument \"--bogus\" (see tollgate-sigbench --help)\n",
        ),
        (
            &["--out"],
            "error: --out needs a value (see tollgate-sigbench --help)\n",
        ),
    ] {
        let (code, out, err) = run(args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (2, "", line),
            "{args:?}"
        );
    }
}

#[test]
fn a_missing_guest_build_exits_1_with_the_build_command() {
    let dir = std::env::temp_dir().join(format!("sigbench-cli-{}", std::process::id()));
    let missing = dir.join("no-such-guest");
    let (code, out, err) = run(&[
        "--smoke",
        "--out",
        dir.to_str().unwrap(),
        "--native",
        missing.to_str().unwrap(),
    ]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.contains(&format!(
            "tollgate-sigbench: native: no program at {}; build it with `cargo build -p tollgate-sigbench-guest --release`",
            missing.display()
        )),
        "{err}"
    );
    assert!(!dir.join("signatures.md").exists());
}
