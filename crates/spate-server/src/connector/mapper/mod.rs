//! Mappers: turning payloads into typed rows (sources) and rows into payloads (sinks).

pub mod json;

/// `@map(type='passThrough')`: rows go through as they are (in-process connectors).
pub const PASS_THROUGH: &str = "passthrough";
