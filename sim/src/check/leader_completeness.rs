//! Property: leader completeness — a node that becomes leader holds every entry applied anywhere in its group
//! under a lower leader id.
//!
//! Source: the Raft paper (Ongaro & Ousterhout, 2014), Figure 3: "Leader Completeness: if a log entry is
//! committed in a given term, then that entry will be present in the logs of the leaders for all higher-numbered
//! terms" (§5.4, proof in §5.4.3). With openraft's advanced leader ids, "term" is the leader id (term, node).
//!
//! What the harness sees instead of "committed in term T'": node X applied the entry while its vote was V. X
//! learned the commit from a leader whose id is at most V, so the entry was committed under a leader id at most
//! V. Hence: when a node becomes leader under id L (a `role` event: role `leader`, vote L), every entry applied by
//! any node of the group while its vote was *strictly lower* than L must be in the new leader's log (same index,
//! log id and payload hash) — unless the leader's log no longer holds that index because a snapshot covers it
//! (purged, or a snapshot installed up to there). Applies by a node that had saved no vote are not counted.
//!
//! The leader's log is rebuilt from its instance's `append`, `truncate`, `purge` and `snapshot` events (an
//! instance: node, group and incarnation; a restart reopens the same one).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Class, Property, Violation};
use crate::raft_events::{secs, Kind, LogId, RaftEvent, Vote};

pub const PROPERTY: Property = Property { name: "leader_completeness", class: Class::Safety };

/// One instance's log as its events built it.
#[derive(Default)]
struct Instance<'a> {
    log: BTreeMap<u64, (&'a LogId, u64)>,
    /// Indexes up to here are covered by a snapshot (purged or installed).
    covered: Option<u64>,
    vote: Option<&'a Vote>,
    leading: Option<&'a Vote>,
}

/// An entry some node applied: its log id, hash, the applier's vote then, who and when.
struct Applied<'a> {
    id: &'a LogId,
    hash: u64,
    vote: &'a Vote,
    node: &'a str,
    at: Duration,
}

/// Checks each leadership's log against what was applied before it. One violation per leadership.
pub fn check(events: &[RaftEvent]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut instances: BTreeMap<(&str, u64, u32), Instance> = BTreeMap::new();
    // (group, index) -> the first apply there.
    let mut applied: BTreeMap<(u64, u64), Applied> = BTreeMap::new();
    for e in events {
        let inst = instances.entry(e.instance()).or_default();
        match &e.kind {
            Kind::Started { .. } => inst.leading = None,
            Kind::Vote(v) => inst.vote = Some(v),
            Kind::Append { id, hash } => {
                inst.log.insert(id.index, (id, *hash));
            }
            Kind::Truncate { after } => {
                inst.log.split_off(&after.map_or(0, |a| a + 1));
            }
            Kind::Purge { index } => {
                inst.covered = inst.covered.max(Some(*index));
                inst.log = inst.log.split_off(&(index + 1));
            }
            Kind::Snapshot { last } => inst.covered = inst.covered.max(last.as_ref().map(|l| l.index)),
            Kind::Committed { .. } | Kind::VoteRead(_) => {}
            Kind::Apply { id, hash } => {
                if let Some(vote) = inst.vote {
                    let node = e.node.as_str();
                    applied.entry((e.group, id.index)).or_insert(Applied { id, hash: *hash, vote, node, at: e.at });
                }
            }
            Kind::Role { role, vote } => {
                if role != "leader" {
                    inst.leading = None;
                } else if inst.leading != Some(vote) {
                    inst.leading = Some(vote);
                    out.extend(missing(e, inst, &applied, vote));
                }
            }
        }
    }
    out
}

/// The first entry applied under a lower leader id that the new leader's log lacks, if any.
fn missing(e: &RaftEvent, inst: &Instance, applied: &BTreeMap<(u64, u64), Applied>, lead: &Vote) -> Option<Violation> {
    let below = |v: &Vote| (v.term, v.leader.as_str()) < (lead.term, lead.leader.as_str());
    let from = inst.covered.map_or(0, |c| c + 1);
    let (_, a) = applied
        .range((e.group, from)..=(e.group, u64::MAX))
        .find(|(_, a)| below(a.vote) && inst.log.get(&a.id.index) != Some(&(a.id, a.hash)))?;
    let holds = match inst.log.get(&a.id.index) {
        Some((id, hash)) => format!("holds {id} ({hash:016x}) there"),
        None => "holds no entry there".to_string(),
    };
    let fact = format!(
        "{}: {} became leader of group {:016x} under T{}-{} but {holds}; {} applied {} ({:016x}) at {} under vote {}",
        secs(e.at),
        e.node,
        e.group,
        lead.term,
        lead.leader,
        a.node,
        a.id,
        a.hash,
        secs(a.at),
        a.vote
    );
    Some(Violation::Broken { property: PROPERTY, kind: "LeaderMissesCommittedEntry", line: 0, fact })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_events::testing::*;

    /// b applies entry 3 of leader (2, a); then c becomes leader under (3, c).
    fn history(c_log: &[RaftEvent]) -> Vec<RaftEvent> {
        let mut events = vec![
            saved(100, "b", 7, vote(2, "a", true)),
            append(200, "b", 7, id(3, 2, "a"), 0xaa),
            apply(300, "b", 7, id(3, 2, "a"), 0xaa),
            saved(400, "c", 7, vote(3, "c", false)),
        ];
        events.extend_from_slice(c_log);
        events.push(role(500, "c", 7, "leader", vote(3, "c", true)));
        events
    }

    #[test]
    fn a_leader_without_an_applied_entry_is_reported() {
        let v = check(&history(&[]));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind(), "LeaderMissesCommittedEntry");
    }

    #[test]
    fn a_leader_holding_another_entry_at_that_index_is_reported() {
        assert_eq!(check(&history(&[append(450, "c", 7, id(3, 1, "c"), 0xcc)])).len(), 1);
        let truncated = [append(450, "c", 7, id(3, 2, "a"), 0xaa), ev(460, "c", 7, Kind::Truncate { after: Some(2) })];
        assert_eq!(check(&history(&truncated)).len(), 1, "a truncated entry is not held");
    }

    #[test]
    fn a_leader_holding_the_entry_or_a_snapshot_over_it_passes() {
        assert!(check(&history(&[append(450, "c", 7, id(3, 2, "a"), 0xaa)])).is_empty());
        assert!(check(&history(&[ev(450, "c", 7, Kind::Purge { index: 3 })])).is_empty());
        assert!(check(&history(&[ev(450, "c", 7, Kind::Snapshot { last: Some(id(5, 2, "a")) })])).is_empty());
    }

    #[test]
    fn entries_applied_under_the_same_or_a_higher_leader_id_are_not_required() {
        // b applied under (2, a): a leader under (2, a) itself or a stale one under (1, z) is not judged on it.
        let mut events = history(&[]);
        events.pop();
        events.push(role(500, "c", 7, "leader", vote(2, "a", true)));
        events.push(role(600, "z", 7, "leader", vote(1, "z", true)));
        assert!(check(&events).is_empty());
    }

    #[test]
    fn another_groups_applies_are_not_required() {
        let mut events = history(&[]);
        for e in &mut events[..3] {
            e.group = 8;
        }
        assert!(check(&events).is_empty());
    }
}
