//! Property: durability — nothing acknowledged OK is lost. Once the cluster has settled (after any sequence of
//! kills and restarts), every node's table reflects every CLUSTER write that answered OK before the settle began:
//! a MEET's two nodes are both listed, ADDSLOTS / ADDSLOTSRANGE slots belong to the node that accepted them, a
//! REPLICATE's node replicates the named master (its last acknowledged REPLICATE).
//!
//! Judged on the nodes of the cluster the write went to (joined to the node that accepted it by acknowledged
//! MEETs, or listing it): a node that never joined owes nothing.
//!
//! Source: Raft's State Machine Safety and Leader Completeness (Ongaro & Ousterhout §5.4: a committed entry is
//! in every later leader's log), Jepsen's "acknowledged writes must survive". A strategy that answers OK before
//! the commit (fire-and-forget) makes no such promise; this checker is how that shows.
//!
//! Limit: writes that remove facts (FORGET, RESET, DELSLOTS, DELSLOTSRANGE, FLUSHSLOTS, SETSLOT) make "the last
//! write wins" a question of order the history alone does not settle, so a run that sent any of them before the
//! settle — acknowledged or not: an unanswered one may still take effect — is not judged (docs/CHECKERS.md).

use std::collections::BTreeMap;
use std::time::Duration;

use clustersim::resp::Reply;

use super::views::{parse_nodes, slot_owners, Entry, NodeView};
use crate::client::CallRecord;
use crate::run::{Host, Violation};

const REMOVING: [&str; 6] = ["FORGET", "RESET", "DELSLOTS", "DELSLOTSRANGE", "FLUSHSLOTS", "SETSLOT"];

/// A fact an acknowledged write established.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fact {
    Listed(usize),
    Owns { node: usize, slots: Vec<u16> },
    Replicates { node: usize, master: usize },
}

/// `<nK>` → K.
fn host_ref(word: &str) -> Option<usize> {
    word.strip_prefix("<n")?.strip_suffix('>')?.parse().ok()
}

/// Slot numbers of `ADDSLOTS` arguments (`{a..b}` folded ranges included) or of `ADDSLOTSRANGE` pairs.
fn slots_of(args: &[&str], pairs: bool) -> Vec<u16> {
    let mut numbers = Vec::new();
    for a in args {
        if let Some((x, y)) = a.strip_prefix('{').and_then(|r| r.strip_suffix('}')).and_then(|r| r.split_once("..")) {
            if let (Ok(x), Ok(y)) = (x.parse::<u16>(), y.parse::<u16>()) {
                numbers.extend(x..=y.min(16_383));
            }
        } else if let Ok(n) = a.parse::<u16>() {
            numbers.push(n);
        }
    }
    if !pairs {
        return numbers;
    }
    numbers.chunks(2).filter(|c| c.len() == 2).flat_map(|c| c[0]..=c[1].min(16_383)).collect()
}

/// Checks the views a settle ended with against the writes acknowledged before `settle_start`.
pub fn check(history: &[CallRecord], hosts: &[Host], views: &[NodeView], settle_start: Duration) -> Vec<Violation> {
    // (line, write, ok time, the node that accepted it, fact)
    let mut facts: Vec<(usize, String, Duration, usize, Fact)> = Vec::new();
    let mut replicate_last: BTreeMap<usize, usize> = BTreeMap::new();
    // A removing write sent before the settle may have taken effect whatever its reply (an unanswered one too).
    let removing = |c: &CallRecord| {
        let mut words = c.command.split_whitespace();
        words.next().is_some_and(|w| w.eq_ignore_ascii_case("CLUSTER"))
            && words.next().is_some_and(|w| REMOVING.contains(&w.to_ascii_uppercase().as_str()))
    };
    if history.iter().any(|c| c.start < settle_start && removing(c)) {
        return Vec::new();
    }
    for call in history.iter().filter(|c| c.end <= settle_start) {
        if !matches!(&call.reply, Reply::Simple(s) if s == "OK") {
            continue;
        }
        let words: Vec<&str> = call.command.split_whitespace().collect();
        if words.len() < 2 || !words[0].eq_ignore_ascii_case("CLUSTER") {
            continue;
        }
        let sub = words[1].to_ascii_uppercase();
        if REMOVING.contains(&sub.as_str()) {
            return Vec::new();
        }
        let args = &words[2..];
        let fact = match sub.as_str() {
            "MEET" => args
                .last()
                .and_then(|w| host_ref(w))
                .or_else(|| {
                    hosts
                        .iter()
                        .position(|h| {
                            Some(h.ip.to_string().as_str()) == args.first().copied()
                                && Some(h.port.to_string().as_str()) == args.get(1).copied()
                        })
                        .map(|i| i + 1)
                })
                .map(Fact::Listed),
            "ADDSLOTS" => Some(Fact::Owns { node: call.node, slots: slots_of(args, false) }),
            "ADDSLOTSRANGE" => Some(Fact::Owns { node: call.node, slots: slots_of(args, true) }),
            "REPLICATE" => args.first().and_then(|w| host_ref(w)).map(|master| {
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
    let id = |n: usize| hosts[n - 1].id.to_string();
    let before: Vec<CallRecord> = history.iter().filter(|c| c.end <= settle_start).cloned().collect();
    let joined = super::convergence::expected_members(&before, hosts);
    // Each view parsed once, with its slot owners, before the facts are judged against it.
    let parsed: Vec<(usize, Vec<Entry>, Vec<Option<usize>>)> = views
        .iter()
        .filter_map(|v| v.nodes.as_ref().ok().map(|t| (v.node, parse_nodes(t))))
        .map(|(node, entries)| {
            let owners = slot_owners(&entries).0;
            (node, entries, owners)
        })
        .collect();
    let mut out = Vec::new();
    for (line, write, ok_at, accepted_by, fact) in facts {
        if let Fact::Replicates { node, master } = fact {
            if replicate_last.get(&node) != Some(&master) {
                continue;
            }
        }
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
                    let owner_id = |s: u16| owners[usize::from(s)].map(|i| entries[i].id.as_str());
                    let want = id(*node);
                    slots.iter().find(|&&s| owner_id(s) != Some(want.as_str())).map(|&s| match owner_id(s) {
                        Some(other) => format!("slot {s} belongs to {}", crate::run::normalize(other, hosts)),
                        None => format!("slot {s} has no owner"),
                    })
                }
                Fact::Replicates { node, master } => {
                    let e = entries.iter().find(|e| e.id == id(*node));
                    (e.and_then(|e| e.master.clone()) != Some(id(*master)))
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

    fn hosts() -> Vec<Host> {
        crate::run::hosts(&crate::scenario::parse("t", "cluster 3\n").unwrap())
    }

    fn ok(node: usize, line: usize, command: &str) -> CallRecord {
        CallRecord {
            node,
            command: command.into(),
            line,
            start: Duration::from_millis(line as u64 * 10),
            end: Duration::from_millis(line as u64 * 10 + 5),
            reply: Reply::Simple("OK".into()),
            quiet: false,
        }
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
        assert_eq!(check(&history(), &hosts(), &views, Duration::from_secs(1)), vec![]);
    }

    #[test]
    fn a_lost_addslots_fires_with_the_write_and_the_missing_fact() {
        let lost = vec![(1, "master", "-", "0-99"), (2, "master", "-", "100-149"), (3, "slave", "1", "")];
        let views = [view(1, &good()), view(2, &lost)];
        let v = check(&history(), &hosts(), &views, Duration::from_secs(1));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].to_string(),
            "line 2: CLUSTER ADDSLOTS {0..99} 150 answered OK at 0.025s, but after settling n2's table says: slot 150 has no owner"
        );
    }

    #[test]
    fn a_lost_replica_link_and_a_lost_member_fire() {
        let lost = vec![(1, "master", "-", "0-99 150"), (2, "master", "-", "100-149")];
        let v = check(&history(), &hosts(), &[view(1, &lost)], Duration::from_secs(1));
        let kinds: Vec<String> = v.iter().map(|v| v.to_string()).collect();
        assert!(kinds.iter().any(|k| k.contains("<n3> is not listed")), "{kinds:?}");
        assert!(kinds.iter().any(|k| k.contains("<n3> does not replicate <n1>")), "{kinds:?}");
    }

    #[test]
    fn a_node_outside_the_writers_cluster_owes_nothing() {
        let alone = vec![(3, "master", "-", "")];
        let h = [ok(1, 2, "CLUSTER ADDSLOTS {0..99} 150")];
        assert_eq!(check(&h, &hosts(), &[view(3, &alone)], Duration::from_secs(1)), vec![]);
    }

    #[test]
    fn writes_after_the_settle_began_and_removing_writes_are_not_judged() {
        let views = [view(1, &[(1, "master", "-", "")])];
        assert_eq!(check(&history(), &hosts(), &views, Duration::ZERO), vec![]);
        let mut h = history();
        h.push(ok(1, 6, "CLUSTER FORGET <n3>"));
        assert_eq!(check(&h, &hosts(), &views, Duration::from_secs(1)), vec![]);
    }
}
