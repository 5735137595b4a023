//! Requests paused until an outbound call ends (per worker VM); [`super::outbound`] decides
//! who waits and when the wait is over.
//!
//! Today a request waits for keys: when its provider has no keys yet (answered later with
//! the verdict, or 503) or when its token named an unknown `kid` and a refetch is in progress
//! (answered later with the verdict, or 401). Each waiter has a deadline; the list has a
//! capacity so that a flood cannot pile up paused requests: when full, the request is
//! answered at once.

/// Why a request waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// The provider has no keys yet.
    NoKeys,
    /// The token's `kid` is not in the current key set; a refetch is in progress.
    UnknownKid,
}

/// What a paused request waits for: the end of the outbound call(s) that could change its
/// outcome. Another kind of outbound call adds a variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaited {
    /// The key fetch of the provider with this configuration index.
    Keys(usize),
    /// The introspection call for the token with this shared-cache key
    /// ([`crate::introspection::SharedKey`]).
    Introspection(u128),
}

/// One paused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiter {
    /// The HTTP context id of the paused request.
    pub context_id: u32,
    /// What it waits for.
    pub awaits: Awaited,
    /// When it is answered even if nothing arrived (milliseconds, host clock).
    pub deadline_ms: u64,
}

/// The list is full: answer the request at once instead of pausing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitersFull;

/// Default number of requests one worker VM keeps paused at most.
pub(crate) const DEFAULT_CAPACITY: usize = 1024;

/// The paused requests of one worker VM.
#[derive(Debug, Clone)]
pub(crate) struct Waiters {
    entries: Vec<Waiter>,
    capacity: usize,
}

impl Default for Waiters {
    fn default() -> Self {
        Waiters::new(DEFAULT_CAPACITY)
    }
}

impl Waiters {
    /// An empty list holding at most `capacity` requests.
    pub fn new(capacity: usize) -> Waiters {
        Waiters {
            entries: Vec::new(),
            capacity,
        }
    }

    /// Number of paused requests.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no request is paused.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Pauses a request (a second entry for the same context replaces the first).
    pub fn add(&mut self, waiter: Waiter) -> Result<(), WaitersFull> {
        self.remove(waiter.context_id);
        if self.entries.len() >= self.capacity {
            return Err(WaitersFull);
        }
        self.entries.push(waiter);
        Ok(())
    }

    /// Forgets a request (it ended, e.g. the client went away).
    pub fn remove(&mut self, context_id: u32) -> Option<Waiter> {
        let pos = self
            .entries
            .iter()
            .position(|w| w.context_id == context_id)?;
        Some(self.entries.remove(pos))
    }

    /// Takes every request waiting for `awaited`, oldest first.
    pub fn take(&mut self, awaited: Awaited) -> Vec<Waiter> {
        let (taken, kept) = self.entries.drain(..).partition(|w| w.awaits == awaited);
        self.entries = kept;
        taken
    }

    /// Takes every request whose deadline is at or before `now_ms`, oldest first.
    pub fn take_expired(&mut self, now_ms: u64) -> Vec<Waiter> {
        let (taken, kept) = self
            .entries
            .drain(..)
            .partition(|w| w.deadline_ms <= now_ms);
        self.entries = kept;
        taken
    }

    /// What the paused requests wait for (no duplicates, in order of first waiter).
    pub fn awaited(&self) -> Vec<Awaited> {
        let mut out = Vec::new();
        for w in &self.entries {
            if !out.contains(&w.awaits) {
                out.push(w.awaits);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(context_id: u32, provider: usize, deadline_ms: u64) -> Waiter {
        Waiter {
            context_id,
            awaits: Awaited::Keys(provider),
            deadline_ms,
        }
    }

    #[test]
    fn takes_by_what_they_await_in_order() {
        let mut ws = Waiters::new(10);
        ws.add(w(1, 0, 100)).unwrap();
        ws.add(w(2, 1, 100)).unwrap();
        ws.add(w(3, 0, 50)).unwrap();
        assert_eq!(ws.awaited(), vec![Awaited::Keys(0), Awaited::Keys(1)]);
        assert_eq!(ws.take(Awaited::Keys(0)), vec![w(1, 0, 100), w(3, 0, 50)]);
        assert_eq!(ws.len(), 1);
        assert_eq!(ws.take(Awaited::Keys(0)), vec![]);
        assert_eq!(ws.take(Awaited::Keys(1)), vec![w(2, 1, 100)]);
        assert!(ws.is_empty());
    }

    #[test]
    fn expires_at_the_deadline_not_before() {
        let mut ws = Waiters::new(10);
        ws.add(w(1, 0, 100)).unwrap();
        ws.add(w(2, 0, 200)).unwrap();
        assert_eq!(ws.take_expired(99), vec![]);
        assert_eq!(ws.take_expired(100), vec![w(1, 0, 100)]);
        assert_eq!(ws.take_expired(1_000), vec![w(2, 0, 200)]);
        assert!(ws.is_empty());
    }

    #[test]
    fn capacity_bounds_the_list() {
        let mut ws = Waiters::new(2);
        ws.add(w(1, 0, 1)).unwrap();
        ws.add(w(2, 0, 1)).unwrap();
        assert_eq!(ws.add(w(3, 0, 1)), Err(WaitersFull));
        assert_eq!(ws.len(), 2);
        // Re-adding the same context replaces it instead of counting twice.
        ws.add(w(2, 1, 9)).unwrap();
        assert_eq!(ws.len(), 2);
        assert_eq!(ws.remove(2), Some(w(2, 1, 9)));
        assert_eq!(ws.remove(2), None);
        ws.add(w(3, 0, 1)).unwrap();
        assert_eq!(ws.len(), 2);
    }
}
