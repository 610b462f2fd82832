//! Property: linearizable metadata reads (slot ownership and replica links).
//!
//! A `CLUSTER NODES` or `CLUSTER SLOTS` reply that *began* after a `CLUSTER ADDSLOTS` / `ADDSLOTSRANGE` on node
//! X had returned OK must show those slots owned by X, when the reader is in X's cluster (connected to it by
//! MEETs acknowledged before the read began) — or be an error. Likewise, once `CLUSTER REPLICATE <M>` on node R
//! has returned OK, a `CLUSTER NODES` of R's cluster that began later must show R as a replica of M. The
//! membership half of the same contract is `linearizable_reads.rs`; together they are what Raft's ReadIndex
//! (Ongaro's thesis §6.4) gives every metadata read, and what Jepsen calls a stale read when it breaks.
//!
//! What is not judged, because the history alone does not decide it:
//! - reads that had not ended when a removal was *sent* (FORGET, RESET, FLUSHSLOTS, SETSLOT — acknowledged or
//!   not: one without a reply may still take effect); a DELSLOTS / DELSLOTSRANGE stops the judging of the slots
//!   it names only (a write workload gives slots back all the time: the rest of the table stays judged);
//! - the link of a replica whose master was itself sent a REPLICATE (a master turned replica takes its
//!   replicas along: Redis re-points them, and so does the node);
//! - a slot two different nodes were ever told to add with OK (a merge of two clusters resolves that conflict);
//! - a replica link while another REPLICATE of the same node was sent and has not answered OK before the read
//!   began (it may take effect, or not);
//! - in a `CLUSTER NODES` reply that does not list X (or R) at all: the membership checker reports that.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use clustersim::resp::Reply;

use super::linearizable_reads::{acknowledged_meets, reached};
use super::views::{parse_nodes, runs_of, slot_owner_runs, Entry, OwnerRun, SLOTS};
use super::{Class, Property, Violation};
use crate::history::{CallRecord, Op};
use crate::hosts::Host;

pub const PROPERTY: Property = Property { name: "linearizable-slot-reads", class: Class::Safety };

/// An acknowledged ADDSLOTS: when its OK arrived, the node that took the slots, and the slots (in the order
/// named, and as runs of consecutive slots in that order: `{0..5460}` is one run).
struct Claim<'a> {
    ok_at: Duration,
    owner: usize,
    slots: std::borrow::Cow<'a, [u16]>,
    runs: Vec<(u16, u16)>,
}

impl<'a> Claim<'a> {
    fn new(ok_at: Duration, owner: usize, slots: std::borrow::Cow<'a, [u16]>) -> Self {
        let mut runs: Vec<(u16, u16)> = Vec::new();
        for &s in slots.iter() {
            match runs.last_mut() {
                Some((_, last)) if last.checked_add(1) == Some(s) => *last = s,
                _ => runs.push((s, s)),
            }
        }
        Claim { ok_at, owner, slots, runs }
    }
}

/// Checks every CLUSTER NODES and CLUSTER SLOTS read of the history. Reports the first stale read per (reader,
/// kind, node whose slots or link it misses).
pub fn check(history: &[CallRecord], hosts: &[Host]) -> Vec<Violation> {
    let edges = acknowledged_meets(history);
    let horizon = history.iter().filter(|c| c.op.removes_beyond_named_slots()).map(|c| c.start).min();
    let removed = crate::history::slot_removals(history);
    let claims = unique_claims(history);
    let replicates: Vec<&CallRecord> = history.iter().filter(|c| matches!(c.op, Op::Replicate { .. })).collect();
    let mut out = Vec::new();
    let mut reported: BTreeSet<(usize, &'static str, usize)> = BTreeSet::new();
    // Settle and wait-consistent polls read the same CLUSTER NODES text over and over: each distinct text is
    // parsed once, and each (text, claim) judged once.
    let mut views = Views::default();
    // Each host's id as text once: replica links are looked up by id on every NODES read that owes one.
    let ids: Vec<String> = hosts.iter().map(|h| h.id.to_string()).collect();
    for read in history {
        if !matches!(read.op, Op::Nodes | Op::Slots) || read.is_error() || horizon.is_some_and(|h| h < read.end) {
            continue;
        }
        let mut cluster: BTreeSet<usize> = reached(&edges, read.node, read.start).into_keys().collect();
        cluster.insert(read.node);
        // Parsed only if something is owed to this read (most reads of a long history owe nothing).
        let mut view: Option<usize> = None;
        for (index, claim) in
            claims.iter().enumerate().filter(|(_, c)| c.ok_at < read.start && cluster.contains(&c.owner))
        {
            // A slot a DELSLOTS named before the read ended may be gone: only the others are owed.
            let gone = |s: &u16| removed.get(s).is_some_and(|h| *h < read.end);
            let whole = removed.is_empty() || !claim.slots.iter().any(gone);
            let partial;
            let claim = if whole {
                claim
            } else {
                partial =
                    Claim::new(claim.ok_at, claim.owner, claim.slots.iter().copied().filter(|s| !gone(s)).collect());
                &partial
            };
            let v = *view.get_or_insert_with(|| views.of(read));
            let missed = views.first_slot_not_owned(v, whole.then_some(index), claim, hosts);
            if let Some((slot, shown)) = missed {
                if reported.insert((read.node, "slot", claim.owner)) {
                    let fact = stale_slot_fact(read, claim, slot, &shown);
                    out.push(Violation::Broken { property: PROPERTY, kind: "StaleSlotRead", line: read.line, fact });
                }
            }
        }
        if read.op != Op::Nodes {
            continue;
        }
        let links = replica_links(&replicates, read);
        if links.is_empty() {
            continue;
        }
        let v = *view.get_or_insert_with(|| views.of(read));
        let View::Nodes { entries, .. } = &views.all[v] else { continue };
        for (replica, master, ok_at) in links {
            if !cluster.contains(&replica) {
                continue;
            }
            let Some(line) = entries.iter().find(|e| e.id == ids[replica - 1]) else { continue };
            let master_id = &ids[master - 1];
            if line.is_replica() && line.master.as_deref() == Some(master_id.as_str()) {
                continue;
            }
            if reported.insert((read.node, "replica", replica)) {
                let shows = match (&line.master, line.is_replica()) {
                    (Some(m), true) => format!("a replica of {m}"),
                    _ => "a master".to_string(),
                };
                let fact = format!(
                    "n{}'s CLUSTER NODES started at {} shows n{replica} as {shows}, though its REPLICATE of n{master} \
                     was acknowledged at {}",
                    read.node,
                    stamp(read.start),
                    stamp(ok_at)
                );
                out.push(Violation::Broken { property: PROPERTY, kind: "StaleReplicaRead", line: read.line, fact });
            }
        }
    }
    out
}

fn stale_slot_fact(read: &CallRecord, claim: &Claim<'_>, slot: u16, shown: &str) -> String {
    format!(
        "n{}'s CLUSTER {} started at {} shows slot {slot} {shown}, though n{}'s ADDSLOTS of it was acknowledged at {}",
        read.node,
        if read.op == Op::Nodes { "NODES" } else { "SLOTS" },
        stamp(read.start),
        claim.owner,
        stamp(claim.ok_at)
    )
}

fn stamp(t: Duration) -> String {
    crate::trace::stamp(t).trim().to_string()
}

/// Every acknowledged ADDSLOTS, with the slots that no other node was ever told to add with OK.
fn unique_claims(history: &[CallRecord]) -> Vec<Claim<'_>> {
    // Per slot: the one node told to add it with OK, or `MANY` (a flat table: an init script's claims name every
    // one of the 16,384 slots).
    const NONE: usize = usize::MAX;
    const MANY: usize = usize::MAX - 1;
    let mut owner = vec![NONE; SLOTS];
    let acknowledged = || {
        history.iter().filter(|c| c.is_ok()).filter_map(|c| match &c.op {
            Op::AddSlots { slots } => Some((c, slots.as_slice())),
            _ => None,
        })
    };
    for (call, slots) in acknowledged() {
        for slot in slots {
            if let Some(o) = owner.get_mut(usize::from(*slot)) {
                *o = if *o == NONE || *o == call.node { call.node } else { MANY };
            }
        }
    }
    let contested = |slot: &u16| owner.get(usize::from(*slot)) == Some(&MANY);
    acknowledged()
        .filter(|(_, slots)| !slots.iter().any(contested))
        .map(|(call, slots)| Claim::new(call.end, call.node, std::borrow::Cow::Borrowed(slots)))
        .collect()
}

/// The replica links a read must show: `(replica, master, ok time)` for each node whose latest REPLICATE sent
/// before the read ended answered OK before the read began — unless its master was itself sent a REPLICATE
/// before the read ended (its replicas may have followed it).
/// `replicates`: the history's REPLICATE calls, in history order.
fn replica_links<'a>(replicates: &[&'a CallRecord], read: &CallRecord) -> Vec<(usize, usize, Duration)> {
    let mut latest: BTreeMap<usize, &'a CallRecord> = BTreeMap::new();
    for &call in replicates.iter().filter(|c| c.start < read.end) {
        if latest.get(&call.node).is_none_or(|l| l.start <= call.start) {
            latest.insert(call.node, call);
        }
    }
    let turned = |m: usize| latest.contains_key(&m);
    latest
        .values()
        .filter(|c| c.is_ok() && c.end < read.start)
        .filter_map(|c| match c.op {
            Op::Replicate { master: Some(m) } if m != c.node && !turned(m) => Some((c.node, m, c.end)),
            _ => None,
        })
        .collect()
}

/// The views of a history's reads, one per distinct CLUSTER NODES text (each CLUSTER SLOTS reply its own), and
/// what each showed of each claim.
#[derive(Default)]
struct Views {
    all: Vec<View>,
    by_text: BTreeMap<String, usize>,
    judged: BTreeMap<(usize, usize), Option<(u16, String)>>,
}

impl Views {
    /// The index of `read`'s view, parsed on first sight of its text.
    fn of(&mut self, read: &CallRecord) -> usize {
        let text = (read.op == Op::Nodes).then(|| read.reply.as_text()).flatten();
        if let Some(known) = text.as_deref().and_then(|t| self.by_text.get(t)) {
            return *known;
        }
        let index = self.all.len();
        match text {
            Some(text) => {
                self.all.push(View::of_nodes(&text));
                self.by_text.insert(text.into_owned(), index);
            }
            None => self.all.push(View::of(read)),
        }
        index
    }

    /// [`View::first_slot_not_owned`], remembered per (view, claim) when the claim is whole (`claim_index`).
    fn first_slot_not_owned(
        &mut self,
        view: usize,
        claim_index: Option<usize>,
        claim: &Claim<'_>,
        hosts: &[Host],
    ) -> Option<(u16, String)> {
        let Some(index) = claim_index else { return self.all[view].first_slot_not_owned(claim, hosts) };
        let all = &self.all;
        self.judged.entry((view, index)).or_insert_with(|| all[view].first_slot_not_owned(claim, hosts)).clone()
    }
}

/// What a read shows: the NODES entries with the runs of slots by owner (an index into them, computed once per
/// distinct text), or each slot's master id from CLUSTER SLOTS, as runs too.
enum View {
    Nodes {
        entries: Vec<Entry>,
        owners: Vec<OwnerRun>,
    },
    /// The master ids of a CLUSTER SLOTS reply, and the runs of slots by master (an index into them).
    Slots(Vec<String>, Vec<OwnerRun>),
    Unreadable,
}

impl View {
    fn of(read: &CallRecord) -> View {
        match (&read.op, &read.reply) {
            (Op::Nodes, reply) => reply.as_text().map_or(View::Unreadable, |t| View::of_nodes(&t)),
            (Op::Slots, Reply::Array(ranges)) => {
                let (ids, owners) = slot_masters(ranges);
                View::Slots(ids, runs_of(&owners))
            }
            _ => View::Unreadable,
        }
    }

    fn of_nodes(text: &str) -> View {
        let entries = parse_nodes(text);
        let (owners, _) = slot_owner_runs(&entries);
        View::Nodes { entries, owners }
    }

    /// The first slot of `claim` this view does not give to its owner, and what it shows instead (`owned by
    /// <id>` or `unowned`). `None` when every slot is shown right, or the view cannot judge the claim.
    fn first_slot_not_owned(&self, claim: &Claim<'_>, hosts: &[Host]) -> Option<(u16, String)> {
        let owner_id = hosts.get(claim.owner - 1)?.id.to_string();
        // Each slot's owner as an index into `ids`; the claim's owner as the indexes its id has (compared per
        // slot as integers: a claim can be thousands of slots, on every read of a history).
        let (ids, owners): (Vec<&str>, &[OwnerRun]) = match self {
            View::Nodes { entries, owners } => (entries.iter().map(|e| e.id.as_str()).collect(), owners),
            View::Slots(ids, owners) => (ids.iter().map(String::as_str).collect(), owners),
            View::Unreadable => return None,
        };
        let mine: Vec<u16> = (0..ids.len()).filter(|i| ids[*i] == owner_id).map(|i| i as u16).collect();
        // Not listed at all: the membership checker's finding, not this one's.
        if mine.is_empty() && matches!(self, View::Nodes { .. }) {
            return None;
        }
        // In the claim's order, a run of consecutive slots at a time against the runs of owners.
        for &(first, last) in &claim.runs {
            let from = owners.partition_point(|r| r.end < first);
            for run in owners[from..].iter().take_while(|r| r.start <= last) {
                let slot = run.start.max(first);
                match run.owner {
                    Some(i) if mine.contains(&i) => {}
                    Some(i) => return Some((slot, format!("owned by {}", ids[usize::from(i)]))),
                    None => return Some((slot, "unowned".to_string())),
                }
            }
        }
        None
    }
}

/// Each slot's master from a CLUSTER SLOTS reply (`[[start, end, [ip, port, id, …], replicas…], …]`): the ids,
/// and per slot an index into them.
fn slot_masters(ranges: &[Reply]) -> (Vec<String>, Vec<Option<u16>>) {
    let mut ids: Vec<String> = Vec::new();
    let mut masters = vec![None; SLOTS];
    for range in ranges {
        let Reply::Array(fields) = range else { continue };
        let (Some(Reply::Int(start)), Some(Reply::Int(end)), Some(Reply::Array(master))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            continue;
        };
        let Some(id) = master.get(2).and_then(|r| r.as_text()) else { continue };
        let (start, end) = ((*start).clamp(0, 16_383) as usize, (*end).clamp(0, 16_383) as usize);
        let index = match ids.iter().position(|known| *known == id) {
            Some(i) => i,
            None => {
                ids.push(id.into_owned());
                ids.len() - 1
            }
        };
        let Ok(index) = u16::try_from(index) else { continue };
        for slot in masters.iter_mut().take(end + 1).skip(start) {
            *slot = Some(index);
        }
    }
    (ids, masters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::hosts;
    use crate::scenario::parse;

    fn world() -> Vec<Host> {
        hosts(&parse("t.scn", "cluster 3\n").unwrap())
    }

    fn call(node: usize, command: &str, (start_ms, end_ms): (u64, u64), reply: Reply) -> CallRecord {
        crate::history::record(node, 7, command, (start_ms, end_ms), reply, &world())
    }

    /// A NODES reply: each `(node, slots, master)` line, ids raw (as a node sends them).
    fn nodes(lines: &[(usize, &str, Option<usize>)]) -> Reply {
        let id = |n: usize| world()[n - 1].id.to_string();
        let text: String = lines
            .iter()
            .map(|(n, slots, master)| {
                let (flags, m) = match master {
                    Some(m) => ("slave", id(*m)),
                    None => ("master", "-".to_string()),
                };
                format!("{} 10.0.0.{n}:6379@16379 {flags} {m} 0 0 1 connected {slots}\n", id(*n))
            })
            .collect();
        Reply::Verbatim(text)
    }

    fn slots_reply(ranges: &[(i64, i64, usize)]) -> Reply {
        let id = |n: usize| world()[n - 1].id.to_string();
        Reply::Array(
            ranges
                .iter()
                .map(|(a, b, n)| {
                    let master =
                        Reply::Array(vec![Reply::bulk_str("10.0.0.1"), Reply::Int(6379), Reply::bulk_str(&id(*n))]);
                    Reply::Array(vec![Reply::Int(*a), Reply::Int(*b), master])
                })
                .collect(),
        )
    }

    fn meet_1_2() -> CallRecord {
        call(1, "CLUSTER MEET 10.0.0.2 6380 <n2>", (0, 10), Reply::ok())
    }

    #[test]
    fn a_read_that_misses_acknowledged_slots_of_a_cluster_member_is_stale() {
        let h = vec![
            meet_1_2(),
            call(1, "CLUSTER ADDSLOTS {0..9}", (20, 30), Reply::ok()),
            call(2, "CLUSTER NODES", (31, 32), nodes(&[(1, "0-4", None), (2, "", None)])),
        ];
        let v = check(&h, &world());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind(), "StaleSlotRead");
        assert!(v[0].to_string().contains("shows slot 5 unowned"), "{}", v[0]);
    }

    #[test]
    fn the_slot_reported_is_the_first_missed_in_the_order_the_addslots_named_them() {
        let first_missed = |addslots: &str, shown: Reply| {
            let h =
                vec![meet_1_2(), call(1, addslots, (20, 30), Reply::ok()), call(2, "CLUSTER NODES", (31, 32), shown)];
            let v = check(&h, &world());
            assert_eq!(v.len(), 1, "{v:?}");
            let text = v[0].to_string();
            text[text.find("shows slot ").unwrap()..].split(',').next().unwrap().to_string()
        };
        let n2 = world()[1].id.to_string();
        // Runs of the claim against runs of owners: 9 comes first in the claim, 3..5 are shown right.
        assert_eq!(
            first_missed("CLUSTER ADDSLOTS 9 3 4 5", nodes(&[(1, "3-5", None), (2, "", None)])),
            "shows slot 9 unowned"
        );
        assert_eq!(
            first_missed("CLUSTER ADDSLOTS 3 4 5 6 7", nodes(&[(1, "0-5", None), (2, "6-7", None)])),
            format!("shows slot 6 owned by {n2}")
        );
        // A run of the claim that spans two owner runs, the second one wrong.
        assert_eq!(
            first_missed("CLUSTER ADDSLOTS {10..20}", nodes(&[(1, "10-12 13-14", None), (2, "15-20", None)])),
            format!("shows slot 15 owned by {n2}")
        );
        assert_eq!(
            first_missed("CLUSTER ADDSLOTS 16383 0", nodes(&[(1, "0", None), (2, "", None)])),
            "shows slot 16383 unowned"
        );
    }

    #[test]
    fn a_read_showing_the_slots_or_concurrent_with_the_write_passes() {
        let h = vec![
            meet_1_2(),
            call(1, "CLUSTER ADDSLOTS {0..9}", (20, 30), Reply::ok()),
            call(2, "CLUSTER NODES", (25, 35), nodes(&[(1, "", None), (2, "", None)])),
            call(2, "CLUSTER NODES", (36, 37), nodes(&[(1, "0-9", None), (2, "", None)])),
        ];
        assert_eq!(check(&h, &world()), vec![]);
    }

    #[test]
    fn a_cluster_slots_read_is_judged_too() {
        let h = vec![
            meet_1_2(),
            call(1, "CLUSTER ADDSLOTS {0..9}", (20, 30), Reply::ok()),
            call(2, "CLUSTER SLOTS", (31, 32), slots_reply(&[(0, 9, 2)])),
            call(1, "CLUSTER SLOTS", (33, 34), slots_reply(&[(0, 9, 1)])),
        ];
        let v = check(&h, &world());
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].to_string().starts_with("line 7: n2's CLUSTER SLOTS started at 0.031s shows slot 0 owned by"));
    }

    #[test]
    fn nodes_outside_the_writers_cluster_and_reads_after_a_removal_are_not_judged() {
        let h = vec![
            call(1, "CLUSTER ADDSLOTS {0..9}", (20, 30), Reply::ok()),
            call(3, "CLUSTER NODES", (31, 32), nodes(&[(3, "", None)])),
            meet_1_2(),
            call(1, "CLUSTER FORGET <n3>", (40, 41), Reply::Error("(client) no reply within 15000 ms".into())),
            call(2, "CLUSTER NODES", (50, 51), nodes(&[(1, "", None), (2, "", None)])),
        ];
        assert_eq!(check(&h, &world()), vec![]);
    }

    #[test]
    fn a_delslots_stops_the_judging_of_the_slots_it_names_only() {
        let unanswered = || Reply::Error("(client) no reply within 15000 ms".into());
        let before = vec![
            call(1, "CLUSTER ADDSLOTS {0..9}", (20, 30), Reply::ok()),
            meet_1_2(),
            call(1, "CLUSTER DELSLOTS 0", (40, 41), unanswered()),
        ];
        // Slot 0 may be gone; slots 1..9 are still owed.
        let mut h = before.clone();
        h.push(call(2, "CLUSTER NODES", (50, 51), nodes(&[(1, "1-9", None), (2, "", None)])));
        assert_eq!(check(&h, &world()), vec![]);
        let mut h = before;
        h.push(call(2, "CLUSTER NODES", (50, 51), nodes(&[(1, "1-8", None), (2, "", None)])));
        let v = check(&h, &world());
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].to_string().contains("shows slot 9"), "{}", v[0]);
    }

    #[test]
    fn a_read_that_shows_an_acknowledged_replica_as_a_master_is_stale_unless_another_replicate_is_pending() {
        let replicate = call(2, "CLUSTER REPLICATE <n1>", (20, 30), Reply::ok());
        let stale = call(3, "CLUSTER NODES", (31, 32), nodes(&[(1, "", None), (2, "", None), (3, "", None)]));
        let meet_1_3 = call(1, "CLUSTER MEET 10.0.0.3 6381 <n3>", (11, 12), Reply::ok());
        let v = check(&[meet_1_2(), meet_1_3.clone(), replicate.clone(), stale.clone()], &world());
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].to_string().contains("shows n2 as a master, though its REPLICATE of n1"), "{}", v[0]);
        let pending = call(2, "CLUSTER REPLICATE <n3>", (30, 45), Reply::Error("(client) no reply".into()));
        assert_eq!(check(&[meet_1_2(), meet_1_3, replicate, pending, stale], &world()), vec![]);
    }

    #[test]
    fn slots_two_nodes_were_told_to_add_are_not_judged() {
        let h = vec![
            call(1, "CLUSTER ADDSLOTS 5", (0, 1), Reply::ok()),
            call(2, "CLUSTER ADDSLOTS 5", (2, 3), Reply::ok()),
            meet_1_2(),
            call(2, "CLUSTER NODES", (31, 32), nodes(&[(1, "", None), (2, "5", None)])),
        ];
        assert_eq!(check(&h, &world()), vec![]);
    }
}

#[cfg(test)]
mod chain_tests {
    use super::*;
    use crate::hosts::hosts;
    use crate::scenario::parse;

    #[test]
    fn replicas_of_a_master_turned_replica_may_follow_it() {
        let world = hosts(&parse("t.scn", "cluster 3\n").unwrap());
        let id = |n: usize| world[n - 1].id.to_string();
        let call = |node, command: &str, t, reply| crate::history::record(node, 1, command, t, reply, &world);
        let text: String = [(1, "master", "-".to_string()), (2, "slave", id(3)), (3, "slave", id(1))]
            .iter()
            .map(|(n, flags, m)| format!("{} 10.0.0.{n}:6379@16379 {flags} {m} 0 0 1 connected\n", id(*n)))
            .collect();
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380", (0, 1), Reply::ok()),
            call(1, "CLUSTER MEET 10.0.0.3 6381", (2, 3), Reply::ok()),
            call(2, "CLUSTER REPLICATE <n3>", (4, 5), Reply::ok()),
            call(3, "CLUSTER REPLICATE <n1>", (6, 7), Reply::ok()),
            call(1, "CLUSTER NODES", (8, 9), Reply::Verbatim(text)),
        ];
        assert_eq!(check(&h, &world), vec![]);
        assert_eq!(crate::check::model::check(&h, &world), vec![], "the chain n2 -> n3 -> n1 explains n2's link");
    }
}
