//! In-memory tables (`define table`), with Siddhi 5.1.7's row order.
//!
//! The order in which a scan meets rows is observable (join outputs, which row an update
//! reaches first), so it follows Siddhi's event holders: insertion order without a primary
//! key; ascending key order for a single numeric key (a `TreeMap`); and Java `HashMap`
//! iteration order otherwise — buckets by the key's Java hash code at the map's current
//! capacity, insertion order within a bucket. Primary keys are unique: a second insert with
//! a present key is dropped and logged, as Siddhi does. A row keeps the key it was stored
//! under: Siddhi's in-place updates change a row's values without moving it in the key map.

pub(crate) mod java_hash;
pub mod key_lookup;
pub mod ops;

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::plan::schema::Schema;
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

/// How a scan orders rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ordering {
    Insertion,
    NumericKey,
    HashKey,
}

/// Where a row sits in the scan order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum OrderKey {
    Seq(u64),
    Numeric(NumKey),
    Bucket(u32, u64),
}

/// A numeric primary key with Java's `compareTo` order.
#[derive(Clone, Debug)]
struct NumKey(Value);

impl PartialEq for NumKey {
    fn eq(&self, other: &NumKey) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for NumKey {}
impl PartialOrd for NumKey {
    fn partial_cmp(&self, other: &NumKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for NumKey {
    fn cmp(&self, other: &NumKey) -> std::cmp::Ordering {
        match (&self.0, &other.0) {
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Long(a), Value::Long(b)) => a.cmp(b),
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                _ => a.total_cmp(b),
            },
        }
    }
}

#[derive(Debug)]
struct Row {
    values: Vec<Value>,
    order: OrderKey,
    /// The primary key the row is stored under (see [`TableRuntime::key_of`]).
    key: Option<Key>,
    /// Java hash code of the primary key (hash-ordered tables).
    hash: i32,
}

/// A primary key as Siddhi's key map holds it: the value for one attribute, the text
/// `v1:-:v2:-:` for several (so `1` and `1L` are the same composite key, as in Siddhi).
type Key = Box<[Value]>;

/// One table's rows.
#[derive(Debug)]
pub struct TableRuntime {
    pub name: String,
    pub schema: Arc<Schema>,
    pk: Option<Vec<usize>>,
    /// Attributes Siddhi indexes (a single primary key, `@index`): an update that changes
    /// one of them re-inserts the row.
    indexed: Vec<usize>,
    ordering: Ordering,
    slots: Vec<Option<Row>>,
    free: Vec<usize>,
    /// Scan order -> slot.
    order: BTreeMap<OrderKey, usize>,
    /// Primary key -> slot.
    keys: FxHashMap<Key, usize>,
    seq: u64,
    /// `HashMap` capacity Siddhi's key map would have reached (it never shrinks).
    capacity: u32,
    len: usize,
    /// Row changes since the last [`TableRuntime::take_changes`], kept only for tables a host
    /// mirrors to an external store (`@store`); `None` costs one branch per change.
    journal: Option<Vec<TableChange>>,
}

/// One change to a table's rows, as a host mirroring the table needs it: whole rows, old and
/// new, so a row without a primary key can be found by its values.
#[derive(Clone, Debug, PartialEq)]
pub enum TableChange {
    Insert(Vec<Value>),
    Delete(Vec<Value>),
    Update { old: Vec<Value>, new: Vec<Value> },
}

impl TableRuntime {
    /// A table with primary key attributes `pk` and `@index` attributes `indexes`.
    pub fn new(
        name: &str,
        schema: Arc<Schema>,
        pk: Option<Vec<usize>>,
        indexes: &[usize],
    ) -> TableRuntime {
        let mut indexed = indexes.to_vec();
        if let Some([one]) = pk.as_deref() {
            indexed.push(*one);
        }
        let ordering = match &pk {
            None => Ordering::Insertion,
            Some(cols)
                if cols.len() == 1
                    && matches!(
                        schema.types[cols[0]],
                        AttrType::Int | AttrType::Long | AttrType::Float | AttrType::Double
                    ) =>
            {
                Ordering::NumericKey
            }
            Some(_) => Ordering::HashKey,
        };
        TableRuntime {
            name: name.to_string(),
            schema,
            pk,
            indexed,
            ordering,
            slots: Vec::new(),
            free: Vec::new(),
            order: BTreeMap::new(),
            keys: FxHashMap::default(),
            seq: 0,
            capacity: 16,
            len: 0,
            journal: None,
        }
    }

    /// From now on, keep every change for [`TableRuntime::take_changes`].
    pub fn record_changes(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    /// The changes recorded since the last call, oldest first.
    pub fn take_changes(&mut self) -> Vec<TableChange> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Whether changes are waiting in the journal.
    pub fn has_changes(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| !j.is_empty())
    }

    /// Adds rows read from the table's store, without recording them as changes; returns how
    /// many were dropped for a taken primary key.
    pub fn load(&mut self, rows: Vec<Vec<Value>>) -> usize {
        let journal = self.journal.take();
        let dropped = rows.into_iter().filter(|r| !self.insert(r.clone())).count();
        self.journal = journal;
        dropped
    }

    fn record(&mut self, change: impl FnOnce() -> TableChange) {
        if let Some(j) = &mut self.journal {
            j.push(change());
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `f` with every row in Siddhi's scan order.
    pub fn visit(&self, f: &mut dyn FnMut(&[Value])) {
        for row in self.rows() {
            f(row);
        }
    }

    /// The rows in Siddhi's scan order.
    pub fn rows(&self) -> impl Iterator<Item = &[Value]> + '_ {
        self.order
            .values()
            .filter_map(|&slot| self.slots[slot].as_ref().map(|r| r.values.as_slice()))
    }

    /// Slots in scan order (a snapshot, so callers can change rows while walking).
    pub fn scan(&self) -> Vec<usize> {
        self.order.values().copied().collect()
    }

    pub fn row(&self, slot: usize) -> Option<&[Value]> {
        self.slots
            .get(slot)
            .and_then(|r| r.as_ref())
            .map(|r| r.values.as_slice())
    }

    /// The primary key of a row with `values`.
    pub fn key_of(&self, values: &[Value]) -> Option<Key> {
        match self.pk.as_deref()? {
            [one] => Some(Box::new([values[*one].clone()])),
            many => {
                let mut text = String::new();
                for &c in many {
                    text.push_str(&values[c].to_java_string());
                    text.push_str(":-:");
                }
                Some(Box::new([Value::str(&text)]))
            }
        }
    }

    /// The row stored under primary key `key`, if the table has one.
    pub fn find_key(&self, key: &[Value]) -> Option<usize> {
        self.keys.get(key).copied()
    }

    /// The primary keys rows are stored under.
    pub fn stored_keys(&self) -> impl Iterator<Item = &[Value]> + '_ {
        self.keys.keys().map(|k| &**k)
    }

    pub fn primary_key(&self) -> Option<&[usize]> {
        self.pk.as_deref()
    }

    /// Siddhi keeps this table in an index event holder (`@primaryKey` or `@index`), whose
    /// update operator never binds the found row (see [`ops`]).
    pub fn is_indexed(&self) -> bool {
        self.pk.is_some() || !self.indexed.is_empty()
    }

    /// Attribute `col` is a single primary key or an `@index` attribute.
    pub fn is_indexed_attribute(&self, col: usize) -> bool {
        self.indexed.contains(&col)
    }

    /// Adds a row; returns false (and keeps the table as is) when its primary key is taken.
    pub fn insert(&mut self, values: Vec<Value>) -> bool {
        let key = self.key_of(&values);
        if let Some(k) = &key
            && self.keys.contains_key(k)
        {
            crate::diagnostics::runtime_error(&format!(
                "table `{}`: dropping a row whose primary key {k:?} is already stored",
                self.name
            ));
            return false;
        }
        self.seq += 1;
        let seq = self.seq;
        let (order, hash) = match (self.ordering, &key) {
            (Ordering::NumericKey, Some(k)) => (OrderKey::Numeric(NumKey(k[0].clone())), 0),
            (Ordering::HashKey, Some(k)) => {
                let h = java_hash::value_hash(&k[0]);
                self.len += 1;
                self.grow_if_needed();
                self.len -= 1;
                (
                    OrderKey::Bucket(java_hash::bucket(h, self.capacity), seq),
                    h,
                )
            }
            _ => (OrderKey::Seq(seq), 0),
        };
        self.record(|| TableChange::Insert(values.clone()));
        let row = Row {
            values,
            order: order.clone(),
            key: key.clone(),
            hash,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some(row);
                s
            }
            None => {
                self.slots.push(Some(row));
                self.slots.len() - 1
            }
        };
        self.order.insert(order, slot);
        if let Some(k) = key {
            self.keys.insert(k, slot);
        }
        self.len += 1;
        true
    }

    /// Java's `HashMap` doubles when its size passes 3/4 of the capacity; bucket positions
    /// change with it.
    fn grow_if_needed(&mut self) {
        let mut grown = false;
        while self.len as u64 > (self.capacity as u64 * 3) / 4 {
            self.capacity *= 2;
            grown = true;
        }
        if grown {
            let mut order = BTreeMap::new();
            for (k, slot) in std::mem::take(&mut self.order) {
                let new_key = match (k, &mut self.slots[slot]) {
                    (OrderKey::Bucket(_, seq), Some(row)) => {
                        row.order =
                            OrderKey::Bucket(java_hash::bucket(row.hash, self.capacity), seq);
                        row.order.clone()
                    }
                    (k, _) => k,
                };
                order.insert(new_key, slot);
            }
            self.order = order;
        }
    }

    pub fn remove(&mut self, slot: usize) {
        if let Some(row) = self.slots.get_mut(slot).and_then(Option::take) {
            if let Some(j) = &mut self.journal {
                j.push(TableChange::Delete(row.values.clone()));
            }
            self.order.remove(&row.order);
            if let Some(k) = &row.key {
                self.keys.remove(k);
            }
            self.free.push(slot);
            self.len -= 1;
        }
    }

    /// Overwrites the values of a row in place: it stays where it is, under the key it was
    /// stored with (Siddhi's `setOutputData` on a stored event).
    pub fn set_values(&mut self, slot: usize, values: &[Value]) {
        if let Some(row) = self.slots.get_mut(slot).and_then(Option::as_mut) {
            if let Some(j) = &mut self.journal {
                j.push(TableChange::Update {
                    old: row.values.clone(),
                    new: values.to_vec(),
                });
            }
            row.values.clear();
            row.values.extend_from_slice(values);
        }
    }

    /// Sets one attribute of a row in place.
    pub fn set_value(&mut self, slot: usize, col: usize, value: Value) {
        if let Some(row) = self.slots.get_mut(slot).and_then(Option::as_mut) {
            match &mut self.journal {
                Some(j) => {
                    let old = row.values.clone();
                    row.values[col] = value;
                    j.push(TableChange::Update {
                        old,
                        new: row.values.clone(),
                    });
                }
                None => row.values[col] = value,
            }
        }
    }

    /// Stores `values` under its primary key, replacing the row stored there in place or
    /// adding a new one (Siddhi's `overwrite`, a `HashMap.put`).
    pub fn overwrite(&mut self, values: &[Value]) {
        match self.key_of(values).and_then(|k| self.find_key(&k)) {
            Some(slot) => self.set_values(slot, values),
            None => {
                self.insert(values.to_vec());
            }
        }
    }

    /// Drops every row (and changes not yet taken: a host mirroring the table writes the whole
    /// table after a restore).
    pub fn clear(&mut self) {
        if let Some(j) = &mut self.journal {
            j.clear();
        }
        self.slots.clear();
        self.free.clear();
        self.order.clear();
        self.keys.clear();
        self.len = 0;
    }

    pub fn snapshot(&self, w: &mut StateWriter) {
        w.u64(self.seq);
        w.u64(self.capacity as u64);
        w.usize(self.len);
        // Rows in scan order with their order keys, so a restored table scans identically.
        for &slot in self.order.values() {
            if let Some(row) = &self.slots[slot] {
                match &row.order {
                    OrderKey::Seq(s) => {
                        w.u8(0);
                        w.u64(*s);
                    }
                    OrderKey::Numeric(_) => w.u8(1),
                    OrderKey::Bucket(b, s) => {
                        w.u8(2);
                        w.u64(*b as u64);
                        w.u64(*s);
                    }
                }
                w.row(&row.values);
                if let Some(k) = &row.key {
                    w.row(k);
                }
            }
        }
    }

    pub fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.clear();
        self.seq = r.u64()?;
        self.capacity = u32::try_from(r.u64()?).unwrap_or(16).max(16);
        let n = r.len(1)?;
        let arity = self.schema.len();
        for _ in 0..n {
            let tag = r.u8()?;
            let order_seq = match tag {
                0 => Some(OrderKey::Seq(r.u64()?)),
                2 => {
                    let b = r.u64()? as u32;
                    Some(OrderKey::Bucket(b, r.u64()?))
                }
                _ => None,
            };
            let mut values = Vec::with_capacity(arity);
            r.row_into(arity, &mut values)?;
            let key: Option<Key> = match &self.pk {
                None => None,
                Some(_) => {
                    let mut k = Vec::with_capacity(1);
                    r.row_into(1, &mut k)?;
                    Some(k.into_boxed_slice())
                }
            };
            let order = match (order_seq, &key) {
                (Some(o), _) => o,
                (None, Some(k)) => OrderKey::Numeric(NumKey(k[0].clone())),
                (None, None) => OrderKey::Seq(0),
            };
            let hash = key.as_deref().map_or(0, |k| java_hash::value_hash(&k[0]));
            self.slots.push(Some(Row {
                values,
                order: order.clone(),
                key: key.clone(),
                hash,
            }));
            let slot = self.slots.len() - 1;
            self.order.insert(order, slot);
            if let Some(k) = key {
                self.keys.insert(k, slot);
            }
            self.len += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pk: Option<Vec<usize>>, ty: AttrType) -> TableRuntime {
        let schema = Arc::new(Schema::new([
            ("k".to_string(), ty),
            ("v".to_string(), AttrType::Int),
        ]));
        TableRuntime::new("T", schema, pk, &[])
    }

    fn keys(t: &TableRuntime) -> Vec<Value> {
        let mut out = Vec::new();
        t.visit(&mut |r| out.push(r[0].clone()));
        out
    }

    #[test]
    fn journal_records_changes_only_when_asked() {
        let row = |k: &str, v: i32| vec![Value::str(k), Value::Int(v)];
        let mut t = table(Some(vec![0]), AttrType::String);
        t.insert(row("a", 1));
        assert!(!t.has_changes());
        t.record_changes();
        assert_eq!(
            t.load(vec![row("b", 2), row("a", 9)]),
            1,
            "a taken key is dropped"
        );
        assert!(!t.has_changes(), "loaded rows are not changes");
        t.insert(row("c", 3));
        assert!(!t.insert(row("c", 4)), "a taken key changes nothing");
        let slot = t.find_key(&[Value::str("a")]).expect("a");
        t.set_value(slot, 1, Value::Int(5));
        t.overwrite(&row("b", 6));
        let slot = t.find_key(&[Value::str("c")]).expect("c");
        t.remove(slot);
        assert_eq!(
            t.take_changes(),
            vec![
                TableChange::Insert(row("c", 3)),
                TableChange::Update {
                    old: row("a", 1),
                    new: row("a", 5)
                },
                TableChange::Update {
                    old: row("b", 2),
                    new: row("b", 6)
                },
                TableChange::Delete(row("c", 3)),
            ]
        );
        assert!(t.take_changes().is_empty());
        t.insert(row("d", 1));
        t.clear();
        assert!(
            t.take_changes().is_empty(),
            "a cleared table drops pending changes"
        );
    }

    #[test]
    fn insertion_order_without_key() {
        let mut t = table(None, AttrType::String);
        for k in ["b", "a", "c"] {
            t.insert(vec![Value::str(k), Value::Int(1)]);
        }
        let slots = t.scan();
        t.remove(slots[1]);
        t.insert(vec![Value::str("d"), Value::Int(1)]);
        assert_eq!(
            keys(&t),
            vec![Value::str("b"), Value::str("c"), Value::str("d")]
        );
    }

    #[test]
    fn numeric_key_is_sorted_and_unique() {
        let mut t = table(Some(vec![0]), AttrType::Long);
        for k in [5, -1, 3] {
            assert!(t.insert(vec![Value::Long(k), Value::Int(1)]));
        }
        assert!(!t.insert(vec![Value::Long(3), Value::Int(2)]));
        assert_eq!(
            keys(&t),
            vec![Value::Long(-1), Value::Long(3), Value::Long(5)]
        );
    }

    #[test]
    fn string_key_follows_java_hash_map_order() {
        // Java: a HashMap holding "b", "zz", "a", "c" iterates zz, a, b, c (buckets 0, 1, 2, 3).
        let mut t = table(Some(vec![0]), AttrType::String);
        for k in ["b", "zz", "a", "c"] {
            t.insert(vec![Value::str(k), Value::Int(1)]);
        }
        let order: Vec<String> = keys(&t).iter().map(|v| v.to_java_string()).collect();
        assert_eq!(order, ["zz", "a", "b", "c"]);
    }

    #[test]
    fn growing_hash_table_matches_java() {
        // java.util.HashMap with "key0".."key39" put in order iterates like this.
        let java = "key1, key2, key0, key5, key6, key3, key4, key9, key7, key8, key22, key21, key20, key15, key37, key14, key36, key13, key35, key12, key34, key19, key18, key17, key39, key16, key38, key11, key33, key10, key32, key31, key30, key26, key25, key24, key23, key29, key28, key27";
        let mut t = table(Some(vec![0]), AttrType::String);
        for i in 0..40 {
            t.insert(vec![Value::str(&format!("key{i}")), Value::Int(i)]);
        }
        let order: Vec<String> = keys(&t).iter().map(|v| v.to_java_string()).collect();
        assert_eq!(order.join(", "), java);
    }

    #[test]
    fn snapshot_keeps_scan_order() {
        let mut t = table(Some(vec![0]), AttrType::String);
        for i in 0..40 {
            t.insert(vec![Value::str(&format!("key{i}")), Value::Int(i)]);
        }
        let mut w = StateWriter::new();
        t.snapshot(&mut w);
        let bytes = w.into_bytes();
        let mut u = table(Some(vec![0]), AttrType::String);
        u.restore(&mut StateReader::new(&bytes)).unwrap();
        assert_eq!(keys(&t), keys(&u));
        assert!(u.find_key(&[Value::str("key7")]).is_some());
    }

    #[test]
    fn in_place_update_keeps_the_stored_key() {
        let mut t = table(Some(vec![0]), AttrType::String);
        t.insert(vec![Value::str("a"), Value::Int(1)]);
        let slot = t.scan()[0];
        t.set_values(slot, &[Value::str("b"), Value::Int(2)]);
        assert_eq!(t.find_key(&[Value::str("a")]), Some(slot));
        assert!(!t.insert(vec![Value::str("a"), Value::Int(3)]));
        assert!(t.insert(vec![Value::str("b"), Value::Int(4)]));
        t.remove(slot);
        assert!(t.insert(vec![Value::str("a"), Value::Int(5)]));
    }

    #[test]
    fn composite_keys_are_text() {
        let schema = Arc::new(Schema::new([
            ("a".to_string(), AttrType::Long),
            ("b".to_string(), AttrType::Int),
        ]));
        let mut t = TableRuntime::new("T", schema, Some(vec![0, 1]), &[]);
        assert!(t.insert(vec![Value::Long(1), Value::Int(2)]));
        // Siddhi keys the row by the text `1:-:2:-:`, so an int 1 is the same key.
        assert!(!t.insert(vec![Value::Int(1), Value::Int(2)]));
        t.overwrite(&[Value::Long(1), Value::Int(2)]);
        assert_eq!(t.len(), 1);
    }
}
