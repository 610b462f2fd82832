//! Property: convergence — once the scenario says the cluster should have settled, every node knows every node
//! of its cluster, and membership is mutual.
//!
//! Source: AiKv's own check after its init script (`CLUSTER NODES | grep -cE '^[0-9a-f]{40}'` equal to the
//! cluster size on every node; docs/reference aikv.md), and Redis's test suite's `wait_for_cluster_size`.
//!
//! "Its cluster" is what the history asked for: the nodes joined to it by MEETs that answered OK (transitively).
//! When every MEET succeeded that is every node, AiKv's criterion. A MEET that failed or whose outcome is unknown
//! (the client lost the connection) obliges nothing, but a node may still have joined: so the second half of the
//! property is that membership is mutual — if n1 lists n4, n4 lists n1. A FORGET of a node (or a RESET on it)
//! cuts that node's MEET edges — acknowledged or not, since an unanswered one may still take effect; MEETs
//! acknowledged after it join it again.
//! Judged on the views a `settle` step collects; an error reply counts as not knowing.

use std::collections::BTreeSet;

use super::linearizable_reads::listed;
use super::views::NodeView;
use super::Violation;
use crate::history::{CallRecord, Op};
use crate::hosts::Host;

/// For each node (index 0 unused), the nodes it must list: its component under acknowledged MEETs, where an
/// acknowledged FORGET of a node (or a RESET on it) first cuts every MEET edge that node had. A FORGET or RESET
/// that was not acknowledged may take effect at any later time (`sim fuzz` found one queued on a paused node and
/// applied after the client had given up on it, after later MEETs of the same node): its node obliges nothing,
/// before or after it; it must still be listed both ways by any node that lists it.
pub fn expected_members(history: &[CallRecord], hosts: &[Host]) -> Vec<BTreeSet<usize>> {
    let n = hosts.len();
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut uncertain: BTreeSet<usize> = BTreeSet::new();
    for call in history {
        let cut = match call.op {
            Op::Forget { node } => node,
            Op::Reset { .. } => Some(call.node),
            Op::Meet { target: Some(t) } if call.is_ok() => {
                if (1..=n).contains(&t) && t != call.node {
                    edges.push((call.node, t));
                }
                None
            }
            _ => None,
        };
        if let Some(gone) = cut {
            edges.retain(|&(a, b)| a != gone && b != gone);
            if !call.is_ok() {
                uncertain.insert(gone);
            }
        }
    }
    edges.retain(|(a, b)| !uncertain.contains(a) && !uncertain.contains(b));
    let mut parent: Vec<usize> = (0..=n).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for (a, b) in edges {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        parent[ra] = rb;
    }
    (0..=n).map(|i| (1..=n).filter(|&j| i > 0 && root(&mut parent, j) == root(&mut parent, i)).collect()).collect()
}

/// The first node (in node order) that misses a node it must list, answered an error, or lists a node that
/// does not list it back.
pub fn judge(views: &[NodeView], expected: &[BTreeSet<usize>], hosts: &[Host], line: usize) -> Option<Violation> {
    let known: Vec<Option<BTreeSet<usize>>> =
        views.iter().map(|v| v.nodes.as_ref().ok().map(|t| listed(t, hosts))).collect();
    for (v, k) in views.iter().zip(&known) {
        let must = expected.get(v.node).cloned().unwrap_or_default();
        let Some(k) = k else {
            let error = v.nodes.clone().err();
            return Some(Violation::NotConverged {
                line,
                node: v.node,
                known: 0,
                expected: must.len(),
                missing: None,
                error,
            });
        };
        if let Some(&missing) = must.difference(k).next() {
            let known = k.intersection(&must).count();
            return Some(Violation::NotConverged {
                line,
                node: v.node,
                known,
                expected: must.len(),
                missing: Some(missing),
                error: None,
            });
        }
    }
    for (v, k) in views.iter().zip(&known) {
        let Some(k) = k else { continue };
        for &other in k.iter().filter(|&&o| o != v.node) {
            let back = views.iter().position(|w| w.node == other).and_then(|i| known[i].as_ref());
            if back.is_some_and(|b| !b.contains(&v.node)) {
                return Some(Violation::OneSidedMembership { line, node: v.node, lists: other });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use clustersim::resp::Reply;

    fn hosts() -> Vec<Host> {
        crate::hosts::hosts(&crate::scenario::parse("t", "cluster 3\n").unwrap())
    }

    fn view(node: usize, ids: &[usize]) -> NodeView {
        let text = ids.iter().map(|i| format!("<n{i}> 10.0.0.{i}:6379@16379 master - 0 0 0 connected\n")).collect();
        NodeView { node, nodes: Ok(text), slots: None }
    }

    fn sent(node: usize, command: &str, reply: &str) -> CallRecord {
        let reply = if reply == "OK" { Reply::Simple("OK".into()) } else { Reply::Error(reply.into()) };
        crate::history::record(node, 1, command, (0, 0), reply, &hosts())
    }

    fn meet(node: usize, target: usize, reply: &str) -> CallRecord {
        sent(node, &format!("CLUSTER MEET 10.0.0.{target} 6379 <n{target}>"), reply)
    }

    fn all_met() -> Vec<BTreeSet<usize>> {
        expected_members(&[meet(1, 2, "OK"), meet(1, 3, "OK")], &hosts())
    }

    #[test]
    fn acknowledged_meets_make_one_cluster_and_failed_ones_oblige_nothing() {
        assert_eq!(all_met()[2], BTreeSet::from([1, 2, 3]));
        let split = expected_members(&[meet(1, 2, "OK"), meet(1, 3, "(client) connection reset")], &hosts());
        assert_eq!(split[1], BTreeSet::from([1, 2]));
        assert_eq!(split[3], BTreeSet::from([3]));
    }

    #[test]
    fn a_forget_cuts_the_forgotten_node_out_until_it_is_met_again() {
        let forget = sent(1, "CLUSTER FORGET <n2>", "OK");
        let h = [meet(1, 2, "OK"), meet(1, 3, "OK"), forget.clone()];
        let e = expected_members(&h, &hosts());
        assert_eq!((e[1].clone(), e[2].clone()), (BTreeSet::from([1, 3]), BTreeSet::from([2])));
        let e = expected_members(&[meet(1, 2, "OK"), forget, meet(1, 2, "OK")], &hosts());
        assert_eq!(
            (e[1].clone(), e[3].clone()),
            (BTreeSet::from([1, 2]), BTreeSet::from([3])),
            "found by sim fuzz: n3 was never met"
        );
    }

    #[test]
    fn a_forget_that_got_no_reply_leaves_the_node_obliged_to_nothing_even_after_a_later_meet() {
        let unanswered = sent(1, "CLUSTER FORGET <n2>", "(client) no reply within 15000 ms");
        let e = expected_members(&[meet(1, 2, "OK"), meet(1, 3, "OK"), unanswered.clone()], &hosts());
        assert_eq!((e[1].clone(), e[2].clone()), (BTreeSet::from([1, 3]), BTreeSet::from([2])));
        let e = expected_members(&[meet(1, 3, "OK"), unanswered, meet(2, 3, "OK")], &hosts());
        assert_eq!(
            (e[1].clone(), e[2].clone()),
            (BTreeSet::from([1, 3]), BTreeSet::from([2])),
            "the FORGET may apply after the MEET"
        );
    }

    #[test]
    fn every_node_listing_every_node_has_converged() {
        assert_eq!(
            judge(&[view(1, &[1, 2, 3]), view(2, &[2, 3, 1]), view(3, &[3, 1, 2])], &all_met(), &hosts(), 9),
            None
        );
    }

    #[test]
    fn a_node_missing_one_node_has_not_converged() {
        let v = judge(&[view(1, &[1, 2, 3]), view(2, &[1, 2]), view(3, &[1, 2, 3])], &all_met(), &hosts(), 9)
            .expect("fires");
        assert_eq!(
            v,
            Violation::NotConverged { line: 9, node: 2, known: 2, expected: 3, missing: Some(3), error: None }
        );
        assert_eq!(v.to_string(), "line 9: n2 knows 2/3 nodes (missing n3)");
    }

    #[test]
    fn an_error_reply_has_not_converged() {
        let views = [view(1, &[1, 2, 3]), NodeView { node: 2, nodes: Err("CLUSTERDOWN x".into()), slots: None }];
        let v = judge(&views, &all_met(), &hosts(), 4).expect("fires");
        assert_eq!(v.to_string(), "line 4: n2 answered -CLUSTERDOWN x instead of its view of 3 nodes");
    }

    #[test]
    fn a_node_that_joined_by_an_unacknowledged_meet_must_be_listed_both_ways() {
        let expected = expected_members(&[meet(1, 2, "OK"), meet(1, 3, "(client) connection reset")], &hosts());
        let joined = [view(1, &[1, 2, 3]), view(2, &[1, 2, 3]), view(3, &[1, 2, 3])];
        assert_eq!(judge(&joined, &expected, &hosts(), 2), None);
        let apart = [view(1, &[1, 2]), view(2, &[1, 2]), view(3, &[3])];
        assert_eq!(judge(&apart, &expected, &hosts(), 2), None);
        let one_sided = [view(1, &[1, 2, 3]), view(2, &[1, 2, 3]), view(3, &[3])];
        let v = judge(&one_sided, &expected, &hosts(), 2).expect("fires");
        assert_eq!(v.to_string(), "line 2: n1 lists n3, which does not list n1");
    }
}
