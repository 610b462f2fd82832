//! Property: convergence — once the scenario says the cluster should have settled, every node knows every node.
//!
//! Source: AiKv's own check after its init script (`CLUSTER NODES | grep -cE '^[0-9a-f]{40}'` equal to the
//! cluster size on every node; docs/reference aikv.md), and Redis's test suite's `wait_for_cluster_size`.
//! Judged on the views a `settle` step collects; an error reply counts as not knowing.

use super::views::NodeView;
use crate::run::{known_node_count, Violation};

/// The first node (in node order) that does not list all `views.len()` nodes, if any.
pub fn judge(views: &[NodeView], line: usize) -> Option<Violation> {
    let expected = views.len();
    views.iter().find_map(|v| match &v.nodes {
        Err(e) => Some(Violation::NotConverged { line, node: v.node, known: 0, expected, error: Some(e.clone()) }),
        Ok(text) => {
            let known = known_node_count(text);
            (known != expected).then_some(Violation::NotConverged { line, node: v.node, known, expected, error: None })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: char) -> String {
        format!("{} 10.0.0.1:6379@16379 master - 0 0 0 connected\n", id.to_string().repeat(40))
    }

    fn view(node: usize, ids: &str) -> NodeView {
        NodeView { node, nodes: Ok(ids.chars().map(line).collect()), slots: None }
    }

    #[test]
    fn every_node_listing_every_node_has_converged() {
        assert_eq!(judge(&[view(1, "abc"), view(2, "bca"), view(3, "cab")], 9), None);
    }

    #[test]
    fn a_node_missing_one_node_has_not_converged() {
        let v = judge(&[view(1, "abc"), view(2, "ab"), view(3, "abc")], 9).expect("fires");
        assert_eq!(v, Violation::NotConverged { line: 9, node: 2, known: 2, expected: 3, error: None });
        assert_eq!(v.to_string(), "line 9: n2 knows 2/3 nodes");
    }

    #[test]
    fn an_error_reply_has_not_converged() {
        let views = [view(1, "ab"), NodeView { node: 2, nodes: Err("CLUSTERDOWN x".into()), slots: None }];
        let v = judge(&views, 4).expect("fires");
        assert_eq!(v.to_string(), "line 4: n2 answered -CLUSTERDOWN x instead of its view of 2 nodes");
    }
}
