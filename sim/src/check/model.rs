//! Property: the metadata model — every acknowledged write is one Redis Cluster allows, and every read is one the
//! history can explain. An auditor beside the node (TigerBeetle's auditor, Jepsen's models), written from the
//! Redis Cluster specification and Redis 7's error replies — not from `src/meta` — so a rule the node's own state
//! machine lost is still judged here.
//!
//! **Writes** (an `OK` where Redis 7 must answer an error, given what was acknowledged before the write began):
//! - `CLUSTER REPLICATE <self>` ("ERR Can't replicate myself");
//! - `CLUSTER REPLICATE M` where M is a replica: its own REPLICATE was acknowledged, and M is in the writer's
//!   cluster ("ERR I can only replicate a master, not a replica.");
//! - `CLUSTER REPLICATE M` on a node that serves slots: its ADDSLOTS was acknowledged ("ERR To set a master the
//!   node must be empty and without assigned slots.");
//! - `CLUSTER ADDSLOTS` naming one slot twice ("ERR Slot N specified multiple times");
//! - `CLUSTER ADDSLOTS` of a slot a node of the writer's cluster (itself included) was acknowledged to serve
//!   ("ERR Slot N is already busy");
//! - `CLUSTER FORGET <self>` ("ERR I tried hard but I can't forget myself...") and `CLUSTER FORGET` of the
//!   writer's acknowledged master ("ERR Can't forget my master!").
//!
//! **Reads** (every `CLUSTER NODES` reply; facts only a write *sent* before the read ended can explain, answered
//! or not — a write with no reply may have taken effect):
//! - `PhantomMember`: a node listed that no chain of MEETs sent connects to the reader;
//! - `PhantomSlotOwner`: a slot shown served by X that no ADDSLOTS / ADDSLOTSRANGE sent to X named;
//! - `PhantomReplicaLink`: R shown as a replica of M though no REPLICATE M was sent to R (nor a chain: R sent to
//!   replicate X, X sent to replicate M — a master turned replica takes its replicas along);
//! - `ReplicaEpochNotMasters`: a replica line whose config-epoch column is not its master's (Redis prints a
//!   replica's `nodeEpoch`, which is its master's config epoch);
//! - `ListedTwice`: one id on two lines;
//! - `EpochShared`: two masters serving slots with one config epoch (Redis's collision handling gives every
//!   master a distinct epoch: the slot-conflict rule "higher epoch wins" needs it).
//!
//! Not judged, because the history alone does not decide them: writes and reads after a removal or a reset was
//! sent (FORGET, RESET, DELSLOTS…, SETSLOT: facts stop being monotonic, and a SETSLOT moves slots without an
//! ADDSLOTS), and ids the run's hosts do not have (a RESET HARD's new id).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::linearizable_reads::{acknowledged_meets, reached};
use super::views::{parse_nodes, Entry, SLOTS};
use super::{Class, Property, Violation};
use crate::history::{CallRecord, Op};
use crate::hosts::{host_of_id, Host};

pub const PROPERTY: Property = Property { name: "metadata-model", class: Class::Safety };

/// Judges every write and every CLUSTER NODES read of the history. One violation per (kind, node).
pub fn check(history: &[CallRecord], hosts: &[Host]) -> Vec<Violation> {
    let horizon = history.iter().filter(|c| c.op.removes_beyond_named_slots()).map(|c| c.start).min();
    let removed = crate::history::slot_removals(history);
    let before_horizon = |t: Duration| horizon.is_none_or(|h| t < h);
    let facts = Acknowledged::of(history);
    let mut sent = Sent::of(history, hosts.len());
    let mut out = Vec::new();
    let mut reported: BTreeSet<(&'static str, usize)> = BTreeSet::new();
    let mut report = |kind: &'static str, call: &CallRecord, fact: String, out: &mut Vec<Violation>| {
        if reported.insert((kind, call.node)) {
            out.push(Violation::Broken { property: PROPERTY, kind, line: call.line, fact });
        }
    };
    // The first removal itself is judged (what was acknowledged before it still holds); nothing after it is.
    for call in history.iter().filter(|c| horizon.is_none_or(|h| c.start <= h)) {
        if call.is_ok() {
            if let Some(why) = illegal_write(call, &facts, &removed) {
                report(
                    "IllegalWriteAccepted",
                    call,
                    format!("n{} answered OK to {}, which Redis refuses: {why}", call.node, call.command),
                    &mut out,
                );
            }
        }
        if call.op == Op::Nodes && !call.is_error() && before_horizon(call.end) {
            if let Some(text) = call.reply.as_text() {
                for (kind, fact) in unexplained(call, &parse_nodes(&text), &mut sent, hosts) {
                    report(kind, call, fact, &mut out);
                }
            }
        }
    }
    out
}

/// What was acknowledged, and when the OK arrived.
struct Acknowledged<'a> {
    meets: Vec<(Duration, usize, usize)>,
    /// `(ok time, node, slots)` of every acknowledged ADDSLOTS / ADDSLOTSRANGE.
    slots: Vec<(Duration, usize, &'a [u16])>,
    /// Every REPLICATE: `(start, ok time if acknowledged, replica, master)`.
    replicates: Vec<(Duration, Option<Duration>, usize, Option<usize>)>,
}

impl<'a> Acknowledged<'a> {
    fn of(history: &'a [CallRecord]) -> Self {
        let mut facts = Acknowledged { meets: acknowledged_meets(history), slots: Vec::new(), replicates: Vec::new() };
        for call in history {
            match &call.op {
                Op::AddSlots { slots } if call.is_ok() => facts.slots.push((call.end, call.node, slots)),
                Op::Replicate { master } => {
                    facts.replicates.push((call.start, call.is_ok().then_some(call.end), call.node, *master))
                }
                _ => {}
            }
        }
        facts
    }

    /// The master `node` replicates as of `t`: its latest REPLICATE sent before `t` answered OK before `t`.
    fn master_of(&self, node: usize, t: Duration) -> Option<usize> {
        let latest = self.replicates.iter().filter(|(start, _, r, _)| *r == node && *start < t).max_by_key(|r| r.0)?;
        match latest {
            (_, Some(ok), _, Some(m)) if *ok < t => Some(*m),
            _ => None,
        }
    }

    /// The nodes of `node`'s cluster as of `t` (itself included): MEETs acknowledged before then.
    fn cluster_of(&self, node: usize, t: Duration) -> BTreeSet<usize> {
        let mut cluster: BTreeSet<usize> = reached(&self.meets, node, t).into_keys().collect();
        cluster.insert(node);
        cluster
    }
}

/// Why an acknowledged write breaks a Redis rule, if it does.
/// `removed`: per slot, when a DELSLOTS first named it (a slot given back may be claimed again).
fn illegal_write(call: &CallRecord, facts: &Acknowledged<'_>, removed: &BTreeMap<u16, Duration>) -> Option<String> {
    let (me, t) = (call.node, call.start);
    match &call.op {
        Op::Replicate { master: Some(m) } if *m == me => Some("ERR Can't replicate myself".into()),
        Op::Replicate { master: Some(m) } => {
            if let Some(its) = facts.master_of(*m, t).filter(|_| facts.cluster_of(me, t).contains(m)) {
                return Some(format!("n{m} is a replica of n{its} (acknowledged before): \"ERR I can only replicate a master, not a replica.\""));
            }
            // A slot a DELSLOTS named before the REPLICATE ended may have been given back.
            let kept = |slots: &[u16]| slots.iter().copied().find(|s| removed.get(s).is_none_or(|h| call.end <= *h));
            let own = facts.slots.iter().filter(|(ok, node, _)| *node == me && *ok < t);
            own.into_iter().find_map(|(ok, _, slots)| Some((ok, kept(slots)?))).map(|(ok, slot)| {
                format!(
                    "its ADDSLOTS of slot {slot} was acknowledged at {}: \"ERR To set a master the node must be empty \
                     and without assigned slots.\"",
                    stamp(*ok)
                )
            })
        }
        Op::AddSlots { slots } => {
            // A flat table of the slots named (a BTreeSet of 5,461 slots per ADDSLOTS was a tenth of a seed).
            let mut seen = vec![false; SLOTS.max(slots.iter().map(|s| usize::from(*s) + 1).max().unwrap_or(0))];
            if let Some(twice) = slots.iter().find(|s| std::mem::replace(&mut seen[usize::from(**s)], true)) {
                return Some(format!("\"ERR Slot {twice} specified multiple times\""));
            }
            let cluster = facts.cluster_of(me, t);
            facts.slots.iter().filter(|(ok, node, _)| *ok < t && cluster.contains(node)).find_map(
                |(ok, owner, theirs)| {
                    let still_owned = |s: &u16| removed.get(s).is_none_or(|h| call.end <= *h);
                    let busy = theirs.iter().find(|s| seen.get(usize::from(**s)) == Some(&true) && still_owned(s))?;
                    Some(format!(
                        "n{owner}'s ADDSLOTS of slot {busy} was acknowledged at {}: \"ERR Slot {busy} is already busy\"",
                        stamp(*ok)
                    ))
                },
            )
        }
        Op::Forget { node: Some(target) } if *target == me => {
            Some("\"ERR I tried hard but I can't forget myself...\"".into())
        }
        Op::Forget { node: Some(target) } if facts.master_of(me, t) == Some(*target) => {
            Some(format!("n{target} is its acknowledged master: \"ERR Can't forget my master!\""))
        }
        _ => None,
    }
}

/// What was sent (answered or not), and when it started: the facts a read may show.
struct Sent {
    /// Every MEET sent: `(start, receiver, target)`.
    meets: Vec<(Duration, usize, usize)>,
    /// Per node (index 0 = n1), per slot: when an ADDSLOTS naming it was first sent to that node.
    slots: Vec<Vec<Option<Duration>>>,
    /// `(replica, master)` → when a REPLICATE naming that master was first sent to that replica.
    links: BTreeMap<(usize, usize), Duration>,
    /// Per (node, slot ranges of a NODES line): when the last of those slots was first sent to it (`None`: one
    /// never was). Settle polls show the same line over and over; this judges each line's slots once.
    all_sent_by: BTreeMap<(usize, SlotRanges), Option<Duration>>,
}

/// The slot ranges of one NODES line, `(first, last)` each, in the line's order.
type SlotRanges = Vec<(u16, u16)>;

impl Sent {
    fn of(history: &[CallRecord], nodes: usize) -> Self {
        let mut sent = Sent {
            meets: Vec::new(),
            slots: vec![Vec::new(); nodes],
            links: BTreeMap::new(),
            all_sent_by: BTreeMap::new(),
        };
        for call in history {
            match &call.op {
                Op::Meet { target: Some(t) } => sent.meets.push((call.start, call.node, *t)),
                Op::AddSlots { slots } => {
                    let table = &mut sent.slots[call.node - 1];
                    if table.is_empty() {
                        table.resize(SLOTS, None);
                    }
                    for s in slots {
                        let first = &mut table[usize::from(*s)];
                        *first = Some(first.map_or(call.start, |f| f.min(call.start)));
                    }
                }
                Op::Replicate { master: Some(m) } => {
                    let first = sent.links.entry((call.node, *m)).or_insert(call.start);
                    *first = (*first).min(call.start);
                }
                _ => {}
            }
        }
        sent
    }

    /// Whether REPLICATEs sent before `before` explain `replica` replicating `master`: one sent to `replica`
    /// naming `master`, or a chain — `replica` sent to replicate X, and X (a master turned replica, whose
    /// replicas follow it) sent to replicate `master`, and so on.
    fn explains_link(&self, replica: usize, master: usize, before: Duration) -> bool {
        let mut reached = BTreeSet::from([replica]);
        let mut frontier = vec![replica];
        while let Some(r) = frontier.pop() {
            for (&(_, m), _) in self.links.range((r, 0)..=(r, usize::MAX)).filter(|(_, t)| **t < before) {
                if m == master {
                    return true;
                }
                if reached.insert(m) {
                    frontier.push(m);
                }
            }
        }
        false
    }

    fn slot_sent(&self, node: usize, slot: u16, before: Duration) -> bool {
        self.slots[node - 1].get(usize::from(slot)).copied().flatten().is_some_and(|t| t < before)
    }

    /// The first slot of `ranges` no ADDSLOTS sent to `node` before `before` named.
    fn first_unsent(&mut self, node: usize, ranges: SlotRanges, before: Duration) -> Option<u16> {
        let key = (node, ranges);
        let last_sent = match self.all_sent_by.get(&key) {
            Some(known) => *known,
            None => {
                let table = &self.slots[node - 1];
                let mut slots = key.1.iter().flat_map(|&(a, b)| a..=b);
                let last = slots.try_fold(Duration::ZERO, |latest, s| {
                    Some(latest.max(table.get(usize::from(s)).copied().flatten()?))
                });
                self.all_sent_by.insert(key.clone(), last);
                last
            }
        };
        if last_sent.is_some_and(|t| t < before) {
            return None;
        }
        key.1.iter().flat_map(|&(a, b)| a..=b).find(|s| !self.slot_sent(node, *s, before))
    }
}

/// The facts of one CLUSTER NODES reply that nothing sent before it ended explains.
fn unexplained(read: &CallRecord, entries: &[Entry], sent: &mut Sent, hosts: &[Host]) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let who = |e: &Entry| host_of_id(&e.id, hosts);
    let mut ids = BTreeSet::new();
    if let Some(twice) = entries.iter().find(|e| !ids.insert(e.id.as_str())) {
        out.push(("ListedTwice", format!("n{}'s CLUSTER NODES lists {} on two lines", read.node, twice.id)));
    }
    let serving: Vec<&Entry> = entries.iter().filter(|e| e.is_master() && !e.slot_tokens.is_empty()).collect();
    let mut epochs = BTreeMap::new();
    if let Some((a, b)) = serving.iter().find_map(|e| epochs.insert(e.config_epoch, e.id.as_str()).map(|o| (o, e))) {
        out.push((
            "EpochShared",
            format!(
                "n{}'s CLUSTER NODES shows masters {a} and {} serving slots with one config epoch, {}: a collision \
                 Redis resolves by bumping one (clusterHandleConfigEpochCollision)",
                read.node, b.id, b.config_epoch
            ),
        ));
    }
    let connected = reached(&sent.meets, read.node, read.end);
    for (entry, n) in entries.iter().filter_map(|e| Some((e, who(e)?))) {
        if n != read.node && !connected.contains_key(&n) {
            out.push((
                "PhantomMember",
                format!("n{}'s CLUSTER NODES lists n{n}, which no MEET sent connects to it", read.node),
            ));
        }
        if let Some(slot) = sent.first_unsent(n, entry.slot_ranges().collect(), read.end) {
            out.push((
                "PhantomSlotOwner",
                format!(
                    "n{}'s CLUSTER NODES shows n{n} serving slot {slot}, which no ADDSLOTS sent to n{n} named",
                    read.node
                ),
            ));
        }
        if !entry.is_replica() {
            continue;
        }
        let master = entry.master.as_deref().unwrap_or("-");
        if let Some(m) = host_of_id(master, hosts) {
            if !sent.explains_link(n, m, read.end) {
                out.push((
                    "PhantomReplicaLink",
                    format!(
                        "n{}'s CLUSTER NODES shows n{n} replicating n{m}, though no REPLICATE of n{m} was sent to n{n}",
                        read.node
                    ),
                ));
            }
        }
        if let Some(m) = entries.iter().find(|m| m.id == master && m.is_master()) {
            if m.config_epoch != entry.config_epoch {
                out.push((
                    "ReplicaEpochNotMasters",
                    format!(
                        "n{}'s CLUSTER NODES shows replica n{n} with config epoch {} and its master with {}: a replica \
                         line carries its master's epoch",
                        read.node, entry.config_epoch, m.config_epoch
                    ),
                ));
            }
        }
    }
    out
}

fn stamp(t: Duration) -> String {
    crate::trace::stamp(t).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;
    use clustersim::resp::Reply;

    fn world() -> Vec<Host> {
        crate::hosts::hosts(&parse("t.scn", "cluster 3\n").unwrap())
    }

    fn call(node: usize, command: &str, (start_ms, end_ms): (u64, u64), reply: Reply) -> CallRecord {
        crate::history::record(node, 4, command, (start_ms, end_ms), reply, &world())
    }

    fn id(n: usize) -> String {
        world()[n - 1].id.to_string()
    }

    /// A NODES line: node, flags, master (for a replica), epoch, slots.
    fn line(n: usize, master: Option<usize>, epoch: u64, slots: &str) -> String {
        let (flags, m) = master.map_or(("master", "-".to_string()), |m| ("slave", id(m)));
        format!("{} 10.0.0.{n}:6379@16379 {flags} {m} 0 0 {epoch} connected {slots}\n", id(n))
    }

    fn nodes(lines: &[String]) -> Reply {
        Reply::Verbatim(lines.concat())
    }

    fn kinds(h: &[CallRecord]) -> Vec<&'static str> {
        check(h, &world()).iter().map(|v| v.kind()).collect()
    }

    fn meets() -> Vec<CallRecord> {
        vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380 <n2>", (0, 10), Reply::ok()),
            call(1, "CLUSTER MEET 10.0.0.3 6381 <n3>", (11, 20), Reply::ok()),
        ]
    }

    #[test]
    fn acknowledged_writes_redis_refuses_are_violations() {
        let mut h = meets();
        h.push(call(1, "CLUSTER ADDSLOTS 1 2 1", (21, 22), Reply::ok()));
        assert_eq!(kinds(&h), ["IllegalWriteAccepted"], "a slot named twice");
        let mut h = meets();
        h.push(call(1, "CLUSTER ADDSLOTS 5", (21, 22), Reply::ok()));
        h.push(call(2, "CLUSTER ADDSLOTS 4 5", (23, 24), Reply::ok()));
        let v = check(&h, &world());
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].to_string().contains("ERR Slot 5 is already busy"), "{}", v[0]);
        let mut h = meets();
        h.push(call(2, "CLUSTER REPLICATE <n1>", (21, 22), Reply::ok()));
        h.push(call(3, "CLUSTER REPLICATE <n2>", (23, 24), Reply::ok()));
        assert!(check(&h, &world())[0].to_string().contains("I can only replicate a master"));
        let mut h = meets();
        h.push(call(2, "CLUSTER ADDSLOTS 7", (21, 22), Reply::ok()));
        h.push(call(2, "CLUSTER REPLICATE <n1>", (23, 24), Reply::ok()));
        assert!(check(&h, &world())[0].to_string().contains("must be empty"));
        assert_eq!(kinds(&[call(2, "CLUSTER REPLICATE <n2>", (0, 1), Reply::ok())]), ["IllegalWriteAccepted"]);
        assert_eq!(kinds(&[call(2, "CLUSTER FORGET <n2>", (0, 1), Reply::ok())]), ["IllegalWriteAccepted"]);
    }

    #[test]
    fn refused_writes_concurrent_facts_and_other_clusters_impose_nothing() {
        let h = vec![
            call(1, "CLUSTER ADDSLOTS 5", (0, 10), Reply::ok()),
            // n2 is not in n1's cluster: its ADDSLOTS of slot 5 is legal (a merge resolves the conflict).
            call(2, "CLUSTER ADDSLOTS 5", (11, 12), Reply::ok()),
            call(1, "CLUSTER ADDSLOTS 5", (13, 14), Reply::error("ERR Slot 5 is already busy")),
            // Concurrent with n3's REPLICATE's OK: not yet a fact.
            call(3, "CLUSTER REPLICATE <n1>", (20, 40), Reply::ok()),
            call(2, "CLUSTER REPLICATE <n3>", (30, 50), Reply::error("ERR x")),
        ];
        assert_eq!(kinds(&h), Vec::<&str>::new());
    }

    #[test]
    fn reads_showing_what_nothing_sent_explains_are_violations() {
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380 <n2>", (0, 10), Reply::ok()),
            call(1, "CLUSTER ADDSLOTS 1", (11, 12), Reply::ok()),
            call(
                2,
                "CLUSTER NODES",
                (20, 21),
                nodes(&[line(1, None, 1, "1-2"), line(2, Some(1), 1, ""), line(3, None, 0, "")]),
            ),
        ];
        assert_eq!(kinds(&h), ["PhantomSlotOwner", "PhantomReplicaLink", "PhantomMember"]);
        let epoch = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380 <n2>", (0, 10), Reply::ok()),
            call(2, "CLUSTER REPLICATE <n1>", (11, 12), Reply::ok()),
            call(1, "CLUSTER NODES", (20, 21), nodes(&[line(1, None, 3, ""), line(2, Some(1), 0, "")])),
        ];
        assert_eq!(kinds(&epoch), ["ReplicaEpochNotMasters"]);
        let twice = vec![call(1, "CLUSTER NODES", (0, 1), nodes(&[line(1, None, 0, ""), line(1, None, 0, "")]))];
        assert_eq!(kinds(&twice), ["ListedTwice"]);
        let shared = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380 <n2>", (0, 10), Reply::ok()),
            call(1, "CLUSTER ADDSLOTS 1", (11, 12), Reply::ok()),
            call(2, "CLUSTER ADDSLOTS 2", (13, 14), Reply::ok()),
            call(1, "CLUSTER NODES", (20, 21), nodes(&[line(1, None, 4, "1"), line(2, None, 4, "2")])),
            call(2, "CLUSTER NODES", (22, 23), nodes(&[line(1, None, 4, "1"), line(2, None, 5, "2")])),
        ];
        assert_eq!(kinds(&shared), ["EpochShared"]);
    }

    #[test]
    fn reads_explained_by_writes_sent_even_unanswered_pass() {
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380 <n2>", (0, 10), Reply::error("(client) no reply within 15000 ms")),
            call(1, "CLUSTER ADDSLOTS 1 2", (11, 12), Reply::error("(client) no reply within 15000 ms")),
            call(2, "CLUSTER REPLICATE <n1>", (13, 14), Reply::ok()),
            call(2, "CLUSTER NODES", (20, 21), nodes(&[line(1, None, 2, "1-2"), line(2, Some(1), 2, "")])),
        ];
        assert_eq!(kinds(&h), Vec::<&str>::new());
    }

    #[test]
    fn a_delslots_frees_the_slots_it_names_and_nothing_else() {
        let claim =
            |node, slot: u16, at: u64| call(node, &format!("CLUSTER ADDSLOTS {slot}"), (at, at + 1), Reply::ok());
        let mut h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380 <n2>", (0, 1), Reply::ok()),
            claim(1, 9, 2),
            call(1, "CLUSTER DELSLOTS 9", (4, 5), Reply::error("(client) no reply within 15000 ms")),
            claim(2, 9, 6),
        ];
        // Slot 9 was given back (maybe): n2's claim of it is legal.
        assert_eq!(kinds(&h), Vec::<&str>::new());
        // A slot no DELSLOTS named stays busy, and a DELSLOTS creates no owner.
        h.push(claim(1, 10, 8));
        h.push(claim(2, 10, 10));
        h.push(call(1, "CLUSTER NODES", (12, 13), nodes(&[line(1, None, 1, "10 11"), line(2, None, 2, "9")])));
        assert_eq!(kinds(&h), vec!["IllegalWriteAccepted", "PhantomSlotOwner"]);
    }

    #[test]
    fn one_nodes_line_read_again_is_judged_by_each_reads_end() {
        // The same line read after the ADDSLOTS of slot 5 was sent (explained), then by n2 in a read that ended
        // before it was sent (and so shows a slot nothing sent explains): the second is a violation.
        let line_of_n1 = line(1, None, 1, "4-5");
        let h = vec![
            call(1, "CLUSTER MEET 10.0.0.2 6380 <n2>", (0, 10), Reply::ok()),
            call(1, "CLUSTER ADDSLOTS 4", (11, 12), Reply::ok()),
            call(1, "CLUSTER ADDSLOTS 5", (30, 31), Reply::ok()),
            call(1, "CLUSTER NODES", (40, 41), nodes(std::slice::from_ref(&line_of_n1))),
            call(2, "CLUSTER NODES", (13, 29), nodes(std::slice::from_ref(&line_of_n1))),
        ];
        let found = check(&h, &world());
        assert_eq!(kinds(&h), ["PhantomSlotOwner"]);
        assert!(format!("{:?}", found[0]).contains("n2's CLUSTER NODES shows n1 serving slot 5,"), "{found:?}");
    }

    #[test]
    fn nothing_is_judged_after_a_removal_was_sent() {
        let h = vec![
            call(1, "CLUSTER FORGET <n3>", (0, 1), Reply::error("ERR Unknown node <n3>")),
            call(2, "CLUSTER REPLICATE <n2>", (2, 3), Reply::ok()),
            call(1, "CLUSTER NODES", (4, 5), nodes(&[line(1, None, 0, "9"), line(3, None, 0, "")])),
        ];
        assert_eq!(kinds(&h), Vec::<&str>::new());
    }
}
