//! Parity vectors: what the Rust page decides for a table of hostile inputs and a
//! fixed-seed random set, written to `tests/e2e/page/parity-vectors.json`. The
//! `node --test` parity test feeds the same inputs to `www/assets/fallback.js` (with
//! the `fallback-data.js` recorded here) and expects the same screen, link, message
//! and error code, so the two implementations cannot drift apart unnoticed.
//!
//! `tollgate-site vectors --out FILE` writes the file; `--check FILE` (and the unit
//! test below) fails when the checked-in file is not what the current code writes.

use serde_json::{json, Value};
use tollgate_redirect_page::lang::choose;
use tollgate_redirect_page::params::{MAX_INPUT_BYTES, MAX_PAIRS, MAX_VALUE_BYTES};
use tollgate_redirect_page::screen::{decide, PageConfig, Screen};

use crate::generate::fallback_data_js;

/// Where the checked-in file lives, relative to the repository root.
#[cfg(test)]
pub const VECTORS_PATH: &str = "tests/e2e/page/parity-vectors.json";
/// The command that rewrites it.
pub const REGENERATE: &str =
    "cargo run -q -p tollgate-site -- vectors --out tests/e2e/page/parity-vectors.json";

const LOGIN_LINK: &str = "https://mobile.example.com/app/callback";
const LOGOUT_LINK: &str = "https://mobile.example.com/app/logout";
/// Random cases; enough to reach every branch many times, small enough to review.
const RANDOM_CASES: usize = 500;

/// One input and what the Rust page does with it.
fn case(page: Option<&str>, app_link: Option<&str>, query: &str, fragment: &str) -> Value {
    let screen = match PageConfig::from_meta(page, app_link) {
        Ok(config) => decide(&config, query, fragment),
        Err(e) => Screen::Misconfigured(e),
    };
    let code = match &screen {
        Screen::Error { known, .. } => known.map(|k| k.code()),
        _ => None,
    };
    json!({
        "page": page,
        "app_link": app_link,
        "query": query,
        "fragment": fragment,
        "screen": screen.name(),
        "link": screen.link(),
        "message": screen.error_message().map(|m| m.key()),
        "code": code,
    })
}

fn login(query: &str) -> Value {
    case(Some("login"), Some(LOGIN_LINK), query, "")
}

/// Hand-picked inputs: every rule of the policy, its edges, and known attacks.
fn hostile_table() -> Vec<Value> {
    let mut out = Vec::new();
    let queries: Vec<String> = vec![
        // forwarding, allow-list, order
        "?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj&iss=https%3A%2F%2Fas.example.com&session_state=abc.def".into(),
        "?target=https://evil.example&state=s1&redirect_uri=x&code=c1&iss=https%3A%2F%2Fas.example&foo=bar&next=%2F%2Fevil.example".into(),
        "?code=javascript%3Aalert(document.domain)&state=javascript:alert(1)".into(),
        "?code=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=%22%27%3E%3C".into(),
        "?state=a+b%26c%3D%23&code=x%2Fy&iss=https%3A%2F%2Fas.example%2F".into(),
        "?code=%E2%9C%8B&state=\u{e9}\u{270b}".into(),
        "?co%64e=abc&CODE=zzz&State=q".into(),
        "?code=a&x=1&x=2".into(),
        "?code=&state=s&iss".into(),
        "?code=c&state=".into(),
        "?code==&state==x=".into(),
        "?&&code=a&&".into(),
        "code=no-question-mark".into(),
        "?code=a;state=b".into(),
        "?code=a%20b+c".into(),
        // duplicates
        "?code=a&code=b".into(),
        "?state=a&code=x&state=a".into(),
        "?state=&state=b&code=c".into(),
        "?code=c&iss=a&iss=a".into(),
        "?error=access_denied&error=access_denied".into(),
        // encoding
        "?code=%zz".into(),
        "?code=%4".into(),
        "?code=a%".into(),
        "?other=%".into(),
        "?code=%FF%FE".into(),
        "?code=%E2%9C".into(),
        "?code=%ED%A0%80".into(),
        "?code=%C0%AF".into(),
        "?code=%F4%90%80%80".into(),
        "?code=%EF%BB%BF".into(),
        "?code=%00".into(),
        // control characters (C0, DEL, C1) and near misses
        "?code=a%0Ab".into(),
        "?code=a%0Db".into(),
        "?code=a%09b".into(),
        "?code=a%7Fb".into(),
        "?code=a%C2%80b".into(),
        "?code=a%C2%9Fb".into(),
        "?code=a%C2%A0b".into(),
        "?code=a%E2%80%8Bb".into(),
        "?code=a&other=%0A".into(),
        "?error=x&error_description=%00".into(),
        // error responses: known codes, unknown codes, the spoofing attempt
        "?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&error_uri=https%3A%2F%2Fas.example%2Fe&state=s&iss=i".into(),
        "?error=access_denied&error_description=Your+account+is+locked.+Call+support+at+%2B1-555-0100+or+visit+evil.example".into(),
        "?error=account_locked&error_description=Your+account+is+locked.+Call+support+at+%2B1-555-0100".into(),
        "?error=Your+account+is+locked.+Call+%2B1-555-0100".into(),
        "?error=Access_Denied".into(),
        "?error=access_denied%20".into(),
        "?error=login_required&state=s".into(),
        "?error=interaction_required".into(),
        "?error=account_selection_required".into(),
        "?error=consent_required".into(),
        "?error=server_error".into(),
        "?error=temporarily_unavailable".into(),
        "?error=invalid_request".into(),
        "?error=unauthorized_client".into(),
        "?error=unsupported_response_type".into(),
        "?error=invalid_scope".into(),
        "?error=invalid_request_uri".into(),
        "?error=invalid_request_object".into(),
        "?error=request_not_supported".into(),
        "?error=request_uri_not_supported".into(),
        "?error=registration_not_supported".into(),
        "?error=invalid_target".into(),
        "?error=invalid_authorization_details".into(),
        "?error=__proto__".into(),
        "?error=constructor".into(),
        "?error=hasOwnProperty".into(),
        "?error=toString".into(),
        "?error=access%22denied".into(),
        "?error=a%5Cb".into(),
        "?error=%C3%A9".into(),
        "?error=%7E%21".into(),
        "?code=c&error=access_denied".into(),
        "?state=only".into(),
        "?error_description=only".into(),
        "?error_uri=https%3A%2F%2Fas.example%2Fe".into(),
        // error_uri: only absolute https
        "?error=access_denied&error_uri=javascript%3Aalert(1)".into(),
        "?error=access_denied&error_uri=JavaScript%3Aalert(document.domain)".into(),
        "?error=access_denied&error_uri=data%3Atext%2Fhtml%2C%3Cscript%3Ealert(1)%3C%2Fscript%3E".into(),
        "?error=access_denied&error_uri=data%3Atext%2Fhtml%3Bbase64%2CPHNjcmlwdD4%3D".into(),
        "?error=access_denied&error_uri=http%3A%2F%2Fas.example%2Fe".into(),
        "?error=access_denied&error_uri=vbscript%3Amsgbox".into(),
        "?error=access_denied&error_uri=com.example.app%3A%2Fcallback".into(),
        "?error=access_denied&error_uri=%2F%2Fas.example%2Fe".into(),
        "?error=access_denied&error_uri=%2Ferrors%2Faccess_denied".into(),
        "?error=access_denied&error_uri=https%3Aas.example".into(),
        "?error=access_denied&error_uri=https%3A%2Fas.example".into(),
        "?error=access_denied&error_uri=https%3A%2F%2F".into(),
        "?error=access_denied&error_uri=https%3A%2F%2F%2Fe".into(),
        "?error=access_denied&error_uri=https%3A%2F%2F%3Fx".into(),
        "?error=access_denied&error_uri=https%3A%2F%2F%23x".into(),
        "?error=access_denied&error_uri=https%3A%2F%2Fbank.example%40evil.example%2F".into(),
        "?error=access_denied&error_uri=https%3A%2F%2Fas.example%2Fa+b".into(),
        "?error=access_denied&error_uri=https%3A%2F%2Fas.example%2F%22x%22".into(),
        "?error=access_denied&error_uri=https%3A%2F%2Fas.example%2F%5C".into(),
        "?error=access_denied&error_uri=https%3A%2F%2Fas.example%2F%C3%A9".into(),
        "?error=access_denied&error_uri=+https%3A%2F%2Fas.example%2F".into(),
        "?error=access_denied&error_uri=https%3A%2F%2Fas.example%2Fe".into(),
        "?error=access_denied&error_uri=HTTPS%3A%2F%2Fas.example%2Fe".into(),
        "?error=access_denied&error_uri=hTtPs%3A%2F%2Fas.example".into(),
        "?error=access_denied&error_uri=https%3A%2F%2Fas.example%3A8443%2Fe%3Flang%3Den%23top".into(),
        "?error=access_denied&error_uri=https%3A%2F%2F%5B2001%3Adb8%3A%3A1%5D%2Fe".into(),
        "?code=c&error_uri=javascript%3Ax".into(),
        "?code=c&error_uri=https%3A%2F%2Fas.example".into(),
        // limits
        format!("?code=c&state={}", "a".repeat(MAX_VALUE_BYTES)),
        format!("?code=c&state={}", "a".repeat(MAX_VALUE_BYTES + 1)),
        format!("?code=c&state={}", "%C3%A9".repeat(MAX_VALUE_BYTES / 2 + 1)),
        format!("?code=c&{}", "x=1&".repeat(MAX_PAIRS - 1)),
        format!("?code=c&{}", "x=1&".repeat(MAX_PAIRS)),
        format!("?code=c&pad={}", "a".repeat(MAX_INPUT_BYTES - "?code=c&pad=".len())),
        format!("?code=c&pad={}", "a".repeat(MAX_INPUT_BYTES + 1 - "?code=c&pad=".len())),
        // oddities
        String::new(),
        "?".into(),
        "#".into(),
        "&".into(),
        "=".into(),
        "?&=&".into(),
        "?+".into(),
        "?code".into(),
        "?=code".into(),
        "?redirect_uri=https%3A%2F%2Fevil.example&target=https%3A%2F%2Fevil.example".into(),
        "??code=a".into(),
        "?#code=a".into(),
    ];
    for q in &queries {
        out.push(login(q));
    }
    // Fragment responses (response_mode=fragment), and both at once.
    for (q, f) in [
        (
            "",
            "#code=frag123&state=fs&iss=https%3A%2F%2Fas.example.com",
        ),
        ("", "#error=access_denied&error_uri=javascript%3Aalert(1)"),
        ("?code=q", "#code=f"),
        ("?utm=1", "#code=f"),
        ("?foo=1", "#bar"),
        ("?code=q", "#"),
        ("?code=%zz", "#code=f"),
        ("?error_uri=javascript%3Ax", "#code=a"),
    ] {
        out.push(case(Some("login"), Some(LOGIN_LINK), q, f));
    }
    // The logout page forwards only state.
    for q in [
        "?state=s1&code=c&iss=i&target=https%3A%2F%2Fevil.example",
        "",
        "?state=a&state=b",
        "?state=%zz",
        "?code=only",
        "?error=access_denied&error_uri=javascript%3Ax",
    ] {
        out.push(case(Some("logout"), Some(LOGOUT_LINK), q, ""));
    }
    out.push(case(Some("logout"), Some(LOGOUT_LINK), "", "#state=f"));
    // The page's own configuration.
    let long_link = format!("https://mobile.example.com/{}", "a".repeat(2048));
    let at_limit_link = format!("https://mobile.example.com/{}", "a".repeat(2048 - 27));
    let app_links: Vec<Option<&str>> = vec![
        Some("https://mobile.example.com/app/callback"),
        Some("https://127.0.0.1:8443/cb"),
        Some("http://127.0.0.1:9000/app/cb"),
        Some("http://localhost/cb"),
        Some("http://localhost:8080/x"),
        Some("https://m.example.com/a-b_c.d~e/%20/"),
        Some(at_limit_link.as_str()),
        Some(long_link.as_str()),
        None,
        Some(""),
        Some("http://mobile.example.com/cb"),
        Some("http://127.0.0.1.evil.example/cb"),
        Some("http://localhost.evil.example/cb"),
        Some("http://127.0.0.2/cb"),
        Some("HTTPS://mobile.example.com/cb"),
        Some("javascript:alert(1)//https://x/"),
        Some("com.example.app:/callback"),
        Some("https:///cb"),
        Some("https://user:pw@mobile.example.com/cb"),
        Some("https://Mobile.example.com/cb"),
        Some("https://mobile.example.com:x/cb"),
        Some("https://mobile.example.com:/cb"),
        Some("https://mobile.example.com:123456/cb"),
        Some("https://.example.com/cb"),
        Some("https://-example.com/cb"),
        Some("https://[::1]/cb"),
        Some("https://mobile.example.com"),
        Some("https://mobile.example.com/a b"),
        Some("https://mobile.example.com/a\"><script>"),
        Some("https://mobile.example.com/cb?x=1"),
        Some("https://mobile.example.com/cb#x"),
        Some("https://mob\u{ef}le.example.com/cb"),
    ];
    for link in app_links {
        out.push(case(Some("login"), link, "?code=c&state=s", ""));
    }
    for kind in [
        None,
        Some(""),
        Some("Login"),
        Some("other"),
        Some("logout "),
    ] {
        out.push(case(kind, Some(LOGIN_LINK), "?code=c", ""));
    }
    out
}

/// A deterministic generator (64-bit LCG, Knuth's constants): no fuzzing toolchain needed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(self.0 >> 33).unwrap_or_default()
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        let i = self.next() % from.len().max(1);
        from.get(i).copied().unwrap_or_default()
    }
}

fn random_set() -> Vec<Value> {
    const NAMES: &[&str] = &[
        "code",
        "code",
        "state",
        "state",
        "iss",
        "error",
        "error",
        "error_description",
        "error_uri",
        "error_uri",
        "session_state",
        "redirect_uri",
        "target",
        "co%64e",
        "",
        "state&",
        "#code",
        "Code",
        "%63ode",
    ];
    // Mostly well-formed pieces, with hostile ones mixed in less often, so the set
    // reaches the forwarding paths as well as every rejection.
    const VALUES: &[&str] = &[
        "a",
        "Z",
        "0",
        "=",
        "?",
        "/",
        "+",
        " ",
        ":",
        "@",
        "%26",
        "%3D",
        "%23",
        "%22",
        "%40",
        "%E2%9C%8B",
        "é",
        "<script>",
        "\"",
        "javascript:",
        "//evil.example",
        "access_denied",
        "login_required",
        "consent_required",
        "server_error",
        "invalid_scope",
        "unknown_code",
        "https%3A%2F%2Fas.example%2Fe",
        "https://as.example",
        "HTTPS://AS.example/x",
        "javascript%3Aalert(1)",
        "data%3Atext%2Fhtml%2Cx",
        "http://as.example",
        "https%3A%2F%2Fa%40b",
        "https://",
        "as.example",
        "data:",
    ];
    const HOSTILE: &[&str] = &[
        "&",
        "#",
        "%",
        "%2",
        "%0A",
        "%7F",
        "%C2%85",
        "%FF",
        "%ED%A0%80",
        "%5C",
        "%00",
    ];
    const ERRORS: &[&str] = &[
        "access_denied",
        "login_required",
        "consent_required",
        "interaction_required",
        "server_error",
        "temporarily_unavailable",
        "invalid_request",
        "invalid_scope",
        "account_locked",
        "Access_Denied",
        "call+%2B1-555-0100",
        "__proto__",
        "a%22b",
        "%C3%A9",
    ];
    let mut rng = Lcg(0x5eed_2024_0b5e_55ed);
    let value = |rng: &mut Lcg| -> String {
        let mut v = String::new();
        for _ in 0..1 + rng.next() % 3 {
            let piece = if rng.next() % 12 == 0 {
                rng.pick(HOSTILE)
            } else {
                rng.pick(VALUES)
            };
            v.push_str(piece);
        }
        v
    };
    let mut out = Vec::with_capacity(RANDOM_CASES);
    for _ in 0..RANDOM_CASES {
        // A shape: a success response, an error response, or pairs from anywhere.
        let mut pairs: Vec<(String, String)> = Vec::new();
        match rng.next() % 3 {
            0 => {
                pairs.push(("code".into(), value(&mut rng)));
                for name in ["state", "iss", "session_state", "error_uri", "target"] {
                    if rng.next() % 2 == 0 {
                        pairs.push((name.into(), value(&mut rng)));
                    }
                }
            }
            1 => {
                pairs.push(("error".into(), rng.pick(ERRORS).into()));
                for name in ["error_description", "error_uri", "state", "iss"] {
                    if rng.next() % 2 == 0 {
                        pairs.push((name.into(), value(&mut rng)));
                    }
                }
            }
            _ => {
                for _ in 0..rng.next() % 5 {
                    pairs.push((rng.pick(NAMES).into(), value(&mut rng)));
                }
            }
        }
        // Mutations: shuffle, repeat a parameter, drop the `=`.
        for i in (1..pairs.len()).rev() {
            pairs.swap(i, rng.next() % (i + 1));
        }
        if !pairs.is_empty() && rng.next() % 8 == 0 {
            let i = rng.next() % pairs.len();
            if let Some(p) = pairs.get(i).cloned() {
                pairs.push(p);
            }
        }
        let mut query = String::new();
        if rng.next() % 8 != 0 {
            query.push('?');
        }
        for (name, value) in &pairs {
            query.push_str(name);
            if rng.next() % 12 != 0 {
                query.push('=');
            }
            query.push_str(value);
            query.push('&');
        }
        let logout = rng.next() % 6 == 0;
        let (page, link) = if logout {
            ("logout", LOGOUT_LINK)
        } else {
            ("login", LOGIN_LINK)
        };
        out.push(if rng.next() % 4 == 0 {
            let fragment = query.replacen('?', "#", 1);
            case(Some(page), Some(link), "", &fragment)
        } else {
            case(Some(page), Some(link), &query, "")
        });
    }
    out
}

fn languages() -> Vec<Value> {
    let prefs: [&[&str]; 12] = [
        &["de-DE", "en-US"],
        &["it-IT", "fr-CA", "de"],
        &["EN-gb", "de"],
        &["de_CH"],
        &[],
        &["ja-JP", "", "*", "-"],
        &["deu"],
        &["FR"],
        &["zh-Hant-TW", "de-1996"],
        &["__proto__", "fr"],
        &["en"],
        &["-de"],
    ];
    prefs
        .iter()
        .map(|p| json!({"preferences": p, "lang": choose(p).tag()}))
        .collect()
}

/// The whole vector file, one case per line so that changes review well.
pub fn vectors_json() -> String {
    let lines = |values: Vec<Value>| -> String {
        values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(",\n")
    };
    let mut cases = hostile_table();
    cases.extend(random_set());
    format!(
        "{{\n\"about\": {},\n\"fallback_data\": {},\n\"languages\": [\n{}\n],\n\"cases\": [\n{}\n]\n}}\n",
        Value::from(format!(
            "Generated by tollgate-site from the tollgate-redirect-page crate; do not edit. Regenerate: {REGENERATE}"
        )),
        Value::from(fallback_data_js()),
        lines(languages()),
        lines(cases),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked_in() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/e2e/page/parity-vectors.json"
        );
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn the_checked_in_vectors_are_what_the_code_writes() {
        assert!(
            checked_in() == vectors_json(),
            "{VECTORS_PATH} is stale: the page's Rust logic changed. Regenerate it with\n  {REGENERATE}\nand run the parity test (cd tests/e2e && node --test page/parity.test.mjs)"
        );
    }

    #[test]
    fn vectors_cover_every_screen_message_and_forwarded_error_uri() {
        let v: Value = serde_json::from_str(&vectors_json()).unwrap();
        let cases = v["cases"].as_array().unwrap();
        for screen in [
            "continue",
            "error",
            "logout",
            "no-response",
            "malformed",
            "misconfigured",
        ] {
            let n = cases.iter().filter(|c| c["screen"] == screen).count();
            assert!(n >= 5, "{screen}: {n}");
        }
        for m in tollgate_redirect_page::error_code::ErrorMessage::ALL {
            assert!(cases.iter().any(|c| c["message"] == m.key()), "{m:?}");
        }
        let random = &cases[cases.len() - RANDOM_CASES..];
        let forwarded = |c: &&Value| {
            c["link"]
                .as_str()
                .is_some_and(|l| l.contains('?') || l.contains('#'))
        };
        assert!(random.iter().filter(forwarded).count() > RANDOM_CASES / 10);
        assert!(random.iter().any(|c| c["link"]
            .as_str()
            .is_some_and(|l| l.contains("error_uri=https%3A%2F%2F"))));
        assert!(random
            .iter()
            .any(|c| c["screen"] == "error" && c["code"].is_null()));
    }
}
