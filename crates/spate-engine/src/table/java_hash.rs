//! Java hash codes of primary keys, and `HashMap` bucket positions, so table scans meet rows
//! in the order Siddhi's `HashMap`-backed tables do.

use crate::value::Value;

/// `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units, wrapping.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// Java `hashCode()` of a boxed value.
pub fn value_hash(v: &Value) -> i32 {
    match v {
        Value::Null => 0,
        Value::Bool(b) => {
            if *b {
                1231
            } else {
                1237
            }
        }
        Value::Int(i) => *i,
        Value::Long(l) => (*l ^ ((*l as u64) >> 32) as i64) as i32,
        Value::Float(f) => f.to_bits() as i32,
        Value::Double(d) => {
            let bits = if d.is_nan() {
                f64::NAN.to_bits()
            } else {
                d.to_bits()
            };
            (bits ^ (bits >> 32)) as i32
        }
        Value::Str(s) => string_hash(s),
        Value::Object(o) => string_hash(&o.to_string()),
    }
}

/// `HashMap`'s bucket index: the hash with its high half folded in, masked to the capacity.
pub fn bucket(hash: i32, capacity: u32) -> u32 {
    let h = hash as u32;
    (h ^ (h >> 16)) & (capacity - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash_codes() {
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("hello"), 99162322);
        assert_eq!(string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(value_hash(&Value::Long(-1)), 0);
        assert_eq!(value_hash(&Value::Bool(true)), 1231);
    }
}
