//! The selector's groups: aggregator states per `group by` key, in a slab indexed by a hash
//! table of slot numbers. Each lookup hashes its key once, with a hash made for in-memory
//! keys (short texts, the usual group key, hash as three words), and compares keys in place,
//! so nothing is copied or allocated per event. The table is a small linear-probing one
//! whose entries carry the hash, so a probe touches a key only when the hashes agree.

use std::hash::{Hash, Hasher};

use crate::aggregate::AggregatorState;
use crate::text::fold_mul;
use crate::value::Value;

pub(crate) type States = Vec<Box<dyn AggregatorState>>;

/// A group: its key, the key's hash, and its aggregator states.
#[derive(Debug)]
pub(crate) struct Group {
    pub key: Box<[Value]>,
    hash: u64,
    pub states: States,
}

#[derive(Default)]
pub(crate) struct Groups {
    /// Slot numbers, hashed by their group's key.
    table: SlotTable,
    slots: Vec<Option<Group>>,
    free: Vec<u32>,
}

impl std::fmt::Debug for Groups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The hash of one key value; equal values (Java `equals`, as [`Value`]'s `Eq`) hash alike.
#[inline]
fn value_hash(v: &Value) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    match v {
        Value::Str(s) => s.hash64(),
        Value::Long(x) => fold_mul(*x as u64 ^ 0x4000, K),
        Value::Int(x) => fold_mul(*x as u64 ^ 0x3000, K),
        Value::Double(x) => {
            // NaNs are one value, as `Double.equals` has them.
            let bits = if x.is_nan() {
                f64::NAN.to_bits()
            } else {
                x.to_bits()
            };
            fold_mul(bits ^ 0x6000, K)
        }
        _ => {
            let mut h = rustc_hash::FxHasher::default();
            v.hash(&mut h);
            fold_mul(h.finish(), K)
        }
    }
}

/// The hash of a whole key.
#[inline]
pub(crate) fn key_hash(key: &[Value]) -> u64 {
    match key {
        [one] => value_hash(one),
        _ => key.iter().fold(key.len() as u64, |h, v| {
            fold_mul(h ^ value_hash(v), 0x2545_f491_4f6c_dd1d)
        }),
    }
}

/// Key equality with the common text case inlined.
#[inline(always)]
fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        _ => a == b,
    }
}

#[inline(always)]
fn key_eq(a: &[Value], b: &[Value]) -> bool {
    match (a, b) {
        ([x], [y]) => value_eq(x, y),
        _ => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| value_eq(x, y)),
    }
}

/// Open addressing with linear probing over `u64` entries: the low 32 bits of the key's hash
/// (which also pick the home position) above the slot number plus one; zero is empty. Kept
/// at most half full, so probes are short and always end; removal shifts the following
/// entries back instead of leaving tombstones.
#[derive(Default)]
struct SlotTable {
    entries: Vec<u64>,
    len: usize,
}

impl SlotTable {
    #[inline(always)]
    fn mask(&self) -> usize {
        self.entries.len().wrapping_sub(1)
    }

    #[inline]
    fn find(&self, hash: u64, mut eq: impl FnMut(usize) -> bool) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let (tag, mask) = (hash as u32 as u64, self.mask());
        let mut pos = tag as usize & mask;
        loop {
            let e = self.entries[pos];
            if e == 0 {
                return None;
            }
            if e >> 32 == tag {
                let slot = (e as u32 - 1) as usize;
                if eq(slot) {
                    return Some(slot);
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    fn insert(&mut self, hash: u64, slot: u32) {
        if (self.len + 1) * 2 > self.entries.len() {
            self.grow();
        }
        self.place(((hash as u32 as u64) << 32) | (slot as u64 + 1));
        self.len += 1;
    }

    fn place(&mut self, entry: u64) {
        let mask = self.mask();
        let mut pos = (entry >> 32) as usize & mask;
        while self.entries[pos] != 0 {
            pos = (pos + 1) & mask;
        }
        self.entries[pos] = entry;
    }

    #[cold]
    fn grow(&mut self) {
        let cap = (self.entries.len() * 2).max(16);
        let old = std::mem::replace(&mut self.entries, vec![0; cap]);
        for e in old.into_iter().filter(|&e| e != 0) {
            self.place(e);
        }
    }

    fn remove(&mut self, hash: u64, slot: u32) {
        let entry = ((hash as u32 as u64) << 32) | (slot as u64 + 1);
        let mask = self.mask();
        let Some(mut hole) = (0..self.entries.len())
            .map(|k| ((hash as u32 as usize) + k) & mask)
            .take_while(|&p| self.entries[p] != 0)
            .find(|&p| self.entries[p] == entry)
        else {
            return;
        };
        self.entries[hole] = 0;
        self.len -= 1;
        // Later entries of the run move back into the hole when their home position is not
        // between the hole and where they are.
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let e = self.entries[i];
            if e == 0 {
                return;
            }
            let home = (e >> 32) as usize & mask;
            if i.wrapping_sub(home) & mask >= i.wrapping_sub(hole) & mask {
                self.entries[hole] = e;
                self.entries[i] = 0;
                hole = i;
            }
        }
    }

    fn clear(&mut self) {
        self.entries.iter_mut().for_each(|e| *e = 0);
        self.len = 0;
    }
}

impl Groups {
    /// The slot of the group with `key` (whose hash is `hash`).
    #[inline]
    pub fn find(&self, key: &[Value], hash: u64) -> Option<usize> {
        let slots = &self.slots;
        self.table.find(
            hash,
            |i| matches!(&slots[i], Some(g) if key_eq(&g.key, key)),
        )
    }

    /// The slot of the group with `key`, created with `new_states` when missing.
    #[inline]
    pub fn get_or_insert(
        &mut self,
        key: &[Value],
        hash: u64,
        new_states: impl FnOnce() -> States,
    ) -> usize {
        match self.find(key, hash) {
            Some(i) => i,
            None => self.insert(key, hash, new_states()),
        }
    }

    #[cold]
    fn insert(&mut self, key: &[Value], hash: u64, states: States) -> usize {
        let group = Group {
            key: key.into(),
            hash,
            states,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(group);
                i
            }
            None => {
                self.slots.push(Some(group));
                (self.slots.len() - 1) as u32
            }
        };
        self.table.insert(hash, i);
        i as usize
    }

    pub fn key(&self, i: usize) -> &[Value] {
        match &self.slots[i] {
            Some(g) => &g.key,
            None => unreachable_group(),
        }
    }

    #[inline]
    pub fn entry(&mut self, i: usize) -> (&[Value], &mut States) {
        match &mut self.slots[i] {
            Some(g) => (&g.key, &mut g.states),
            None => unreachable_group(),
        }
    }

    pub fn states(&mut self, i: usize) -> &mut States {
        match &mut self.slots[i] {
            Some(g) => &mut g.states,
            None => unreachable_group(),
        }
    }

    /// Drops a group whose states hold nothing (Siddhi destroys such states).
    #[inline]
    pub fn drop_if_empty(&mut self, i: usize) {
        let empty = matches!(&self.slots[i], Some(g) if g.states.iter().all(|s| s.can_destroy()));
        if empty {
            self.remove(i);
        }
    }

    #[cold]
    fn remove(&mut self, i: usize) {
        if let Some(g) = self.slots[i].take() {
            self.table.remove(g.hash, i as u32);
            self.free.push(i as u32);
        }
    }

    pub fn clear(&mut self) {
        self.table.clear();
        self.slots.clear();
        self.free.clear();
    }

    /// The groups in slot order (snapshots write them in this order).
    pub fn iter(&self) -> impl Iterator<Item = &Group> {
        self.slots.iter().flatten()
    }
}

#[cold]
fn unreachable_group() -> ! {
    // Slot indices come only from `get_or_insert` in the same call; a freed slot is never used.
    panic!("internal error: selector group slot vanished; please report this bug")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_find_their_groups() {
        let mut g = Groups::default();
        let keys: Vec<Vec<Value>> = (0..200)
            .map(|i| match i % 4 {
                0 => vec![Value::str(&format!("k{i}"))],
                1 => vec![Value::Long(i)],
                2 => vec![
                    Value::str(&"x".repeat(i as usize % 40)),
                    Value::Int(i as i32),
                ],
                _ => vec![Value::Double(i as f64 / 3.0), Value::Null],
            })
            .collect();
        let slots: Vec<usize> = keys
            .iter()
            .map(|k| g.get_or_insert(k, key_hash(k), Vec::new))
            .collect();
        for (k, &s) in keys.iter().zip(&slots) {
            assert_eq!(g.find(k, key_hash(k)), Some(s));
            assert_eq!(g.key(s), &k[..]);
        }
        // Long texts hash alike in both representations.
        let long = "y".repeat(30);
        assert_eq!(
            key_hash(&[Value::str(&long)]),
            key_hash(&[Value::Str(long.clone().into())])
        );
        for &s in &slots[..100] {
            g.drop_if_empty(s);
        }
        assert_eq!(g.iter().count(), 100);
        assert_eq!(g.find(&keys[0], key_hash(&keys[0])), None);
        assert_eq!(g.find(&keys[150], key_hash(&keys[150])), Some(slots[150]));
        let again = g.get_or_insert(&keys[3], key_hash(&keys[3]), Vec::new);
        assert!(again < 100, "a freed slot is reused");
        for (k, &s) in keys.iter().zip(&slots).skip(100) {
            assert_eq!(g.find(k, key_hash(k)), Some(s));
        }
    }
}
