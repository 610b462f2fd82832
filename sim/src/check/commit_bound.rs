//! Property: no node holds an index as committed before a leader of its group committed it.
//!
//! Source: the Raft paper (Ongaro & Ousterhout, 2014), Figure 2. Only a leader decides a commit ("Rules for
//! Servers", Leaders: "If there exists an N such that N > commitIndex, a majority of matchIndex[i] ≥ N, and
//! log[N].term == currentTerm: set commitIndex = N"); a follower only learns it ("AppendEntries RPC", receiver
//! implementation 5: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
//! entry)"). So at any moment every node's commitIndex is at most the greatest commitIndex any leader of the
//! group has reached. A node that persists a larger one (say, its last log index) will apply, after its next
//! restart, entries no quorum holds — entries a later leader may overwrite (§5.4.2).
//!
//! What the harness sees: `committed` events (openraft's `save_committed`) and saved votes. An instance *leads*
//! while the last vote it saved or read back is its own and committed (openraft saves that vote when it wins an
//! election, before it commits anything). A `committed` index of a leading instance raises its group's bound; a
//! `committed` index of any other instance above the bound is a violation. A deposed leader that has not saved a
//! newer vote yet still counts as leading: that can hide a violation, never invent one.

use std::collections::BTreeMap;

use super::{Class, Property, Violation};
use crate::raft_events::{Kind, RaftEvent, Vote};

pub const PROPERTY: Property = Property { name: "commit_bound", class: Class::Safety };

/// Whether an instance whose vote is `vote` leads.
fn leads(node: &str, vote: &Vote) -> bool {
    vote.committed && vote.leader == node
}

/// Checks every `committed` event against the greatest index a leader of its group committed before it. One
/// violation per instance.
pub fn check(events: &[RaftEvent]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut leading: BTreeMap<(&str, u64, u32), bool> = BTreeMap::new();
    let mut bound: BTreeMap<u64, u64> = BTreeMap::new();
    let mut reported = std::collections::BTreeSet::new();
    for e in events {
        match &e.kind {
            Kind::Started { .. } => {
                leading.insert(e.instance(), false);
            }
            Kind::Vote(v) | Kind::VoteRead(Some(v)) => {
                leading.insert(e.instance(), leads(&e.node, v));
            }
            Kind::Committed { index: Some(index) } => {
                let group_bound = bound.entry(e.group).or_default();
                if leading.get(&e.instance()).copied().unwrap_or(false) {
                    *group_bound = (*group_bound).max(*index);
                } else if *index > *group_bound && reported.insert(e.instance()) {
                    let what = format!(
                        "saved index {index} as committed, but no leader of its group had committed beyond {group_bound}"
                    );
                    out.push(Violation::Broken {
                        property: PROPERTY,
                        kind: "CommittedBeyondLeader",
                        line: 0,
                        fact: e.fact(&what),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_events::testing::*;

    #[test]
    fn a_follower_committing_past_its_leader_is_reported() {
        let events = [
            saved(1_000, "a", 7, vote(2, "a", true)),
            saved(1_000, "b", 7, vote(2, "a", true)),
            committed(1_100, "a", 7, Some(4)),
            committed(1_200, "b", 7, Some(4)),
            // b persists its last log index (6) while the leader has committed only 4.
            committed(1_300, "b", 7, Some(6)),
        ];
        let v = check(&events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind(), "CommittedBeyondLeader");
        assert!(v[0].to_string().contains("saved index 6 as committed"), "{}", v[0]);
    }

    #[test]
    fn followers_at_or_below_what_leaders_committed_pass() {
        let events = [
            saved(1_000, "a", 7, vote(2, "a", true)),
            saved(1_000, "b", 7, vote(2, "a", true)),
            committed(1_100, "a", 7, Some(4)),
            committed(1_200, "b", 7, Some(3)),
            committed(1_300, "b", 7, Some(4)),
            // a new leader (b) commits further, then a restarted a (leading no more) follows it.
            saved(2_000, "b", 7, vote(3, "b", true)),
            committed(2_100, "b", 7, Some(9)),
            started(2_500, "a", 7, false),
            ev(2_501, "a", 7, Kind::VoteRead(Some(vote(2, "a", true)))),
            saved(2_600, "a", 7, vote(3, "b", true)),
            committed(2_700, "a", 7, Some(9)),
            // Another group has its own bound.
            saved(3_000, "c", 8, vote(1, "c", true)),
            committed(3_100, "c", 8, Some(1)),
        ];
        let v = check(&events);
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn a_leader_of_another_group_does_not_raise_the_bound() {
        let events = [
            saved(1_000, "c", 8, vote(1, "c", true)),
            committed(1_100, "c", 8, Some(50)),
            saved(1_200, "b", 7, vote(2, "a", true)),
            committed(1_300, "b", 7, Some(2)),
        ];
        assert_eq!(check(&events)[0].kind(), "CommittedBeyondLeader");
    }
}
