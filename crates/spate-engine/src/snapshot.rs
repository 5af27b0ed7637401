//! Snapshots: one byte codec and one trait for every piece of runtime state, and the app
//! snapshot envelope (magic, version, checksum) that holds them keyed by stable element ids.
//!
//! The codec is hand-written rather than serde-derived: state is a handful of scalars, rows
//! and queues, the format must stay readable across releases, and writing it must not allocate
//! per value. Integers are LEB128 varints (zig-zag for signed).

use std::sync::Arc;

use crate::value::{Object, Value};

/// Why a snapshot could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot is truncated")]
    Truncated,
    #[error("snapshot is not a Spate snapshot (bad magic)")]
    BadMagic,
    #[error("snapshot version {0} is not supported (this build reads version {SNAPSHOT_VERSION})")]
    Version(u16),
    #[error("snapshot checksum mismatch: the bytes are corrupt")]
    Checksum,
    #[error("snapshot does not match the app: {0}")]
    Mismatch(String),
    #[error("snapshot holds an invalid value: {0}")]
    Invalid(String),
}

pub type SnapshotResult<T> = Result<T, SnapshotError>;

/// Appends state to a byte buffer.
#[derive(Default, Debug)]
pub struct StateWriter {
    buf: Vec<u8>,
}

impl StateWriter {
    pub fn new() -> StateWriter {
        StateWriter::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }

    pub fn u64(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(byte);
                return;
            }
            self.buf.push(byte | 0x80);
        }
    }

    pub fn usize(&mut self, v: usize) {
        self.u64(v as u64);
    }

    pub fn i64(&mut self, v: i64) {
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }

    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    pub fn f32(&mut self, v: f32) {
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.usize(v.len());
        self.buf.extend_from_slice(v);
    }

    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.u8(0),
            Value::Bool(b) => self.u8(if *b { 2 } else { 1 }),
            Value::Int(i) => {
                self.u8(3);
                self.i64(*i as i64);
            }
            Value::Long(i) => {
                self.u8(4);
                self.i64(*i);
            }
            Value::Float(f) => {
                self.u8(5);
                self.f32(*f);
            }
            Value::Double(f) => {
                self.u8(6);
                self.f64(*f);
            }
            Value::Str(s) => {
                self.u8(7);
                self.str(s);
            }
            Value::Object(o) => match &**o {
                Object::Set(items) => {
                    self.u8(8);
                    self.values(items);
                }
                Object::Text(t) => {
                    self.u8(9);
                    self.str(t);
                }
                Object::List(items) => {
                    self.u8(10);
                    self.values(items);
                }
            },
        }
    }

    /// A length-prefixed list of values.
    pub fn values(&mut self, vs: &[Value]) {
        self.usize(vs.len());
        for v in vs {
            self.value(v);
        }
    }

    /// Values without a length (the reader knows the arity).
    pub fn row(&mut self, vs: &[Value]) {
        for v in vs {
            self.value(v);
        }
    }

    pub fn opt_value(&mut self, v: Option<&Value>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.value(v);
            }
        }
    }

    /// An optional timestamped row (a window's pending reset marker, say).
    pub fn opt_row(&mut self, row: Option<&(i64, Vec<Value>)>) {
        match row {
            Some((ts, values)) => {
                self.u8(1);
                self.i64(*ts);
                self.values(values);
            }
            None => self.u8(0),
        }
    }

    /// Writes a nested section: its length first so a reader can skip it.
    pub fn section(&mut self, f: impl FnOnce(&mut StateWriter)) {
        let mut inner = StateWriter::new();
        f(&mut inner);
        self.bytes(&inner.buf);
    }
}

/// Reads state written by [`StateWriter`].
#[derive(Debug)]
pub struct StateReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> StateReader<'a> {
    pub fn new(buf: &'a [u8]) -> StateReader<'a> {
        StateReader { buf, pos: 0 }
    }

    pub fn is_at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Fails unless every byte was consumed (catches format drift early).
    pub fn finish(&self) -> SnapshotResult<()> {
        if self.is_at_end() {
            Ok(())
        } else {
            Err(SnapshotError::Mismatch(format!(
                "{} unread bytes in a state section",
                self.buf.len() - self.pos
            )))
        }
    }

    fn take(&mut self, n: usize) -> SnapshotResult<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(SnapshotError::Truncated)?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(SnapshotError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    pub fn u8(&mut self) -> SnapshotResult<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn bool(&mut self) -> SnapshotResult<bool> {
        Ok(self.u8()? != 0)
    }

    pub fn u64(&mut self) -> SnapshotResult<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(SnapshotError::Invalid("varint longer than 64 bits".into()))
    }

    pub fn usize(&mut self) -> SnapshotResult<usize> {
        let v = self.u64()?;
        // A length can never exceed the bytes left; this bounds allocations on corrupt input.
        usize::try_from(v).map_err(|_| SnapshotError::Invalid("length overflows".into()))
    }

    /// A length that prefixes `min_item_bytes`-sized items still unread; rejects lengths the
    /// remaining bytes cannot hold, so corrupt input cannot trigger a huge allocation.
    pub fn len(&mut self, min_item_bytes: usize) -> SnapshotResult<usize> {
        let n = self.usize()?;
        let left = self.buf.len() - self.pos;
        if n.saturating_mul(min_item_bytes.max(1)) > left && n > 0 {
            return Err(SnapshotError::Truncated);
        }
        Ok(n)
    }

    pub fn i64(&mut self) -> SnapshotResult<i64> {
        let u = self.u64()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    pub fn f64(&mut self) -> SnapshotResult<f64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    pub fn f32(&mut self) -> SnapshotResult<f32> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(f32::from_bits(u32::from_le_bytes(a)))
    }

    pub fn bytes(&mut self) -> SnapshotResult<&'a [u8]> {
        let n = self.len(1)?;
        self.take(n)
    }

    pub fn str(&mut self) -> SnapshotResult<&'a str> {
        std::str::from_utf8(self.bytes()?)
            .map_err(|_| SnapshotError::Invalid("text is not UTF-8".into()))
    }

    pub fn value(&mut self) -> SnapshotResult<Value> {
        Ok(match self.u8()? {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => Value::Int(
                i32::try_from(self.i64()?)
                    .map_err(|_| SnapshotError::Invalid("int out of range".into()))?,
            ),
            4 => Value::Long(self.i64()?),
            5 => Value::Float(self.f32()?),
            6 => Value::Double(self.f64()?),
            7 => Value::Str(self.str()?.into()),
            8 => Value::Object(Arc::new(Object::Set(self.values()?))),
            9 => Value::Object(Arc::new(Object::Text(self.str()?.to_string()))),
            10 => Value::Object(Arc::new(Object::List(self.values()?))),
            tag => return Err(SnapshotError::Invalid(format!("unknown value tag {tag}"))),
        })
    }

    pub fn values(&mut self) -> SnapshotResult<Vec<Value>> {
        let n = self.len(1)?;
        (0..n).map(|_| self.value()).collect()
    }

    /// Appends `arity` values to `out`.
    pub fn row_into(&mut self, arity: usize, out: &mut Vec<Value>) -> SnapshotResult<()> {
        for _ in 0..arity {
            out.push(self.value()?);
        }
        Ok(())
    }

    pub fn opt_value(&mut self) -> SnapshotResult<Option<Value>> {
        Ok(match self.u8()? {
            0 => None,
            _ => Some(self.value()?),
        })
    }

    pub fn opt_row(&mut self) -> SnapshotResult<Option<(i64, Vec<Value>)>> {
        Ok(match self.u8()? {
            0 => None,
            _ => Some((self.i64()?, self.values()?)),
        })
    }

    /// Reads a nested section written by [`StateWriter::section`].
    pub fn section(&mut self) -> SnapshotResult<StateReader<'a>> {
        Ok(StateReader::new(self.bytes()?))
    }
}

/// Everything that holds state between events implements this, so one mechanism snapshots a
/// whole app. `restore` is called on a freshly built element of the same plan.
pub trait Stateful {
    fn snapshot(&self, w: &mut StateWriter);
    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()>;
}

/// Identifies Spate snapshots.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"SPATESNP";
/// Bumped on any incompatible change of the layout below or of an element's state.
pub const SNAPSHOT_VERSION: u16 = 1;

/// Wraps a body in `magic | version | crc32(body) | body`.
pub fn seal(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 14);
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Checks magic, version and checksum and returns the body.
pub fn unseal(bytes: &[u8]) -> SnapshotResult<&[u8]> {
    if bytes.len() < 14 {
        return Err(
            if bytes.starts_with(&SNAPSHOT_MAGIC[..bytes.len().min(8)]) {
                SnapshotError::Truncated
            } else {
                SnapshotError::BadMagic
            },
        );
    }
    if &bytes[..8] != SNAPSHOT_MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotError::Version(version));
    }
    let crc = u32::from_le_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]);
    let body = &bytes[14..];
    if crc32fast::hash(body) != crc {
        return Err(SnapshotError::Checksum);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let vals = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(-7),
            Value::Long(i64::MIN),
            Value::Float(1.5),
            Value::Double(f64::NAN),
            Value::str("héllo"),
            Value::Object(Arc::new(Object::Set(vec![Value::Int(1), Value::str("a")]))),
        ];
        let mut w = StateWriter::new();
        w.values(&vals);
        w.i64(-1);
        w.u64(u64::MAX);
        let bytes = w.into_bytes();
        let mut r = StateReader::new(&bytes);
        assert_eq!(r.values().unwrap(), vals);
        assert_eq!(r.i64().unwrap(), -1);
        assert_eq!(r.u64().unwrap(), u64::MAX);
        r.finish().unwrap();
    }

    #[test]
    fn envelope_detects_corruption() {
        let sealed = seal(b"state");
        assert_eq!(unseal(&sealed).unwrap(), b"state");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(unseal(&bad), Err(SnapshotError::Checksum));
        assert_eq!(unseal(b"nonsense-bytes-here"), Err(SnapshotError::BadMagic));
        assert_eq!(unseal(&sealed[..10]), Err(SnapshotError::Truncated));
    }

    #[test]
    fn corrupt_lengths_do_not_allocate() {
        let mut w = StateWriter::new();
        w.u64(u64::MAX / 2);
        let bytes = w.into_bytes();
        assert!(StateReader::new(&bytes).values().is_err());
    }
}
