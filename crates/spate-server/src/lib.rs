//! The Spate server node. For now this is its configuration: [`config`] loads the WSO2
//! Streaming Integrator `deployment.yaml` users already have (with the minimum-HA sections
//! uncommented) into typed settings. The REST API and the node lifecycle come later.

pub mod config;
pub mod identity;
