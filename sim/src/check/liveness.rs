//! Property: liveness — after faults stop (every link healed, every host resumed and restarted), the cluster
//! converges and agrees within a bounded virtual time.
//!
//! Source: TigerBeetle's VOPR liveness mode (after the fault phase, a core of replicas must converge within a
//! bound) and Jepsen's final "heal, then read" phase. `settle within=<d>` is the bound; the harness polls every
//! node every 100 ms and asks [`settled`] each round; at the bound, [`verdict`] names the broken fact.

use std::collections::BTreeSet;

use super::views::NodeView;
use super::Violation;
use super::{agreement, convergence};
use crate::hosts::Host;

/// Whether a round of views shows a converged, agreeing cluster (`expected`: see
/// [`convergence::expected_members`]).
pub fn settled(views: &[NodeView], expected: &[BTreeSet<usize>], hosts: &[Host]) -> bool {
    convergence::judge(views, expected, hosts, 0).is_none() && agreement::judge(views, hosts, 0).is_none()
}

/// The violation for a `settle` whose bound passed with `last` as the final round of views (`None` if that
/// round had in fact settled).
pub fn verdict(
    last: &[NodeView],
    expected: &[BTreeSet<usize>],
    hosts: &[Host],
    line: usize,
    within_ms: u64,
) -> Option<Violation> {
    let cause = convergence::judge(last, expected, hosts, line).or_else(|| agreement::judge(last, hosts, line))?;
    Some(Violation::NotSettled { line, within_ms, cause: Box::new(cause) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<Host> {
        crate::hosts::hosts(&crate::scenario::parse("t", "cluster 2\n").unwrap())
    }

    fn view(node: usize, ids: &[usize]) -> NodeView {
        let text = ids.iter().map(|i| format!("<n{i}> 10.0.0.{i}:6379@16379 master - 0 0 0 connected\n")).collect();
        NodeView { node, nodes: Ok(text), slots: Some(Ok("[]".into())) }
    }

    fn everyone() -> Vec<BTreeSet<usize>> {
        vec![BTreeSet::new(), BTreeSet::from([1, 2]), BTreeSet::from([1, 2])]
    }

    #[test]
    fn a_converged_agreeing_round_is_settled() {
        let views = [view(1, &[1, 2]), view(2, &[2, 1])];
        assert!(settled(&views, &everyone(), &hosts()));
        assert_eq!(verdict(&views, &everyone(), &hosts(), 5, 1000), None);
    }

    #[test]
    fn a_bound_passing_unconverged_is_a_liveness_violation() {
        let views = [view(1, &[1, 2]), view(2, &[2])];
        assert!(!settled(&views, &everyone(), &hosts()));
        let v = verdict(&views, &everyone(), &hosts(), 5, 30_000).expect("fires");
        assert_eq!(v.to_string(), "line 5: not settled 30s after faults stopped: n2 knows 1/2 nodes (missing n1)");
    }
}
