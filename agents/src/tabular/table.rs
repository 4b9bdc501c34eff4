//! The sparse Q-table: rows created on first visit behind an open-addressing hash index, in
//! buffers advised for huge pages, with the prefetches that the learn loop issues ahead.

use cadenza_env::prefetch::{prefetch, prefetch_run};

const EMPTY: u32 = u32::MAX;

/// One slot of the open-addressing index: a state and its row, or empty.
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: u64,
    row: u32,
}

/// A sparse Q-table: one row of `num_actions` values per visited state, in visit order.
///
/// An open-addressing hash index (linear probing, load at most 1/2) maps states to rows; the
/// rows live in one flat `Vec<f32>`, so a row is a contiguous slice and a state's index stays
/// valid when the table grows.
#[derive(Debug, Clone)]
pub struct QTable {
    pub(super) num_actions: usize,
    initial: f32,
    slots: Vec<Slot>,
    shift: u32,
    pub(super) keys: Vec<u64>,
    pub(super) values: Vec<f32>,
    /// Per state-action visit counts (saturating); empty unless a schedule needs them.
    pub(super) visits: Vec<u32>,
    pub(super) track_visits: bool,
    /// One bit per state-action pair that has been updated at least once; sampling ignores
    /// the others, whose values are only the initial guess.
    pub(super) tried: Vec<u64>,
    pub(super) words: usize,
}

/// Asks the kernel to back a large buffer with transparent huge pages. The table is read at
/// random, and with 4 KiB pages nearly every lookup in a table of tens of MiB also misses
/// the TLB; 2 MiB pages take most of those misses away. The advice only counts for pages not
/// yet touched, so it is given on fresh allocations before they are written (see
/// [`extend_huge`]). Only advice: without it (or off Linux) everything works the same, a
/// little slower.
fn advise_huge_pages<T>(buffer: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = buffer.capacity() * std::mem::size_of::<T>();
        let start = buffer.as_ptr() as usize;
        let first = (start + HUGE - 1) & !(HUGE - 1);
        let end = (start + bytes) & !(HUGE - 1);
        if end > first {
            // SAFETY: madvise only changes how the kernel backs these pages, never their
            // contents, and the range lies inside the vector's allocation.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buffer;
}

/// `len` copies of `value` in a buffer advised for huge pages before its first write.
fn filled_huge<T: Clone>(len: usize, value: T) -> Vec<T> {
    let mut buffer = Vec::with_capacity(len);
    advise_huge_pages(&buffer);
    buffer.resize(len, value);
    buffer
}

/// Appends `count` copies of `value`. When the capacity runs out the contents move to a fresh
/// allocation of twice the size, advised for huge pages before the copy touches it: growing
/// in place (`realloc`, which moves the old pages) would keep them at 4 KiB.
fn extend_huge<T: Clone>(buffer: &mut Vec<T>, count: usize, value: T) {
    let needed = buffer.len() + count;
    if needed > buffer.capacity() {
        let mut fresh = Vec::with_capacity(needed.max(2 * buffer.capacity()).max(1024));
        advise_huge_pages(&fresh);
        fresh.extend_from_slice(buffer);
        *buffer = fresh;
    }
    buffer.extend(std::iter::repeat_n(value, count));
}

#[inline]
fn hash(key: u64, shift: u32) -> usize {
    // Fibonacci hashing: the high bits of a multiply mix every input bit.
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

impl QTable {
    /// An empty table; new rows start at `initial`. `track_visits` keeps visit counts.
    pub fn new(num_actions: usize, initial: f32, track_visits: bool) -> Self {
        let capacity = 1024usize;
        Self {
            num_actions,
            initial,
            slots: vec![Slot { key: 0, row: EMPTY }; capacity],
            shift: 64 - capacity.trailing_zeros(),
            keys: Vec::new(),
            values: Vec::new(),
            visits: Vec::new(),
            track_visits,
            tried: Vec::new(),
            words: num_actions.div_ceil(64),
        }
    }

    /// Number of rows (visited states).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no state has been visited.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of actions per row.
    pub fn num_actions(&self) -> usize {
        self.num_actions
    }

    /// Approximate memory in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
            + self.keys.capacity() * 8
            + self.values.capacity() * 4
            + self.visits.capacity() * 4
            + self.tried.capacity() * 8
    }

    /// The row index of `state`, if visited.
    #[inline]
    pub fn find(&self, state: u64) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut i = hash(state, self.shift);
        loop {
            let slot = self.slots[i];
            if slot.row == EMPTY {
                return None;
            }
            if slot.key == state {
                return Some(slot.row as usize);
            }
            i = (i + 1) & mask;
        }
    }

    /// The row index of `state`, creating the row on first visit.
    #[inline]
    pub fn row_index(&mut self, state: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = hash(state, self.shift);
        loop {
            let slot = self.slots[i];
            if slot.row == EMPTY {
                break;
            }
            if slot.key == state {
                return slot.row as usize;
            }
            i = (i + 1) & mask;
        }
        self.insert_at(i, state)
    }

    #[cold]
    fn insert_at(&mut self, slot: usize, state: u64) -> usize {
        let row = self.keys.len();
        self.slots[slot] = Slot {
            key: state,
            row: row as u32,
        };
        self.keys.push(state);
        extend_huge(&mut self.values, self.num_actions, self.initial);
        if self.track_visits {
            extend_huge(&mut self.visits, self.num_actions, 0);
        }
        extend_huge(&mut self.tried, self.words, 0);
        if 2 * self.keys.len() > self.slots.len() {
            self.grow();
        }
        row
    }

    fn grow(&mut self) {
        let capacity = self.slots.len() * 2;
        self.slots = filled_huge(capacity, Slot { key: 0, row: EMPTY });
        self.shift = 64 - capacity.trailing_zeros();
        let mask = capacity - 1;
        for (row, &key) in self.keys.iter().enumerate() {
            let mut i = hash(key, self.shift);
            while self.slots[i].row != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = Slot {
                key,
                row: row as u32,
            };
        }
    }

    /// Starts loading the hash slot where a lookup of `state` begins.
    #[inline]
    pub fn prefetch_slot(&self, state: u64) {
        prefetch(&self.slots, hash(state, self.shift));
    }

    /// Starts loading a row's values and tried bits, which the next target reads.
    #[inline]
    pub fn prefetch_row(&self, index: usize) {
        prefetch_run(&self.values, index * self.num_actions, self.num_actions);
        prefetch(&self.tried, index * self.words);
    }

    /// Starts loading what an update of `(row, action)` writes besides the value itself,
    /// which acting has just read: the visit count and the tried bit.
    #[inline]
    pub fn prefetch_update(&self, row: usize, action: usize) {
        prefetch(&self.visits, row * self.num_actions + action);
        prefetch(&self.tried, row * self.words + action / 64);
    }

    /// The values of a row.
    #[inline]
    pub fn row(&self, index: usize) -> &[f32] {
        &self.values[index * self.num_actions..(index + 1) * self.num_actions]
    }

    /// The values of a row, mutably.
    #[inline]
    pub fn row_mut(&mut self, index: usize) -> &mut [f32] {
        &mut self.values[index * self.num_actions..(index + 1) * self.num_actions]
    }

    /// The state of a row.
    pub fn state(&self, index: usize) -> u64 {
        self.keys[index]
    }

    /// The values of a state, if visited.
    pub fn values_of(&self, state: u64) -> Option<&[f32]> {
        self.find(state).map(|i| self.row(i))
    }

    /// Whether the value of (row, action) has been updated at least once.
    #[inline]
    pub fn is_tried(&self, row: usize, action: usize) -> bool {
        self.tried[row * self.words + action / 64] & (1 << (action % 64)) != 0
    }

    /// The tried bits of a row, one per action (bit `a % 64` of word `a / 64`).
    #[inline]
    pub(super) fn tried_bits(&self, row: usize) -> &[u64] {
        &self.tried[row * self.words..(row + 1) * self.words]
    }

    /// Marks (row, action) as updated, so that sampling considers it (for updates outside
    /// [`Agent::learn`](crate::Agent::learn): adapting to a listener).
    #[inline]
    pub(super) fn mark_tried(&mut self, row: usize, action: usize) {
        self.tried[row * self.words + action / 64] |= 1 << (action % 64);
    }

    /// The soft value `α log Σ exp(Q / α)` of a row over its allowed, tried actions (the
    /// others hold only the initial guess, which would swamp the sum); the initial value
    /// when none is tried.
    #[inline]
    pub(super) fn soft_value(&self, row: usize, mask: Option<&[bool]>, alpha: f32) -> f32 {
        let values = self.row(row);
        let bits = &self.tried[row * self.words..(row + 1) * self.words];
        let counts = |a: usize| bits[a / 64] & (1 << (a % 64)) != 0 && mask.is_none_or(|m| m[a]);
        let mut max = f32::NEG_INFINITY;
        for (a, &v) in values.iter().enumerate() {
            if counts(a) && v > max {
                max = v;
            }
        }
        if max == f32::NEG_INFINITY {
            return self.initial;
        }
        let mut sum = 0.0f32;
        for (a, &v) in values.iter().enumerate() {
            if counts(a) {
                sum += ((v - max) / alpha).exp();
            }
        }
        max + alpha * sum.ln()
    }

    /// Counts one more visit of (row, action), returning the new count (0 when not tracked).
    #[inline]
    pub(super) fn visit(&mut self, row: usize, action: usize) -> u32 {
        self.tried[row * self.words + action / 64] |= 1 << (action % 64);
        match self.visits.get_mut(row * self.num_actions + action) {
            Some(count) => {
                *count = count.saturating_add(1);
                *count
            }
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_value_by_hand() {
        // α log Σ exp(Q/α) over the tried, allowed actions only.
        let mut t = QTable::new(3, 20.0, false);
        let r = t.row_index(7);
        assert_eq!(
            t.soft_value(r, None, 0.5),
            20.0,
            "nothing tried: the initial value"
        );
        t.row_mut(r).copy_from_slice(&[1.0, 3.0, 2.0]);
        t.mark_tried(r, 0);
        t.mark_tried(r, 1);
        let expected = 0.5 * ((1.0f32 / 0.5).exp() + (3.0f32 / 0.5).exp()).ln();
        assert!((t.soft_value(r, None, 0.5) - expected).abs() < 1e-5);
        // A mask removes action 1; action 2 is untried: only action 0 is left.
        let v = t.soft_value(r, Some(&[true, false, true]), 0.5);
        assert!((v - 1.0).abs() < 1e-6, "{v}");
        // Above the max, approaching it as α shrinks.
        assert!(t.soft_value(r, None, 0.01) - 3.0 < 1e-3);
    }

    #[test]
    fn table_grows_and_keeps_rows() {
        let mut t = QTable::new(3, 0.5, true);
        for s in 0..10_000u64 {
            let i = t.row_index(s * 7919);
            t.row_mut(i)[1] = s as f32;
        }
        assert_eq!(t.len(), 10_000);
        for s in (0..10_000u64).step_by(97) {
            let row = t.values_of(s * 7919).unwrap();
            assert_eq!(row, &[0.5, s as f32, 0.5]);
        }
        assert!(t.find(3).is_none());
        assert_eq!(t.visit(2, 1), 1);
        assert_eq!(t.visit(2, 1), 2);
    }
}
