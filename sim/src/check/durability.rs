//! Property: durability — nothing acknowledged OK is lost. Once the cluster has settled (after any sequence of
//! kills and restarts), every node's table reflects every CLUSTER write that answered OK before the settle began:
//! a MEET's two nodes are both listed, ADDSLOTS / ADDSLOTSRANGE slots belong to the node that accepted them, a
//! REPLICATE's node replicates the named master (its last acknowledged REPLICATE; not judged when that master
//! was itself sent a REPLICATE: a master turned replica takes its replicas along).
//!
//! Judged on the nodes of the cluster the write went to (joined to the node that accepted it by acknowledged
//! MEETs, or listing it): a node that never joined owes nothing.
//!
//! Source: Raft's State Machine Safety and Leader Completeness (Ongaro & Ousterhout §5.4: a committed entry is
//! in every later leader's log), Jepsen's "acknowledged writes must survive". A strategy that answers OK before
//! the commit (fire-and-forget) makes no such promise; this checker is how that shows.
//!
//! Limit: writes that remove facts (FORGET, RESET, FLUSHSLOTS, SETSLOT) make "the last write wins" a question of
//! order the history alone does not settle, so a run that sent any of them before the settle — acknowledged or
//! not: an unanswered one may still take effect — is not judged (docs/CHECKERS.md). A DELSLOTS / DELSLOTSRANGE
//! sent before the settle only takes the slots it names out of the judged facts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::views::{parse_nodes, slot_owners, Entry};
use super::{Class, Property, Settled, Violation};
use crate::history::{CallRecord, Op};
use crate::hosts::{normalize, Host};

pub const PROPERTY: Property = Property { name: "durability", class: Class::Safety };

/// A fact an acknowledged write established.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fact {
    Listed(usize),
    Owns { node: usize, slots: Vec<u16> },
    Replicates { node: usize, master: usize },
}

/// One acknowledged write and the fact it established: (line, write as shown, OK time, accepting node, fact).
type Acknowledged = (usize, String, Duration, usize, Fact);

/// The facts the writes acknowledged before `settle_start` established, each REPLICATE but a node's last
/// dropped.
fn acknowledged(history: &[CallRecord], settle_start: Duration) -> Vec<Acknowledged> {
    let mut facts: Vec<Acknowledged> = Vec::new();
    let mut replicate_last: BTreeMap<usize, usize> = BTreeMap::new();
    for call in history.iter().filter(|c| c.end <= settle_start && c.is_ok()) {
        let fact = match &call.op {
            Op::Meet { target } => target.map(Fact::Listed),
            Op::AddSlots { slots } => Some(Fact::Owns { node: call.node, slots: slots.clone() }),
            Op::Replicate { master } => master.map(|master| {
                replicate_last.insert(call.node, master);
                Fact::Replicates { node: call.node, master }
            }),
            _ => None,
        };
        if let Some(fact) = fact {
            if let Fact::Listed(_) = fact {
                // The MEET's receiver is a member too.
                facts.push((call.line, call.command.clone(), call.end, call.node, Fact::Listed(call.node)));
            }
            facts.push((call.line, call.command.clone(), call.end, call.node, fact));
        }
    }
    // A master that was itself sent a REPLICATE (answered or not) may have become a replica and taken its
    // replicas along (Redis re-points them): their links are not judged.
    let turned: BTreeSet<usize> = history
        .iter()
        .filter(|c| c.start < settle_start && matches!(c.op, Op::Replicate { .. }))
        .map(|c| c.node)
        .collect();
    facts.retain(|(.., fact)| match fact {
        Fact::Replicates { node, master } => replicate_last.get(node) == Some(master) && !turned.contains(master),
        _ => true,
    });
    facts
}

/// Checks the views a settle ended with against the writes acknowledged before it began.
pub fn check(history: &[CallRecord], hosts: &[Host], settled: &Settled) -> Vec<Violation> {
    let (views, settle_start) = (&settled.views, settled.start);
    // A removing write sent before the settle may have taken effect whatever its reply (an unanswered one too).
    if history.iter().any(|c| c.start < settle_start && c.op.removes_beyond_named_slots()) {
        return Vec::new();
    }
    let removed = crate::history::slot_removals(history);
    let mut facts = acknowledged(history, settle_start);
    facts.retain_mut(|(.., fact)| match fact {
        Fact::Owns { slots, .. } => {
            slots.retain(|s| removed.get(s).is_none_or(|h| settle_start <= *h));
            !slots.is_empty()
        }
        _ => true,
    });
    // Each host's id as text once (a 64-node settle is 64 views of 64 lines, judged against every fact).
    let ids: Vec<String> = hosts.iter().map(|h| h.id.to_string()).collect();
    let id = |n: usize| ids[n - 1].as_str();
    let before: Vec<CallRecord> = history.iter().filter(|c| c.end <= settle_start).cloned().collect();
    let joined = super::convergence::expected_members(&before, hosts);
    // Each view parsed once, with its slot owners, before the facts are judged against it.
    let parsed: Vec<(usize, Vec<Entry>, Vec<Option<u16>>)> = views
        .iter()
        .filter_map(|v| v.nodes.as_ref().ok().map(|t| (v.node, parse_nodes(t))))
        .map(|(node, entries)| {
            let owners = slot_owners(&entries).0;
            (node, entries, owners)
        })
        .collect();
    let mut out = Vec::new();
    for (line, write, ok_at, accepted_by, fact) in facts {
        for (viewer, entries, owners) in &parsed {
            // Only the cluster the write was made to owes it: nodes joined to the accepting node by acknowledged
            // MEETs, or listing it.
            let owes = joined.get(*viewer).is_some_and(|m| m.contains(&accepted_by))
                || entries.iter().any(|e| e.id == id(accepted_by));
            if !owes {
                continue;
            }
            let missing = match &fact {
                Fact::Listed(n) => (!entries.iter().any(|e| e.id == id(*n))).then(|| format!("<n{n}> is not listed")),
                Fact::Owns { node, slots } => {
                    let owner_id = |s: u16| owners[usize::from(s)].map(|i| entries[usize::from(i)].id.as_str());
                    let want = id(*node);
                    // The lines that are `want`'s, by index: slot by slot an integer compare, not an id compare.
                    let mine: Vec<u16> = (0..entries.len())
                        .filter(|&i| entries[i].id == want)
                        .filter_map(|i| u16::try_from(i).ok())
                        .collect();
                    let is_mine = |s: u16| owners[usize::from(s)].is_some_and(|i| mine.contains(&i));
                    slots.iter().find(|&&s| !is_mine(s)).map(|&s| match owner_id(s) {
                        Some(other) => format!("slot {s} belongs to {}", normalize(other, hosts)),
                        None => format!("slot {s} has no owner"),
                    })
                }
                Fact::Replicates { node, master } => {
                    let e = entries.iter().find(|e| e.id == id(*node));
                    (e.and_then(|e| e.master.as_deref()) != Some(id(*master)))
                        .then(|| format!("<n{node}> does not replicate <n{master}>"))
                }
            };
            if let Some(missing) = missing {
                out.push(Violation::LostWrite { line, write: write.clone(), ok_at, node: *viewer, missing });
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::views::NodeView;
    use clustersim::resp::Reply;

    fn hosts() -> Vec<Host> {
        crate::hosts::hosts(&crate::scenario::parse("t", "cluster 3\n").unwrap())
    }

    fn ok(node: usize, line: usize, command: &str) -> CallRecord {
        let times = (line as u64 * 10, line as u64 * 10 + 5);
        crate::history::record(node, line, command, times, Reply::Simple("OK".into()), &hosts())
    }

    /// The views a settle that began at `start` ended with.
    fn settled(views: &[NodeView], start: Duration) -> Settled {
        Settled { start, views: views.to_vec() }
    }

    fn view(node: usize, lines: &[(usize, &str, &str, &str)]) -> NodeView {
        let hosts = hosts();
        let text: String = lines
            .iter()
            .map(|(n, flags, master, slots)| {
                let master = if *master == "-" {
                    "-".to_string()
                } else {
                    hosts[master.parse::<usize>().unwrap() - 1].id.to_string()
                };
                format!("{} 10.0.0.{n}:6379@16379 {flags} {master} 0 0 0 connected {slots}\n", hosts[n - 1].id)
            })
            .collect();
        NodeView { node, nodes: Ok(text), slots: None }
    }

    fn history() -> Vec<CallRecord> {
        vec![
            ok(1, 1, "CLUSTER MEET 10.0.0.2 6380 <n2>"),
            ok(1, 2, "CLUSTER ADDSLOTS {0..99} 150"),
            ok(2, 3, "CLUSTER ADDSLOTSRANGE 100 149"),
            ok(3, 4, "CLUSTER MEET 10.0.0.1 6379 <n1>"),
            ok(3, 5, "CLUSTER REPLICATE <n1>"),
        ]
    }

    fn good() -> Vec<(usize, &'static str, &'static str, &'static str)> {
        vec![(1, "master", "-", "0-99 150"), (2, "master", "-", "100-149"), (3, "slave", "1", "")]
    }

    #[test]
    fn a_table_reflecting_every_acknowledged_write_is_durable() {
        let views = [view(1, &good()), view(2, &good()), view(3, &good())];
        assert_eq!(check(&history(), &hosts(), &settled(&views, Duration::from_secs(1))), vec![]);
    }

    #[test]
    fn a_lost_addslots_fires_with_the_write_and_the_missing_fact() {
        let lost = vec![(1, "master", "-", "0-99"), (2, "master", "-", "100-149"), (3, "slave", "1", "")];
        let views = [view(1, &good()), view(2, &lost)];
        let v = check(&history(), &hosts(), &settled(&views, Duration::from_secs(1)));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].to_string(),
            "line 2: CLUSTER ADDSLOTS {0..99} 150 answered OK at 0.025s, but after settling n2's table says: slot 150 has no owner"
        );
    }

    #[test]
    fn a_lost_replica_link_and_a_lost_member_fire() {
        let lost = vec![(1, "master", "-", "0-99 150"), (2, "master", "-", "100-149")];
        let v = check(&history(), &hosts(), &settled(&[view(1, &lost)], Duration::from_secs(1)));
        let kinds: Vec<String> = v.iter().map(|v| v.to_string()).collect();
        assert!(kinds.iter().any(|k| k.contains("<n3> is not listed")), "{kinds:?}");
        assert!(kinds.iter().any(|k| k.contains("<n3> does not replicate <n1>")), "{kinds:?}");
    }

    #[test]
    fn a_node_outside_the_writers_cluster_owes_nothing() {
        let alone = vec![(3, "master", "-", "")];
        let h = [ok(1, 2, "CLUSTER ADDSLOTS {0..99} 150")];
        assert_eq!(check(&h, &hosts(), &settled(&[view(3, &alone)], Duration::from_secs(1))), vec![]);
    }

    #[test]
    fn writes_after_the_settle_began_and_removing_writes_are_not_judged() {
        let views = [view(1, &[(1, "master", "-", "")])];
        assert_eq!(check(&history(), &hosts(), &settled(&views, Duration::ZERO)), vec![]);
        let mut h = history();
        h.push(ok(1, 6, "CLUSTER FORGET <n3>"));
        assert_eq!(check(&h, &hosts(), &settled(&views, Duration::from_secs(1))), vec![]);
    }
}
