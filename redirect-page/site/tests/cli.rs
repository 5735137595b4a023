//! The `tollgate-site` command line, run as a user runs it.
//!
//! Inside a `#[cfg(test)]` module (always true in an integration test) so that clippy
//! treats the helpers as test code (`allow-unwrap-in-tests`).

#[cfg(test)]
mod cli {
    use std::path::{Path, PathBuf};
    use std::process::Command;

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
}
