//! Runtime problems that drop an event (Siddhi logs them and carries on): logged at WARN and
//! counted, so an operator sees them without the engine stopping.

use std::sync::atomic::{AtomicU64, Ordering};

static RUNTIME_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Records an event dropped because an expression failed at run time.
#[cold]
pub fn runtime_error(message: &str) {
    let n = RUNTIME_ERRORS.fetch_add(1, Ordering::Relaxed);
    // The first errors in full, then one line per thousand so a bad stream cannot flood logs.
    if n < 20 || n.is_multiple_of(1000) {
        tracing::warn!(
            error = message,
            dropped_so_far = n + 1,
            "Dropped an event: evaluation failed."
        );
    }
}

/// Events dropped so far by runtime evaluation errors in this process.
pub fn runtime_error_count() -> u64 {
    RUNTIME_ERRORS.load(Ordering::Relaxed)
}
