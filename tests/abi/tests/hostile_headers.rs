//! Hostile request headers never crash the VM and never yield a 5xx: each gets a 4xx
//! (or passes, where the input is harmless), and the VM keeps serving afterwards.

use tollgate_abi_tests::{Action, FilterVm, Header};

use crate::common::{expect_forwarded, family, standard_vm, testkit, TestKey, NOW};

/// Send raw headers; assert the VM survived and the answer is a 4xx or a pass.
fn survives(vm: &mut FilterVm, label: &str, headers: Vec<Header>) -> Option<u32> {
    let req = vm.new_http_context().unwrap();
    let action = vm
        .on_request_headers_raw(req, headers, true)
        .unwrap_or_else(|e| panic!("{label}: the VM trapped: {e}"));
    let response = vm.local_response(req).unwrap();
    match (action, &response) {
        (Action::Continue, None) => None,
        (Action::Pause, Some(r)) => {
            assert!(
                (400..500).contains(&r.status),
                "{label}: status {}",
                r.status
            );
            assert!(!r.body.is_empty(), "{label}: empty body");
            Some(r.status)
        }
        other => panic!("{label}: inconsistent outcome {other:?}"),
    }
}

fn get_with_authorization(value: Vec<u8>) -> Vec<Header> {
    let mut headers: Vec<Header> = testkit::request("GET", "/orders", None)
        .into_iter()
        .map(|(n, v)| (n, v.into_bytes()))
        .collect();
    headers.push(("authorization".into(), value));
    headers
}

#[test]
fn hostile_authorization_values_get_4xx_and_never_crash() {
    let mut vm = standard_vm();
    let valid = testkit::token(TestKey::Es256, NOW);
    let (head, rest) = valid.split_once('.').unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("scheme only", b"Bearer".to_vec()),
        ("scheme and space", b"Bearer ".to_vec()),
        ("dot", b"Bearer .".to_vec()),
        ("two dots", b"Bearer ..".to_vec()),
        ("five segments", b"Bearer a.b.c.d.e".to_vec()),
        (
            "100 000 x a",
            format!("Bearer {}", "a".repeat(100_000)).into_bytes(),
        ),
        (
            "oversize three segments",
            format!(
                "Bearer {}.{}.{}",
                "a".repeat(40_000),
                "b".repeat(40_000),
                "c".repeat(40_000)
            )
            .into_bytes(),
        ),
        ("basic scheme", b"Basic dXNlcjpwYXNz".to_vec()),
        ("nul byte", b"Bearer \0".to_vec()),
        (
            "non-UTF-8",
            vec![b'B', b'e', b'a', b'r', b'e', b'r', b' ', 0xff, 0xfe, 0x80],
        ),
        (
            "token with trailing garbage",
            format!("Bearer {valid} extra").into_bytes(),
        ),
        ("non-UTF-8 inside a valid token", {
            let mut v = format!("Bearer {head}.").into_bytes();
            v.push(0xff);
            v.extend_from_slice(rest.as_bytes());
            v
        }),
        (
            "header segment not JSON",
            format!("Bearer bm90IGpzb24.{rest}").into_bytes(),
        ),
        ("tab-separated", format!("Bearer\t{valid}").into_bytes()),
    ];
    for (label, value) in cases {
        survives(&mut vm, label, get_with_authorization(value));
    }
    assert_eq!(vm.crashed(), None);
    // Still serving.
    expect_forwarded(&mut vm, &testkit::request("GET", "/orders", Some(&valid)));
}

#[test]
fn hostile_paths_and_pseudo_headers_never_crash() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::EdDsa, NOW);
    let auth = format!("Bearer {token}").into_bytes();
    let h = |pairs: &[(&str, &[u8])]| -> Vec<Header> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_string(), v.to_vec()))
            .collect()
    };
    let long_path = format!("/orders/{}", "x".repeat(64 * 1024));
    let cases: Vec<(&str, Vec<Header>)> = vec![
        ("no headers at all", Vec::new()),
        (
            "no :path",
            h(&[(":method", b"GET"), ("authorization", &auth)]),
        ),
        (
            "no :method",
            h(&[(":path", b"/orders"), ("authorization", &auth)]),
        ),
        (
            "empty path",
            h(&[
                (":method", b"GET"),
                (":path", b""),
                ("authorization", &auth),
            ]),
        ),
        (
            "asterisk path",
            h(&[
                (":method", b"OPTIONS"),
                (":path", b"*"),
                ("authorization", &auth),
            ]),
        ),
        (
            "non-UTF-8 path",
            h(&[
                (":method", b"GET"),
                (":path", b"/orders/\xff\xfe"),
                ("authorization", &auth),
            ]),
        ),
        (
            "dot-dot path",
            h(&[
                (":method", b"GET"),
                (":path", b"/health/../admin"),
                ("authorization", &auth),
            ]),
        ),
        (
            "encoded path",
            h(&[
                (":method", b"GET"),
                (":path", b"/%68ealth/../admin"),
                ("authorization", &auth),
            ]),
        ),
        (
            "64 KiB path",
            h(&[
                (":method", b"GET"),
                (":path", long_path.as_bytes()),
                ("authorization", &auth),
            ]),
        ),
        (
            "odd method",
            h(&[
                (":method", b"G\0T"),
                (":path", b"/orders"),
                ("authorization", &auth),
            ]),
        ),
    ];
    for (label, headers) in cases {
        survives(&mut vm, label, headers);
    }
    assert_eq!(vm.crashed(), None);
}

#[test]
fn thousands_of_headers_do_not_crash() {
    let mut vm = standard_vm();
    let token = testkit::token(TestKey::Es256, NOW);
    let mut headers: Vec<Header> = testkit::request("GET", "/orders", Some(&token))
        .into_iter()
        .map(|(n, v)| (n, v.into_bytes()))
        .collect();
    for i in 0..5_000 {
        headers.push((format!("x-filler-{i}"), vec![b'v'; 16]));
        headers.push(("x-user-id".into(), format!("spoof-{i}").into_bytes()));
    }
    assert_eq!(
        survives(&mut vm, "5000 spoofed claim headers", headers),
        None
    );
    assert_eq!(family(&mut vm, "allowed", &[]), 1);
}

#[test]
fn the_hostile_table_leaves_no_5xx_in_the_counters() {
    // Every denial is counted under a known reason: denied == sum of the per-reason counters.
    let mut vm = standard_vm();
    for value in [&b""[..], b"Bearer", b"Bearer a.b.c", b"Bearer \xff"] {
        survives(&mut vm, "table", get_with_authorization(value.to_vec()));
    }
    let total = family(&mut vm, "denied", &[]);
    let by_reason: u64 = tollgate_core::ALL_REASONS
        .iter()
        .map(|r| family(&mut vm, "denied", &[("reason", r)]))
        .sum();
    assert_eq!(total, 4);
    assert_eq!(by_reason, total);
}
