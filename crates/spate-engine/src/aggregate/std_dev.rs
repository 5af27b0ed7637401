//! `stdDev(x)`: population standard deviation by Welford's running update (Siddhi's
//! algorithm, so removals accumulate the same rounding).

use super::{AggregatorContext, AggregatorFactory, AggregatorState, one_numeric_arg};
use crate::snapshot::{SnapshotResult, StateReader, StateWriter};
use crate::value::{AttrType, Value};

pub struct StdDev;

impl AggregatorFactory for StdDev {
    fn name(&self) -> &'static str {
        "stdDev"
    }

    fn return_type(&self, args: &[AttrType]) -> Result<AttrType, String> {
        one_numeric_arg("stdDev", args)?;
        Ok(AttrType::Double)
    }

    fn create(&self, _args: &[AttrType], _cx: AggregatorContext) -> Box<dyn AggregatorState> {
        Box::new(Welford::default())
    }
}

#[derive(Debug, Default)]
struct Welford {
    mean: f64,
    m2: f64,
    sum: f64,
    count: i32,
}

impl Welford {
    fn current(&self) -> Value {
        match self.count {
            0 => Value::Null,
            1 => Value::Double(0.0),
            n => Value::Double((self.m2 / n as f64).sqrt()),
        }
    }
}

impl AggregatorState for Welford {
    fn add(&mut self, v: &Value) -> Value {
        let Some(x) = v.as_f64() else {
            return self.current();
        };
        self.count += 1;
        if self.count == 1 {
            self.sum = x;
            self.mean = x;
            self.m2 = 0.0;
            return Value::Double(0.0);
        }
        let old_mean = self.mean;
        self.sum += x;
        self.mean = self.sum / self.count as f64;
        self.m2 += (x - old_mean) * (x - self.mean);
        Value::Double((self.m2 / self.count as f64).sqrt())
    }

    fn remove(&mut self, v: &Value) -> Value {
        let Some(x) = v.as_f64() else {
            return self.current();
        };
        self.count -= 1;
        if self.count == 0 {
            self.sum = 0.0;
            self.mean = 0.0;
            self.m2 = 0.0;
            return Value::Null;
        }
        let old_mean = self.mean;
        self.sum -= x;
        self.mean = self.sum / self.count as f64;
        self.m2 -= (x - old_mean) * (x - self.mean);
        if self.count == 1 {
            return Value::Double(0.0);
        }
        Value::Double((self.m2 / self.count as f64).sqrt())
    }

    fn reset(&mut self) -> Value {
        *self = Welford::default();
        Value::Null
    }

    fn can_destroy(&self) -> bool {
        self.count == 0 && self.sum == 0.0 && self.mean == 0.0 && self.m2 == 0.0
    }

    fn snapshot(&self, w: &mut StateWriter) {
        w.f64(self.mean);
        w.f64(self.m2);
        w.f64(self.sum);
        w.i64(self.count as i64);
    }

    fn restore(&mut self, r: &mut StateReader<'_>) -> SnapshotResult<()> {
        self.mean = r.f64()?;
        self.m2 = r.f64()?;
        self.sum = r.f64()?;
        self.count = r.i64()? as i32;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{SLIDE, run};
    use crate::value::{AttrType, Value};

    #[test]
    fn population_std_dev() {
        let d = Value::Double;
        let out = run(
            "stdDev",
            AttrType::Double,
            SLIDE,
            &[('+', d(2.0)), ('+', d(4.0)), ('+', d(6.0)), ('-', d(2.0))],
        );
        assert_eq!(out[0], d(0.0));
        assert_eq!(out[1], d(1.0));
        let Value::Double(v) = out[2] else { panic!() };
        assert!((v - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(out[3], d(1.0));
    }
}
