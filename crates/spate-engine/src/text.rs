//! `Str`: the immutable text a string attribute holds. Short texts (up to 22 bytes: symbols,
//! ids, codes — most of what streams carry) live inline in the value, so copying a row never
//! touches a reference count; longer ones share one heap allocation.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// Longest text kept inline.
const INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    /// Bytes `0..len` with `len` in the last byte.
    Inline([u8; INLINE + 1]),
    Heap(Arc<str>),
}

/// Shared immutable text.
#[derive(Clone)]
pub struct Str(Repr);

impl Str {
    pub fn new(s: &str) -> Str {
        if s.len() <= INLINE {
            let mut buf = [0u8; INLINE + 1];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            buf[INLINE] = s.len() as u8;
            Str(Repr::Inline(buf))
        } else {
            Str(Repr::Heap(Arc::from(s)))
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(buf) => &buf[..buf[INLINE] as usize],
            Repr::Heap(s) => s.as_bytes(),
        }
    }

    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Inline bytes were copied from a `&str`, so they are valid UTF-8.
            Repr::Inline(buf) => {
                std::str::from_utf8(&buf[..buf[INLINE] as usize]).unwrap_or_default()
            }
            Repr::Heap(s) => s,
        }
    }
}

impl Str {
    /// A 64-bit hash for in-memory tables (group keys), cheaper than [`Hash`] for short texts:
    /// three word loads and two multiplies, no byte loop. Equal texts hash alike whichever
    /// representation holds them.
    #[inline]
    pub fn hash64(&self) -> u64 {
        match &self.0 {
            Repr::Inline(buf) => inline_hash(buf),
            Repr::Heap(s) => heap_hash(s),
        }
    }
}

/// The inline buffer is zero past the text and ends with its length, so equal texts have
/// equal buffers; it is read as three (overlapping) words.
#[inline(always)]
fn inline_hash(buf: &[u8; INLINE + 1]) -> u64 {
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&buf[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let a = fold_mul(
        word(0) ^ 0x243f_6a88_85a3_08d3,
        word(8) ^ 0x1319_8a2e_0370_7344,
    );
    fold_mul(a ^ word(INLINE + 1 - 8), 0xa409_3822_299f_31d0)
}

#[cold]
fn heap_hash(s: &str) -> u64 {
    if s.len() <= INLINE {
        // Not made by `Str::new`, but it must hash as the inline form of the same text.
        let mut buf = [0u8; INLINE + 1];
        buf[..s.len()].copy_from_slice(s.as_bytes());
        buf[INLINE] = s.len() as u8;
        return inline_hash(&buf);
    }
    let mut h = s.len() as u64;
    for c in s.as_bytes().chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        h = fold_mul(h ^ u64::from_le_bytes(w), 0x082e_fa98_ec4e_6c89);
    }
    h
}

/// Multiplies to 128 bits and folds the halves: every input bit reaches both ends.
#[inline(always)]
pub(crate) fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128).wrapping_mul(b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

impl Deref for Str {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::new(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        if s.len() <= INLINE {
            Str::new(&s)
        } else {
            Str(Repr::Heap(Arc::from(s)))
        }
    }
}

impl PartialEq for Str {
    #[inline]
    fn eq(&self, other: &Str) -> bool {
        match (&self.0, &other.0) {
            // Inline buffers are zero past the text and end with its length: equal texts
            // have equal buffers. Compared as two overlapping words, without a call.
            (Repr::Inline(a), Repr::Inline(b)) => {
                let word = |buf: &[u8; INLINE + 1], at: usize| {
                    let mut w = [0u8; 16];
                    w.copy_from_slice(&buf[at..at + 16]);
                    u128::from_ne_bytes(w)
                };
                word(a, 0) == word(b, 0) && word(a, INLINE + 1 - 16) == word(b, INLINE + 1 - 16)
            }
            (Repr::Heap(a), Repr::Heap(b)) => Arc::ptr_eq(a, b) || a.as_bytes() == b.as_bytes(),
            _ => self.as_bytes() == other.as_bytes(),
        }
    }
}

impl Eq for Str {}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Str) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Str) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Str {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The same as `str`'s hash, so both representations of a text hash alike.
        state.write(self.as_bytes());
        state.write_u8(0xff);
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_are_equal_texts() {
        let short = Str::new("AAPL");
        let exact = Str::new(&"x".repeat(INLINE));
        let long = Str::new(&"y".repeat(INLINE + 1));
        assert_eq!(&*short, "AAPL");
        assert_eq!(exact.len(), INLINE);
        assert_eq!(long.len(), INLINE + 1);
        assert_eq!(
            Str::from("héllo wörld".to_string()),
            Str::new("héllo wörld")
        );
        assert!(Str::new("a") < Str::new("b"));
        assert_eq!(Str::new(""), Str::from(String::new()));
    }
}
