//! Property: a node never takes back a vote — in one term it votes for at most one candidate, and its vote
//! survives restarts.
//!
//! Source: the Raft paper (Ongaro & Ousterhout, 2014), Figure 2: `votedFor` and `currentTerm` are persistent
//! state ("updated on stable storage before responding to RPCs"), and RequestVote grants a vote only "if votedFor
//! is null or candidateId"; §5.2 "each server will vote for at most one candidate in a given term". openraft
//! keeps both in one `Vote` (leader id, committed), and its advanced leader ids order votes by (term, node): a
//! node may move its vote to a *greater* candidate of the same term (both may lead; the greater supersedes), never
//! to a lower one — with standard leader ids this is exactly the paper's rule.
//!
//! Judged per instance (node, group, incarnation; a restart reopens the same one): every saved `vote` is at least
//! the greatest one saved before; and every vote read back from the store (`vote_read`: openraft reads it when the
//! instance starts, e.g. after a restart) is at least that great — a vote lost across a restart would let the
//! node vote again in a term it voted in.

use std::collections::BTreeMap;

use super::{Class, Property, Violation};
use crate::raft_events::{Kind, RaftEvent, Vote};

pub const PROPERTY: Property = Property { name: "vote_monotonic", class: Class::Safety };

#[derive(Default)]
struct Votes<'a> {
    saved: Option<&'a Vote>,
}

/// Checks every instance's votes. One violation per instance.
pub fn check(events: &[RaftEvent]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut instances: BTreeMap<(&str, u64, u32), Votes> = BTreeMap::new();
    let mut reported = std::collections::BTreeSet::new();
    for e in events {
        let inst = instances.entry(e.instance()).or_default();
        let found = match &e.kind {
            Kind::Vote(v) => {
                let before = inst.saved.filter(|b| v < *b);
                if before.is_none() {
                    inst.saved = Some(v);
                }
                before.map(|b| ("VoteWentBack", format!("saved the vote {v} after {b}")))
            }
            Kind::VoteRead(read) => inst.saved.filter(|b| read.as_ref() < Some(*b)).map(|b| {
                let read = read.as_ref().map_or_else(|| "no vote".to_string(), |v| format!("the vote {v}"));
                ("VoteLostInRestart", format!("read back {read} from its store, though it had saved {b}"))
            }),
            _ => None,
        };
        if let Some((kind, what)) = found {
            if reported.insert(e.instance()) {
                out.push(Violation::Broken { property: PROPERTY, kind, line: 0, fact: e.fact(&what) });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_events::testing::*;

    #[test]
    fn a_vote_for_a_lower_candidate_of_the_same_term_is_reported() {
        let events = [saved(1_000, "a", 7, vote(3, "c", false)), saved(2_000, "a", 7, vote(3, "b", false))];
        let v = check(&events);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind(), "VoteWentBack");
    }

    #[test]
    fn a_vote_lost_in_a_restart_is_reported() {
        let events = [
            saved(1_000, "a", 7, vote(3, "c", true)),
            started(2_000, "a", 7, false),
            // openraft's first metrics show a placeholder vote: not what the store holds, not judged.
            role(2_001, "a", 7, "learner", vote(0, "a", false)),
            ev(2_002, "a", 7, Kind::VoteRead(None)),
        ];
        assert_eq!(check(&events)[0].kind(), "VoteLostInRestart");
        let events = [
            saved(1_000, "a", 7, vote(3, "c", true)),
            started(2_000, "a", 7, false),
            ev(2_002, "a", 7, Kind::VoteRead(Some(vote(3, "b", true)))),
        ];
        assert_eq!(check(&events)[0].kind(), "VoteLostInRestart");
        let events = [
            saved(1_000, "a", 7, vote(3, "c", true)),
            started(2_000, "a", 7, false),
            saved(2_500, "a", 7, vote(1, "a", false)),
        ];
        assert_eq!(check(&events)[0].kind(), "VoteWentBack");
    }

    #[test]
    fn rising_votes_kept_votes_and_fresh_instances_pass() {
        let events = [
            saved(1_000, "a", 7, vote(3, "b", false)),
            saved(1_100, "a", 7, vote(3, "c", false)),
            saved(1_200, "a", 7, vote(3, "c", true)),
            saved(1_300, "a", 7, vote(4, "a", false)),
            started(2_000, "a", 7, false),
            role(2_001, "a", 7, "learner", vote(0, "a", false)),
            ev(2_002, "a", 7, Kind::VoteRead(Some(vote(4, "a", false)))),
            // Another group, and a new incarnation of the same group: votes start over.
            saved(3_000, "a", 8, vote(1, "a", false)),
            RaftEvent { incarnation: 1, ..saved(4_000, "a", 7, vote(1, "x", false)) },
        ];
        assert!(check(&events).is_empty());
    }
}
