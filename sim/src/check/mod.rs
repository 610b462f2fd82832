//! Checkers judge, they never drive: they read the recorded history (and the views each `settle` ended with)
//! after a run. One property per file, each opening with the property and its source, each with unit tests on
//! hand-built histories (including one that proves it fires).
//!
//! Layer: above `hosts` and `history`; nothing here knows the executor or the simulated world.
//!
//! Two kinds of checks:
//! - **while the run goes on** (the executor calls them to decide when a `settle` or `wait-consistent` is
//!   done): [`liveness::settled`] over [`convergence`] and [`agreement`], and [`agreement::first_difference`];
//! - **after the run**, every entry of [`CHECKERS`], over the whole history, over each settled cluster, or over
//!   the nodes' Raft events (`crate::raft_events`: Raft's own invariants, judged from outside).

pub mod agreement;
pub mod commit_bound;
pub mod convergence;
pub mod durability;
pub mod election_safety;
pub mod identity;
pub mod leader_completeness;
pub mod linearizable_reads;
pub mod linearizable_slots;
pub mod liveness;
pub mod log_matching;
pub mod model;
pub mod monotonic_indexes;
pub mod open_slots;
pub mod property;
pub mod slot_safety;
pub mod views;
pub mod violation;
pub mod vote_monotonic;

use std::time::Duration;

pub use property::{Class, Property};
pub use violation::Violation;

use crate::history::CallRecord;
use crate::hosts::Host;
use crate::raft_events::RaftEvent;
use views::NodeView;

/// A `settle` that settled: when it began (the faults stopped) and the views of its last poll round.
#[derive(Clone, Debug)]
pub struct Settled {
    pub start: Duration,
    pub views: Vec<NodeView>,
}

/// What a checker reads.
#[derive(Clone, Copy)]
pub enum Judge {
    /// The whole history, once per run.
    History(fn(&[CallRecord], &[Host]) -> Vec<Violation>),
    /// Each settled cluster, with the history.
    Settled(fn(&[CallRecord], &[Host], &Settled) -> Vec<Violation>),
    /// The nodes' Raft events of the run (none in real mode: the nodes are other processes).
    Raft(fn(&[RaftEvent]) -> Vec<Violation>),
}

/// A registered checker: the property it judges and what it reads.
#[derive(Clone, Copy)]
pub struct Checker {
    pub property: Property,
    pub judge: Judge,
}

/// Every checker that runs after a run, in the order their violations are listed. A new checker is one file
/// (its property, its `check` function, its tests) and one line here.
pub const CHECKERS: &[Checker] = &[
    Checker { property: linearizable_reads::PROPERTY, judge: Judge::History(linearizable_reads::check) },
    Checker { property: linearizable_slots::PROPERTY, judge: Judge::History(linearizable_slots::check) },
    Checker { property: slot_safety::PROPERTY, judge: Judge::History(slot_safety::check) },
    Checker { property: durability::PROPERTY, judge: Judge::Settled(durability::check) },
    Checker { property: open_slots::PROPERTY, judge: Judge::Settled(open_slots::check) },
    Checker { property: identity::PROPERTY, judge: Judge::History(identity::check) },
    Checker { property: model::PROPERTY, judge: Judge::History(model::check) },
    Checker { property: election_safety::PROPERTY, judge: Judge::Raft(election_safety::check) },
    Checker { property: log_matching::PROPERTY, judge: Judge::Raft(log_matching::check) },
    Checker { property: leader_completeness::PROPERTY, judge: Judge::Raft(leader_completeness::check) },
    Checker { property: monotonic_indexes::PROPERTY, judge: Judge::Raft(monotonic_indexes::check) },
    Checker { property: vote_monotonic::PROPERTY, judge: Judge::Raft(vote_monotonic::check) },
    Checker { property: commit_bound::PROPERTY, judge: Judge::Raft(commit_bound::check) },
];

/// Runs every registered checker over a finished run. Ids in the Raft checkers' facts are normalized here (the
/// history is normalized before it is judged; the events are not).
pub fn after_run(history: &[CallRecord], hosts: &[Host], settled: &[Settled], raft: &[RaftEvent]) -> Vec<Violation> {
    let mut out = Vec::new();
    for checker in CHECKERS {
        match checker.judge {
            Judge::History(check) => out.extend(check(history, hosts)),
            Judge::Raft(check) => out.extend(check(raft).into_iter().map(|v| v.normalized(hosts))),
            Judge::Settled(_) => {}
        }
    }
    for one in settled {
        for checker in CHECKERS {
            if let Judge::Settled(check) = checker.judge {
                out.extend(check(history, hosts, one));
            }
        }
    }
    out
}
