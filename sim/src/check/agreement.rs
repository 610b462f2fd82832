//! Property: agreement — the nodes of one cluster have the same slot configuration.
//!
//! Two criteria, both from Redis's own tools: redis-cli's config signature (owner id → sorted slot tokens,
//! `clusterManagerGetConfigSignature`; "[OK] All nodes agree about slots configuration." when identical on every
//! node) and Redis's test suite's `cluster_config_consistent` (CLUSTER SLOTS identical on all nodes). Flags,
//! epochs and replica links are outside the signature; CLUSTER SLOTS includes replicas, so it covers them.
//! "One cluster": two nodes are compared when each lists the other (after a MEET that failed, a node left
//! alone is its own cluster). Nodes that answered an error are left to the convergence checker.

use super::linearizable_reads::listed;
use super::views::{config_signature, NodeView};
use super::Violation;
use crate::hosts::Host;

/// The first disagreement between two nodes that list each other: on the config signature, then on CLUSTER
/// SLOTS. Texts are as the nodes sent them; the caller normalizes ids for display.
pub fn judge(views: &[NodeView], hosts: &[Host], line: usize) -> Option<Violation> {
    let answered: Vec<(&NodeView, &String)> =
        views.iter().filter_map(|v| v.nodes.as_ref().ok().map(|t| (v, t))).collect();
    let members: Vec<_> = answered.iter().map(|(_, t)| listed(t, hosts)).collect();
    let count = answered.len();
    let pairs: Vec<(usize, usize)> = (0..count)
        .flat_map(|i| (i + 1..count).map(move |j| (i, j)))
        .filter(|&(i, j)| members[i].contains(&answered[j].0.node) && members[j].contains(&answered[i].0.node))
        .collect();
    // Each node's signature once (not once per pair: a settle round of N nodes has ~N²/2 pairs).
    let signatures: Vec<String> = answered.iter().map(|(_, t)| config_signature(t)).collect();
    if let Some(&(i, j)) = pairs.iter().find(|&&(i, j)| signatures[i] != signatures[j]) {
        return Some(Violation::Disagreement {
            line,
            on: "config signature",
            first: (answered[i].0.node, signatures[i].clone()),
            other: (answered[j].0.node, signatures[j].clone()),
        });
    }
    for &(i, j) in &pairs {
        if let (Some(Ok(a)), Some(Ok(b))) = (&answered[i].0.slots, &answered[j].0.slots) {
            if a != b {
                return Some(Violation::Disagreement {
                    line,
                    on: "CLUSTER SLOTS",
                    first: (answered[i].0.node, a.clone()),
                    other: (answered[j].0.node, b.clone()),
                });
            }
        }
    }
    None
}

/// The first difference between the config signatures of all nodes that answered (redis-cli's wait for the
/// cluster to join, which compares all nodes regardless of membership).
pub fn first_difference(views: &[NodeView], line: usize) -> Option<Violation> {
    let sigs: Vec<(usize, String)> =
        views.iter().filter_map(|v| v.nodes.as_ref().ok().map(|t| (v.node, config_signature(t)))).collect();
    let (first, rest) = sigs.split_first()?;
    let other = rest.iter().find(|(_, s)| *s != first.1)?;
    Some(Violation::Disagreement { line, on: "config signature", first: first.clone(), other: other.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<Host> {
        crate::hosts::hosts(&crate::scenario::parse("t", "cluster 3\n").unwrap())
    }

    fn view(node: usize, lines: &[(usize, &str)], slots: &str) -> NodeView {
        let text =
            lines.iter().map(|(i, s)| format!("<n{i}> 10.0.0.{i}:6379@16379 master - 0 0 0 connected {s}\n")).collect();
        NodeView { node, nodes: Ok(text), slots: Some(Ok(slots.to_string())) }
    }

    #[test]
    fn identical_signatures_and_slots_agree() {
        let t = [(1, "0-99"), (2, "100-199")];
        assert_eq!(judge(&[view(1, &t, "[x]"), view(2, &t, "[x]")], &hosts(), 3), None);
    }

    #[test]
    fn members_differing_on_an_owner_disagree_on_the_signature() {
        let a = [(1, "0-99"), (2, "100-199")];
        let b = [(1, ""), (2, "100-199")];
        let v = judge(&[view(1, &a, "[x]"), view(2, &b, "[x]")], &hosts(), 3).expect("fires");
        assert_eq!(
            v,
            Violation::Disagreement {
                line: 3,
                on: "config signature",
                first: (1, "<n1>:0-99|<n2>:100-199".into()),
                other: (2, "<n2>:100-199".into())
            }
        );
    }

    #[test]
    fn same_signature_but_different_slots_replies_disagree() {
        let t = [(1, "0-99"), (2, "100-199")];
        let v = judge(&[view(1, &t, "[x]"), view(2, &t, "[y]")], &hosts(), 3).expect("fires");
        assert!(matches!(v, Violation::Disagreement { on: "CLUSTER SLOTS", .. }), "{v:?}");
    }

    #[test]
    fn nodes_of_different_clusters_and_nodes_answering_errors_are_not_compared() {
        let a = [(1, "0-99"), (2, "")];
        let alone = [(3, "200-300")];
        let down = NodeView { node: 2, nodes: Err("CLUSTERDOWN".into()), slots: Some(Err("CLUSTERDOWN".into())) };
        assert_eq!(judge(&[view(1, &a, "[x]"), down, view(3, &alone, "[z]")], &hosts(), 3), None);
        assert!(first_difference(&[view(1, &a, "[x]"), view(3, &alone, "[z]")], 3).is_some());
    }
}
