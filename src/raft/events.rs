//! Structured Raft events, for judges outside the node (the simulation harness collects them per run and checks
//! Raft's own safety properties over them: docs/CHECKERS.md).
//!
//! Every event goes to ONE `tracing` target, [`TARGET`], at INFO, with a `kind` and plain fields (`node`, `group`,
//! then the kind's own: `term`/`leader` of a log id, `index`, `hash`, ...). A log id here is openraft's: the
//! leader id that created the entry (`term` and `leader` node: openraft's "advanced" leader ids, several leaders
//! per term) and its `index`. Payloads are identified by [`payload_hash`], a fixed FNV-1a hasher: the
//! same in every process (see [`payload_hash`]). The real binary filters the target out of its log by default.
//!
//! Kinds: `started` (a fresh instance: a new incarnation of the node in the group) and `reopened` (the instance
//! a disk kept, after a restart), `vote` (saved), `vote_read` (read back from the store; `leader` empty: none), `append`, `truncate` (everything after `after`, `-1`: all),
//! `purge` (up to `index`), `committed` (saved; `index` -1: none), `apply`, `snapshot` (installed, up to its last
//! log id), `role` (a change of role, term or vote seen in the metrics).

use openraft::EntryPayload;

use super::{GroupId, TypeConfig};
use crate::meta::NodeId;

type C = TypeConfig;
type LogId = openraft::alias::LogIdOf<C>;
type Vote = openraft::alias::VoteOf<C>;

/// The `tracing` target of every Raft event.
pub const TARGET: &str = "clustersim::raft_event";

/// Which instance an event is about: the node and the group incarnation tag.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Who {
    pub me: NodeId,
    pub group: GroupId,
}

/// A fixed hasher (the same in every process, Rust version and platform): FNV-1a 64, over bytes one at a time
/// and over integers one word at a time (the derived `Hash` of a payload writes mostly integers: slot spans).
struct Fnv(u64);

const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// postcard's output fed to the hash as it is produced (`postcard::to_extend`): the same bytes, in order, as
/// hashing the serialized buffer (FNV-1a reads one byte at a time), with no buffer.
impl Extend<u8> for Fnv {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        for b in bytes {
            std::hash::Hasher::write(self, &[b]);
        }
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(FNV_PRIME);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// The hash of an entry's payload: a [`Command`]'s derived `Hash` (cheap: an ADDSLOTS of 5,461 single slots
/// is 11,000 integer writes), a membership's postcard form (the bus's encoding: ids as bytes, maps in key order),
/// nothing for a blank entry (the offset basis).
///
/// [`Command`]: crate::meta::Command
pub(crate) fn payload_hash(payload: &openraft::alias::EntryPayloadOf<C>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    match payload {
        EntryPayload::Blank => {}
        EntryPayload::Normal(command) => {
            h.write_u8(1);
            command.hash(&mut h);
        }
        EntryPayload::Membership(m) => {
            h.write_u8(2);
            h = postcard::to_extend(m, h).expect("a membership serializes");
        }
    }
    h.finish()
}

/// `-1` for none (tracing fields have no `Option`).
fn index_or_none(index: Option<u64>) -> i64 {
    index.map_or(-1, |i| i as i64)
}

pub(crate) fn started(who: Who, fresh: bool) {
    let kind = if fresh { "started" } else { "reopened" };
    tracing::info!(target: TARGET, kind, node = %who.me, group = who.group);
}

pub(crate) fn vote(who: Who, vote: &Vote) {
    let (term, leader, committed) = (vote.leader_id.term, vote.leader_id.node_id, vote.committed);
    tracing::info!(target: TARGET, kind = "vote", node = %who.me, group = who.group, term, leader = %leader, committed);
}

/// The vote openraft read back from the store (at start: after a restart, the vote it must still hold).
pub(crate) fn vote_read(who: Who, vote: Option<&Vote>) {
    let (term, leader, committed) =
        vote.map_or((0, String::new(), false), |v| (v.leader_id.term, v.leader_id.node_id.to_string(), v.committed));
    tracing::info!(target: TARGET, kind = "vote_read", node = %who.me, group = who.group, term, leader, committed);
}

/// Whether anyone listens to Raft events: the payload hash is computed only then (never in the real binary,
/// whose default log filter drops the target).
fn listened() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

pub(crate) fn append(who: Who, log_id: &LogId, payload: &openraft::alias::EntryPayloadOf<C>) {
    if !listened() {
        return;
    }
    let hash = payload_hash(payload);
    let (term, leader, index) = (log_id.leader_id.term, log_id.leader_id.node_id, log_id.index);
    tracing::info!(target: TARGET, kind = "append", node = %who.me, group = who.group, term, leader = %leader, index, hash);
}

pub(crate) fn apply(who: Who, log_id: &LogId, payload: &openraft::alias::EntryPayloadOf<C>) {
    if !listened() {
        return;
    }
    let hash = payload_hash(payload);
    let (term, leader, index) = (log_id.leader_id.term, log_id.leader_id.node_id, log_id.index);
    tracing::info!(target: TARGET, kind = "apply", node = %who.me, group = who.group, term, leader = %leader, index, hash);
}

pub(crate) fn truncate(who: Who, after: Option<&LogId>) {
    let after = index_or_none(after.map(|l| l.index));
    tracing::info!(target: TARGET, kind = "truncate", node = %who.me, group = who.group, after);
}

pub(crate) fn purge(who: Who, upto: &LogId) {
    tracing::info!(target: TARGET, kind = "purge", node = %who.me, group = who.group, index = upto.index);
}

pub(crate) fn committed(who: Who, committed: Option<&LogId>) {
    let index = index_or_none(committed.map(|l| l.index));
    tracing::info!(target: TARGET, kind = "committed", node = %who.me, group = who.group, index);
}

pub(crate) fn snapshot(who: Who, last: Option<&LogId>) {
    let index = index_or_none(last.map(|l| l.index));
    let term = last.map_or(0, |l| l.leader_id.term);
    let leader = last.map_or_else(String::new, |l| l.leader_id.node_id.to_string());
    tracing::info!(target: TARGET, kind = "snapshot", node = %who.me, group = who.group, index, term, leader);
}

/// A change of role, term or vote: `role` is `leader`, `candidate`, `follower`, `learner` or `shutdown`;
/// `term`/`leader`/`committed` are the vote the instance holds.
pub(crate) fn role(who: Who, role: &str, vote: &Vote) {
    let (term, leader, committed) = (vote.leader_id.term, vote.leader_id.node_id, vote.committed);
    tracing::info!(target: TARGET, kind = "role", node = %who.me, group = who.group, role, term, leader = %leader, committed);
}

#[cfg(test)]
mod tests {
    use std::hash::Hasher;

    use super::*;

    #[test]
    fn hashing_while_serializing_equals_hashing_the_serialized_bytes() {
        let value: (Vec<String>, std::collections::BTreeMap<u64, Option<u32>>, bool) = (
            (0..40).map(|i| format!("member-{i}")).collect(),
            (0..30).map(|i| (i * 1000, Some(i as u32))).collect(),
            true,
        );
        let streamed = postcard::to_extend(&value, Fnv(0xcbf2_9ce4_8422_2325)).unwrap();
        let mut buffered = Fnv(0xcbf2_9ce4_8422_2325);
        buffered.write(&postcard::to_allocvec(&value).unwrap());
        assert_eq!(streamed.finish(), buffered.finish());
        assert_ne!(streamed.finish(), 0xcbf2_9ce4_8422_2325, "something was hashed");
    }
}
