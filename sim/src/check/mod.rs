//! Checkers judge, they never drive: they read the recorded history after a run. One property per file, each
//! opening with the property and its source, each with unit tests on hand-built histories (including one that
//! proves it fires).

pub mod linearizable_reads;

use crate::client::CallRecord;
use crate::run::{Host, Violation};

/// Every checker over one run's history.
pub fn all(history: &[CallRecord], hosts: &[Host]) -> Vec<Violation> {
    linearizable_reads::check(history, hosts)
}
