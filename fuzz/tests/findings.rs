//! Findings of the fuzz targets in the core, kept as regression tests now that the core has
//! the behaviour each invariant wants. Each test names the target that found it and why the
//! behaviour matters; the inputs themselves are also in `regressions/`.

use tollgate_core::config::Config;
use tollgate_core::path::{canonicalize, PathError};
use tollgate_core::testkit;
use tollgate_core::{CacheSecret, DenialKind, Engine, Outcome, PathParameters, RequestError};

fn engine() -> Engine {
    Engine::from_json(
        testkit::config().to_string().as_bytes(),
        CacheSecret([0x5eed, 1]),
    )
    .unwrap()
}

/// `config`: "an error names a field". A member repeated at the top level is named in the
/// error's field, as nested repeats are (`providers[0]`).
#[test]
fn duplicate_top_level_member_is_named() {
    let mut c = testkit::config().to_string();
    c.insert_str(1, r#""realm":"a","#);
    let e = Config::from_json(c.as_bytes()).unwrap_err();
    assert_eq!(e.message, "duplicate field `realm`");
    assert_eq!(e.field, "realm");
}

/// `config`: the same for an unknown member whose name is empty (`{"": …}` at the top
/// level): the field is written `""` rather than left empty, which would read as "the
/// document as a whole is wrong".
#[test]
fn empty_named_top_level_member_is_named() {
    let mut c = testkit::config().to_string();
    c.insert_str(1, r#""":1,"#);
    let e = Config::from_json(c.as_bytes()).unwrap_err();
    assert!(e.message.starts_with("unknown field ``"), "{e}");
    assert_eq!(e.field, "\"\"", "{e:?}");
}

/// `path`: "a canonical path never contains what the canonicaliser refuses". `%25` followed
/// by two hex digits is refused as double encoding, also when the hex digits are themselves
/// escaped (`%32` is `2`, `%65` is `e`): decoding them would complete the `%25XX` in the
/// canonical path, and an upstream that decodes twice (the case the refusal exists for)
/// would see `/health/../admin` behind an anonymous rule. Found by libFuzzer within 15 s
/// (`/%25A%42A` → `/%25ABA`).
#[test]
fn escaped_hex_digits_cannot_build_a_double_encoding() {
    let raw = "/health/%25%32%65%25%32%65/admin";
    for mode in [PathParameters::Reject, PathParameters::Strip] {
        assert_eq!(
            canonicalize(raw, mode).map(|t| t.path().to_owned()),
            Err(PathError::DoubleEncoding)
        );
    }
    let outcome = engine()
        .evaluate(&testkit::request("GET", raw, None), testkit::NOW)
        .outcome;
    let Outcome::Deny(d) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        d.kind,
        DenialKind::InvalidRequest(RequestError::InvalidPath(PathError::DoubleEncoding))
    );
}

/// `path`: the engine refuses a method override "in any spelling the upstream treats as the
/// same": PHP, Symfony and Laravel decode `_%6Dethod` to `_method` and run the DELETE
/// handler, and PHP also turns `.` and spaces in names into `_`.
#[test]
fn encoded_method_override_is_refused() {
    let mut engine = engine();
    for path in [
        "/orders?_%6Dethod=DELETE",
        "/orders?%5F%6D%65thod=DELETE",
        "/orders?.method=DELETE",
    ] {
        let outcome = engine
            .evaluate(&testkit::request("POST", path, None), testkit::NOW)
            .outcome;
        let Outcome::Deny(d) = outcome else {
            panic!("{path}: {outcome:?}")
        };
        assert_eq!(
            d.kind,
            DenialKind::InvalidRequest(RequestError::MethodOverride),
            "{path}"
        );
    }
}
