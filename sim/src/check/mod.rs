//! Checkers judge, they never drive: they read the recorded history after a run. One property per file, each
//! opening with the property and its source, each with unit tests on hand-built histories (including one that
//! proves it fires).

pub mod agreement;
pub mod convergence;
pub mod durability;
pub mod linearizable_reads;
pub mod liveness;
pub mod slot_safety;
pub mod views;

use crate::client::CallRecord;
use crate::run::{Host, Violation};

/// Every checker that reads the whole history (the others judge the views `settle` collects).
pub fn all(history: &[CallRecord], hosts: &[Host]) -> Vec<Violation> {
    let mut out = linearizable_reads::check(history, hosts);
    out.extend(slot_safety::check(history, hosts));
    out
}
