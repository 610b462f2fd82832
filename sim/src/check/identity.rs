//! Property: identity — every CLUSTER NODES reply shows exactly one `myself` line, and it carries the id of the
//! node that answered (until a CLUSTER RESET HARD, which gives the node a new id, has been sent to it).
//!
//! Source: the Redis Cluster specification ("myself: the node you are contacting", one per reply) and Redis's
//! `clusterGenNodesDescription`, which always writes the node's own line; redis-cli's cluster manager and every
//! cluster client (redis-py's `NodesManager`, the redis crate) find the node they talk to by that flag. A node
//! rendering a table it is not in (a group's table after the group removed it), or two `myself` lines, breaks
//! every client's view of the topology.
//!
//! Judged on every CLUSTER NODES reply of the history that is not an error.

use std::collections::BTreeSet;

use super::views::parse_nodes;
use super::{Class, Property, Violation};
use crate::history::{CallRecord, Op};
use crate::hosts::Host;

pub const PROPERTY: Property = Property { name: "identity", class: Class::Safety };

/// Checks every CLUSTER NODES reply. Reports the first broken reply per answering node.
pub fn check(history: &[CallRecord], hosts: &[Host]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut reported = BTreeSet::new();
    // Nodes a RESET HARD was sent to (acknowledged or not): their id may have changed.
    let mut renamed = BTreeSet::new();
    for call in history {
        if let Op::Reset { hard: true } = call.op {
            renamed.insert(call.node);
            continue;
        }
        if call.op != Op::Nodes || call.is_error() {
            continue;
        }
        let Some(text) = call.reply.as_text() else { continue };
        let myself: Vec<String> = parse_nodes(&text).into_iter().filter(|e| e.is_myself()).map(|e| e.id).collect();
        let (node, own) = (call.node, hosts.get(call.node - 1).map(|h| h.id.to_string()).unwrap_or_default());
        let fact = match myself.as_slice() {
            [] => Some(format!("n{node}'s CLUSTER NODES has no myself line")),
            [id] if *id != own && !renamed.contains(&node) => {
                Some(format!("n{node}'s CLUSTER NODES shows {id} as myself, not its own id {own}"))
            }
            [_] => None,
            more => Some(format!("n{node}'s CLUSTER NODES has {} myself lines", more.len())),
        };
        if let Some(fact) = fact.filter(|_| reported.insert(node)) {
            out.push(Violation::Broken { property: PROPERTY, kind: "NotMyself", line: call.line, fact });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clustersim::resp::Reply;

    fn hosts() -> Vec<Host> {
        crate::hosts::hosts(&crate::scenario::parse("t", "cluster 3\n").unwrap())
    }

    fn id(n: usize) -> String {
        hosts()[n - 1].id.to_string()
    }

    fn sent(node: usize, line: usize, command: &str, reply: Reply) -> CallRecord {
        crate::history::record(node, line, command, (line as u64, line as u64 + 1), reply, &hosts())
    }

    fn nodes(node: usize, line: usize, lines: &[(usize, &str)]) -> CallRecord {
        let text: String = lines
            .iter()
            .map(|(n, flags)| format!("{} 10.0.0.{n}:6379@16379 {flags} - 0 0 0 connected\n", id(*n)))
            .collect();
        sent(node, line, "CLUSTER NODES", Reply::Verbatim(text))
    }

    #[test]
    fn a_reply_with_the_answering_node_as_its_one_myself_is_kept() {
        let h = [nodes(2, 1, &[(1, "master"), (2, "myself,master")])];
        assert_eq!(check(&h, &hosts()), vec![]);
    }

    #[test]
    fn a_reply_without_myself_fires_once_per_node() {
        let h = [nodes(2, 4, &[(1, "master")]), nodes(2, 5, &[(1, "master")])];
        let v = check(&h, &hosts());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].to_string(), "line 4: n2's CLUSTER NODES has no myself line");
        assert_eq!((v[0].kind(), v[0].property()), ("NotMyself", PROPERTY));
    }

    #[test]
    fn another_nodes_id_as_myself_or_two_myself_lines_fire() {
        let h = [nodes(1, 1, &[(2, "myself,master")]), nodes(3, 2, &[(3, "myself,master"), (1, "myself,master")])];
        let v: Vec<String> = check(&h, &hosts()).iter().map(|v| v.to_string()).collect();
        assert_eq!(
            v,
            [
                format!("line 1: n1's CLUSTER NODES shows {} as myself, not its own id {}", id(2), id(1)),
                "line 2: n3's CLUSTER NODES has 2 myself lines".to_string(),
            ]
        );
    }

    #[test]
    fn after_a_reset_hard_the_node_may_carry_a_new_id() {
        let reset = sent(1, 1, "CLUSTER RESET HARD", Reply::Simple("OK".into()));
        let h = [reset, nodes(1, 2, &[(2, "myself,master")])];
        assert_eq!(check(&h, &hosts()), vec![]);
        let soft = sent(1, 1, "CLUSTER RESET SOFT", Reply::Simple("OK".into()));
        assert_eq!(check(&[soft, nodes(1, 2, &[(2, "myself,master")])], &hosts()).len(), 1);
    }
}
