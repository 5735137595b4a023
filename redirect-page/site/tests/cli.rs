//! The `tollgate-site` command line, run as a user runs it.
//!
//! Inside a `#[cfg(test)]` module (always true in an integration test) so that clippy
//! treats the helpers as test code (`allow-unwrap-in-tests`).

#[cfg(test)]
mod cli {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    const BIN: &str = env!("CARGO_BIN_EXE_tollgate-site");
    const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

    fn tmp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tollgate-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn run(args: &[&str]) -> (i32, String) {
        let out = Command::new(BIN).args(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// Exit code, stdout, stderr.
    fn run_split(args: &[&str]) -> (i32, String, String) {
        let out = Command::new(BIN).args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A built site (with a stand-in page package) in a fresh temporary directory.
    fn built_site(tag: &str) -> PathBuf {
        let dir = tmp(tag);
        let out = dir.join("out");
        let (code, text) = run(&[
            "build",
            "--config",
            &format!("{REPO}/www/site.json"),
            "--pkg",
            fake_pkg(&dir).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{text}");
        dir
    }

    fn fake_pkg(dir: &Path) -> PathBuf {
        let pkg = dir.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        for f in [
            "tollgate_redirect_page.js",
            "tollgate_redirect_page_bg.wasm",
        ] {
            std::fs::write(pkg.join(f), f).unwrap();
        }
        pkg
    }

    /// A config outside www/ used to fail with "cannot read …/assets/page.css": the
    /// assets were looked up beside the config. They now come from the project.
    #[test]
    fn build_takes_the_projects_assets_wherever_the_config_is() {
        let dir = tmp("config-elsewhere");
        let config = dir.join("elsewhere").join("site.json");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::copy(format!("{REPO}/www/site.json"), &config).unwrap();
        let out = dir.join("out");
        let (code, text) = run(&[
            "build",
            "--config",
            config.to_str().unwrap(),
            "--pkg",
            fake_pkg(&dir).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{text}");
        for (built, source) in [
            ("page/assets/page.css", "page.css"),
            ("page/assets/boot.js", "boot.js"),
            ("page/assets/fallback.js", "fallback.js"),
            ("app-link/assets/page.css", "page.css"),
            ("app-link/assets/not-installed.js", "not-installed.js"),
        ] {
            assert_eq!(
                std::fs::read(out.join(built)).unwrap(),
                std::fs::read(format!("{REPO}/www/assets/{source}")).unwrap(),
                "{built}"
            );
        }
        assert!(text.contains("page/ -> https://www.example.com"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn serve_names_the_document_roots_of_a_whole_build() {
        let dir = tmp("serve-top");
        let out = dir.join("out");
        let (code, text) = run(&[
            "build",
            "--config",
            &format!("{REPO}/www/site.json"),
            "--pkg",
            fake_pkg(&dir).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{text}");
        let (code, text) = run(&["serve", "--dir", out.to_str().unwrap()]);
        assert_eq!(code, 1);
        assert!(
            text.contains("is a whole build with two document roots: serve")
                && text.contains("out/page (page origin)"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn check_option_mistakes_are_named() {
        let config = format!("{REPO}/www/site.json");
        let cases: [(&[&str], &str); 5] = [
            (&["check", "--live"], "--live needs --config FILE"),
            (
                &[
                    "check",
                    "--config",
                    &config,
                    "--live",
                    "--url",
                    "https://x.example",
                ],
                "--live takes the URLs from the config",
            ),
            (
                &["check", "--config", &config, "--ca", "ca.pem"],
                "--ca is for checking a served site",
            ),
            (
                &["check", "--url", "http://mobile.example.com"],
                "iOS and Android fetch these files over https only",
            ),
            (
                &["check", "--url", "https://mobile.example.com/path"],
                "without a path",
            ),
        ];
        for (args, want) in cases {
            let (code, text) = run(args);
            assert_eq!(code, 1, "{args:?}: {text}");
            assert!(text.contains(want), "{args:?}: {text}");
        }
    }

    #[test]
    fn vectors_check_fails_on_a_stale_file() {
        let dir = tmp("vectors");
        let file = dir.join("vectors.json");
        let (code, text) = run(&["vectors", "--out", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{text}");
        let (code, text) = run(&["vectors", "--check", file.to_str().unwrap()]);
        assert_eq!(
            (
                code,
                text.trim_end().ends_with("the parity vectors are current")
            ),
            (0, true),
            "{text}"
        );
        let stale = std::fs::read_to_string(&file)
            .unwrap()
            .replace("\"screen\":\"malformed\"", "\"screen\":\"continue\"");
        std::fs::write(&file, stale).unwrap();
        let (code, text) = run(&["vectors", "--check", file.to_str().unwrap()]);
        assert_eq!(code, 1);
        assert!(
            text.contains("is stale: the page's Rust logic changed. Regenerate it with\n  cargo run -q -p tollgate-site -- vectors --out tests/e2e/page/parity-vectors.json"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn help_and_version_answer_on_stdout() {
        let (code, out, err) = run_split(&["--version"]);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (
                0,
                concat!("tollgate-site ", env!("CARGO_PKG_VERSION"), "\n"),
                ""
            )
        );
        // the crate takes its version from the workspace
        let workspace = std::fs::read_to_string(format!("{REPO}/Cargo.toml")).unwrap();
        assert!(
            workspace.contains(&format!("version = \"{}\"", env!("CARGO_PKG_VERSION"))),
            "Cargo.toml"
        );
        for args in [&["--help"][..], &["serve", "--help"], &["check", "-h"]] {
            let (code, out, err) = run_split(args);
            assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
            assert!(
                out.starts_with("usage:\n  tollgate-site build"),
                "{args:?}: {out}"
            );
            assert!(out.contains("tollgate-site --help | --version"), "{out}");
        }
    }

    #[test]
    fn command_line_mistakes_exit_2_with_one_line() {
        let cases: [(&[&str], &str); 6] = [
            (
                &["size", "--bogus"],
                "error: unknown option \"--bogus\" (see tollgate-site --help)\n",
            ),
            (
                &["frobnicate"],
                "error: unknown command \"frobnicate\" (see tollgate-site --help)\n",
            ),
            (
                &["serve", "--dir"],
                "error: --dir needs a value (see tollgate-site --help)\n",
            ),
            (
                &["size", "--dir", "a", "--dir", "b"],
                "error: --dir given twice (see tollgate-site --help)\n",
            ),
            (
                &["build", "--out", "x"],
                "error: build needs --config FILE (see tollgate-site --help)\n",
            ),
            (
                &["serve", "--dir", "x", "--addr", "0.0.0.0:0"],
                "error: --addr 0.0.0.0:0: 0.0.0.0 is not a loopback address, so other machines could reach the server; use 127.0.0.1:PORT, or add --public to serve beyond this machine (see tollgate-site --help)\n",
            ),
        ];
        for (args, want) in cases {
            let (code, out, err) = run_split(args);
            assert_eq!(
                (code, out.as_str(), err.as_str()),
                (2, "", want),
                "{args:?}"
            );
        }
    }

    /// `--public` binds every interface, says so on stderr, and serves; every request is logged
    /// on stdout without its query.
    #[test]
    fn serve_public_warns_and_logs_requests_without_the_query() {
        let dir = built_site("serve-public");
        let root = dir.join("out/page");
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--dir",
                root.to_str().unwrap(),
                "--addr",
                "0.0.0.0:0",
                "--public",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let port: u16 = first
            .trim_end()
            .strip_suffix('/')
            .and_then(|s| s.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first:?}"));
        assert!(
            first.starts_with("serving ") && first.contains(" at http://0.0.0.0:"),
            "{first}"
        );

        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.write_all(
            b"GET /example/callback?code=SECRET-CODE&state=s HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        let mut logged = String::new();
        stdout.read_line(&mut logged).unwrap();

        child.kill().unwrap();
        child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(
            err,
            format!("warning: --public: serving on 0.0.0.0:{port}, reachable from other machines; this is a small server for trying the site, put nginx with the generated snippets in front of real traffic\n")
        );
        let (time, rest) = logged.split_once(' ').unwrap();
        assert_eq!(rest, "GET /example/callback 200\n");
        assert!(
            time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "{time}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
