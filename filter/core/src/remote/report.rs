//! What [`super::Outbound`] tells the operator: one [`Report`] per event worth a log line or
//! a metric. The glue logs [`Report::line`] at [`Report::severity`] and updates the metric
//! each variant names; the wording lives here, next to the events, not in the glue.

use std::fmt;

use super::record::RecordError;
use super::refresher::FetchError;
use crate::config::ProviderId;
use crate::jwks::{JwksError, SkippedKey};

/// How loud a [`Report`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Only a gauge or counter changes.
    Silent,
    /// Debug log.
    Debug,
    /// Info log.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
}

/// What happened to a provider's keys: the glue logs [`Report::line`] at
/// [`Report::severity`] and updates the metric the variant names. Every variant names its
/// `provider`; times (`next_refresh`, `next_attempt`) are unix seconds; `status` is the
/// host's status as text. No variant carries a token or key material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Report {
    /// Keys were accepted (`jwks_fetch_success` +1, `jwks_keys` = `count`, `jwks_age_seconds`
    /// = 0). `next_refresh` is `None` when the record could not be written.
    KeysFetched {
        provider: ProviderId,
        count: usize,
        next_refresh: Option<u64>,
    },
    /// One key of a fetched JWKS was skipped.
    KeySkipped {
        provider: ProviderId,
        key: SkippedKey,
    },
    /// A fetch failed; the last good keys stay (`jwks_fetch_failed` +1). `next_attempt` is
    /// `None` when the record could not be written.
    FetchFailed {
        provider: ProviderId,
        error: FetchError,
        next_attempt: Option<u64>,
    },
    /// The host refused to send a call (a [`Report::FetchFailed`] follows).
    DispatchRefused {
        provider: ProviderId,
        cluster: String,
        status: String,
    },
    /// A refetch was triggered by a request (`jwks_refetch_triggered` +1).
    RefetchTriggered { provider: ProviderId },
    /// A discovery answer came after the lease passed on; it was dropped.
    LateDiscoveryAnswer { provider: ProviderId },
    /// The state of the keys in use (`jwks_keys`, `jwks_age_seconds`).
    KeysInUse {
        provider: ProviderId,
        count: u32,
        age_seconds: u64,
    },
    /// The shared record was unusable and is replaced by a fresh one.
    RecordReplaced {
        provider: ProviderId,
        problem: RecordError,
    },
    /// The shared record holds a JWKS this worker cannot use.
    SharedKeysUnusable {
        provider: ProviderId,
        error: JwksError,
    },
    /// The host refused to write the shared record.
    RecordNotWritten {
        provider: ProviderId,
        status: String,
    },
    /// Other workers kept writing the record; the next tick tries again.
    RecordBusy { provider: ProviderId },
    /// An introspection call was sent (metric `introspection_calls`).
    IntrospectionCalled { provider: ProviderId },
    /// An introspection call ended with a verdict after `latency_ms`: `reason` is `None`
    /// when the token is active, else the rejection's reason (`token_inactive`, …; metric
    /// `introspection_inactive`).
    IntrospectionAnswered {
        provider: ProviderId,
        latency_ms: u64,
        reason: Option<&'static str>,
    },
    /// An introspection call gave no verdict (metric `introspection_failed` by reason).
    IntrospectionFailed {
        provider: ProviderId,
        failure: crate::introspection::Failure,
        latency_ms: u64,
    },
    /// The host refused to send an introspection call.
    IntrospectionNotSent {
        provider: ProviderId,
        cluster: String,
        status: String,
    },
    /// A verdict could not be written to the shared cache (it is used for this call's
    /// requests only).
    IntrospectionNotStored { provider: ProviderId, why: String },
}

impl Report {
    /// The provider the report is about.
    pub fn provider(&self) -> ProviderId {
        match self {
            Report::KeysFetched { provider, .. }
            | Report::KeySkipped { provider, .. }
            | Report::FetchFailed { provider, .. }
            | Report::DispatchRefused { provider, .. }
            | Report::RefetchTriggered { provider }
            | Report::LateDiscoveryAnswer { provider }
            | Report::KeysInUse { provider, .. }
            | Report::RecordReplaced { provider, .. }
            | Report::SharedKeysUnusable { provider, .. }
            | Report::RecordNotWritten { provider, .. }
            | Report::RecordBusy { provider }
            | Report::IntrospectionCalled { provider }
            | Report::IntrospectionAnswered { provider, .. }
            | Report::IntrospectionFailed { provider, .. }
            | Report::IntrospectionNotSent { provider, .. }
            | Report::IntrospectionNotStored { provider, .. } => *provider,
        }
    }

    /// How loud the log line is.
    pub fn severity(&self) -> Severity {
        match self {
            Report::RefetchTriggered { .. }
            | Report::KeysInUse { .. }
            | Report::IntrospectionCalled { .. }
            | Report::IntrospectionAnswered { .. } => Severity::Silent,
            Report::IntrospectionFailed { .. } | Report::IntrospectionNotSent { .. } => {
                Severity::Warn
            }
            Report::IntrospectionNotStored { .. } => Severity::Debug,
            Report::LateDiscoveryAnswer { .. } => Severity::Debug,
            Report::KeysFetched { next_refresh, .. } => {
                if next_refresh.is_some() {
                    Severity::Info
                } else {
                    Severity::Silent
                }
            }
            Report::KeySkipped { .. }
            | Report::FetchFailed { .. }
            | Report::DispatchRefused { .. }
            | Report::RecordReplaced { .. }
            | Report::RecordBusy { .. } => Severity::Warn,
            Report::SharedKeysUnusable { .. } | Report::RecordNotWritten { .. } => Severity::Error,
        }
    }

    /// The log line, naming the provider `name`.
    pub fn line(&self, name: &str) -> String {
        Line(self, name).to_string()
    }
}

struct Line<'a>(&'a Report, &'a str);

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.1;
        let at = |t: &Option<u64>| t.map(crate::time::rfc3339);
        match self.0 {
            Report::KeysFetched {
                count,
                next_refresh,
                ..
            } => {
                write!(f, "provider {name}: {count} keys fetched")?;
                if let Some(next) = at(next_refresh) {
                    write!(f, "; next refresh at {next}")?;
                }
                Ok(())
            }
            Report::KeySkipped { key, .. } => write!(
                f,
                "provider {name}: JWKS key #{} (kid {}) skipped: {}",
                key.index,
                key.kid.as_deref().unwrap_or("-"),
                key.reason
            ),
            Report::FetchFailed {
                error,
                next_attempt,
                ..
            } => {
                write!(
                    f,
                    "provider {name}: key fetch failed ({}: {error}); keeping the last good keys",
                    error.reason()
                )?;
                if let Some(next) = at(next_attempt) {
                    write!(f, ", next attempt at {next}")?;
                }
                Ok(())
            }
            Report::DispatchRefused {
                cluster, status, ..
            } => write!(
                f,
                "provider {name}: cannot call cluster {cluster}: {status}"
            ),
            Report::RefetchTriggered { .. } => write!(f, "provider {name}: refetch triggered"),
            Report::LateDiscoveryAnswer { .. } => {
                write!(f, "provider {name}: late discovery answer dropped")
            }
            Report::KeysInUse {
                count, age_seconds, ..
            } => write!(
                f,
                "provider {name}: {count} keys in use, {age_seconds} s old"
            ),
            Report::RecordReplaced { problem, .. } => {
                write!(f, "provider {name}: shared key record replaced: {problem}")
            }
            Report::SharedKeysUnusable { error, .. } => {
                write!(f, "provider {name}: shared JWKS unusable: {error}")
            }
            Report::RecordNotWritten { status, .. } => {
                write!(f, "provider {name}: cannot write shared data: {status}")
            }
            Report::RecordBusy { .. } => write!(
                f,
                "provider {name}: shared record busy; retrying on the next tick"
            ),
            Report::IntrospectionCalled { .. } => {
                write!(f, "provider {name}: introspection call sent")
            }
            Report::IntrospectionAnswered {
                latency_ms, reason, ..
            } => write!(
                f,
                "provider {name}: introspection answered in {latency_ms} ms: {}",
                reason.unwrap_or("active")
            ),
            Report::IntrospectionFailed {
                failure,
                latency_ms,
                ..
            } => write!(
                f,
                "provider {name}: introspection failed after {latency_ms} ms ({}: {failure}); requests get 503",
                failure.reason()
            ),
            Report::IntrospectionNotSent {
                cluster, status, ..
            } => write!(
                f,
                "provider {name}: introspection call to cluster {cluster} refused by the host ({status}); requests get 503"
            ),
            Report::IntrospectionNotStored { why, .. } => write!(
                f,
                "provider {name}: introspection verdict not kept in the shared cache ({why})"
            ),
        }
    }
}
