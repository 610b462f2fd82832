//! clustersim: a Redis-Cluster metadata node, the code under test of the `sim` harness.
//!
//! Layers (dependencies point down; see docs/ARCHITECTURE.md):
//! - [`meta`]: the pure metadata state machine (node table, slot map, epochs, replica links).
//! - [`cluster`]: CLUSTER subcommands: arguments → meta commands; NODES / INFO / SLOTS / SHARDS rendering.
//! - [`raft`]: openraft under the metadata (runtime seam, storage, network over the cluster bus).
//! - [`probe`]: coverage probes, the named rare branches a sweep reports reaching.
//! - [`server`]: RESP over `tokio::net` (madsim's simulated network in the simulation build), dispatch, routing.

pub mod cluster;
pub mod meta;
pub mod probe;
pub mod raft;
pub mod resp;
pub mod server;
