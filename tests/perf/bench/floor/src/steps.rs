//! The per-request step list: what the floor does, as text, parsed once at configuration.
//!
//! One step per line; blank lines and lines starting with `#` are ignored:
//!
//! | step | host call (proxy-wasm ABI 0.2.1) | in tollgate's cached allow path |
//! |---|---|---|
//! | `headers` | `proxy_get_header_map_pairs` (all request headers in one call) | reading the request |
//! | `time` | `proxy_get_current_time_nanoseconds` | the clock for `exp`/`nbf` |
//! | `remove NAME` | `proxy_remove_header_map_value` | stripping a client-sent claim header |
//! | `set NAME VALUE` | `proxy_replace_header_map_value` | a claim header for the upstream (VALUE: rest of the line) |
//! | `count NAME` | `proxy_increment_metric` (counter NAME, defined at start) | `cache.hit`, `allowed`, per-provider `allowed` |
//! | `header NAME` | `proxy_get_header_map_value` (one request header) | — (the alternative to `headers`) |
//! | `property A.B` | `proxy_get_property` (path segments split at `.`) | a bound client certificate's digest |
//! | `shared KEY` | `proxy_get_shared_data` | the DPoP replay store, fetched keys |
//! | `noop` | none (a step that makes no host call) | — (the floor of the floor: a filter that only returns `Continue`) |
//!
//! The host-call cost table (`tests/perf/bench/host-calls.mjs`, `docs/bench/host-calls.md`) runs the floor
//! once per step kind with that step repeated, so one run prices each kind of call.
//!
//! The list is the plugin configuration; an empty configuration means [`DEFAULT_STEPS`].
//! When tollgate's hot path changes, change [`DEFAULT_STEPS`] (or pass a list in the Envoy
//! config) so the floor keeps making the same calls.

/// The host calls of tollgate's allow path on a verified-token cache hit, for the benchmark's
/// requests: three `claims_to_headers` entries (`sub`, `client_id`, `scope`), one provider,
/// the token forwarded, and no claim header sent by the client. tollgate removes a claim
/// header only when the request carries it, so the `remove` lines stay commented out until
/// the benchmark sends claim headers. Its counters (cache hit, allowed) are counted in the VM
/// and handed to Envoy once a second, not per request: the floor counts nothing (the
/// `count` lines show what tollgate did per request before).
pub const DEFAULT_STEPS: &str = "\
headers
# remove x-user-id
# remove x-client-id
# remove x-token-scope
time
# count floor.cache.hit
set x-user-id user-1234
set x-client-id mobile-app
set x-token-scope orders:read
# count floor.allowed
";

/// One host call per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read all request headers with one host call.
    ReadHeaders,
    /// Read the host clock.
    Time,
    /// Remove every request header with this name.
    Remove(String),
    /// Set a request header to this value (replacing any present).
    Set(String, String),
    /// Add one to the counter with this name.
    Count(String),
    /// Read one request header by name.
    ReadHeader(String),
    /// Read a property (its path: the segments of the name split at `.`).
    Property(String),
    /// Read a shared-data entry (absent is fine).
    SharedData(String),
    /// No host call at all.
    Noop,
}

/// Why a step list was refused (line numbers count from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// The configuration is not UTF-8.
    NotUtf8,
    /// The list has no step at all (only blank or comment lines).
    NoSteps,
    /// The first word of a line is not a step name.
    UnknownStep { line: usize, word: String },
    /// The step needs a name (and `set` a value) that the line lacks.
    MissingArgument { line: usize, step: &'static str },
    /// A step without arguments (`headers`, `time`, `noop`) or with one (`remove`, `count`,
    /// `header`, `property`, `shared`) has more.
    UnexpectedArgument { line: usize, step: &'static str },
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::NotUtf8 => write!(f, "the step list is not UTF-8"),
            StepError::NoSteps => write!(f, "the step list has no step"),
            StepError::UnknownStep { line, word } => write!(
                f,
                "line {line}: unknown step {word:?} (expected headers, header, time, remove, set, count, property, shared or noop)"
            ),
            StepError::MissingArgument { line, step } => {
                let usage = match *step {
                    "set" => "set NAME VALUE",
                    "remove" => "remove NAME",
                    "header" => "header NAME",
                    "property" => "property A.B",
                    "shared" => "shared KEY",
                    _ => "count NAME",
                };
                write!(f, "line {line}: {step} needs arguments: {usage}")
            }
            StepError::UnexpectedArgument { line, step } => {
                write!(f, "line {line}: {step} takes no further arguments")
            }
        }
    }
}

/// Parse a plugin configuration: empty (or only whitespace) means [`DEFAULT_STEPS`].
pub fn parse_config(config: &[u8]) -> Result<Vec<Step>, StepError> {
    let text = std::str::from_utf8(config).map_err(|_| StepError::NotUtf8)?;
    if text.trim().is_empty() {
        parse(DEFAULT_STEPS)
    } else {
        parse(text)
    }
}

/// Parse a step list.
pub fn parse(text: &str) -> Result<Vec<Step>, StepError> {
    let mut steps = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let (word, rest) = split_word(content);
        let step = match word {
            "headers" => no_argument(line, "headers", rest, Step::ReadHeaders)?,
            "time" => no_argument(line, "time", rest, Step::Time)?,
            "remove" => Step::Remove(one_argument(line, "remove", rest)?),
            "count" => Step::Count(one_argument(line, "count", rest)?),
            "header" => Step::ReadHeader(one_argument(line, "header", rest)?),
            "property" => Step::Property(one_argument(line, "property", rest)?),
            "shared" => Step::SharedData(one_argument(line, "shared", rest)?),
            "noop" => no_argument(line, "noop", rest, Step::Noop)?,
            "set" => {
                let (name, value) = split_word(rest);
                if name.is_empty() || value.is_empty() {
                    return Err(StepError::MissingArgument { line, step: "set" });
                }
                Step::Set(name.to_string(), value.to_string())
            }
            other => {
                return Err(StepError::UnknownStep {
                    line,
                    word: other.to_string(),
                })
            }
        };
        steps.push(step);
    }
    if steps.is_empty() {
        return Err(StepError::NoSteps);
    }
    Ok(steps)
}

/// The first whitespace-separated word and the trimmed rest.
fn split_word(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}

fn no_argument(
    line: usize,
    step: &'static str,
    rest: &str,
    value: Step,
) -> Result<Step, StepError> {
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(StepError::UnexpectedArgument { line, step })
    }
}

fn one_argument(line: usize, step: &'static str, rest: &str) -> Result<String, StepError> {
    let (name, more) = split_word(rest);
    if name.is_empty() {
        return Err(StepError::MissingArgument { line, step });
    }
    if !more.is_empty() {
        return Err(StepError::UnexpectedArgument { line, step });
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_list_is_tollgates_cached_allow_path() {
        let steps = parse_config(b"").unwrap();
        let count = |f: fn(&Step) -> bool| steps.iter().filter(|s| f(s)).count();
        assert_eq!(count(|s| *s == Step::ReadHeaders), 1);
        assert_eq!(count(|s| *s == Step::Time), 1);
        assert_eq!(count(|s| matches!(s, Step::Remove(_))), 0);
        assert_eq!(count(|s| matches!(s, Step::Set(..))), 3);
        assert_eq!(count(|s| matches!(s, Step::Count(_))), 0);
        assert_eq!(steps.len(), 5);
        // The removals are one edit away: uncommenting them gives three more steps.
        let with_removals = DEFAULT_STEPS.replace("# remove", "remove");
        let all = parse(&with_removals).unwrap();
        assert_eq!(all.len(), 8);
        assert_eq!(all[1], Step::Remove("x-user-id".into()));
        assert!(steps.contains(&Step::Set("x-token-scope".into(), "orders:read".into())));
        assert_eq!(parse_config(b" \n\t\n").unwrap(), steps);
    }

    #[test]
    fn every_step_parses_with_comments_blank_lines_and_spaces() {
        let text = "# what tollgate does\n\n  headers\ntime\nremove  x-user-id\nset x-token-scope orders:read orders:write \ncount floor.allowed\n";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                Step::ReadHeaders,
                Step::Time,
                Step::Remove("x-user-id".into()),
                Step::Set("x-token-scope".into(), "orders:read orders:write".into()),
                Step::Count("floor.allowed".into()),
            ]
        );
    }

    #[test]
    fn the_steps_of_the_cost_table_parse() {
        assert_eq!(
            parse("noop\nheader authorization\nproperty request.path\nshared tollgate.k\n")
                .unwrap(),
            vec![
                Step::Noop,
                Step::ReadHeader("authorization".into()),
                Step::Property("request.path".into()),
                Step::SharedData("tollgate.k".into()),
            ]
        );
        assert_eq!(
            parse("noop now\n"),
            Err(StepError::UnexpectedArgument {
                line: 1,
                step: "noop"
            })
        );
        assert_eq!(
            parse("header\n"),
            Err(StepError::MissingArgument {
                line: 1,
                step: "header"
            })
        );
    }

    #[test]
    fn bad_lists_are_refused_with_the_line_and_the_reason() {
        assert_eq!(parse_config(&[0xff, 0xfe]), Err(StepError::NotUtf8));
        assert_eq!(parse("# nothing\n\n"), Err(StepError::NoSteps));
        assert_eq!(
            parse("headers\nsleep 1\n"),
            Err(StepError::UnknownStep {
                line: 2,
                word: "sleep".into()
            })
        );
        assert_eq!(
            parse("set x-user-id\n"),
            Err(StepError::MissingArgument {
                line: 1,
                step: "set"
            })
        );
        assert_eq!(
            parse("remove\n"),
            Err(StepError::MissingArgument {
                line: 1,
                step: "remove"
            })
        );
        assert_eq!(
            parse("count a b\n"),
            Err(StepError::UnexpectedArgument {
                line: 1,
                step: "count"
            })
        );
        assert_eq!(
            parse("time now\n"),
            Err(StepError::UnexpectedArgument {
                line: 1,
                step: "time"
            })
        );
        assert_eq!(
            StepError::UnknownStep {
                line: 2,
                word: "sleep".into()
            }
            .to_string(),
            "line 2: unknown step \"sleep\" (expected headers, header, time, remove, set, count, property, shared or noop)"
        );
        assert_eq!(
            StepError::MissingArgument {
                line: 1,
                step: "set"
            }
            .to_string(),
            "line 1: set needs arguments: set NAME VALUE"
        );
    }
}
