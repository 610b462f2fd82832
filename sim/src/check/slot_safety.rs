//! Property: slot safety — in every node's view of the table, no slot has two owners, every replica's master
//! exists and is a master, and no node's config epoch ever goes backwards on the viewing node.
//!
//! Source: the Redis Cluster specification (one master serves a slot; a replica replicates a master; config
//! epochs only grow — "the configEpoch is never decremented" outside CLUSTER RESET HARD) and the state machine's
//! own invariants (`MetaState::check_invariants`), judged again from the outside. Epochs are compared on master
//! lines only: a replica's line shows its master's epoch (`nodeEpoch` in Redis). Every CLUSTER NODES reply of
//! the history is a view; error replies are not. After an acknowledged CLUSTER RESET, epochs may restart at 0, so
//! epoch tracking starts over (RESET HARD is the spec's one exception).

use std::collections::{BTreeMap, BTreeSet};

use clustersim::resp::Reply;

use super::views::{parse_nodes, slot_owners};
use crate::client::CallRecord;
use crate::run::{Host, Violation};

fn reply_text(reply: &Reply) -> Option<String> {
    match reply {
        Reply::Error(_) => None,
        other => other.as_text().map(|t| t.into_owned()),
    }
}

/// Checks every CLUSTER NODES reply of the history. Reports at most one violation per kind and viewing node.
pub fn check(history: &[CallRecord], hosts: &[Host]) -> Vec<Violation> {
    let name = |id: &str| crate::run::normalize(id, hosts);
    let mut out = Vec::new();
    let mut reported: BTreeSet<(&'static str, usize)> = BTreeSet::new();
    // (viewer, id) -> (epoch, line of the reply that showed it)
    let mut epochs: BTreeMap<(usize, String), u64> = BTreeMap::new();
    for call in history {
        let upper = call.command.to_ascii_uppercase();
        if upper.starts_with("CLUSTER RESET") && matches!(&call.reply, Reply::Simple(s) if s == "OK") {
            epochs.clear();
            continue;
        }
        if upper != "CLUSTER NODES" {
            continue;
        }
        let Some(text) = reply_text(&call.reply) else { continue };
        let entries = parse_nodes(&text);
        let mut push = |v: Violation, out: &mut Vec<Violation>| {
            if reported.insert((v.kind(), call.node)) {
                out.push(v);
            }
        };
        if let (_, Some((slot, first, second))) = slot_owners(&entries) {
            let owners = vec![name(&entries[first].id), name(&entries[second].id)];
            push(Violation::SlotOwnedTwice { line: call.line, node: call.node, slot, owners }, &mut out);
        }
        for e in entries.iter().filter(|e| e.is_replica()) {
            let master = e.master.as_deref().unwrap_or("-");
            let why = match entries.iter().find(|m| m.id == master) {
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
        for e in entries.iter().filter(|e| e.is_master()) {
            let previous = epochs.insert((call.node, e.id.clone()), e.config_epoch);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn nodes(node: usize, line: usize, text: &str) -> CallRecord {
        CallRecord {
            node,
            command: "CLUSTER NODES".into(),
            line,
            start: Duration::from_millis(line as u64),
            end: Duration::from_millis(line as u64 + 1),
            reply: Reply::Bulk(text.as_bytes().to_vec().into()),
            quiet: false,
        }
    }

    fn hosts() -> Vec<Host> {
        crate::run::hosts(&crate::scenario::parse("t", "cluster 3\n").unwrap())
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
        let reset =
            CallRecord { command: "CLUSTER RESET HARD".into(), reply: Reply::Simple("OK".into()), ..before.clone() };
        assert_eq!(check(&[before, reset, after], &hosts()), vec![]);
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
