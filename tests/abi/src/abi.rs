//! Numbers and wire formats of the proxy-wasm ABI 0.2.1, host side.
//!
//! Written from the ABI specification (proxy-wasm/spec, `abi-versions/v0.2.1`).

use wasmtime::{bail, format_err, Result};

/// `proxy_result_t` / `WasmResult` values returned by host functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
    SerializationFailure = 3,
    Empty = 7,
    CasMismatch = 8,
    InternalFailure = 10,
}

impl Status {
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// Log levels as the guest passes them to `proxy_log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Critical,
}

impl LogLevel {
    pub fn code(self) -> u32 {
        self as u32
    }

    pub fn from_code(code: u32) -> Result<Self> {
        Ok(match code {
            0 => Self::Trace,
            1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            4 => Self::Error,
            5 => Self::Critical,
            other => bail!("proxy_log: unknown log level {other}"),
        })
    }
}

/// What a stream callback tells the host to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Pass the headers on to the next filter / upstream.
    Continue,
    /// Stop iteration (after a local response, or while waiting for a callout).
    Pause,
}

impl Action {
    pub fn from_code(code: u32) -> Result<Self> {
        match code {
            0 => Ok(Self::Continue),
            1 => Ok(Self::Pause),
            other => Err(format_err!("filter returned unknown action {other}")),
        }
    }
}

/// Header / metadata maps the guest can address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapType {
    HttpRequestHeaders,
    HttpRequestTrailers,
    HttpResponseHeaders,
    HttpResponseTrailers,
    GrpcReceiveInitialMetadata,
    GrpcReceiveTrailingMetadata,
    HttpCallResponseHeaders,
    HttpCallResponseTrailers,
}

impl MapType {
    pub fn from_code(code: u32) -> Result<Self> {
        Ok(match code {
            0 => Self::HttpRequestHeaders,
            1 => Self::HttpRequestTrailers,
            2 => Self::HttpResponseHeaders,
            3 => Self::HttpResponseTrailers,
            4 => Self::GrpcReceiveInitialMetadata,
            5 => Self::GrpcReceiveTrailingMetadata,
            6 => Self::HttpCallResponseHeaders,
            7 => Self::HttpCallResponseTrailers,
            other => bail!("unknown map type {other}"),
        })
    }
}

/// Buffers the guest can read with `proxy_get_buffer_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufferType {
    HttpRequestBody,
    HttpResponseBody,
    DownstreamData,
    UpstreamData,
    HttpCallResponseBody,
    GrpcReceiveBuffer,
    VmConfiguration,
    PluginConfiguration,
}

impl BufferType {
    pub fn from_code(code: u32) -> Result<Self> {
        Ok(match code {
            0 => Self::HttpRequestBody,
            1 => Self::HttpResponseBody,
            2 => Self::DownstreamData,
            3 => Self::UpstreamData,
            4 => Self::HttpCallResponseBody,
            5 => Self::GrpcReceiveBuffer,
            6 => Self::VmConfiguration,
            7 => Self::PluginConfiguration,
            other => bail!("unknown buffer type {other}"),
        })
    }
}

/// Metric kinds of `proxy_define_metric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

impl MetricType {
    pub fn from_code(code: u32) -> Result<Self> {
        Ok(match code {
            0 => Self::Counter,
            1 => Self::Gauge,
            2 => Self::Histogram,
            other => bail!("proxy_define_metric: unknown metric type {other}"),
        })
    }
}

/// One header: name and raw value bytes (values need not be UTF-8 on the wire).
pub type Header = (String, Vec<u8>);

/// Serialise a map as the ABI lays it out: u32 count, then (u32 name len, u32 value len)
/// per pair, then each name and value followed by a NUL byte. Little endian.
pub fn serialize_map(map: &[Header]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&len_u32(map.len()).to_le_bytes());
    for (name, value) in map {
        out.extend_from_slice(&len_u32(name.len()).to_le_bytes());
        out.extend_from_slice(&len_u32(value.len()).to_le_bytes());
    }
    for (name, value) in map {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out
}

/// Parse a map the guest serialised (the inverse of [`serialize_map`]); strict about lengths.
pub fn deserialize_map(bytes: &[u8]) -> Result<Vec<Header>> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = Reader { bytes, pos: 0 };
    let count = reader.u32()? as usize;
    let mut sizes = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let name_len = reader.u32()? as usize;
        let value_len = reader.u32()? as usize;
        sizes.push((name_len, value_len));
    }
    let mut map = Vec::with_capacity(sizes.len());
    for (name_len, value_len) in sizes {
        let name = reader.take(name_len)?.to_vec();
        reader.nul()?;
        let value = reader.take(value_len)?.to_vec();
        reader.nul()?;
        let name = String::from_utf8(name).map_err(|_| format_err!("header name is not UTF-8"))?;
        map.push((name, value));
    }
    if reader.pos != bytes.len() {
        bail!(
            "serialised map has {} trailing bytes",
            bytes.len() - reader.pos
        );
    }
    Ok(map)
}

/// Split a property path: segments separated by NUL.
pub fn deserialize_property_path(bytes: &[u8]) -> Result<Vec<String>> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    bytes
        .split(|b| *b == 0)
        .map(|seg| {
            String::from_utf8(seg.to_vec()).map_err(|_| format_err!("property path is not UTF-8"))
        })
        .collect()
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| format_err!("serialised map: length overflow"))?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| format_err!("serialised map is truncated"))?;
        self.pos = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32> {
        let raw = self.take(4)?;
        let mut buf = [0u8; 4];
        buf.copy_from_slice(raw);
        Ok(u32::from_le_bytes(buf))
    }

    fn nul(&mut self) -> Result<()> {
        match self.take(1)? {
            [0] => Ok(()),
            _ => bail!("serialised map: missing NUL terminator"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_round_trips() {
        let map = vec![
            (":path".to_string(), b"/orders".to_vec()),
            ("x-empty".to_string(), Vec::new()),
            ("x-bytes".to_string(), vec![0xff, 0x80]),
        ];
        let bytes = serialize_map(&map);
        assert_eq!(&bytes[..4], &3u32.to_le_bytes());
        assert_eq!(deserialize_map(&bytes).unwrap(), map);
    }

    #[test]
    fn truncated_map_is_an_error() {
        let bytes = serialize_map(&[("a".to_string(), b"b".to_vec())]);
        assert!(deserialize_map(&bytes[..bytes.len() - 1]).is_err());
        let mut missing_nul = bytes.clone();
        let last = missing_nul.len() - 1;
        missing_nul[last] = b'x';
        assert!(deserialize_map(&missing_nul).is_err());
    }

    #[test]
    fn property_path_splits_on_nul() {
        assert_eq!(
            deserialize_property_path(b"plugin_name").unwrap(),
            vec!["plugin_name"]
        );
        assert_eq!(
            deserialize_property_path(b"request\0path").unwrap(),
            vec!["request", "path"]
        );
    }
}
