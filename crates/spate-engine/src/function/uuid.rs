//! `UUID()`: a random version-4 UUID string.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use super::{ArgInfo, Compiled, FunctionFactory, arity};
use crate::expr::{EvalCtx, Expr, ScalarFunction};
use crate::value::{AttrType, Value};

pub struct Uuid;

impl FunctionFactory for Uuid {
    fn name(&self) -> &'static str {
        "UUID"
    }

    fn compile(&self, args: &[ArgInfo<'_>]) -> Result<Compiled, String> {
        arity("UUID", args, 0)?;
        Ok((Arc::new(UuidFn), AttrType::String))
    }
}

#[derive(Debug)]
struct UuidFn;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// splitmix64: a good 64-bit mixer for seeding from time and a counter.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(crate) fn random_uuid() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hi = mix(nanos ^ n.rotate_left(32));
    let lo = mix(hi ^ n ^ (std::process::id() as u64));
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

impl ScalarFunction for UuidFn {
    fn eval(&self, _args: &[Expr], _ctx: &mut EvalCtx<'_>) -> Value {
        Value::Str(random_uuid().into())
    }
}

#[cfg(test)]
mod tests {
    use super::random_uuid;

    #[test]
    fn uuid_shape_and_uniqueness() {
        let a = random_uuid();
        let b = random_uuid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, b);
    }
}
