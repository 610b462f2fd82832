//! The history checkers judge: every call a run made, what was sent (parsed once, when it was sent, into an
//! [`Op`]), what came back, and when. Checkers read ops, never the display text of commands.
//!
//! Layer: above `hosts` (ops name hosts by number), below `client` (which records calls) and `check`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use clustersim::resp::Reply;

use crate::hosts::{host_at, host_of_id, Host};

/// One call of the history: which node, what was sent, what came back, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// 1-based node index.
    pub node: usize,
    /// The command as shown in traces and snapshots (ranges folded, ids normalized once the run ends). For
    /// people; checkers read [`CallRecord::op`].
    pub command: String,
    /// What the command does, parsed from the arguments as sent.
    pub op: Op,
    /// The scenario line that issued it (0 for the harness's own final reads).
    pub line: usize,
    pub start: Duration,
    pub end: Duration,
    pub reply: Reply,
    /// A harness poll (`settle`, `wait-consistent`): in the history checkers read, but not in the trace or the
    /// snapshot's step list, which show one summary line per poll instead.
    pub quiet: bool,
    /// Sent by a background workload (`workload reads …`): judged by the checkers and counted in the tally like
    /// any call, traced in a short form, left out of the snapshot's step list.
    pub workload: bool,
}

impl CallRecord {
    /// Whether the node answered `+OK`.
    pub fn is_ok(&self) -> bool {
        matches!(&self.reply, Reply::Simple(s) if s == "OK")
    }

    /// Whether the node answered an error (transport failures included: they are recorded as errors).
    pub fn is_error(&self) -> bool {
        matches!(self.reply, Reply::Error(_))
    }
}

/// What a command does to the cluster metadata, as far as the checkers and the verdict need to know. Hosts are
/// named by number (1-based); `None` where the argument names no host of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `CLUSTER MEET ip port [bus-port | id]`: the host named by the last argument as an id, else by `ip port`.
    Meet { target: Option<usize> },
    /// `CLUSTER FORGET id`.
    Forget { node: Option<usize> },
    /// `CLUSTER RESET [HARD|SOFT]` (HARD gives the node a new id).
    Reset { hard: bool },
    /// `CLUSTER ADDSLOTS` / `ADDSLOTSRANGE`: the slots it adds (arguments that are not slots are left out).
    AddSlots { slots: Vec<u16> },
    /// `CLUSTER DELSLOTS`, `DELSLOTSRANGE` (the slots named: `Some`), `FLUSHSLOTS`, `SETSLOT`, `FAILOVER` (any
    /// slot of the node, or ones moved to another owner: `None`): slot ownership removed or moved.
    RemoveSlots { slots: Option<Vec<u16>> },
    /// `CLUSTER REPLICATE id`.
    Replicate { master: Option<usize> },
    /// `CLUSTER NODES`.
    Nodes,
    /// `CLUSTER SLOTS`.
    Slots,
    /// Any other command that changes nothing (PING, GET, CLUSTER INFO, …).
    Read,
    /// Any other command: it may change the cluster.
    OtherWrite,
}

/// CLUSTER subcommands that only read.
const CLUSTER_READS: [&str; 11] = [
    "NODES",
    "SLOTS",
    "SHARDS",
    "INFO",
    "MYID",
    "MYSHARDID",
    "KEYSLOT",
    "COUNTKEYSINSLOT",
    "GETKEYSINSLOT",
    "COUNT-FAILURE-REPORTS",
    "LINKS",
];
/// Other commands that only read.
const READS: [&str; 12] =
    ["PING", "ECHO", "INFO", "GET", "EXISTS", "DBSIZE", "COMMAND", "HELLO", "READONLY", "READWRITE", "TIME", "TTL"];

/// The highest slot number (Redis Cluster has 16,384 slots).
const SLOT_MAX: u16 = 16_383;

impl Op {
    /// Parses the arguments of a command as sent to a run's `hosts`.
    pub fn of(args: &[Bytes], hosts: &[Host]) -> Op {
        let word = |i: usize| args.get(i).map(|a| String::from_utf8_lossy(a).to_ascii_uppercase());
        let name = word(0).unwrap_or_default();
        if name != "CLUSTER" {
            return if READS.contains(&name.as_str()) { Op::Read } else { Op::OtherWrite };
        }
        let Some(sub) = word(1) else { return Op::OtherWrite };
        // Slot numbers are read from the bytes (an ADDSLOTS can be 5,461 of them); the few other arguments as
        // text, borrowed where they are UTF-8.
        let numbers = &args[2..];
        let rest: Vec<Cow<'_, str>> = match sub.as_str() {
            "ADDSLOTS" | "ADDSLOTSRANGE" | "DELSLOTS" | "DELSLOTSRANGE" => Vec::new(),
            _ => numbers.iter().map(|a| String::from_utf8_lossy(a)).collect(),
        };
        let host = |w: Option<&Cow<'_, str>>| w.and_then(|w| host_of_id(w, hosts));
        match sub.as_str() {
            "MEET" => Op::Meet { target: host(rest.last()).or_else(|| host_at(rest.first()?, rest.get(1)?, hosts)) },
            "FORGET" => Op::Forget { node: host(rest.first()) },
            "RESET" => Op::Reset { hard: rest.first().is_some_and(|m| m.eq_ignore_ascii_case("hard")) },
            "ADDSLOTS" => Op::AddSlots { slots: slot_numbers(numbers) },
            "ADDSLOTSRANGE" => Op::AddSlots { slots: slot_pairs(numbers) },
            "DELSLOTS" => Op::RemoveSlots { slots: Some(slot_numbers(numbers)) },
            "DELSLOTSRANGE" => Op::RemoveSlots { slots: Some(slot_pairs(numbers)) },
            // FAILOVER moves every slot of a master to its replica, as a SETSLOT NODE moves one.
            "FLUSHSLOTS" | "SETSLOT" | "FAILOVER" => Op::RemoveSlots { slots: None },
            "REPLICATE" => Op::Replicate { master: host(rest.first()) },
            "NODES" => Op::Nodes,
            "SLOTS" => Op::Slots,
            other if CLUSTER_READS.contains(&other) => Op::Read,
            _ => Op::OtherWrite,
        }
    }

    /// Whether the command may change the cluster (an error from a read excuses nothing later).
    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Nodes | Op::Slots | Op::Read)
    }

    /// Whether the command may change which nodes a cluster lists: MEET, FORGET, RESET, or a write the history
    /// does not parse (only those can explain an `expect known-nodes=` or `has-node=` that failed).
    pub fn may_change_membership(&self) -> bool {
        matches!(self, Op::Meet { .. } | Op::Forget { .. } | Op::Reset { .. } | Op::OtherWrite)
    }

    /// Whether the command removes facts (a node, slot ownership): after one, "the last write wins" depends
    /// on an order the history alone does not settle.
    pub fn removes(&self) -> bool {
        matches!(self, Op::Forget { .. } | Op::Reset { .. } | Op::RemoveSlots { .. })
    }

    /// Whether the command may remove facts beyond slots it names: a node (FORGET, RESET) or any slot
    /// (FLUSHSLOTS, SETSLOT). A DELSLOTS removes only the slots it names ([`Op::removed_slots`]).
    pub fn removes_beyond_named_slots(&self) -> bool {
        matches!(self, Op::Forget { .. } | Op::Reset { .. } | Op::RemoveSlots { slots: None })
    }

    /// The slots a DELSLOTS / DELSLOTSRANGE names.
    pub fn removed_slots(&self) -> &[u16] {
        match self {
            Op::RemoveSlots { slots: Some(slots) } => slots,
            _ => &[],
        }
    }
}

fn slot_numbers(args: &[Bytes]) -> Vec<u16> {
    let mut slots = Vec::with_capacity(args.len());
    for arg in args {
        match parse_u16(arg) {
            Some(slot) if slot <= SLOT_MAX => slots.push(slot),
            _ => {}
        }
    }
    slots
}

fn slot_pairs(args: &[Bytes]) -> Vec<u16> {
    let numbers: Vec<u16> = args.iter().filter_map(|a| parse_u16(a)).collect();
    numbers.chunks(2).filter(|c| c.len() == 2).flat_map(|c| c[0]..=c[1].min(SLOT_MAX)).collect()
}

/// `str::parse::<u16>` on bytes: an optional `+`, then one or more ASCII digits, at most 65,535.
fn parse_u16(bytes: &[u8]) -> Option<u16> {
    let digits = bytes.strip_prefix(b"+").unwrap_or(bytes);
    if digits.is_empty() {
        return None;
    }
    let mut n: u32 = 0;
    for &d in digits {
        let digit = d.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n * 10 + u32::from(digit);
        if n > u32::from(u16::MAX) {
            return None;
        }
    }
    Some(n as u16)
}

/// A call as a checker's unit test writes it: `command` split on spaces (ids as `<nK>` or raw, ranges folded
/// as `{a..b}`), times in ms.
#[cfg(test)]
pub(crate) fn record(
    node: usize,
    line: usize,
    command: &str,
    (start_ms, end_ms): (u64, u64),
    reply: Reply,
    hosts: &[Host],
) -> CallRecord {
    let mut args: Vec<Bytes> = Vec::new();
    for word in command.split_whitespace() {
        let range = word.strip_prefix('{').and_then(|r| r.strip_suffix('}')).and_then(|r| r.split_once(".."));
        match range.and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?))) {
            Some((a, b)) => args.extend((a..=b).map(|n| Bytes::from(n.to_string()))),
            None => args.push(Bytes::from(word.to_string())),
        }
    }
    CallRecord {
        node,
        command: command.to_string(),
        op: Op::of(&args, hosts),
        line,
        start: Duration::from_millis(start_ms),
        end: Duration::from_millis(end_ms),
        reply,
        quiet: false,
        workload: false,
    }
}

/// Per slot: the start of the first DELSLOTS / DELSLOTSRANGE naming it (sent: answered or not, it may take
/// effect). A checker stops judging a slot's ownership from the moment its removal may have applied, and keeps
/// judging every other slot.
pub fn slot_removals(history: &[CallRecord]) -> BTreeMap<u16, Duration> {
    let mut first: BTreeMap<u16, Duration> = BTreeMap::new();
    for call in history {
        for slot in call.op.removed_slots() {
            let at = first.entry(*slot).or_insert(call.start);
            *at = (*at).min(call.start);
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Vec<Host> {
        crate::hosts::hosts(&crate::scenario::parse("t", "cluster 3\n").unwrap())
    }

    fn op(text: &str) -> Op {
        let args: Vec<Bytes> = text.split(' ').map(|w| Bytes::from(w.to_string())).collect();
        Op::of(&args, &three())
    }

    #[test]
    fn slot_numbers_read_from_bytes_as_str_parse_reads_them() {
        let samples: [&[u8]; 16] = [
            b"0",
            b"16383",
            b"+5",
            b"-1",
            b"-0",
            b"",
            b"+",
            b"65535",
            b"65536",
            b"00012",
            b"1a",
            b" 1",
            b"1 ",
            b"++1",
            b"\xff1",
            b"999999999999",
        ];
        for bytes in samples {
            let by_str = String::from_utf8_lossy(bytes).parse::<u16>().ok();
            assert_eq!(parse_u16(bytes), by_str, "{bytes:?}");
        }
        assert_eq!(op("CLUSTER ADDSLOTS 1 +2 x 16384 3"), Op::AddSlots { slots: vec![1, 2, 3] });
        assert_eq!(op("cluster delslotsrange 5 7 9"), Op::RemoveSlots { slots: Some(vec![5, 6, 7]) });
    }

    #[test]
    fn a_meet_names_its_target_by_id_or_by_address() {
        let id = clustersim::meta::NodeId::from_u64(2);
        assert_eq!(op(&format!("CLUSTER MEET 10.0.0.9 1 {id}")), Op::Meet { target: Some(2) });
        assert_eq!(op("cluster meet 10.0.0.3 6381"), Op::Meet { target: Some(3) });
        assert_eq!(op("CLUSTER MEET 10.0.0.3 6390"), Op::Meet { target: None });
        assert_eq!(op("CLUSTER MEET"), Op::Meet { target: None });
    }

    #[test]
    fn slot_writes_list_their_slots_and_removals_are_told_apart() {
        assert_eq!(op("CLUSTER ADDSLOTS 1 2 x 16384"), Op::AddSlots { slots: vec![1, 2] });
        assert_eq!(op("CLUSTER ADDSLOTSRANGE 0 2 10 10"), Op::AddSlots { slots: vec![0, 1, 2, 10] });
        assert!(op("CLUSTER DELSLOTS 1").removes());
        assert!(op("CLUSTER RESET HARD").removes());
        assert_eq!(
            (op("CLUSTER RESET hard"), op("CLUSTER RESET")),
            (Op::Reset { hard: true }, Op::Reset { hard: false })
        );
        assert!(!op("CLUSTER ADDSLOTS 1").removes());
        for moves in ["CLUSTER SETSLOT 5 NODE x", "CLUSTER FAILOVER", "cluster failover takeover"] {
            assert_eq!(op(moves), Op::RemoveSlots { slots: None }, "{moves}");
        }
    }

    #[test]
    fn reads_are_not_writes() {
        for read in ["CLUSTER NODES", "CLUSTER SLOTS", "cluster info", "PING", "GET k"] {
            assert!(!op(read).is_write(), "{read}");
        }
        for write in ["CLUSTER", "CLUSTER MEET 1 2", "SET k v", "CLUSTER SAVECONFIG"] {
            assert!(op(write).is_write(), "{write}");
        }
    }
}
