//! Requests in flight, matched to their answers by invoke id. A disconnect fails them all at
//! once with [`LinkError::Disconnected`]; each has its own deadline.

use std::collections::HashMap;

use tokio::{sync::oneshot, time::Instant};

use crate::LinkError;

/// The default most requests in flight.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// What a waiting caller receives.
pub type Answer<T> = Result<T, LinkError>;

#[derive(Debug)]
struct Pending<T> {
    deadline: Instant,
    tx: oneshot::Sender<Answer<T>>,
}

/// The table of requests in flight.
#[derive(Debug)]
pub struct InFlight<T> {
    pending: HashMap<u32, Pending<T>>,
    max: usize,
}

impl<T> Default for InFlight<T> {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_IN_FLIGHT)
    }
}

impl<T> InFlight<T> {
    /// A table holding at most `max` requests.
    pub fn new(max: usize) -> Self {
        Self {
            pending: HashMap::new(),
            max,
        }
    }

    /// Registers request `id`, answered by `deadline` at the latest.
    pub fn register(
        &mut self,
        id: u32,
        deadline: Instant,
    ) -> Result<oneshot::Receiver<Answer<T>>, LinkError> {
        if self.pending.len() >= self.max {
            return Err(LinkError::TooManyInFlight(self.max));
        }
        if self.pending.contains_key(&id) {
            return Err(LinkError::DuplicateId(id));
        }
        let (tx, rx) = oneshot::channel();
        self.pending.insert(id, Pending { deadline, tx });
        Ok(rx)
    }

    /// Delivers the answer to request `id`; `false` if no such request is in flight.
    pub fn complete(&mut self, id: u32, answer: Answer<T>) -> bool {
        match self.pending.remove(&id) {
            Some(p) => {
                // The caller may have given up; that is fine.
                let _ = p.tx.send(answer);
                true
            }
            None => false,
        }
    }

    /// Fails every request whose deadline has passed with [`LinkError::RequestTimeout`].
    pub fn expire(&mut self, now: Instant) -> usize {
        let due: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in &due {
            self.complete(*id, Err(LinkError::RequestTimeout));
        }
        due.len()
    }

    /// Fails every request with `error` (usually [`LinkError::Disconnected`]).
    pub fn fail_all(&mut self, error: &LinkError) -> usize {
        let n = self.pending.len();
        for (_, p) in self.pending.drain() {
            let _ = p.tx.send(Err(error.clone()));
        }
        n
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// How many requests are in flight.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether none is in flight.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn answers_timeouts_and_disconnects() {
        let now = Instant::now();
        let mut t: InFlight<&'static str> = InFlight::new(3);
        let a = t.register(1, now + Duration::from_secs(5)).unwrap();
        let b = t.register(2, now + Duration::from_secs(1)).unwrap();
        let c = t.register(3, now + Duration::from_secs(9)).unwrap();
        assert!(matches!(
            t.register(4, now),
            Err(LinkError::TooManyInFlight(3))
        ));
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(1)));
        assert!(t.complete(1, Ok("ok")));
        assert!(!t.complete(1, Ok("again")));
        assert_eq!(a.await.unwrap().unwrap(), "ok");
        assert_eq!(t.expire(now + Duration::from_secs(2)), 1);
        assert!(matches!(b.await.unwrap(), Err(LinkError::RequestTimeout)));
        assert!(matches!(t.register(3, now), Err(LinkError::DuplicateId(3))));
        assert_eq!(t.fail_all(&LinkError::Disconnected), 1);
        assert!(matches!(c.await.unwrap(), Err(LinkError::Disconnected)));
        assert!(t.is_empty());
    }
}
