//! Property: linearizable metadata reads (membership).
//!
//! A `CLUSTER NODES` reply that *began* after a `CLUSTER MEET` had returned OK must list every node that MEET
//! (and the MEETs acknowledged before it) joined into the reader's cluster — or be an error. This is the
//! contract the AiKv "fix" claimed and the one Raft's ReadIndex (Ongaro's thesis §6.4) provides; Jepsen calls
//! its violation a stale read. Real Redis does not promise it (gossip is eventually consistent); the
//! `read-index` strategy does.
//!
//! From the history alone: acknowledged MEETs (OK replies) are edges between receiver and target; a read on node
//! r starting at time t must list every node connected to r by edges whose OK arrived before t. Writes still in
//! flight when the read starts impose nothing. FORGET and RESET break the monotonicity this relies on, so once
//! one has been sent — acknowledged or not: an unanswered one may still take effect — reads that had not ended
//! by then are not judged (a documented limit of this checker).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Class, Property, Violation};
use crate::history::{CallRecord, Op};
use crate::hosts::{host_of_id, Host};

pub const PROPERTY: Property = Property { name: "linearizable-reads", class: Class::Safety };

/// Ids listed at the start of the reply's lines (normalized `<nK>` or raw 40-hex).
pub(crate) fn listed(text: &str, hosts: &[Host]) -> BTreeSet<usize> {
    text.lines().filter_map(|line| host_of_id(line.split(' ').next().unwrap_or_default(), hosts)).collect()
}

/// `(ok time, receiver, target)` of every acknowledged MEET (its OK's arrival), in history order.
pub(crate) fn acknowledged_meets(history: &[CallRecord]) -> Vec<(Duration, usize, usize)> {
    history
        .iter()
        .filter_map(|call| match call.op {
            Op::Meet { target: Some(t) } if call.is_ok() && t != call.node => Some((call.end, call.node, t)),
            _ => None,
        })
        .collect()
}

/// The start of the first FORGET or RESET *sent* (acknowledged or not): it may take effect before its reply, and
/// one that got no reply (or an error that does not say it was refused) may take effect any time later — `sim
/// fuzz` found a FORGET queued on a paused node applied after the client had given up on it.
fn first_removal_of_nodes(history: &[CallRecord]) -> Option<Duration> {
    history.iter().filter(|c| matches!(c.op, Op::Forget { .. } | Op::Reset { .. })).map(|c| c.start).min()
}

/// The reader's cluster at `before`: every other node connected to `reader` by MEETs acknowledged before then,
/// each with the time the last edge of its earliest path was acknowledged.
pub(crate) fn reached(
    edges: &[(Duration, usize, usize)],
    reader: usize,
    before: Duration,
) -> BTreeMap<usize, Duration> {
    let mut adjacent: BTreeMap<usize, Vec<(usize, Duration)>> = BTreeMap::new();
    for &(at, a, b) in edges.iter().filter(|(at, ..)| *at < before) {
        adjacent.entry(a).or_default().push((b, at));
        adjacent.entry(b).or_default().push((a, at));
    }
    let mut reached: BTreeMap<usize, Duration> = BTreeMap::new();
    let mut frontier = vec![(reader, Duration::ZERO)];
    while let Some((n, via)) = frontier.pop() {
        for &(m, at) in adjacent.get(&n).into_iter().flatten() {
            let when = via.max(at);
            if m != reader && reached.get(&m).is_none_or(|w| when < *w) {
                reached.insert(m, when);
                frontier.push((m, when));
            }
        }
    }
    reached
}

/// Checks every CLUSTER NODES read of the history. Reports the first stale read per (reader, missing node) pair
/// (a node that stays stale would otherwise be reported once per poll of a `settle`).
pub fn check(history: &[CallRecord], hosts: &[Host]) -> Vec<Violation> {
    let edges = acknowledged_meets(history);
    let horizon = first_removal_of_nodes(history);
    let mut violations = Vec::new();
    let mut reported: BTreeSet<(usize, usize)> = BTreeSet::new();
    for read in history {
        // A removal sent before the read ended may have taken effect before the read was served (a workload's read
        // can span one): only reads that ended before the first removal was sent are judged.
        if read.op != Op::Nodes || read.is_error() || horizon.is_some_and(|h| h < read.end) {
            continue;
        }
        let Some(text) = read.reply.as_text() else { continue };
        let seen = listed(&text, hosts);
        for (missing, write_ok_at) in reached(&edges, read.node, read.start) {
            if !seen.contains(&missing) && reported.insert((read.node, missing)) {
                violations.push(Violation::StaleMembershipRead {
                    line: read.line,
                    node: read.node,
                    missing: format!("n{missing}"),
                    write_ok_at,
                    read_start: read.start,
                });
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::hosts;
    use crate::scenario::parse;
    use clustersim::resp::Reply;

    fn world() -> Vec<Host> {
        hosts(&parse("t.scn", "cluster 4\n").unwrap())
    }

    fn call(node: usize, command: &str, start_ms: u64, end_ms: u64, reply: Reply) -> CallRecord {
        crate::history::record(node, 1, command, (start_ms, end_ms), reply, &world())
    }

    fn nodes(ids: &[usize]) -> Reply {
        Reply::Verbatim(
            ids.iter().map(|i| format!("<n{i}> 10.0.0.{i}:6379@16379 master - 0 0 0 connected\n")).collect(),
        )
    }

    #[test]
    fn a_read_after_meet_ok_that_misses_the_new_node_is_stale() {
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380 <n2>", 0, 10, Reply::ok()),
            call(2, "CLUSTER NODES", 11, 12, nodes(&[2])),
        ];
        assert_eq!(
            check(&h, &world()),
            vec![Violation::StaleMembershipRead {
                line: 1,
                node: 2,
                missing: "n1".into(),
                write_ok_at: Duration::from_millis(10),
                read_start: Duration::from_millis(11)
            }]
        );
    }

    #[test]
    fn a_read_that_reflects_the_meet_passes() {
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380", 0, 10, Reply::ok()),
            call(2, "CLUSTER NODES", 11, 12, nodes(&[1, 2])),
        ];
        assert_eq!(check(&h, &world()), vec![]);
    }

    #[test]
    fn a_read_concurrent_with_the_meet_is_not_judged() {
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380", 0, 10, Reply::ok()),
            call(2, "CLUSTER NODES", 5, 12, nodes(&[2])),
        ];
        assert_eq!(check(&h, &world()), vec![]);
    }

    #[test]
    fn error_replies_and_failed_meets_impose_nothing() {
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380", 0, 10, Reply::ok()),
            call(2, "CLUSTER NODES", 11, 12, Reply::error("CLUSTERDOWN metadata read barrier failed: no leader")),
            call(1, "CLUSTER MEET 10.0.0.3 6381", 13, 14, Reply::error("ERR x")),
            call(1, "CLUSTER NODES", 15, 16, nodes(&[1, 2])),
        ];
        assert_eq!(check(&h, &world()), vec![]);
    }

    #[test]
    fn membership_is_transitive_through_earlier_meets() {
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380", 0, 10, Reply::ok()),
            call(1, "CLUSTER MEET 10.0.0.3 6381", 11, 20, Reply::ok()),
            call(2, "CLUSTER NODES", 21, 22, nodes(&[1, 2])),
        ];
        let v = check(&h, &world());
        assert_eq!(v.len(), 1);
        assert!(
            matches!(&v[0], Violation::StaleMembershipRead { missing, write_ok_at, .. } if missing == "n3" && *write_ok_at == Duration::from_millis(20))
        );
    }

    #[test]
    fn reads_after_an_acknowledged_forget_are_not_judged() {
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380", 0, 10, Reply::ok()),
            call(1, "CLUSTER FORGET <n2>", 11, 12, Reply::ok()),
            call(1, "CLUSTER NODES", 13, 14, nodes(&[1])),
        ];
        assert_eq!(check(&h, &world()), vec![]);
    }

    #[test]
    fn a_forget_that_got_no_reply_may_take_effect_later_so_reads_after_it_began_are_not_judged() {
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380", 0, 10, Reply::ok()),
            call(1, "CLUSTER FORGET <n2>", 11, 15_011, Reply::Error("(client) no reply within 15000 ms".into())),
            call(1, "CLUSTER NODES", 20_000, 20_001, nodes(&[1])),
        ];
        assert_eq!(check(&h, &world()), vec![]);
    }

    #[test]
    fn a_read_before_any_forget_is_still_judged() {
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380", 0, 10, Reply::ok()),
            call(1, "CLUSTER NODES", 12, 13, nodes(&[1])),
            call(1, "CLUSTER FORGET <n2>", 14, 15, Reply::ok()),
        ];
        assert_eq!(check(&h, &world()).len(), 1);
    }
}

#[cfg(test)]
mod overlap_tests {
    use super::*;
    use crate::hosts::hosts;
    use crate::scenario::parse;
    use clustersim::resp::Reply;

    #[test]
    fn a_read_still_in_flight_when_a_forget_was_sent_is_not_judged() {
        let world = hosts(&parse("t.scn", "cluster 3\n").unwrap());
        let call = |node, command: &str, t, reply| crate::history::record(node, 1, command, t, reply, &world);
        let one_line = Reply::Verbatim("<n1> 10.0.0.1:6379@16379 myself,master - 0 0 0 connected\n".into());
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380", (0, 10), Reply::ok()),
            // Began after the MEET's OK, served after the FORGET was sent (a read racing a FORGET).
            call(1, "CLUSTER NODES", (11, 9_000), one_line.clone()),
            call(3, "CLUSTER FORGET <n2>", (5_000, 5_001), Reply::ok()),
        ];
        assert_eq!(check(&h, &world), vec![]);
        let mut before = h.clone();
        before[2] = call(3, "CLUSTER FORGET <n2>", (9_000, 9_001), Reply::ok());
        assert_eq!(check(&before, &world).len(), 1, "a read that ended before the FORGET was sent is judged");
    }
}
