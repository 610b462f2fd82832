//! Property: liveness — after faults stop (every link healed, every host resumed and restarted), the cluster
//! converges and agrees within a bounded virtual time.
//!
//! Source: TigerBeetle's VOPR liveness mode (after the fault phase, a core of replicas must converge within a
//! bound) and Jepsen's final "heal, then read" phase. `settle within=<d>` is the bound; the harness polls every
//! node every 100 ms and asks [`settled`] each round; at the bound, [`verdict`] names the broken fact.

use super::views::NodeView;
use super::{agreement, convergence};
use crate::run::Violation;

/// Whether a round of views shows a converged, agreeing cluster.
pub fn settled(views: &[NodeView]) -> bool {
    convergence::judge(views, 0).is_none() && agreement::judge(views, 0).is_none()
}

/// The violation for a `settle` whose bound passed with `last` as the final round of views (`None` if that
/// round had in fact settled).
pub fn verdict(last: &[NodeView], line: usize, within_ms: u64) -> Option<Violation> {
    let cause = convergence::judge(last, line).or_else(|| agreement::judge(last, line))?;
    Some(Violation::NotSettled { line, within_ms, cause: Box::new(cause) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(node: usize, nodes: &str) -> NodeView {
        NodeView { node, nodes: Ok(nodes.to_string()), slots: Some(Ok("[]".into())) }
    }

    fn line(id: char, me: bool) -> String {
        let flags = if me { "myself,master" } else { "master" };
        format!("{} 10.0.0.1:6379@16379 {flags} - 0 0 0 connected\n", id.to_string().repeat(40))
    }

    #[test]
    fn a_converged_agreeing_round_is_settled() {
        let views = [view(1, &(line('a', true) + &line('b', false))), view(2, &(line('b', true) + &line('a', false)))];
        assert!(settled(&views));
        assert_eq!(verdict(&views, 5, 1000), None);
    }

    #[test]
    fn a_bound_passing_unconverged_is_a_liveness_violation() {
        let views = [view(1, &(line('a', true) + &line('b', false))), view(2, &line('b', true))];
        assert!(!settled(&views));
        let v = verdict(&views, 5, 30_000).expect("fires");
        assert_eq!(v.to_string(), "line 5: not settled 30s after faults stopped: n2 knows 1/2 nodes");
    }
}
