//! Reading what the operator points at: a plugin configuration (JSON), an Envoy configuration
//! (YAML or JSON) with the filter in it, an Istio `WasmPlugin` or an Envoy Gateway
//! `EnvoyExtensionPolicy` (YAML, several documents allowed). Every input is bounded: the
//! file's size, UTF-8, the nesting depth, and YAML anchors and aliases are refused outright
//! (an alias can make a small file expand to gigabytes: a "billion laughs" bomb).

use std::fmt;
use std::fs::File;
use std::io::Read;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// Largest file read. A configuration with a few inline keys is a few kilobytes; Envoy
/// configurations with many listeners stay well under this.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// Deepest nesting of YAML collections accepted (Envoy configurations nest about 20 deep).
pub const MAX_YAML_DEPTH: usize = 64;

/// Why an input could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// The file could not be opened or read.
    Io(String),
    /// Larger than [`MAX_FILE_BYTES`].
    TooLarge,
    /// Not UTF-8 (byte offset of the first bad byte).
    NotUtf8(usize),
    /// Not YAML (the parser's message with its position).
    Yaml(String),
    /// An anchor (`&a`) or alias (`*a`) at this line.
    YamlAlias(usize),
    /// A tag (`!!binary`, `!Ref`) at this line.
    YamlTag(usize),
    /// Collections nested deeper than [`MAX_YAML_DEPTH`] at this line.
    TooDeep(usize),
    /// A mapping key that is not a scalar, or repeated, at this line.
    YamlKey(usize, String),
    /// The document holds no tollgate configuration.
    NothingFound,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(e) => write!(f, "cannot read: {e}"),
            InputError::TooLarge => write!(
                f,
                "larger than {} MiB: not a configuration",
                MAX_FILE_BYTES >> 20
            ),
            InputError::NotUtf8(at) => write!(f, "not UTF-8 (byte {at})"),
            InputError::Yaml(e) => write!(f, "not YAML: {e}"),
            InputError::YamlAlias(line) => write!(
                f,
                "line {line}: YAML anchors and aliases are refused (write the value out)"
            ),
            InputError::YamlTag(line) => write!(f, "line {line}: YAML tags are refused"),
            InputError::TooDeep(line) => {
                write!(f, "line {line}: nested deeper than {MAX_YAML_DEPTH} levels")
            }
            InputError::YamlKey(line, what) => write!(f, "line {line}: {what}"),
            InputError::NothingFound => f.write_str(
                "no tollgate configuration found (expected a plugin configuration, an Envoy \
                 configuration with an envoy.filters.http.wasm filter, an Istio WasmPlugin or an \
                 Envoy Gateway EnvoyExtensionPolicy)",
            ),
        }
    }
}

/// Read a file (`-`: standard input), at most [`MAX_FILE_BYTES`], as UTF-8 text.
pub fn read_text(path: &str) -> Result<String, InputError> {
    let source: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(|e| InputError::Io(e.to_string()))?)
    };
    let mut bytes = Vec::new();
    source
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::Io(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(InputError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|e| InputError::NotUtf8(e.utf8_error().valid_up_to()))
}

/// One tollgate configuration found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Where it is, for the operator (`WasmPlugin orders/tollgate`, `wasm filter "api"`), or
    /// empty for a file that is the configuration itself.
    pub location: String,
    /// The configuration's JSON text, exactly as the filter would receive it.
    pub json: String,
    /// Variables the file gives the filter's VM (Envoy `vm_config.environment_variables.key_values`,
    /// Istio `vmConfig.env` entries with a `value`): secrets written as `{"env": NAME}` are looked
    /// up there first.
    pub env: Vec<(String, String)>,
}

/// The tollgate configurations in `text`. A text starting with `{` that has no
/// `static_resources`, `apiVersion` or `kind` member is the plugin configuration itself and
/// is returned unparsed, so the filter's own parser reports every error in it.
pub fn configurations(text: &str) -> Result<Vec<Found>, InputError> {
    let documents = if text.trim_start().starts_with('{') {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o))
                if !["static_resources", "apiVersion", "kind"]
                    .iter()
                    .any(|k| o.contains_key(*k)) =>
            {
                return Ok(vec![Found {
                    location: String::new(),
                    json: text.to_owned(),
                    env: Vec::new(),
                }]);
            }
            Ok(v) => vec![v],
            // Not a JSON value: the filter's parser names the problem.
            Err(_) => {
                return Ok(vec![Found {
                    location: String::new(),
                    json: text.to_owned(),
                    env: Vec::new(),
                }])
            }
        }
    } else {
        yaml_documents(text)?
    };
    let mut found = Vec::new();
    for doc in &documents {
        find(doc, &mut found);
    }
    if found.is_empty() {
        return Err(InputError::NothingFound);
    }
    Ok(found)
}

const WASM_FILTER: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";

/// Collect configurations from a Kubernetes manifest or an Envoy configuration.
fn find(doc: &Value, out: &mut Vec<Found>) {
    let kind = doc.get("kind").and_then(Value::as_str);
    let name = |d: &Value| {
        let meta = d.get("metadata");
        let ns = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str);
        let n = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
        match (ns, n) {
            (Some(ns), Some(n)) => format!("{ns}/{n}"),
            (None, Some(n)) => n.to_owned(),
            _ => "(unnamed)".to_owned(),
        }
    };
    match kind {
        Some("WasmPlugin") => {
            if let Some(cfg) = doc.get("spec").and_then(|s| s.get("pluginConfig")) {
                let env = doc
                    .get("spec")
                    .and_then(|s| s.get("vmConfig"))
                    .and_then(|v| v.get("env"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| {
                        let name = e.get("name")?.as_str()?;
                        let value = e.get("value")?.as_str()?;
                        Some((name.to_owned(), value.to_owned()))
                    })
                    .collect();
                out.push(Found {
                    location: format!("WasmPlugin {}", name(doc)),
                    json: cfg.to_string(),
                    env,
                });
            }
        }
        Some("EnvoyExtensionPolicy") => {
            let wasm = doc
                .get("spec")
                .and_then(|s| s.get("wasm"))
                .and_then(Value::as_array);
            for (i, w) in wasm.into_iter().flatten().enumerate() {
                if let Some(cfg) = w.get("config") {
                    out.push(Found {
                        location: format!("EnvoyExtensionPolicy {} wasm[{i}]", name(doc)),
                        json: cfg.to_string(),
                        env: Vec::new(),
                    });
                }
            }
        }
        Some(_) => {}
        None => envoy_filters(doc, out),
    }
}

/// Every `envoy.filters.http.wasm` filter with a `configuration`, anywhere in the tree.
fn envoy_filters(v: &Value, out: &mut Vec<Found>) {
    match v {
        Value::Object(o) => {
            if o.get("@type").and_then(Value::as_str) == Some(WASM_FILTER) {
                let config = o.get("config");
                let configuration = config.and_then(|c| c.get("configuration"));
                let text = match configuration {
                    Some(Value::Object(c)) => c.get("value").map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
                    Some(Value::String(s)) => Some(s.clone()),
                    _ => None,
                };
                if let Some(json) = text {
                    let label = config
                        .and_then(|c| c.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or("(unnamed)");
                    let env = config
                        .and_then(|c| c.get("vm_config"))
                        .and_then(|v| v.get("environment_variables"))
                        .and_then(|e| e.get("key_values"))
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect();
                    out.push(Found {
                        location: format!("wasm filter \"{label}\""),
                        json,
                        env,
                    });
                }
                return;
            }
            for value in o.values() {
                envoy_filters(value, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                envoy_filters(item, out);
            }
        }
        _ => {}
    }
}

/// A collection being built.
enum Open {
    Seq(Vec<Value>),
    Map(Map<String, Value>, Option<String>),
}

/// Parse every YAML document of `text` into JSON values (YAML 1.2 core schema for plain
/// scalars), refusing anchors, aliases, tags, non-scalar or repeated keys, and nesting deeper
/// than [`MAX_YAML_DEPTH`]. Iterative: no recursion on the input's depth.
pub fn yaml_documents(text: &str) -> Result<Vec<Value>, InputError> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| InputError::Yaml(e.to_string()))?;
        let line = mark.line();
        let value = match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::DocumentStart | Event::DocumentEnd | Event::Nothing => {
                continue
            }
            Event::Alias(_) => return Err(InputError::YamlAlias(line)),
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag)
                if anchor != 0 || tag.is_some() =>
            {
                return Err(if anchor != 0 {
                    InputError::YamlAlias(line)
                } else {
                    InputError::YamlTag(line)
                });
            }
            Event::Scalar(_, _, anchor, _) if anchor != 0 => {
                return Err(InputError::YamlAlias(line))
            }
            Event::Scalar(_, _, _, Some(_)) => return Err(InputError::YamlTag(line)),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_YAML_DEPTH {
                    return Err(InputError::TooDeep(line));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq(Vec::new())
                } else {
                    Open::Map(Map::new(), None)
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq(items)) => Value::Array(items),
                _ => {
                    return Err(InputError::Yaml(format!(
                        "line {line}: unbalanced sequence"
                    )))
                }
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(map, None)) => Value::Object(map),
                _ => return Err(InputError::Yaml(format!("line {line}: unbalanced mapping"))),
            },
            Event::Scalar(text, style, _, None) => {
                // A key of the mapping being built?
                if let Some(Open::Map(map, key @ None)) = stack.last_mut() {
                    if map.contains_key(&text) {
                        return Err(InputError::YamlKey(
                            line,
                            format!("the key \"{text}\" is repeated"),
                        ));
                    }
                    *key = Some(text);
                    continue;
                }
                scalar(text, style)
            }
        };
        // Attach the finished value to its parent, or end a document.
        match stack.last_mut() {
            None => docs.push(value),
            Some(Open::Seq(items)) => items.push(value),
            Some(Open::Map(map, key)) => match key.take() {
                Some(k) => {
                    map.insert(k, value);
                }
                None => {
                    return Err(InputError::YamlKey(
                        line,
                        "a mapping key must be a plain value, not a collection".into(),
                    ))
                }
            },
        }
    }
    Ok(docs)
}

/// A scalar under the YAML 1.2 core schema: quoted and block scalars are strings; plain ones
/// may be null, a boolean, an integer or a finite float.
fn scalar(text: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(&text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = text.trim_start_matches('+').parse::<i64>() {
            return Value::Number(n.into());
        }
        if let Ok(n) = text.trim_start_matches('+').parse::<u64>() {
            return Value::Number(n.into());
        }
    }
    let looks_float = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|b| b.is_ascii_digit());
    if looks_float {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text)
}
