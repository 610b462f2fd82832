//! CLUSTER subcommands: argument parsing (arity, types, Redis 7.0's verbatim errors) and rendering of NODES /
//! INFO / SLOTS / SHARDS / REPLICAS from a metadata table.
//!
//! Parsing needs no state; the few checks Redis interleaves with state lookups (slot lists) are split so that the
//! same error wins as in Redis: see [`SlotArgs`].

mod keyslot;
mod render;

use bytes::Bytes;

pub use keyslot::{crc16, key_slot};
pub use render::{render_info, render_node_line, render_nodes, render_replicas, render_shards, render_slots, View};

use crate::meta::{NodeId, Slot, SlotSpan, SLOT_COUNT};
use crate::resp::Reply;

/// A parsed `CLUSTER ...` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterRequest {
    /// `MEET ip port [bus-port] [node-id]` (the trailing 40-hex node id is AiKv's extension).
    Meet {
        ip: String,
        port: u16,
        bus_port: u16,
        node_id: Option<NodeId>,
    },
    Forget(NodeArg),
    /// ADDSLOTS / ADDSLOTSRANGE / DELSLOTS / DELSLOTSRANGE.
    Slots {
        delete: bool,
        args: SlotArgs,
    },
    Replicate(NodeArg),
    Replicas(NodeArg),
    CountFailureReports(NodeArg),
    Nodes,
    Info,
    SlotsMap,
    Shards,
    MyId,
    KeySlot(Bytes),
    CountKeysInSlot(Slot),
    GetKeysInSlot {
        slot: Slot,
        count: usize,
    },
    Reset {
        hard: bool,
    },
    SetConfigEpoch(u64),
    Help,
}

/// A node id argument as the user typed it: Redis echoes the raw text in `ERR Unknown node <arg>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeArg {
    pub raw: String,
    /// `None` when the text is not a valid id (it then names no node).
    pub id: Option<NodeId>,
}

impl NodeArg {
    fn parse(raw: &Bytes) -> Self {
        NodeArg { raw: String::from_utf8_lossy(raw).into_owned(), id: NodeId::parse(raw) }
    }

    pub fn unknown(&self) -> Reply {
        Reply::error(format!("ERR Unknown node {}", self.raw))
    }
}

/// The slot arguments of ADDSLOTS & co. Redis checks each argument in order — parse it, then check it against
/// the table — and stops at the first error. `spans` is the valid prefix; `error` the parse error that ended it.
/// The caller validates `spans` against the table first: if that fails, its error wins; otherwise `error` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotArgs {
    pub spans: Vec<SlotSpan>,
    pub error: Option<String>,
}

/// `ERR wrong number of arguments for 'cluster|<sub>' command`.
pub fn arity_error(sub: &str) -> Reply {
    Reply::error(format!("ERR wrong number of arguments for 'cluster|{sub}' command"))
}

fn syntax_error(sub_as_typed: &str) -> Reply {
    Reply::error(format!("ERR unknown subcommand or wrong number of arguments for '{sub_as_typed}'. Try CLUSTER HELP."))
}

const ERR_SLOT: &str = "ERR Invalid or out of range slot";
const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// Subcommands Redis 7.0 has that this node does not implement: answered with a clear error, not "unknown".
const UNSUPPORTED: &[&str] = &["setslot", "failover", "links", "bumpepoch", "flushslots", "saveconfig", "myshardid"];

/// The arity Redis declares for each subcommand (negative: at least that many, counting `CLUSTER` and the
/// subcommand itself).
fn declared_arity(sub: &str) -> Option<i32> {
    Some(match sub {
        "meet" | "addslotsrange" | "delslotsrange" => -4,
        "addslots" | "delslots" => -3,
        "forget"
        | "replicate"
        | "replicas"
        | "slaves"
        | "keyslot"
        | "countkeysinslot"
        | "set-config-epoch"
        | "count-failure-reports" => 3,
        "getkeysinslot" => 4,
        "nodes" | "info" | "slots" | "shards" | "myid" | "help" => 2,
        "reset" => -2,
        _ => return None,
    })
}

/// Parses the arguments after `CLUSTER` (the first is the subcommand).
pub fn parse(args: &[Bytes]) -> Result<ClusterRequest, Reply> {
    let Some(sub_raw) = args.first() else {
        return Err(Reply::error("ERR wrong number of arguments for 'cluster' command"));
    };
    let typed = String::from_utf8_lossy(sub_raw).into_owned();
    let sub = typed.to_ascii_lowercase();
    let argc = args.len() as i32 + 1;
    let Some(arity) = declared_arity(&sub) else {
        if UNSUPPORTED.contains(&sub.as_str()) {
            return Err(Reply::error(format!("ERR CLUSTER {} is not supported by this node", sub.to_uppercase())));
        }
        let shown: String = typed.chars().take(128).collect();
        return Err(Reply::error(format!("ERR unknown subcommand '{shown}'. Try CLUSTER HELP.")));
    };
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        return Err(arity_error(&sub));
    }
    let a = &args[1..];
    Ok(match sub.as_str() {
        "meet" => parse_meet(&typed, a)?,
        "forget" => ClusterRequest::Forget(NodeArg::parse(&a[0])),
        "replicate" => ClusterRequest::Replicate(NodeArg::parse(&a[0])),
        "replicas" | "slaves" => ClusterRequest::Replicas(NodeArg::parse(&a[0])),
        "count-failure-reports" => ClusterRequest::CountFailureReports(NodeArg::parse(&a[0])),
        "addslots" | "delslots" => ClusterRequest::Slots { delete: sub == "delslots", args: parse_slot_list(a) },
        "addslotsrange" | "delslotsrange" => {
            if a.len() % 2 != 0 {
                return Err(arity_error(&sub));
            }
            ClusterRequest::Slots { delete: sub == "delslotsrange", args: parse_slot_ranges(a) }
        }
        "nodes" => ClusterRequest::Nodes,
        "info" => ClusterRequest::Info,
        "slots" => ClusterRequest::SlotsMap,
        "shards" => ClusterRequest::Shards,
        "myid" => ClusterRequest::MyId,
        "help" => ClusterRequest::Help,
        "keyslot" => ClusterRequest::KeySlot(a[0].clone()),
        "countkeysinslot" => {
            let n = parse_i64(&a[0]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
            if !(0..i64::from(SLOT_COUNT)).contains(&n) {
                return Err(Reply::error("ERR Invalid slot"));
            }
            ClusterRequest::CountKeysInSlot(n as Slot)
        }
        "getkeysinslot" => {
            let slot = parse_i64(&a[0]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
            let count = parse_i64(&a[1]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
            if !(0..i64::from(SLOT_COUNT)).contains(&slot) || count < 0 {
                return Err(Reply::error("ERR Invalid slot or number of keys"));
            }
            ClusterRequest::GetKeysInSlot { slot: slot as Slot, count: usize::try_from(count).unwrap_or(usize::MAX) }
        }
        "reset" => match a {
            [] => ClusterRequest::Reset { hard: false },
            [mode] if mode.eq_ignore_ascii_case(b"soft") => ClusterRequest::Reset { hard: false },
            [mode] if mode.eq_ignore_ascii_case(b"hard") => ClusterRequest::Reset { hard: true },
            [_] => return Err(Reply::error("ERR syntax error")),
            _ => return Err(syntax_error(&typed)),
        },
        "set-config-epoch" => {
            let n = parse_i64(&a[0]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
            if n < 0 {
                return Err(Reply::error(format!("ERR Invalid config epoch specified: {n}")));
            }
            ClusterRequest::SetConfigEpoch(n as u64)
        }
        _ => unreachable!("every subcommand with an arity is handled above"),
    })
}

fn parse_meet(typed: &str, a: &[Bytes]) -> Result<ClusterRequest, Reply> {
    // a = ip port [bus-port] [node-id]; a 40-hex last argument is the node id (AiKv's form).
    let (rest, node_id) = match a.split_last() {
        Some((last, rest)) if a.len() >= 3 && NodeId::parse(last).is_some() => (rest, NodeId::parse(last)),
        _ => (a, None),
    };
    if rest.len() > 3 {
        return Err(syntax_error(typed));
    }
    let ip_text = String::from_utf8_lossy(&rest[0]).into_owned();
    let port_text = String::from_utf8_lossy(&rest[1]).into_owned();
    let port =
        parse_i64(&rest[1]).ok_or_else(|| Reply::error(format!("ERR Invalid TCP base port specified: {port_text}")))?;
    let bus_port = match rest.get(2) {
        Some(raw) => parse_i64(raw).ok_or_else(|| {
            Reply::error(format!("ERR Invalid TCP bus port specified: {}", String::from_utf8_lossy(raw)))
        })?,
        None => port + 10000,
    };
    let valid_ip = ip_text.parse::<std::net::IpAddr>().is_ok();
    let in_range = |p: i64| (1..=65535).contains(&p);
    if !valid_ip || !in_range(port) || !in_range(bus_port) {
        return Err(Reply::error(format!("ERR Invalid node address specified: {ip_text}:{port_text}")));
    }
    Ok(ClusterRequest::Meet { ip: ip_text, port: port as u16, bus_port: bus_port as u16, node_id })
}

/// Redis's `getSlotOrReply`: an integer in `0..16384`.
fn parse_slot(raw: &Bytes) -> Result<Slot, String> {
    match parse_i64(raw) {
        Some(n) if (0..i64::from(SLOT_COUNT)).contains(&n) => Ok(n as Slot),
        _ => Err(ERR_SLOT.to_string()),
    }
}

fn parse_slot_list(a: &[Bytes]) -> SlotArgs {
    let mut spans = Vec::with_capacity(a.len());
    for raw in a {
        match parse_slot(raw) {
            Ok(s) => spans.push(SlotSpan::one(s)),
            Err(error) => return SlotArgs { spans, error: Some(error) },
        }
    }
    SlotArgs { spans, error: None }
}

fn parse_slot_ranges(a: &[Bytes]) -> SlotArgs {
    let mut spans = Vec::with_capacity(a.len() / 2);
    for pair in a.chunks_exact(2) {
        let parsed = parse_slot(&pair[0]).and_then(|start| Ok((start, parse_slot(&pair[1])?)));
        match parsed {
            Ok((start, end)) if start > end => {
                let error = format!("ERR start slot number {start} is greater than end slot number {end}");
                return SlotArgs { spans, error: Some(error) };
            }
            Ok((start, end)) => spans.push(SlotSpan::range(start, end)),
            Err(error) => return SlotArgs { spans, error: Some(error) },
        }
    }
    SlotArgs { spans, error: None }
}

/// Redis's `string2ll`: optional `-`, decimal digits, no spaces, no `+`, fits in i64.
pub fn parse_i64(raw: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(raw).ok()?;
    if text.is_empty() || text.starts_with('+') || text.len() > 20 {
        return None;
    }
    if text.len() > 1 && (text.starts_with('0') || text.starts_with("-0")) {
        return None;
    }
    text.parse().ok()
}

/// The lines of `CLUSTER HELP`.
pub fn help() -> Reply {
    const LINES: &[&str] = &[
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ADDSLOTS <slot> [<slot> ...]",
        "    Assign slots to current node.",
        "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Assign slots which are between <start-slot> and <end-slot> to current node.",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "COUNT-FAILURE-REPORTS <node-id>",
        "    Return number of failure reports for <node-id>.",
        "DELSLOTS <slot> [<slot> ...]",
        "    Delete slots information from current node.",
        "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
        "FORGET <node-id>",
        "    Remove a node from the cluster.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MEET <ip> <port> [<bus-port>] [<node-id>]",
        "    Connect nodes into a working cluster.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICATE <node-id>",
        "    Configure current node as replica to <node-id>.",
        "RESET [HARD|SOFT]",
        "    Reset current node (default: soft).",
        "SET-CONFIG-EPOCH <epoch>",
        "    Set config epoch of current node.",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "HELP",
        "    Print this help.",
    ];
    Reply::Array(LINES.iter().map(|l| Reply::Simple((*l).to_string())).collect())
}

#[cfg(test)]
mod tests;
