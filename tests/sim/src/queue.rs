//! Simulated time and the event queue.
//!
//! Time is a `u64` count of simulated milliseconds since the run started; nothing in a run
//! reads a real clock. Events due at the same millisecond run in the order they were
//! scheduled (a sequence number breaks ties), so the order never depends on heap internals.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A point in simulated time, in milliseconds since the start of the run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default, Hash)]
pub struct SimTime(pub u64);

impl SimTime {
    /// This time plus `ms`, saturating (a run never gets near 2^64 ms).
    pub fn plus_ms(self, ms: u64) -> SimTime {
        SimTime(self.0.saturating_add(ms))
    }

    /// Milliseconds since the start of the run.
    pub fn as_ms(self) -> u64 {
        self.0
    }
}

struct Entry<E> {
    due: SimTime,
    sequence: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.sequence) == (other.due, other.sequence)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    // Reversed, so that the max-heap pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.sequence).cmp(&(self.due, self.sequence))
    }
}

/// A priority queue of events ordered by (due time, scheduling order), with the clock.
pub struct EventQueue<E> {
    now: SimTime,
    next_sequence: u64,
    heap: BinaryHeap<Entry<E>>,
    /// Upper bound on queued events; a run that exceeds it has a runaway feedback loop
    /// (for instance a message storm) and is stopped rather than eating the machine.
    capacity: usize,
}

/// The queue refused an event because it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event queue is full ({0} events): runaway message or timer growth")]
pub struct QueueFull(pub usize);

impl<E> EventQueue<E> {
    /// An empty queue at time zero holding at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        EventQueue { now: SimTime(0), next_sequence: 0, heap: BinaryHeap::new(), capacity }
    }

    /// The current simulated time: the due time of the last popped event.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `due`; a time in the past is moved to now (events never run
    /// before the clock).
    pub fn schedule(&mut self, due: SimTime, event: E) -> Result<(), QueueFull> {
        if self.heap.len() >= self.capacity {
            return Err(QueueFull(self.capacity));
        }
        let due = due.max(self.now);
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.heap.push(Entry { due, sequence, event });
        Ok(())
    }

    /// Schedules `event` `delay_ms` after now.
    pub fn schedule_in(&mut self, delay_ms: u64, event: E) -> Result<(), QueueFull> {
        self.schedule(self.now.plus_ms(delay_ms), event)
    }

    /// Pops the next event due at or before `deadline`, advancing the clock to it.
    pub fn pop_until(&mut self, deadline: SimTime) -> Option<(SimTime, E)> {
        if self.heap.peek()?.due > deadline {
            return None;
        }
        let entry = self.heap.pop()?;
        self.now = entry.due;
        Some((entry.due, entry.event))
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_scheduling_order() {
        let mut queue = EventQueue::new(16);
        queue.schedule(SimTime(5), "b").expect("room");
        queue.schedule(SimTime(1), "a").expect("room");
        queue.schedule(SimTime(5), "c").expect("room");
        assert_eq!(queue.pop_until(SimTime(4)), Some((SimTime(1), "a")));
        assert_eq!(queue.pop_until(SimTime(4)), None);
        assert_eq!(queue.pop_until(SimTime(9)), Some((SimTime(5), "b")));
        // Scheduling in the past lands at now, after what is already due now.
        queue.schedule(SimTime(0), "d").expect("room");
        assert_eq!(queue.pop_until(SimTime(9)), Some((SimTime(5), "c")));
        assert_eq!(queue.pop_until(SimTime(9)), Some((SimTime(5), "d")));
        assert!(queue.is_empty());
    }

    #[test]
    fn refuses_beyond_capacity() {
        let mut queue = EventQueue::new(1);
        queue.schedule_in(1, ()).expect("room");
        assert_eq!(queue.schedule_in(1, ()), Err(QueueFull(1)));
    }
}
