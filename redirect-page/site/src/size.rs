//! `tollgate-site size`: what one page costs to load, raw and gzipped.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

/// The page's budget: HTML + JS + Wasm + CSS, gzipped.
pub const BUDGET_GZIP_BYTES: usize = 30 * 1024;

/// Files one page load fetches with WebAssembly (besides the page's HTML).
pub const WASM_PATH_ASSETS: [&str; 4] = [
    "assets/page.css",
    "assets/boot.js",
    "assets/tollgate_redirect_page.js",
    "assets/tollgate_redirect_page_bg.wasm",
];
/// Files one page load fetches without WebAssembly (besides the page's HTML).
pub const FALLBACK_PATH_ASSETS: [&str; 4] = [
    "assets/page.css",
    "assets/boot.js",
    "assets/fallback.js",
    "assets/fallback-data.js",
];

/// Files the app-not-installed page fetches (besides its HTML).
pub const NOT_INSTALLED_ASSETS: [&str; 2] = ["assets/page.css", "assets/not-installed.js"];

/// The page origin's root of a build output directory (or `dir` itself when it is one).
pub fn page_root(dir: &Path) -> std::path::PathBuf {
    let nested = dir.join(crate::generate::PAGE_ROOT);
    if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// One file's sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSize {
    /// Path relative to the site.
    pub path: String,
    /// Bytes on disk.
    pub raw: usize,
    /// Bytes gzipped at level 9.
    pub gzip: usize,
}

/// gzip size of `bytes` at the best compression.
pub fn gzip_len(bytes: &[u8]) -> std::io::Result<usize> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len())
}

/// Sizes of `page` (relative path of an HTML file) plus `assets`.
pub fn measure(dir: &Path, page: &str, assets: &[&str]) -> Result<Vec<FileSize>, String> {
    std::iter::once(page)
        .chain(assets.iter().copied())
        .map(|path| {
            let bytes = std::fs::read(dir.join(path))
                .map_err(|e| format!("{}: {e}", dir.join(path).display()))?;
            Ok(FileSize {
                path: path.to_owned(),
                raw: bytes.len(),
                gzip: gzip_len(&bytes).map_err(|e| e.to_string())?,
            })
        })
        .collect()
}

fn html_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            html_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "html") {
            out.push(path);
        }
    }
}

/// The first (by path) login page of a built site, relative to `dir`.
pub fn find_login_page(dir: &Path) -> Result<String, String> {
    find_page(dir, "login")
}

/// The first (by path) page of `kind` (`<meta id="tollgate-page">`) under `dir`, relative to it.
pub fn find_page(dir: &Path, kind: &str) -> Result<String, String> {
    let mut files = Vec::new();
    html_files(dir, &mut files);
    files.sort();
    let marker = format!("name=\"tollgate-page\" content=\"{kind}\"");
    files
        .iter()
        .find(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(&marker)))
        .and_then(|f| f.strip_prefix(dir).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| {
            format!(
                "no {kind} page found in {} (build it: redirect-page/build.sh)",
                dir.display()
            )
        })
}

/// Prints a table and returns the gzipped total.
pub fn report(title: &str, sizes: &[FileSize]) -> usize {
    println!("{title}");
    for s in sizes {
        println!("  {:<42} {:>8} B raw {:>8} B gzip", s.path, s.raw, s.gzip);
    }
    let raw: usize = sizes.iter().map(|s| s.raw).sum();
    let gzip: usize = sizes.iter().map(|s| s.gzip).sum();
    println!(
        "  {:<42} {:>8} B raw {:>8} B gzip ({:.1} KB)",
        "TOTAL",
        raw,
        gzip,
        gzip as f64 / 1024.0
    );
    gzip
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_shrinks_repetitive_input() {
        let n = gzip_len(&[b'a'; 10_000]).unwrap();
        assert!(n > 0 && n < 100, "{n}");
    }

    #[test]
    fn finds_the_login_page() {
        let dir = std::env::temp_dir().join(format!("tollgate-size-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(
            dir.join("a/logout.html"),
            "<meta id=\"tollgate-page\" name=\"tollgate-page\" content=\"logout\">",
        )
        .unwrap();
        std::fs::write(
            dir.join("a/b/callback.html"),
            "<meta id=\"tollgate-page\" name=\"tollgate-page\" content=\"login\">",
        )
        .unwrap();
        assert_eq!(find_login_page(&dir).unwrap(), "a/b/callback.html");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(find_login_page(&dir).is_err());
    }

    #[test]
    fn measure_reports_missing_files() {
        let e = measure(Path::new("/nonexistent-tollgate"), "x.html", &[]).unwrap_err();
        assert!(e.contains("x.html"));
    }
}
