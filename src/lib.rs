//! clustersim: a Redis-Cluster metadata node, the code under test of the `sim` harness.
//!
//! Layers (dependencies point down; see docs/ARCHITECTURE.md):
//! - [`meta`]: the pure metadata state machine (node table, slot map, epochs, replica links).
//! - [`cluster`]: CLUSTER subcommands: arguments → meta commands; NODES / INFO / SLOTS / SHARDS rendering.
//! - [`server`]: RESP over `tokio::net` (madsim's simulated network in the simulation build), dispatch, routing.

pub mod meta;
pub mod resp;
pub mod cluster;
pub mod server;
