//! Property: agreement — every node has the same slot configuration.
//!
//! Two criteria, both from Redis's own tools: redis-cli's config signature (owner id → sorted slot tokens,
//! `clusterManagerGetConfigSignature`; "[OK] All nodes agree about slots configuration." when identical on every
//! node) and Redis's test suite's `cluster_config_consistent` (CLUSTER SLOTS identical on all nodes). Flags,
//! epochs and replica links are outside the signature; CLUSTER SLOTS includes replicas, so it covers them.
//! Nodes that answered an error are left to the convergence checker.

use super::views::{config_signature, NodeView};
use crate::run::Violation;

/// The config signature of every node that answered CLUSTER NODES, in node order.
pub fn signatures(views: &[NodeView]) -> Vec<(usize, String)> {
    views.iter().filter_map(|v| v.nodes.as_ref().ok().map(|t| (v.node, config_signature(t)))).collect()
}

/// The first disagreement: on the config signature, then on CLUSTER SLOTS. Texts are as the nodes sent them;
/// the caller normalizes ids for display.
pub fn judge(views: &[NodeView], line: usize) -> Option<Violation> {
    let sigs = signatures(views);
    if let Some(v) = first_difference(&sigs, line, "config signature") {
        return Some(v);
    }
    let slots: Vec<(usize, String)> =
        views.iter().filter_map(|v| match &v.slots { Some(Ok(s)) => Some((v.node, s.clone())), _ => None }).collect();
    first_difference(&slots, line, "CLUSTER SLOTS")
}

fn first_difference(values: &[(usize, String)], line: usize, property: &'static str) -> Option<Violation> {
    let (first, rest) = values.split_first()?;
    let other = rest.iter().find(|(_, v)| *v != first.1)?;
    Some(Violation::Disagreement { line, property, first: first.clone(), other: other.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(node: usize, nodes: &str, slots: &str) -> NodeView {
        NodeView { node, nodes: Ok(nodes.to_string()), slots: Some(Ok(slots.to_string())) }
    }

    const A: &str = "a 1:1@2 myself,master - 0 0 1 connected 0-99\nb 1:2@3 master - 0 0 2 connected 100-199\n";
    const A_SEEN_BY_B: &str = "b 1:2@3 myself,master - 0 0 2 connected 100-199\na 1:1@2 master - 0 0 1 connected 0-99\n";

    #[test]
    fn identical_signatures_and_slots_agree() {
        assert_eq!(judge(&[view(1, A, "[x]"), view(2, A_SEEN_BY_B, "[x]")], 3), None);
    }

    #[test]
    fn a_node_missing_an_owner_disagrees_on_the_signature() {
        let lonely = "b 1:2@3 myself,master - 0 0 2 connected 100-199\n";
        let v = judge(&[view(1, A, "[x]"), view(2, lonely, "[x]")], 3).expect("fires");
        assert_eq!(
            v,
            Violation::Disagreement {
                line: 3,
                property: "config signature",
                first: (1, "a:0-99|b:100-199".into()),
                other: (2, "b:100-199".into())
            }
        );
    }

    #[test]
    fn same_signature_but_different_slots_replies_disagree() {
        let v = judge(&[view(1, A, "[x]"), view(2, A_SEEN_BY_B, "[y]")], 3).expect("fires");
        assert!(matches!(v, Violation::Disagreement { property: "CLUSTER SLOTS", .. }), "{v:?}");
    }

    #[test]
    fn nodes_answering_errors_are_left_out() {
        let down = NodeView { node: 2, nodes: Err("CLUSTERDOWN".into()), slots: Some(Err("CLUSTERDOWN".into())) };
        assert_eq!(judge(&[view(1, A, "[x]"), down], 3), None);
    }
}
