//! Property: the committed and applied indexes of an instance never go back, across restarts included, and the
//! state machine applies the log in order, skipping nothing.
//!
//! Source: the Raft paper (Ongaro & Ousterhout, 2014), Figure 2 ("State": commitIndex and lastApplied
//! "increase monotonically"; "Rules for Servers": "if commitIndex > lastApplied: increment lastApplied, apply
//! log[lastApplied] to state machine") and §5.4.3 (state-machine safety needs every server to apply the same
//! entries *in index order*). openraft persists the committed log id (`save_committed`) and the applied id lives
//! in the state machine, both on the node's disk: a restart must resume where they were.
//!
//! Judged per instance (node, group, incarnation; a `reopened` instance continues its incarnation, a fresh start
//! is a new one whose indexes begin again): every `committed` is at least the previous one; every `apply` is
//! the previous applied index + 1 (the first apply of an instance is not judged); a `snapshot` installed moves
//! the applied index to its last log id, never backwards.

use std::collections::BTreeMap;

use super::{Class, Property, Violation};
use crate::raft_events::{Kind, RaftEvent};

pub const PROPERTY: Property = Property { name: "monotonic_indexes", class: Class::Safety };

#[derive(Default)]
struct Indexes {
    committed: Option<Option<u64>>,
    applied: Option<u64>,
}

/// Checks every instance's committed and applied indexes. One violation per instance.
pub fn check(events: &[RaftEvent]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut instances: BTreeMap<(&str, u64, u32), Indexes> = BTreeMap::new();
    let mut reported = std::collections::BTreeSet::new();
    for e in events {
        let inst = instances.entry(e.instance()).or_default();
        let found = match &e.kind {
            Kind::Committed { index } => {
                let before = inst.committed.replace(*index);
                before.filter(|b| index < b).map(|b| ("CommitWentBack", format!("committed {index:?} after {b:?}")))
            }
            Kind::Apply { id, .. } => {
                let before = inst.applied.replace(id.index);
                match before {
                    Some(b) if id.index <= b => Some(("ApplyWentBack", format!("applied {id} after index {b}"))),
                    Some(b) if id.index > b + 1 => {
                        Some(("ApplySkipped", format!("applied {id} right after index {b}")))
                    }
                    _ => None,
                }
            }
            Kind::Snapshot { last } => {
                let to = last.as_ref().map(|l| l.index);
                match (inst.applied, to) {
                    (Some(b), to) if to < Some(b) => {
                        Some(("ApplyWentBack", format!("installed a snapshot up to {to:?} after applying index {b}")))
                    }
                    (_, to) => {
                        inst.applied = inst.applied.max(to);
                        None
                    }
                }
            }
            _ => None,
        };
        if let Some((kind, what)) = found {
            if reported.insert(e.instance()) {
                out.push(Violation::Broken { property: PROPERTY, kind, line: 0, fact: e.fact(&what) });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_events::testing::*;

    #[test]
    fn an_apply_that_skips_an_entry_is_reported() {
        let events = [apply(1_000, "a", 7, id(1, 1, "a"), 1), apply(1_100, "a", 7, id(3, 1, "a"), 3)];
        let v = check(&events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind(), "ApplySkipped");
    }

    #[test]
    fn an_apply_behind_the_last_one_across_a_restart_is_reported() {
        let events = [
            apply(1_000, "a", 7, id(1, 1, "a"), 1),
            apply(1_100, "a", 7, id(2, 1, "a"), 2),
            started(2_000, "a", 7, false),
            apply(2_100, "a", 7, id(1, 1, "a"), 1),
        ];
        assert_eq!(check(&events)[0].kind(), "ApplyWentBack");
    }

    #[test]
    fn a_committed_index_going_back_is_reported() {
        let events = [committed(1_000, "a", 7, Some(4)), committed(2_000, "a", 7, None)];
        assert_eq!(check(&events)[0].kind(), "CommitWentBack");
        let events = [committed(1_000, "a", 7, Some(4)), committed(2_000, "a", 7, Some(3))];
        assert_eq!(check(&events).len(), 1);
    }

    #[test]
    fn a_snapshot_behind_the_applied_index_is_reported() {
        let events =
            [apply(1_000, "a", 7, id(5, 1, "a"), 1), ev(1_100, "a", 7, Kind::Snapshot { last: Some(id(3, 1, "a")) })];
        assert_eq!(check(&events)[0].kind(), "ApplyWentBack");
    }

    #[test]
    fn in_order_applies_snapshot_jumps_and_new_incarnations_pass() {
        let events = [
            committed(900, "a", 7, Some(2)),
            apply(1_000, "a", 7, id(1, 1, "a"), 1),
            apply(1_100, "a", 7, id(2, 1, "a"), 2),
            ev(1_200, "a", 7, Kind::Snapshot { last: Some(id(9, 2, "b")) }),
            apply(1_300, "a", 7, id(10, 2, "b"), 10),
            committed(1_400, "a", 7, Some(10)),
            // A fresh instance of another group, then of the same group again: indexes start over.
            apply(2_000, "a", 8, id(0, 0, "a"), 0),
            RaftEvent { incarnation: 1, ..committed(3_000, "a", 7, Some(1)) },
            RaftEvent { incarnation: 1, ..apply(3_100, "a", 7, id(0, 0, "a"), 0) },
        ];
        assert!(check(&events).is_empty(), "{:?}", check(&events));
    }
}
