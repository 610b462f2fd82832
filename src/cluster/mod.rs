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
    /// `SETSLOT <slot> IMPORTING|MIGRATING <id> | STABLE | NODE <id>`. Redis refuses a replica before it parses
    /// the arguments, so a parse error is carried to the node (which knows whether it is a replica).
    SetSlot(Result<(Slot, SetSlotArg), Reply>),
    /// `FAILOVER [FORCE|TAKEOVER]`: `takeover` for TAKEOVER (FORCE and the default differ only in waiting for a
    /// healthy master, and this node has no failure detection).
    Failover {
        takeover: bool,
    },
    Help,
}

/// The action of a `CLUSTER SETSLOT`, its node argument as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetSlotArg {
    Migrating(NodeArg),
    Importing(NodeArg),
    Stable,
    Node(NodeArg),
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

/// The slot arguments of ADDSLOTS & co. and the parse error that ends them, in Redis 7.0's order. ADDSLOTS and
/// DELSLOTS parse every argument before they look at the table (`ADDSLOTS 1 2 16384` with slot 1 busy answers
/// `ERR Invalid or out of range slot`): a parse error leaves `spans` empty. The range forms check each pair in
/// order — parse it, then check it against the table — and stop at the first error: `spans` is the valid prefix
/// and `error` the parse error that ended it. The caller validates `spans` against the table first: if that
/// fails, its error wins; otherwise `error` does.
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

/// What Redis adds to a node's client port to get its cluster bus port when none is given
/// (`CLUSTER_PORT_INCR`).
pub const BUS_PORT_OFFSET: u16 = 10_000;

/// Redis's default cluster bus port: the client port + 10000 ([`BUS_PORT_OFFSET`]). `None` when that passes
/// 65535: Redis then refuses the address (`CLUSTER MEET ip 60000` answers `ERR Invalid node address specified`,
/// and a cluster node will not start on such a port), so a bus port must be given explicitly.
pub fn bus_port_of(port: u16) -> Option<u16> {
    port.checked_add(BUS_PORT_OFFSET)
}

const ERR_SLOT: &str = "ERR Invalid or out of range slot";
const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// Subcommands Redis 7.0 has that this node does not implement: answered with a clear error, not "unknown".
const UNSUPPORTED: &[&str] = &["links", "bumpepoch", "flushslots", "saveconfig", "myshardid"];

/// One CLUSTER subcommand this node implements: one row of [`SUBCOMMANDS`].
#[derive(Clone, Copy)]
pub struct Subcommand {
    /// Lowercase, as Redis matches it (case-insensitively) and names it in `'cluster|<name>'` errors.
    pub name: &'static str,
    /// Redis's convention, counting `CLUSTER` and the subcommand: positive = exactly that many arguments,
    /// negative = at least that many.
    pub arity: i32,
    /// Turns the arguments (arity already checked) into a request, or answers Redis's error for them.
    parse: fn(&Call<'_>) -> Result<ClusterRequest, Reply>,
    /// Its lines in `CLUSTER HELP`: the usage, then the indented description. Empty for an alias.
    pub help: &'static [&'static str],
}

impl Subcommand {
    /// Whether `argc` arguments (counting `CLUSTER` and the subcommand) satisfy the declared arity.
    pub fn accepts(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity > 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }
}

impl std::fmt::Debug for Subcommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subcommand").field("name", &self.name).field("arity", &self.arity).finish_non_exhaustive()
    }
}

/// What a row's parser sees: the subcommand as the user typed it (Redis echoes it in some errors), the row's
/// name, and the arguments after the subcommand.
struct Call<'a> {
    typed: &'a str,
    name: &'static str,
    args: &'a [Bytes],
}

impl Call<'_> {
    fn node_arg(&self) -> NodeArg {
        NodeArg::parse(&self.args[0])
    }
}

const fn row(
    name: &'static str,
    arity: i32,
    parse: fn(&Call<'_>) -> Result<ClusterRequest, Reply>,
    help: &'static [&'static str],
) -> Subcommand {
    Subcommand { name, arity, parse, help }
}

/// Every CLUSTER subcommand this node implements, in `CLUSTER HELP` order (Redis 7.0's). Arity errors, the
/// unknown-subcommand error and `CLUSTER HELP` all derive from it; a new subcommand is one row here (and, if it
/// needs one, a [`ClusterRequest`] variant, which the server's exhaustive `match` then asks to execute).
pub const SUBCOMMANDS: &[Subcommand] = &[
    row(
        "addslots",
        -3,
        |c| Ok(slots(false, parse_slot_list(c.args))),
        &["ADDSLOTS <slot> [<slot> ...]", "    Assign slots to current node."],
    ),
    row(
        "addslotsrange",
        -4,
        |c| Ok(slots(false, parse_slot_ranges(c)?)),
        &[
            "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Assign slots which are between <start-slot> and <end-slot> to current node.",
        ],
    ),
    row(
        "countkeysinslot",
        3,
        parse_count_keys_in_slot,
        &["COUNTKEYSINSLOT <slot>", "    Return the number of keys in <slot>."],
    ),
    row(
        "count-failure-reports",
        3,
        |c| Ok(ClusterRequest::CountFailureReports(c.node_arg())),
        &["COUNT-FAILURE-REPORTS <node-id>", "    Return number of failure reports for <node-id>."],
    ),
    row(
        "delslots",
        -3,
        |c| Ok(slots(true, parse_slot_list(c.args))),
        &["DELSLOTS <slot> [<slot> ...]", "    Delete slots information from current node."],
    ),
    row(
        "delslotsrange",
        -4,
        |c| Ok(slots(true, parse_slot_ranges(c)?)),
        &[
            "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
        ],
    ),
    row(
        "failover",
        -2,
        parse_failover,
        &["FAILOVER [FORCE|TAKEOVER]", "    Promote current replica node to being a master."],
    ),
    row(
        "forget",
        3,
        |c| Ok(ClusterRequest::Forget(c.node_arg())),
        &["FORGET <node-id>", "    Remove a node from the cluster."],
    ),
    row(
        "getkeysinslot",
        4,
        parse_get_keys_in_slot,
        &["GETKEYSINSLOT <slot> <count>", "    Return key names stored by current node in a slot."],
    ),
    row("info", 2, |_| Ok(ClusterRequest::Info), &["INFO", "    Return information about the cluster."]),
    row(
        "keyslot",
        3,
        |c| Ok(ClusterRequest::KeySlot(c.args[0].clone())),
        &["KEYSLOT <key>", "    Return the hash slot for <key>."],
    ),
    row(
        "meet",
        -4,
        parse_meet,
        &["MEET <ip> <port> [<bus-port>] [<node-id>]", "    Connect nodes into a working cluster."],
    ),
    row("myid", 2, |_| Ok(ClusterRequest::MyId), &["MYID", "    Return the node id."]),
    row(
        "nodes",
        2,
        |_| Ok(ClusterRequest::Nodes),
        &[
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        ],
    ),
    row(
        "replicate",
        3,
        |c| Ok(ClusterRequest::Replicate(c.node_arg())),
        &["REPLICATE <node-id>", "    Configure current node as replica to <node-id>."],
    ),
    row("reset", -2, parse_reset, &["RESET [HARD|SOFT]", "    Reset current node (default: soft)."]),
    row(
        "set-config-epoch",
        3,
        parse_set_config_epoch,
        &["SET-CONFIG-EPOCH <epoch>", "    Set config epoch of current node."],
    ),
    row(
        "setslot",
        -4,
        |c| Ok(ClusterRequest::SetSlot(parse_set_slot(c.args))),
        &["SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)", "    Set slot state."],
    ),
    row(
        "shards",
        2,
        |_| Ok(ClusterRequest::Shards),
        &["SHARDS", "    Return information about slot range mappings and the nodes associated with them."],
    ),
    row(
        "replicas",
        3,
        |c| Ok(ClusterRequest::Replicas(c.node_arg())),
        &["REPLICAS <node-id>", "    Return <node-id> replicas."],
    ),
    // Redis's old name for REPLICAS; its help shows only the new one.
    row("slaves", 3, |c| Ok(ClusterRequest::Replicas(c.node_arg())), &[]),
    row(
        "slots",
        2,
        |_| Ok(ClusterRequest::SlotsMap),
        &[
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
        ],
    ),
    row("help", 2, |_| Ok(ClusterRequest::Help), &["HELP", "    Print this help."]),
];

/// The row of `name` (lowercase), if this node implements that subcommand.
pub fn subcommand(name: &str) -> Option<&'static Subcommand> {
    SUBCOMMANDS.iter().find(|s| s.name == name)
}

/// Parses the arguments after `CLUSTER` (the first is the subcommand): finds its row, checks its arity, then
/// runs its parser.
pub fn parse(args: &[Bytes]) -> Result<ClusterRequest, Reply> {
    let Some((sub_raw, rest)) = args.split_first() else {
        return Err(Reply::error("ERR wrong number of arguments for 'cluster' command"));
    };
    let typed = String::from_utf8_lossy(sub_raw).into_owned();
    let name = typed.to_ascii_lowercase();
    let Some(row) = subcommand(&name) else {
        return Err(unknown_subcommand(&typed, &name));
    };
    if !row.accepts(args.len() + 1) {
        return Err(arity_error(row.name));
    }
    (row.parse)(&Call { typed: &typed, name: row.name, args: rest })
}

/// `ERR unknown subcommand '<typed>'. Try CLUSTER HELP.` (the name cut at 128 characters, as Redis does), or
/// this node's "not supported" error for a subcommand Redis has and this node lacks.
fn unknown_subcommand(typed: &str, name: &str) -> Reply {
    if UNSUPPORTED.contains(&name) {
        return Reply::error(format!("ERR CLUSTER {} is not supported by this node", name.to_uppercase()));
    }
    let shown: String = typed.chars().take(128).collect();
    Reply::error(format!("ERR unknown subcommand '{shown}'. Try CLUSTER HELP."))
}

fn slots(delete: bool, args: SlotArgs) -> ClusterRequest {
    ClusterRequest::Slots { delete, args }
}

fn parse_count_keys_in_slot(c: &Call<'_>) -> Result<ClusterRequest, Reply> {
    let n = parse_i64(&c.args[0]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
    if !(0..i64::from(SLOT_COUNT)).contains(&n) {
        return Err(Reply::error("ERR Invalid slot"));
    }
    Ok(ClusterRequest::CountKeysInSlot(n as Slot))
}

fn parse_get_keys_in_slot(c: &Call<'_>) -> Result<ClusterRequest, Reply> {
    let slot = parse_i64(&c.args[0]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
    let count = parse_i64(&c.args[1]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
    if !(0..i64::from(SLOT_COUNT)).contains(&slot) || count < 0 {
        return Err(Reply::error("ERR Invalid slot or number of keys"));
    }
    Ok(ClusterRequest::GetKeysInSlot { slot: slot as Slot, count: usize::try_from(count).unwrap_or(usize::MAX) })
}

fn parse_reset(c: &Call<'_>) -> Result<ClusterRequest, Reply> {
    match c.args {
        [] => Ok(ClusterRequest::Reset { hard: false }),
        [mode] if mode.eq_ignore_ascii_case(b"soft") => Ok(ClusterRequest::Reset { hard: false }),
        [mode] if mode.eq_ignore_ascii_case(b"hard") => Ok(ClusterRequest::Reset { hard: true }),
        [_] => Err(Reply::error("ERR syntax error")),
        _ => Err(syntax_error(c.typed)),
    }
}

fn parse_failover(c: &Call<'_>) -> Result<ClusterRequest, Reply> {
    match c.args {
        [] => Ok(ClusterRequest::Failover { takeover: false }),
        [mode] if mode.eq_ignore_ascii_case(b"force") => Ok(ClusterRequest::Failover { takeover: false }),
        [mode] if mode.eq_ignore_ascii_case(b"takeover") => Ok(ClusterRequest::Failover { takeover: true }),
        [_] => Err(Reply::error("ERR syntax error")),
        _ => Err(syntax_error(c.typed)),
    }
}

fn parse_set_slot(a: &[Bytes]) -> Result<(Slot, SetSlotArg), Reply> {
    let slot = parse_slot(&a[0]).map_err(Reply::error)?;
    let action = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    let arg = match (action.as_str(), &a[2..]) {
        ("migrating", [id]) => SetSlotArg::Migrating(NodeArg::parse(id)),
        ("importing", [id]) => SetSlotArg::Importing(NodeArg::parse(id)),
        ("stable", []) => SetSlotArg::Stable,
        ("node", [id]) => SetSlotArg::Node(NodeArg::parse(id)),
        _ => return Err(Reply::error("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")),
    };
    Ok((slot, arg))
}

fn parse_set_config_epoch(c: &Call<'_>) -> Result<ClusterRequest, Reply> {
    let n = parse_i64(&c.args[0]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
    if n < 0 {
        return Err(Reply::error(format!("ERR Invalid config epoch specified: {n}")));
    }
    Ok(ClusterRequest::SetConfigEpoch(n as u64))
}

/// `MEET ip port [bus-port] [node-id]`: a 40-hex last argument is the node id (AiKv's form). Without a bus
/// port, Redis's rule ([`bus_port_of`]) gives it; a port with no room for it is an invalid address, as in Redis.
fn parse_meet(c: &Call<'_>) -> Result<ClusterRequest, Reply> {
    let a = c.args;
    let (rest, node_id) = match a.split_last() {
        Some((last, rest)) if a.len() >= 3 && NodeId::parse(last).is_some() => (rest, NodeId::parse(last)),
        _ => (a, None),
    };
    if rest.len() > 3 {
        return Err(syntax_error(c.typed));
    }
    let ip_text = String::from_utf8_lossy(&rest[0]).into_owned();
    let port_text = String::from_utf8_lossy(&rest[1]).into_owned();
    let port =
        parse_i64(&rest[1]).ok_or_else(|| Reply::error(format!("ERR Invalid TCP base port specified: {port_text}")))?;
    let bus_port = match rest.get(2) {
        Some(raw) => Some(parse_i64(raw).ok_or_else(|| {
            Reply::error(format!("ERR Invalid TCP bus port specified: {}", String::from_utf8_lossy(raw)))
        })?),
        None => u16::try_from(port).ok().and_then(bus_port_of).map(i64::from),
    };
    let valid_ip = ip_text.parse::<std::net::IpAddr>().is_ok();
    let valid_port = |p: i64| u16::try_from(p).ok().filter(|&p| p != 0);
    match (valid_ip, valid_port(port), bus_port.and_then(valid_port)) {
        (true, Some(port), Some(bus_port)) => Ok(ClusterRequest::Meet { ip: ip_text, port, bus_port, node_id }),
        _ => Err(Reply::error(format!("ERR Invalid node address specified: {ip_text}:{port_text}"))),
    }
}

/// Redis's `getSlotOrReply`: an integer in `0..16384`.
fn parse_slot(raw: &Bytes) -> Result<Slot, String> {
    // Every slot argument of an ADDSLOTS passes here: the common form first (one to five digits, no leading
    // zero), read in one pass; anything else by string2ll's full rules. Both agree (a property test holds them).
    if let Some(n) = short_decimal(raw) {
        return if n < u32::from(SLOT_COUNT) { Ok(n as Slot) } else { Err(ERR_SLOT.to_string()) };
    }
    match parse_i64(raw) {
        Some(n) if (0..i64::from(SLOT_COUNT)).contains(&n) => Ok(n as Slot),
        _ => Err(ERR_SLOT.to_string()),
    }
}

/// One to five digits without a leading zero, read in one pass; `None` for anything else (left to string2ll).
fn short_decimal(raw: &[u8]) -> Option<u32> {
    if raw.is_empty() || raw.len() > 5 || (raw[0] == b'0' && raw.len() > 1) {
        return None;
    }
    let mut n = 0u32;
    for &d in raw {
        let digit = d.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n * 10 + u32::from(digit);
    }
    Some(n)
}

/// Appends `span` to `spans`, folded into the last one when it follows it directly (`ADDSLOTS 0 1 2` is one span
/// `0..=2`: the same slots in the same argument order, so every check finds the same first error, and a command
/// of 5,461 single slots replicates as one span).
fn push_span(spans: &mut Vec<SlotSpan>, span: SlotSpan) {
    match spans.last_mut() {
        Some(last) if last.end.checked_add(1) == Some(span.start) => last.end = span.end,
        _ => spans.push(span),
    }
}

/// ADDSLOTS / DELSLOTS arguments: all parsed first, as Redis 7.0 does (see [`SlotArgs`]).
fn parse_slot_list(a: &[Bytes]) -> SlotArgs {
    let mut spans = Vec::new();
    for raw in a {
        match parse_slot(raw) {
            Ok(s) => push_span(&mut spans, SlotSpan::one(s)),
            Err(error) => return SlotArgs { spans: Vec::new(), error: Some(error) },
        }
    }
    SlotArgs { spans, error: None }
}

/// ADDSLOTSRANGE / DELSLOTSRANGE arguments: pairs of slots, or Redis's arity error for an odd count.
fn parse_slot_ranges(c: &Call<'_>) -> Result<SlotArgs, Reply> {
    if c.args.len() % 2 != 0 {
        return Err(arity_error(c.name));
    }
    let mut spans = Vec::new();
    for pair in c.args.chunks_exact(2) {
        let parsed = parse_slot(&pair[0]).and_then(|start| Ok((start, parse_slot(&pair[1])?)));
        match parsed {
            Ok((start, end)) if start > end => {
                let error = format!("ERR start slot number {start} is greater than end slot number {end}");
                return Ok(SlotArgs { spans, error: Some(error) });
            }
            Ok((start, end)) => push_span(&mut spans, SlotSpan::range(start, end)),
            Err(error) => return Ok(SlotArgs { spans, error: Some(error) }),
        }
    }
    Ok(SlotArgs { spans, error: None })
}

/// Redis's `string2ll`: optional `-`, decimal digits, no spaces, no `+`, fits in i64, and no leading zero ("0"
/// alone is zero; "-0", "05", "-05" are refused). On the bytes: every slot argument of an ADDSLOTS passes here.
pub fn parse_i64(raw: &[u8]) -> Option<i64> {
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    if raw.len() > 20 || (digits.first() == Some(&b'0') && raw.len() > 1) {
        return None;
    }
    crate::resp::decimal_i64(raw)
}

/// `CLUSTER HELP`: a header, then the help lines of every row of [`SUBCOMMANDS`] in order.
pub fn help() -> Reply {
    const HEADER: &str = "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:";
    let lines = std::iter::once(HEADER).chain(SUBCOMMANDS.iter().flat_map(|s| s.help.iter().copied()));
    Reply::Array(lines.map(|l| Reply::Simple(l.to_string())).collect())
}

#[cfg(test)]
mod tests;
