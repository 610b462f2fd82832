//! Property: slot safety — in every node's view of the table, no slot has two owners, every replica's master
//! exists and is a master, and no node's config epoch ever goes backwards on the viewing node.
//!
//! Source: the Redis Cluster specification (one master serves a slot; a replica replicates a master; config
//! epochs only grow — "the configEpoch is never decremented" outside CLUSTER RESET HARD) and the state machine's
//! own invariants (`MetaState::check_invariants`), judged again from the outside. Epochs are compared on master
//! lines only: a replica's line shows its master's epoch (`nodeEpoch` in Redis). Every CLUSTER NODES reply of
//! the history is a view; error replies are not. A CLUSTER RESET of node X may restart X's epochs at 0 (RESET
//! HARD is the spec's one exception): an acknowledged one starts over the tracking of X's own view and of every
//! view of X; one that got no OK (it may still take effect, at any later time) ends that tracking for good.

use std::collections::{BTreeMap, BTreeSet};

use clustersim::resp::Reply;

use super::views::{parse_nodes, slot_conflict};
use super::{Class, Property, Violation};
use crate::history::{CallRecord, Op};
use crate::hosts::{normalize, Host};

pub const PROPERTY: Property = Property { name: "slot-safety", class: Class::Safety };

fn reply_text(reply: &Reply) -> Option<String> {
    match reply {
        Reply::Error(_) => None,
        other => other.as_text().map(|t| t.into_owned()),
    }
}

/// Checks every CLUSTER NODES reply of the history. Reports at most one violation per kind and viewing node.
pub fn check(history: &[CallRecord], hosts: &[Host]) -> Vec<Violation> {
    let name = |id: &str| normalize(id, hosts);
    let mut out = Vec::new();
    let mut reported: BTreeSet<(&'static str, usize)> = BTreeSet::new();
    // (viewer, id) -> the epochs the viewer showed for that id.
    let mut epochs: BTreeMap<(usize, String), Shown> = BTreeMap::new();
    // Nodes a RESET without OK was sent to: their epochs may restart at any time.
    let mut untracked: BTreeSet<usize> = BTreeSet::new();
    let id_of = |node: usize| hosts.get(node - 1).map(|h| h.id.to_string()).unwrap_or_default();
    for call in history {
        if let Op::Reset { .. } = call.op {
            let reset = id_of(call.node);
            epochs.retain(|(viewer, id), _| *viewer != call.node && *id != reset);
            if !call.is_ok() {
                untracked.insert(call.node);
            }
            continue;
        }
        if call.op != Op::Nodes {
            continue;
        }
        let Some(text) = reply_text(&call.reply) else { continue };
        let entries = parse_nodes(&text);
        let mut push = |v: Violation, out: &mut Vec<Violation>| {
            if reported.insert((v.kind(), call.node)) {
                out.push(v);
            }
        };
        if let Some((slot, first, second)) = slot_conflict(&entries) {
            let owners = vec![name(&entries[first].id), name(&entries[second].id)];
            push(Violation::SlotOwnedTwice { line: call.line, node: call.node, slot, owners }, &mut out);
        }
        for e in entries.iter().filter(|e| e.is_replica()) {
            let master = e.master.as_deref().unwrap_or("-");
            let why = match entries.iter().find(|m| m.id == master) {
                // Redis prints `slave -` for a node it knows is a replica before it learns of which master.
                None if e.master.is_none() => Some("is no master at all (the line names none)"),
                None => Some("is not in the table"),
                Some(m) if !m.is_master() => Some("is not a master"),
                Some(_) => None,
            };
            if let Some(why) = why {
                let v = Violation::ReplicaOfNonMaster {
                    line: call.line,
                    node: call.node,
                    replica: name(&e.id),
                    master: name(master),
                    why,
                };
                push(v, &mut out);
            }
        }
        // A replica's line shows its master's epoch (Redis's `nodeEpoch`), so only master lines are compared.
        let tracked = |id: &str| !untracked.contains(&call.node) && !untracked.iter().any(|&n| id_of(n) == id);
        for e in entries.iter().filter(|e| e.is_master() && tracked(&e.id)) {
            let shown = epochs.entry((call.node, e.id.clone())).or_default();
            let previous = shown.before(call.start);
            shown.pending.push((call.end, e.config_epoch));
            if let Some(from) = previous.filter(|p| *p > e.config_epoch) {
                let v = Violation::EpochWentBack {
                    line: call.line,
                    node: call.node,
                    of: name(&e.id),
                    from,
                    to: e.config_epoch,
                };
                push(v, &mut out);
            }
        }
    }
    out
}

/// The epochs one viewer showed for one node. Reads may overlap (a workload reads while the scenario's steps
/// run), and two overlapping reads may be served in either order: a read is compared only with the reads that
/// had ended before it began. Calls come in order of their start.
#[derive(Default)]
struct Shown {
    /// The highest epoch among the reads that had ended when the current one began.
    highest_ended: Option<u64>,
    /// `(end, epoch)` of the reads that may still overlap a later one.
    pending: Vec<(std::time::Duration, u64)>,
}

impl Shown {
    /// The highest epoch shown by a read that ended before `start`.
    fn before(&mut self, start: std::time::Duration) -> Option<u64> {
        let mut highest = self.highest_ended;
        self.pending.retain(|&(end, epoch)| {
            let ended = end <= start;
            if ended {
                highest = highest.max(Some(epoch));
            }
            !ended
        });
        self.highest_ended = highest;
        highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(node: usize, line: usize, command: &str, reply: Reply) -> CallRecord {
        crate::history::record(node, line, command, (line as u64, line as u64 + 1), reply, &hosts())
    }

    fn nodes(node: usize, line: usize, text: &str) -> CallRecord {
        sent(node, line, "CLUSTER NODES", Reply::Bulk(text.as_bytes().to_vec().into()))
    }

    fn hosts() -> Vec<Host> {
        crate::hosts::hosts(&crate::scenario::parse("t", "cluster 3\n").unwrap())
    }

    #[test]
    fn a_consistent_history_is_safe() {
        let h = [
            nodes(1, 1, "a 1:1@2 myself,master - 0 0 1 connected 0-10\nb 1:1@2 slave a 0 0 1 connected\n"),
            nodes(1, 2, "a 1:1@2 myself,master - 0 0 3 connected 0-10\nb 1:1@2 slave a 0 0 1 connected\n"),
        ];
        assert_eq!(check(&h, &hosts()), vec![]);
    }

    #[test]
    fn a_slot_with_two_owners_fires() {
        let h = [nodes(2, 7, "a 1:1@2 master - 0 0 1 connected 0-10\nb 1:1@2 myself,master - 0 0 2 connected 10-20\n")];
        let v = check(&h, &hosts());
        assert_eq!(
            v,
            vec![Violation::SlotOwnedTwice { line: 7, node: 2, slot: 10, owners: vec!["a".into(), "b".into()] }]
        );
        assert_eq!(v[0].to_string(), "line 7: n2's CLUSTER NODES gives slot 10 two owners: a and b");
    }

    #[test]
    fn a_replica_of_a_replica_or_of_a_stranger_fires() {
        let h = [nodes(1, 3, "a 1:1@2 myself,slave b 0 0 1 connected\nb 1:1@2 slave c 0 0 1 connected\n")];
        let v = check(&h, &hosts());
        assert_eq!(v.len(), 1, "one per kind and viewer: {v:?}");
        assert_eq!(v[0].to_string(), "line 3: n1's CLUSTER NODES makes a a replica of b, which is not a master");
    }

    #[test]
    fn an_epoch_going_backwards_fires_unless_a_reset_came_between() {
        let before = nodes(1, 1, "a 1:1@2 myself,master - 0 0 5 connected\n");
        let after = nodes(1, 2, "a 1:1@2 myself,master - 0 0 4 connected\n");
        let v = check(&[before.clone(), after.clone()], &hosts());
        assert_eq!(v, vec![Violation::EpochWentBack { line: 2, node: 1, of: "a".into(), from: 5, to: 4 }]);
        let reset = sent(1, 1, "CLUSTER RESET HARD", Reply::Simple("OK".into()));
        assert_eq!(check(&[before, reset, after], &hosts()), vec![]);
    }

    #[test]
    fn overlapping_reads_may_show_epochs_in_either_order_but_a_later_read_may_not_go_back() {
        let read = |start: u64, end: u64, epoch: u64| {
            let text = format!("a 1:1@2 myself,master - 0 0 {epoch} connected\n");
            crate::history::record(1, 9, "CLUSTER NODES", (start, end), Reply::Bulk(text.into_bytes().into()), &hosts())
        };
        // A long read served late (epoch 6) overlaps a short one served early (epoch 5): no order between them.
        assert_eq!(check(&[read(10, 50, 6), read(11, 12, 5)], &hosts()), vec![]);
        // A read that began after the epoch-6 read ended must not show 5.
        let v = check(&[read(10, 50, 6), read(11, 12, 5), read(50, 51, 5)], &hosts());
        assert_eq!(v, vec![Violation::EpochWentBack { line: 9, node: 1, of: "a".into(), from: 6, to: 5 }]);
    }

    #[test]
    fn a_reset_of_one_node_does_not_excuse_another_nodes_epoch_going_back() {
        let before = nodes(1, 1, "a 1:1@2 myself,master - 0 0 5 connected\n");
        let after = nodes(1, 3, "a 1:1@2 myself,master - 0 0 4 connected\n");
        let reset_n3 = sent(3, 2, "CLUSTER RESET HARD", Reply::Simple("OK".into()));
        let v = check(&[before, reset_n3, after], &hosts());
        assert_eq!(v, vec![Violation::EpochWentBack { line: 3, node: 1, of: "a".into(), from: 5, to: 4 }]);
    }

    #[test]
    fn a_reset_that_got_no_ok_stops_judging_that_nodes_epochs_for_good() {
        let n2 = hosts()[1].id.to_string();
        let before = nodes(1, 1, &format!("{n2} 1:1@2 master - 0 0 5 connected\n"));
        let unanswered = sent(2, 2, "CLUSTER RESET HARD", Reply::Error("(client) no reply within 15000 ms".into()));
        let later = nodes(1, 3, &format!("{n2} 1:1@2 master - 0 0 6 connected\n"));
        let after = nodes(1, 4, &format!("{n2} 1:1@2 master - 0 0 0 connected\n"));
        assert_eq!(check(&[before, unanswered, later, after], &hosts()), vec![]);
    }

    #[test]
    fn a_node_turning_replica_shows_its_masters_epoch_without_firing() {
        let before = nodes(1, 1, "a 1:1@2 myself,master - 0 0 1 connected 0-10\nb 1:1@2 master - 0 0 4 connected\n");
        let after = nodes(1, 2, "a 1:1@2 myself,master - 0 0 1 connected 0-10\nb 1:1@2 slave a 0 0 1 connected\n");
        assert_eq!(check(&[before, after], &hosts()), vec![]);
    }

    #[test]
    fn error_replies_are_not_views() {
        let mut c = nodes(1, 1, "");
        c.reply = Reply::Error("CLUSTERDOWN".into());
        assert_eq!(check(&[c], &hosts()), vec![]);
    }
}
