//! `introspection`: reading an introspection answer (`json`, `jwt`, `phantom` modes), holding
//! it to the provider's rules, its reuse window and its shared-cache entry.
//!
//! Input: byte 0 chooses the mode (`% 3`: json, jwt, phantom) and the status (`/ 3 % 4`: 200,
//! 204, 500, no answer); byte 1 chooses, in the `jwt` and `phantom` modes, whether the rest is
//! signed by `testkit` (odd: the rest is the payload of a JWT signed with the provider's ES256
//! key, `typ` by mode) or sent as the body as it is (even). The rest is the body (or payload).
//!
//! Checked: no status but 200 (and 204 in `phantom` mode, read as inactive) gives a verdict;
//! a `json` verdict exists only for a strict JSON object whose `active` is a boolean, and an
//! active one carries exactly that object; a `jwt`/`phantom` verdict carries exactly the
//! body as its JWT, and only a body signed by the provider's key gets one; the reuse window
//! never passes `exp` nor `cache_seconds`; a stored verdict decodes to itself under its own
//! key, never under another's, and its entry never contains the token.

use serde_json::{json, Value};
use tollgate_core::config::Config;
use tollgate_core::introspection::answer::{read, Reader};
use tollgate_core::introspection::{
    admit_claims, cache_until, Failure, SharedKey, Stored, Verdict,
};
use tollgate_core::signature::Verifiers;
use tollgate_core::testkit::{self, TestKey};
use tollgate_core::{KeySet, ProviderId, TokenError};

const TOKEN: &str = "fuzz-opaque-token";

fn config(mode: &str) -> Config {
    let mut c = testkit::config();
    c["providers"][0]["introspection"] = json!({
        "cluster": "idsvr",
        "url": "https://login.example.test/introspect",
        "client_id": "gateway",
        "client_secret": "s3cret",
        "response": mode,
        "cache_seconds": 120,
        "negative_cache_seconds": 10
    });
    match Config::from_json(c.to_string().as_bytes()) {
        Ok(c) => c,
        Err(e) => panic!("the fuzz configuration is refused: {e}"),
    }
}

/// Run one input.
pub fn run(data: &[u8]) {
    let _ = checked(data);
}

/// Run one input; the verdict read (None: no input), for the tests that check the seeds
/// reach every verdict.
pub fn checked(data: &[u8]) -> Option<Result<Verdict, Failure>> {
    let (Some(&selector), rest) = (data.first(), data.get(1..).unwrap_or(&[])) else {
        return None;
    };
    let mode = ["json", "jwt", "phantom"][usize::from(selector % 3)];
    let status = [Some(200), Some(204), Some(500), None][usize::from(selector / 3 % 4)];
    let (sign, payload) = match rest.split_first() {
        Some((flag, payload)) if mode != "json" => (flag % 2 == 1, payload),
        _ => (false, rest),
    };
    let body: Vec<u8> = if sign {
        let mut header = testkit::header(TestKey::Es256);
        if mode == "jwt" {
            header.insert("typ".into(), "token-introspection+jwt".into());
        }
        testkit::mint_bytes(
            TestKey::Es256,
            Value::Object(header).to_string().as_bytes(),
            payload,
        )
        .into_bytes()
    } else {
        payload.to_vec()
    };

    let config = config(mode);
    let keys: Vec<KeySet> = config
        .providers
        .iter()
        .map(|p| p.initial_keys.clone())
        .collect();
    let verifiers = Verifiers::pure();
    let Some(intro) = config.providers[0].introspection.as_ref() else {
        panic!("no introspection in the fuzz configuration")
    };
    let reader = Reader {
        providers: &config.providers,
        keys: &keys,
        verifiers: &verifiers,
        provider: ProviderId(0),
        introspection: intro,
        max_token_bytes: config.max_token_bytes,
    };
    let now = testkit::NOW;
    let verdict = read(&reader, status, body.len(), &body, now);
    let result = verdict.clone();

    match (status, &verdict) {
        (Some(200), _) => {}
        (Some(204), Ok(Verdict::Rejected(TokenError::Inactive))) if mode == "phantom" => {}
        (_, Err(Failure::Unavailable)) => {}
        (s, v) => panic!("status {s:?} gave {v:?}"),
    }
    let Ok(verdict) = verdict else {
        return Some(result);
    };
    match (&verdict, mode) {
        (Verdict::Active { claims, jwt }, "json") => {
            assert!(jwt.is_none(), "a json answer carries a JWT");
            let parsed: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => panic!("accepted an answer serde_json refuses: {e}"),
            };
            assert_eq!(
                parsed,
                Value::Object(claims.clone()),
                "the claims are not the answer"
            );
            assert_eq!(claims.get("active"), Some(&Value::Bool(true)));
        }
        (Verdict::Active { jwt, .. }, _) => {
            assert!(sign, "an unsigned {mode} answer was accepted");
            let text = String::from_utf8_lossy(&body);
            assert_eq!(jwt.as_deref(), Some(text.trim()), "the JWT is not the body");
        }
        (Verdict::Rejected(_), _) => {}
    }

    // The provider's rules, the reuse window and the shared entry.
    let exp = match &verdict {
        Verdict::Active { claims, .. } => match admit_claims(&config.providers[0], claims, now) {
            Ok(admitted) => admitted.exp,
            Err(_) => return Some(result),
        },
        Verdict::Rejected(_) => None,
    };
    let Some(until) = cache_until(intro, &verdict, exp, None, now) else {
        return Some(result);
    };
    assert!(until > now);
    if matches!(verdict, Verdict::Active { .. }) {
        assert!(
            until <= now + intro.cache_seconds,
            "kept beyond cache_seconds"
        );
        if let Some(exp) = exp {
            assert!(until <= exp, "kept beyond exp");
        }
    }
    let key = SharedKey::of(intro, TOKEN);
    let stored = Stored { until, verdict };
    if let Ok(bytes) = stored.encode(key) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "the entry holds the token"
        );
        assert_eq!(Stored::decode(&bytes, key, now).as_ref(), Ok(&stored));
        let other = SharedKey::of(intro, "another-token");
        assert!(Stored::decode(&bytes, other, now).is_err());
    }
    Some(result)
}
