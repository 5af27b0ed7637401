//! The iteration order of Java's hash maps, which some Siddhi windows leak into their output:
//! `frequent` and `lossyFrequent` walk a `ConcurrentHashMap` to pick what to expire, and
//! `session` breaks ties between sessions ending together by a `HashMap`'s order.
//!
//! Both orders are deterministic functions of the keys' `String.hashCode()`, the table size
//! and the history of insertions, so they are emulated here:
//!
//! - [`JavaChm`] is a string-keyed map that keeps its entries in `ConcurrentHashMap` bins:
//!   a new key goes to the tail of its bin, the table doubles when the count reaches three
//!   quarters of it, and a resize splits each bin the way `transfer` does (the trailing run
//!   that lands in one half keeps its order, the nodes before it are prepended one by one,
//!   so they come out reversed).
//! - [`HashMapOrder`] gives the order of a `HashMap` refilled after `clear()` (which keeps
//!   the table): by bucket, then by insertion, with the capacity the map has grown to.
//!
//! Not emulated: tree bins (a bucket holding nine or more colliding keys once the table has
//! 64 slots), where Java's order changes again; such collisions need hundreds of live keys.

use rustc_hash::FxHashMap;

use crate::snapshot::{SnapshotError, SnapshotResult, StateReader, StateWriter};
use crate::text::Str;

/// Java's `String.hashCode()` (over UTF-16 code units).
pub(crate) fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// The hash both maps bucket by (`ConcurrentHashMap.spread`; `HashMap.hash` differs only in
/// the sign bit, which no table size reaches).
fn spread(h: i32) -> u32 {
    ((h ^ ((h as u32) >> 16) as i32) & 0x7fff_ffff) as u32
}

const INITIAL_CAPACITY: usize = 16;

#[derive(Debug, Clone)]
struct Entry<V> {
    key: Str,
    hash: u32,
    value: V,
}

/// A string-keyed map iterating in `ConcurrentHashMap` order.
#[derive(Debug, Clone)]
pub(crate) struct JavaChm<V> {
    index: FxHashMap<Str, u32>,
    slots: Vec<Option<Entry<V>>>,
    free: Vec<u32>,
    /// The table: slot numbers per bin, in chain order; empty until the first insertion.
    bins: Vec<Vec<u32>>,
}

impl<V> Default for JavaChm<V> {
    fn default() -> Self {
        JavaChm {
            index: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            bins: Vec::new(),
        }
    }
}

impl<V> JavaChm<V> {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        let &slot = self.index.get(key)?;
        self.slots[slot as usize].as_ref().map(|e| &e.value)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let &slot = self.index.get(key)?;
        self.slots[slot as usize].as_mut().map(|e| &mut e.value)
    }

    /// `put`: replaces the value of a present key in place (returning the old one), or
    /// appends the key to its bin and grows the table as Java would.
    pub fn insert(&mut self, key: &str, value: V) -> Option<V> {
        if let Some(v) = self.get_mut(key) {
            return Some(std::mem::replace(v, value));
        }
        if self.bins.is_empty() {
            self.bins = vec![Vec::new(); INITIAL_CAPACITY];
        }
        let hash = spread(string_hash(key));
        let entry = Entry {
            key: Str::new(key),
            hash,
            value,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(entry);
                s
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(Str::new(key), slot);
        let n = self.bins.len();
        self.bins[hash as usize & (n - 1)].push(slot);
        // `addCount`: resize once the count reaches `sizeCtl` (three quarters of the table).
        if self.index.len() >= n - (n >> 2) {
            self.transfer();
        }
        None
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let slot = self.index.remove(key)?;
        let entry = self.slots[slot as usize].take()?;
        let n = self.bins.len();
        let bin = &mut self.bins[entry.hash as usize & (n - 1)];
        if let Some(p) = bin.iter().position(|&s| s == slot) {
            bin.remove(p);
        }
        self.free.push(slot);
        Some(entry.value)
    }

    /// Doubles the table, splitting every bin as `ConcurrentHashMap.transfer` does.
    fn transfer(&mut self) {
        let n = self.bins.len();
        let mut next = vec![Vec::new(); n * 2];
        for (i, bin) in self.bins.iter().enumerate() {
            let Some(&first) = bin.first() else { continue };
            let high = |s: u32| self.hash_of(s) as usize & n != 0;
            let mut run_high = high(first);
            let mut last_run = 0;
            for (p, &s) in bin.iter().enumerate().skip(1) {
                if high(s) != run_high {
                    run_high = high(s);
                    last_run = p;
                }
            }
            let (mut lo, mut hi) = (Vec::new(), Vec::new());
            for &s in bin[..last_run].iter().rev() {
                if high(s) { hi.push(s) } else { lo.push(s) }
            }
            let tail = if run_high { &mut hi } else { &mut lo };
            tail.extend_from_slice(&bin[last_run..]);
            next[i] = lo;
            next[i + n] = hi;
        }
        self.bins = next;
    }

    fn hash_of(&self, slot: u32) -> u32 {
        self.slots[slot as usize].as_ref().map_or(0, |e| e.hash)
    }

    /// Entries in iteration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> + '_ {
        self.bins.iter().flatten().filter_map(|&s| {
            self.slots[s as usize]
                .as_ref()
                .map(|e| (e.key.as_str(), &e.value))
        })
    }

    /// Keys in iteration order (a copy: callers change the map while walking it, as Siddhi
    /// walks a copy of the key set).
    pub fn keys(&self) -> Vec<Str> {
        self.iter().map(|(k, _)| Str::new(k)).collect()
    }

    /// Writes the table size and the entries bin by bin, so a restore keeps the order.
    pub fn snapshot(&self, w: &mut StateWriter, mut value: impl FnMut(&mut StateWriter, &V)) {
        w.usize(self.bins.len());
        for bin in &self.bins {
            w.usize(bin.len());
            for &s in bin {
                if let Some(e) = &self.slots[s as usize] {
                    w.str(&e.key);
                    value(w, &e.value);
                }
            }
        }
    }

    pub fn restore(
        &mut self,
        r: &mut StateReader<'_>,
        mut value: impl FnMut(&mut StateReader<'_>) -> SnapshotResult<V>,
    ) -> SnapshotResult<()> {
        *self = JavaChm::default();
        let n = r.usize()?;
        if n != 0 && (!n.is_power_of_two() || n > 1 << 30) {
            return Err(SnapshotError::Invalid(format!("hash table of size {n}")));
        }
        self.bins = vec![Vec::new(); n];
        for b in 0..n {
            let len = r.len(1)?;
            for _ in 0..len {
                let key = r.str()?;
                let v = value(r)?;
                let hash = spread(string_hash(key));
                if hash as usize & (n - 1) != b || self.index.contains_key(key) {
                    return Err(SnapshotError::Invalid(format!(
                        "key `{key}` in the wrong bin"
                    )));
                }
                self.slots.push(Some(Entry {
                    key: Str::new(key),
                    hash,
                    value: v,
                }));
                let slot = (self.slots.len() - 1) as u32;
                self.index.insert(Str::new(key), slot);
                self.bins[b].push(slot);
            }
        }
        Ok(())
    }
}

/// The iteration order of a `java.util.HashMap` that is cleared and refilled (its table
/// never shrinks).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HashMapOrder {
    /// Table size; 0 before the first insertion.
    capacity: usize,
}

impl HashMapOrder {
    /// Fills the cleared map with distinct keys of these hashes, in this order, and returns
    /// the positions in iteration order.
    pub fn refill(&mut self, hashes: &[i32]) -> Vec<usize> {
        if !hashes.is_empty() && self.capacity == 0 {
            self.capacity = INITIAL_CAPACITY;
        }
        let mut bin_len: FxHashMap<usize, usize> = FxHashMap::default();
        for (size, &h) in hashes.iter().enumerate() {
            let bucket = spread(h) as usize & (self.capacity - 1);
            let len = bin_len.entry(bucket).or_insert(0);
            *len += 1;
            // A ninth node in one bin asks to treeify, which resizes a table under 64.
            let mut grow = *len >= 9 && self.capacity < 64;
            if grow {
                self.grow(&hashes[..=size], &mut bin_len);
            }
            grow = size + 1 > self.capacity - (self.capacity >> 2);
            if grow {
                self.grow(&hashes[..=size], &mut bin_len);
            }
        }
        let mask = self.capacity.saturating_sub(1);
        let mut order: Vec<usize> = (0..hashes.len()).collect();
        order.sort_by_key(|&i| spread(hashes[i]) as usize & mask);
        order
    }

    fn grow(&mut self, present: &[i32], bin_len: &mut FxHashMap<usize, usize>) {
        self.capacity *= 2;
        bin_len.clear();
        for &h in present {
            *bin_len
                .entry(spread(h) as usize & (self.capacity - 1))
                .or_insert(0) += 1;
        }
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        w.usize(self.capacity);
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        let c = r.usize()?;
        if c != 0 && (!c.is_power_of_two() || c > 1 << 30) {
            return Err(SnapshotError::Invalid(format!("hash table of size {c}")));
        }
        self.capacity = c;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash() {
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("hello"), 99162322);
        assert_eq!(string_hash("card-C"), -1367606074);
        // Beyond the BMP Java hashes the two surrogates.
        assert_eq!(string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
    }

    fn keys(m: &JavaChm<u32>) -> Vec<String> {
        m.iter().map(|(k, _)| k.to_string()).collect()
    }

    #[test]
    fn chm_orders_by_bin_then_insertion() {
        let mut m = JavaChm::default();
        // "Aa" and "BB" share a hash: same bin, insertion order.
        for k in ["b", "BB", "a", "Aa"] {
            m.insert(k, 0);
        }
        assert_eq!(keys(&m), ["BB", "Aa", "a", "b"]);
        assert_eq!(m.insert("BB", 7), Some(0));
        assert_eq!(keys(&m), ["BB", "Aa", "a", "b"]);
        assert_eq!(m.remove("BB"), Some(7));
        assert_eq!(keys(&m), ["Aa", "a", "b"]);
        assert_eq!(m.get("a"), Some(&0));
    }

    #[test]
    fn chm_resize_reverses_the_leading_nodes() {
        // Hashes 0, 16, 32, 48 share bin 0 of 16; at 32 slots 16 and 48 move to bin 16.
        let mut m: JavaChm<u32> = JavaChm::default();
        let mut by_hash = Vec::new();
        for k in 0..2000u32 {
            let s = format!("k{k}");
            let h = spread(string_hash(&s));
            if h.is_multiple_of(16)
                && by_hash.len() < 4
                && by_hash.len().is_multiple_of(2) == h.is_multiple_of(32)
            {
                by_hash.push(s);
            }
        }
        // Low, high, low, high: the last run is the final node; the others are prepended.
        for k in &by_hash {
            m.insert(k, 0);
        }
        let mut filler = 0;
        while m.len() < 12 {
            let s = format!("f{filler}");
            filler += 1;
            if !spread(string_hash(&s)).is_multiple_of(16) {
                m.insert(&s, 1);
            }
        }
        let order: Vec<String> = keys(&m)
            .into_iter()
            .filter(|k| k.starts_with('k'))
            .collect();
        assert_eq!(
            order,
            [
                by_hash[2].clone(),
                by_hash[0].clone(),
                by_hash[1].clone(),
                by_hash[3].clone()
            ]
        );
        let mut w = StateWriter::new();
        m.snapshot(&mut w, |w, v| w.u64(*v as u64));
        let bytes = w.into_bytes();
        let mut back: JavaChm<u32> = JavaChm::default();
        back.restore(&mut StateReader::new(&bytes), |r| Ok(r.u64()? as u32))
            .unwrap();
        assert_eq!(keys(&back), keys(&m));
    }

    #[test]
    fn hash_map_grows_and_orders_by_bucket() {
        let mut o = HashMapOrder::default();
        assert_eq!(o.refill(&[18, 1, 2]), vec![1, 0, 2]);
        let many: Vec<i32> = (0..13).rev().collect();
        let order = o.refill(&many);
        assert_eq!(o.capacity, 32);
        assert_eq!(order[0], 12);
        // The table stays large after a refill with fewer keys.
        assert_eq!(o.refill(&[41, 8]), vec![1, 0]);
        assert_eq!(o.capacity, 32);
    }
}
