//! Property: election safety — at most one node leads a group under one leader id.
//!
//! Source: the Raft paper (Ongaro & Ousterhout, 2014), Figure 3 "Election Safety: at most one leader can be
//! elected in a given term" (§5.2), in the form openraft gives it. The node's type config uses openraft's default
//! *advanced* leader ids (`leader_id_adv`): a leader id is (term, node), totally ordered, so two candidates of one
//! term can both win (the later, greater id supersedes the earlier one: openraft's FAQ, "Why is log id a tuple
//! of (term, node_id, log_index)?"). The paper's "one leader per term" holds per leader id: a node leads only
//! under a vote for itself, granted by a quorum (committed), and no two nodes lead under the same id. (Under
//! openraft's standard leader ids, where a vote names the term only, this is exactly the paper's rule.)
//!
//! Judged on every `role` event with role `leader` (a change of role, term or vote the node's metrics show).

use std::collections::BTreeMap;

use super::{Class, Property, Violation};
use crate::raft_events::{secs, Kind, RaftEvent};

pub const PROPERTY: Property = Property { name: "election_safety", class: Class::Safety };

/// Checks every leadership a node reported. One violation per broken leadership.
pub fn check(events: &[RaftEvent]) -> Vec<Violation> {
    let mut out = Vec::new();
    // (group, term, leader node) -> the first host that led under it, and when.
    let mut leaders: BTreeMap<(u64, u64, &str), (&str, std::time::Duration)> = BTreeMap::new();
    for e in events {
        let Kind::Role { role, vote } = &e.kind else { continue };
        if role != "leader" {
            continue;
        }
        let at = secs(e.at);
        if vote.leader != e.node || !vote.committed {
            let fact = format!("{at}: {} leads group {:016x} holding the vote {vote}", e.node, e.group);
            out.push(broken("LeaderWithoutItsOwnVote", fact));
            continue;
        }
        let (host, since) = *leaders.entry((e.group, vote.term, &vote.leader)).or_insert((&e.host, e.at));
        if host != e.host {
            let fact = format!(
                "{at}: {} on {} leads group {:016x} under leader id T{}-{}, which {host} led at {}",
                e.node,
                e.host,
                e.group,
                vote.term,
                vote.leader,
                secs(since)
            );
            out.push(broken("TwoLeadersOneId", fact));
        }
    }
    out
}

fn broken(kind: &'static str, fact: String) -> Violation {
    Violation::Broken { property: PROPERTY, kind, line: 0, fact }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_events::testing::*;

    #[test]
    fn a_node_leading_under_another_nodes_id_is_reported() {
        let events =
            [role(1_000, "a", 7, "leader", vote(3, "a", true)), role(2_000, "b", 7, "leader", vote(3, "a", true))];
        let v = check(&events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind(), "LeaderWithoutItsOwnVote");
    }

    #[test]
    fn two_hosts_leading_under_one_id_are_reported() {
        // Two hosts with one node id (a broken id generator) leading under the same vote.
        let mut events = vec![role(1_000, "a", 7, "leader", vote(3, "a", true))];
        events.push(role(2_000, "a", 7, "leader", vote(3, "a", true)));
        assert!(check(&events).is_empty(), "the same host twice is one leadership");
        events.push(RaftEvent { host: "n9".into(), ..role(3_000, "a", 7, "leader", vote(3, "a", true)) });
        let v = check(&events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind(), "TwoLeadersOneId");
    }

    #[test]
    fn leaders_of_one_term_under_distinct_ids_and_of_other_groups_pass() {
        let events = [
            role(1_000, "a", 7, "leader", vote(3, "a", true)),
            role(2_000, "b", 7, "leader", vote(3, "b", true)),
            role(3_000, "b", 7, "follower", vote(4, "c", false)),
            role(4_000, "c", 7, "leader", vote(4, "c", true)),
            role(5_000, "a", 8, "leader", vote(4, "a", true)),
        ];
        assert!(check(&events).is_empty());
    }

    #[test]
    fn a_leader_whose_vote_is_not_yet_granted_is_reported() {
        let v = check(&[role(1_000, "a", 7, "leader", vote(3, "a", false))]);
        assert_eq!(v.len(), 1);
    }
}
