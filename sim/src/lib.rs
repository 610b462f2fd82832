//! sim: replays scenarios against real clustersim nodes inside madsim's simulated network and clock.
//!
//! ```no_run
//! let scenario = sim::scenario::load("scenarios/aikv_cluster_init.scn".as_ref()).unwrap();
//! let outcome = sim::run(&scenario, &sim::RunOptions { seed: 42, strategy: clustersim::server::Strategy::LocalOnly });
//! for v in &outcome.violations {
//!     println!("{v}");
//! }
//! println!("trace-hash: {:016x}", outcome.trace_hash);
//! ```
//!
//! The simulation pieces need the simulation flavour (`--cfg madsim`, the default through .cargo/config.toml).

pub mod scenario;

#[cfg(madsim)]
mod client;
#[cfg(madsim)]
mod run;
#[cfg(madsim)]
pub mod trace;

#[cfg(madsim)]
pub use client::{show_reply, CallRecord};
#[cfg(madsim)]
pub use run::{hosts, known_node_count, normalize, run, Host, Outcome, RunOptions, Violation};
