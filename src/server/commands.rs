//! Command dispatch: connection commands, CLUSTER, and the slot-routed data commands.

use bytes::Bytes;

use super::{bus, dump, Node, Session};
use crate::cluster::{self, ClusterRequest, NodeArg, SetSlotArg, SlotArgs};
use crate::meta::{Command, MetaError, NodeId, NodeInfo, SetSlotAction, Slot};
use crate::resp::{Protocol, Reply};

/// The Redis version this node reports (the one its formats and errors follow).
pub const REDIS_VERSION: &str = "7.0.15";

pub(crate) async fn dispatch(node: &Node, session: &mut Session, args: Vec<Bytes>) -> Reply {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let Some(spec) = COMMANDS.iter().find(|c| c.name == name) else {
        return unknown_command(&args);
    };
    let argc = args.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || (spec.arity < 0 && argc < -spec.arity) {
        return Reply::error(format!("ERR wrong number of arguments for '{name}' command"));
    }
    let a = &args[1..];
    // ASKING holds for the one command after it (Redis's resetClient clears the flag after any other command).
    let asking = std::mem::take(&mut session.asking);
    match name.as_str() {
        "ping" => match a {
            [] => Reply::Simple("PONG".into()),
            [msg] => Reply::Bulk(msg.clone()),
            _ => Reply::error("ERR wrong number of arguments for 'ping' command"),
        },
        "echo" => Reply::Bulk(a[0].clone()),
        "quit" => {
            session.close_after_reply = true;
            Reply::ok()
        }
        "hello" => hello(node, session, a),
        "client" => client(session, a),
        "command" => command(a),
        "info" => Reply::Verbatim(info(node)),
        "dbsize" => Reply::Int(node.key_count() as i64),
        "select" => match cluster::parse_i64(&a[0]) {
            Some(0) => Reply::ok(),
            Some(_) => Reply::error("ERR SELECT is not allowed in cluster mode"),
            None => Reply::error("ERR value is not an integer or out of range"),
        },
        // Redis answers OK and records a flag: READONLY lets a replica serve reads of its master's slots. This
        // node serves no reads on replicas, so no reply depends on it and it is not kept.
        "readonly" | "readwrite" => Reply::ok(),
        "asking" => {
            session.asking = true;
            Reply::ok()
        }
        "cluster" => match cluster::parse(a) {
            Ok(request) => cluster_command(node, request).await,
            Err(reply) => reply,
        },
        "get" | "set" | "del" | "exists" | "dump" | "restore" | "restore-asking" => {
            let _gate = node.key_gate.lock().await;
            data_command(node, &name, a, asking || name == "restore-asking")
        }
        "migrate" => migrate(node, a, asking).await,
        _ => unreachable!("every command of the table is dispatched"),
    }
}

struct CommandSpec {
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    first_key: i64,
    last_key: i64,
    step: i64,
}

const fn spec(name: &'static str, arity: i32, flags: &'static [&'static str], keys: (i64, i64, i64)) -> CommandSpec {
    CommandSpec { name, arity, flags, first_key: keys.0, last_key: keys.1, step: keys.2 }
}

/// Every command this node answers, with the metadata `COMMAND` reports (clients route by the key positions).
const COMMANDS: &[CommandSpec] = &[
    spec("get", 2, &["readonly", "fast"], (1, 1, 1)),
    spec("set", -3, &["write", "denyoom"], (1, 1, 1)),
    spec("del", -2, &["write"], (1, -1, 1)),
    spec("exists", -2, &["readonly", "fast"], (1, -1, 1)),
    spec("dump", 2, &["readonly"], (1, 1, 1)),
    spec("restore", -4, &["write", "denyoom"], (1, 1, 1)),
    spec("restore-asking", -4, &["write", "denyoom", "asking"], (1, 1, 1)),
    spec("migrate", -6, &["write", "movablekeys"], (3, 3, 1)),
    spec("ping", -1, &["fast", "stale"], (0, 0, 0)),
    spec("echo", 2, &["fast"], (0, 0, 0)),
    spec("quit", -1, &["fast", "noscript", "loading", "stale"], (0, 0, 0)),
    spec("hello", -1, &["noscript", "loading", "stale", "fast", "no_auth"], (0, 0, 0)),
    spec("client", -2, &["noscript", "loading", "stale"], (0, 0, 0)),
    spec("command", -1, &["loading", "stale"], (0, 0, 0)),
    spec("info", -1, &["loading", "stale"], (0, 0, 0)),
    spec("dbsize", 1, &["readonly", "fast"], (0, 0, 0)),
    spec("select", 2, &["loading", "stale", "fast"], (0, 0, 0)),
    spec("readonly", 1, &["loading", "stale", "fast"], (0, 0, 0)),
    spec("readwrite", 1, &["loading", "stale", "fast"], (0, 0, 0)),
    spec("asking", 1, &["fast"], (0, 0, 0)),
    spec("cluster", -2, &[], (0, 0, 0)),
];

fn command_entry(c: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk_str(c.name),
        Reply::Int(i64::from(c.arity)),
        Reply::Array(c.flags.iter().map(|f| Reply::Simple((*f).to_string())).collect()),
        Reply::Int(c.first_key),
        Reply::Int(c.last_key),
        Reply::Int(c.step),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

fn command(a: &[Bytes]) -> Reply {
    let Some(sub) = a.first() else {
        return Reply::Array(COMMANDS.iter().map(command_entry).collect());
    };
    match String::from_utf8_lossy(sub).to_ascii_lowercase().as_str() {
        "count" => Reply::Int(COMMANDS.len() as i64),
        "info" => Reply::Array(
            a[1..]
                .iter()
                .map(|n| {
                    let n = String::from_utf8_lossy(n).to_ascii_lowercase();
                    COMMANDS.iter().find(|c| c.name == n).map_or(Reply::Null, command_entry)
                })
                .collect(),
        ),
        "docs" => Reply::Map(vec![]),
        "list" => Reply::Array(COMMANDS.iter().map(|c| Reply::bulk_str(c.name)).collect()),
        other => Reply::error(format!("ERR unknown subcommand '{other}'. Try COMMAND HELP.")),
    }
}

fn unknown_command(args: &[Bytes]) -> Reply {
    let name: String = String::from_utf8_lossy(&args[0]).chars().take(128).collect();
    let mut tail = String::new();
    for arg in &args[1..] {
        if tail.len() >= 128 {
            break;
        }
        let arg: String = String::from_utf8_lossy(arg).chars().take(128 - tail.len()).collect();
        tail.push_str(&format!("'{arg}' "));
    }
    Reply::error(format!("ERR unknown command '{name}', with args beginning with: {tail}"))
}

fn hello(node: &Node, session: &mut Session, a: &[Bytes]) -> Reply {
    let mut rest = a;
    if let Some((version, tail)) = a.split_first() {
        match cluster::parse_i64(version) {
            Some(2) => session.protocol = Protocol::Resp2,
            Some(3) => session.protocol = Protocol::Resp3,
            Some(_) => return Reply::error("NOPROTO unsupported protocol version"),
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        }
        rest = tail;
    }
    // AUTH user pass / SETNAME name: no ACLs here, so both are accepted.
    while let Some(opt) = rest.first() {
        let n = if opt.eq_ignore_ascii_case(b"auth") {
            3
        } else if opt.eq_ignore_ascii_case(b"setname") {
            2
        } else {
            return Reply::error(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(opt)));
        };
        if rest.len() < n {
            return Reply::error(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(opt)));
        }
        rest = &rest[n..];
    }
    let role = node.meta.read_local(|s| s.node(&node.id()).is_some_and(|me| !me.is_master()));
    let field = |k: &str, v: Reply| (Reply::bulk_str(k), v);
    Reply::Map(vec![
        field("server", Reply::bulk_str("redis")),
        field("version", Reply::bulk_str(REDIS_VERSION)),
        field("proto", Reply::Int(if session.protocol == Protocol::Resp3 { 3 } else { 2 })),
        field("id", Reply::Int(session.id as i64)),
        field("mode", Reply::bulk_str("cluster")),
        field("role", Reply::bulk_str(if role { "replica" } else { "master" })),
        field("modules", Reply::Array(vec![])),
    ])
}

fn client(session: &Session, a: &[Bytes]) -> Reply {
    match String::from_utf8_lossy(&a[0]).to_ascii_lowercase().as_str() {
        "setinfo" | "setname" => Reply::ok(),
        "getname" => Reply::Null,
        "id" => Reply::Int(session.id as i64),
        other => Reply::error(format!("ERR unknown subcommand '{other}'. Try CLIENT HELP.")),
    }
}

fn info(node: &Node) -> String {
    let keys = node.key_count();
    let (role, known) =
        node.meta.read_local(|s| (s.node(&node.id()).is_some_and(|me| !me.is_master()), s.node_count()));
    let mut out = format!(
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:cluster\r\nrun_id:{id}\r\ntcp_port:{port}\r\n\
         clustersim_strategy:{strategy}\r\n\r\n# Replication\r\nrole:{role}\r\n\r\n# Cluster\r\ncluster_enabled:1\r\n\
         cluster_known_nodes:{known}\r\n\r\n# Keyspace\r\n",
        id = node.id(),
        port = node.config.port,
        strategy = node.config.strategy,
        role = if role { "slave" } else { "master" },
    );
    if keys > 0 {
        out.push_str(&format!("db0:keys={keys},expires=0,avg_ttl=0\r\n"));
    }
    if let Some((role, leader)) = node.meta.raft_role() {
        // Not Redis: this node's Raft role and the leader it knows (`-` if none), for tests and scenarios.
        out.push_str(&format!("\r\n# Raft\r\nclustersim_raft_role:{role}\r\nclustersim_raft_leader:{leader}\r\n"));
    }
    out
}

fn meta_error(e: MetaError) -> Reply {
    Reply::error(e.to_string())
}

/// Executes a parsed CLUSTER request (the parsing, arity and help come from `cluster::SUBCOMMANDS`).
async fn cluster_command(node: &Node, request: ClusterRequest) -> Reply {
    let me = node.id();
    match request {
        ClusterRequest::Meet { ip, port, bus_port, node_id } => meet(node, ip, port, bus_port, node_id).await,
        ClusterRequest::Forget(arg) => forget(node, arg).await,
        ClusterRequest::Slots { delete, args } => slots(node, delete, args).await,
        ClusterRequest::Replicate(arg) => replicate(node, arg).await,
        ClusterRequest::Replicas(arg) => replicas(node, arg).await,
        ClusterRequest::CountFailureReports(arg) => match arg.id {
            Some(id) if node.meta.read_local(|s| s.contains(&id)) => Reply::Int(0),
            _ => arg.unknown(),
        },
        ClusterRequest::Nodes => flatten(node.meta.read(|v| Reply::Verbatim(cluster::render_nodes(v))).await),
        ClusterRequest::Info => flatten(node.meta.read(|v| Reply::Verbatim(cluster::render_info(v))).await),
        ClusterRequest::SlotsMap => flatten(node.meta.read(cluster::render_slots).await),
        ClusterRequest::Shards => flatten(node.meta.read(cluster::render_shards).await),
        ClusterRequest::MyId => Reply::bulk(me.to_string()),
        ClusterRequest::KeySlot(key) => Reply::Int(i64::from(cluster::key_slot(&key))),
        ClusterRequest::CountKeysInSlot(slot) => Reply::Int(keys_in_slot(node, slot, usize::MAX).len() as i64),
        ClusterRequest::GetKeysInSlot { slot, count } => {
            Reply::Array(keys_in_slot(node, slot, count).into_iter().map(Reply::Bulk).collect())
        }
        ClusterRequest::Reset { hard } => reset(node, hard).await,
        ClusterRequest::SetSlot(parsed) => set_slot(node, parsed).await,
        ClusterRequest::Failover { takeover } => {
            ok_or_error(node.meta.write(Command::Failover { node: me, takeover }).await)
        }
        ClusterRequest::SetConfigEpoch(epoch) => {
            ok_or_error(node.meta.write(Command::SetConfigEpoch { node: me, epoch }).await)
        }
        ClusterRequest::Help => cluster::help(),
    }
}

async fn forget(node: &Node, arg: NodeArg) -> Reply {
    let me = node.id();
    match arg.id {
        None => arg.unknown(),
        // Another node's FORGET removed it from the shared table: Redis would still list it here, and forget it.
        Some(target) if node.meta.read_local(|s| s.forgotten_by_another(&target, &me)) => Reply::ok(),
        Some(target) if node.meta.behaviour().uses_raft => {
            // Validate against the local table first, so the usual errors come back at once.
            let check = node.meta.read_local(|s| s.clone().apply(&Command::Forget { by: me, target }));
            match check {
                Err(e) => meta_error(e),
                Ok(_) => node.meta.forget(target).await,
            }
        }
        Some(target) => ok_or_error(node.meta.write(Command::Forget { by: me, target }).await),
    }
}

/// ADDSLOTS & co.
async fn slots(node: &Node, delete: bool, args: SlotArgs) -> Reply {
    let me = node.id();
    if let Some(parse_error) = args.error {
        // The range forms check each pair against the table before parsing the next: a state error in the
        // valid prefix comes first (ADDSLOTS / DELSLOTS keep no prefix: they parse every argument first).
        return match node.meta.read_local(|s| s.check_slot_spans(&args.spans, delete)) {
            Err(e) => meta_error(e),
            Ok(()) => Reply::error(parse_error),
        };
    }
    let command = if delete {
        Command::DelSlots { node: me, spans: args.spans }
    } else {
        Command::AddSlots { node: me, spans: args.spans }
    };
    ok_or_error(node.meta.write(command).await)
}

async fn replicate(node: &Node, arg: NodeArg) -> Reply {
    let me = node.id();
    let Some(master) = arg.id else { return arg.unknown() };
    let command = Command::Replicate { node: me, master };
    if node.key_count() > 0 {
        // Keys are not metadata: the last of Redis's checks is made here, after the table's own.
        let dry_run = node.meta.read_local(|s| {
            let mut copy = s.clone();
            let am_master = s.node(&me).is_some_and(NodeInfo::is_master);
            copy.apply(&command).map(|_| am_master)
        });
        match dry_run {
            Err(e) => return meta_error(e),
            Ok(true) => return meta_error(MetaError::MasterNotEmpty),
            Ok(false) => {}
        }
    }
    ok_or_error(node.meta.write(command).await)
}

async fn replicas(node: &Node, arg: NodeArg) -> Reply {
    let Some(master) = arg.id else { return arg.unknown() };
    flatten(
        node.meta
            .read(|v| match v.state.node(&master) {
                None => arg.unknown(),
                Some(n) if !n.is_master() => Reply::error("ERR The specified node is not a master"),
                Some(_) => cluster::render_replicas(v, &master),
            })
            .await,
    )
}

fn ok_or_error<T>(result: Result<T, Reply>) -> Reply {
    match result {
        Ok(_) => Reply::ok(),
        Err(reply) => reply,
    }
}

fn flatten(result: Result<Reply, Reply>) -> Reply {
    result.unwrap_or_else(|reply| reply)
}

async fn meet(node: &Node, ip: String, port: u16, bus_port: u16, node_id: Option<NodeId>) -> Reply {
    if node.meta.behaviour().uses_raft {
        return node.meta.meet(ip, port, bus_port, node_id).await;
    }
    let (joining, slots) = match node_id {
        // AiKv's form: the id is given, nothing is asked of the peer.
        Some(id) => (NodeInfo::new(id, ip.clone(), port, bus_port), vec![]),
        None => match bus::hello(&ip, bus_port, node.config.bus_timeout_ms).await {
            Ok((mut peer, slots, _group)) => {
                peer.ip = ip.clone();
                peer.port = port;
                peer.bus_port = bus_port;
                (peer, slots)
            }
            Err(e) => {
                return Reply::error(format!(
                    "ERR Can't reach node {ip}:{port} on its cluster bus port {bus_port}: {e}"
                ))
            }
        },
    };
    let command =
        Command::Meet { receiver: node.id(), receiver_ip: node.config.ip.clone(), node: joining, slots, shown: vec![] };
    ok_or_error(node.meta.write(command).await)
}

async fn reset(node: &Node, hard: bool) -> Reply {
    let me = node.id();
    let is_master = node.meta.read_local(|s| s.node(&me).is_none_or(NodeInfo::is_master));
    if is_master && node.key_count() > 0 {
        return Reply::error("ERR CLUSTER RESET can't be called with master nodes containing keys");
    }
    if !is_master {
        node.data.lock().expect("data lock").clear();
    }
    if node.meta.behaviour().uses_raft {
        return node.meta.reset(hard).await;
    }
    let new_id = if hard { crate::raft::rt::random_node_id() } else { me };
    ok_or_error(node.meta.write(Command::Reset { node: me, hard, new_id }).await)
}

fn keys_in_slot(node: &Node, slot: Slot, count: usize) -> Vec<Bytes> {
    let data = node.data.lock().expect("data lock");
    data.keys().filter(|k| cluster::key_slot(k) == slot).take(count).cloned().collect()
}

/// Redis 7.0's `getNodeByQuery` for the keys of one command: `Ok` when this node serves it, or the redirect or
/// error to answer. A slot this node migrates serves the keys it still has (`-ASK` to the target when none is
/// here, `-TRYAGAIN` when some are); a slot it imports serves a client that sent ASKING (or RESTORE-ASKING).
fn route(node: &Node, keys: &[Bytes], asking: bool) -> Result<(), Reply> {
    let slot = cluster::key_slot(&keys[0]);
    let me = node.id();
    let (owner, migrating, importing) = node.meta.read_local(|s| {
        let owner = s.owner(slot);
        let migrating = if owner == Some(me) { s.migrating_to(&me, slot) } else { None };
        let importing = if migrating.is_none() { s.importing_from(&me, slot) } else { None };
        let addr = |id: NodeId| s.node(&id).map(|n| format!("{}:{}", n.ip, n.port));
        // The owner's address only when a MOVED may need it: most key commands are served here.
        (owner.map(|o| (o, if o == me { None } else { addr(o) })), migrating.map(addr), importing.is_some())
    });
    let Some((owner, owner_addr)) = owner else {
        return Err(Reply::error("CLUSTERDOWN Hash slot not served"));
    };
    if keys[1..].iter().any(|k| cluster::key_slot(k) != slot) {
        return Err(Reply::error("CROSSSLOT Keys in request don't hash to the same slot"));
    }
    let open = migrating.is_some() || importing;
    let (mut missing, mut existing) = (0, 0);
    if open {
        let data = node.data.lock().expect("data lock");
        missing = keys.iter().filter(|k| !data.contains_key(*k)).count();
        existing = keys.len() - missing;
    }
    let tryagain = || Reply::error("TRYAGAIN Multiple keys request during rehashing of slot");
    if let Some(target) = migrating {
        if missing > 0 {
            return match (existing, target) {
                (0, Some(addr)) => Err(Reply::error(format!("ASK {slot} {addr}"))),
                (0, None) => unreachable!("a migrating target is in the table (check_invariants)"),
                _ => Err(tryagain()),
            };
        }
    }
    if importing && asking {
        return if keys.len() > 1 && missing > 0 { Err(tryagain()) } else { Ok(()) };
    }
    if owner == me {
        return Ok(());
    }
    let addr = owner_addr.expect("slot owners are in the table");
    Err(Reply::error(format!("MOVED {slot} {addr}")))
}

fn data_command(node: &Node, name: &str, a: &[Bytes], asking: bool) -> Reply {
    let keys: &[Bytes] = match name {
        "del" | "exists" => a,
        _ => &a[..1],
    };
    if let Err(redirect) = route(node, keys, asking) {
        return redirect;
    }
    let mut data = node.data.lock().expect("data lock");
    match name {
        "get" => data.get(&a[0]).cloned().map_or(Reply::Null, Reply::Bulk),
        "set" => {
            if a.len() != 2 {
                return Reply::error("ERR syntax error");
            }
            data.insert(a[0].clone(), a[1].clone());
            Reply::ok()
        }
        "del" => Reply::Int(a.iter().filter(|k| data.remove(*k).is_some()).count() as i64),
        "exists" => Reply::Int(a.iter().filter(|k| data.contains_key(*k)).count() as i64),
        "dump" => data.get(&a[0]).map_or(Reply::Null, |v| Reply::bulk(dump::dump(v))),
        _ => restore(&mut data, a),
    }
}

/// RESTORE / RESTORE-ASKING `key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`, checked in Redis's order.
fn restore(data: &mut std::collections::BTreeMap<Bytes, Bytes>, a: &[Bytes]) -> Reply {
    let mut replace = false;
    let mut i = 3;
    while i < a.len() {
        let opt = String::from_utf8_lossy(&a[i]).to_ascii_lowercase();
        let value = a.get(i + 1).map(|v| cluster::parse_i64(v));
        match (opt.as_str(), value) {
            ("replace", _) => replace = true,
            ("absttl", _) => {}
            ("idletime" | "freq", Some(None)) => return Reply::error(ERR_NOT_INTEGER),
            ("idletime", Some(Some(n))) if n < 0 => return Reply::error("ERR Invalid IDLETIME value, must be >= 0"),
            ("freq", Some(Some(n))) if !(0..=255).contains(&n) => {
                return Reply::error("ERR Invalid FREQ value, must be >= 0 and <= 255")
            }
            ("idletime" | "freq", Some(Some(_))) => i += 1,
            _ => return Reply::error("ERR syntax error"),
        }
        i += 1;
    }
    if !replace && data.contains_key(&a[0]) {
        return Reply::error("BUSYKEY Target key name already exists.");
    }
    match cluster::parse_i64(&a[1]) {
        None => return Reply::error(ERR_NOT_INTEGER),
        Some(ttl) if ttl < 0 => return Reply::error("ERR Invalid TTL value, must be >= 0"),
        // Not Redis: this node keeps no expiry, so it refuses a key that would have one.
        Some(ttl) if ttl > 0 => return Reply::error("ERR this node keeps no key expiry: RESTORE with a TTL > 0"),
        Some(_) => {}
    }
    match dump::restore(&a[2]) {
        Ok(value) => {
            data.insert(a[0].clone(), value);
            Reply::ok()
        }
        Err(e) => Reply::error(e),
    }
}

/// The arguments of `MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw] [KEYS k...]`.
struct Migrate {
    addr: String,
    db: i64,
    timeout_ms: u64,
    copy: bool,
    replace: bool,
    auth: Vec<Bytes>,
    keys: Vec<Bytes>,
}

/// Parses MIGRATE's arguments in Redis's order: options, then timeout and db.
fn parse_migrate(a: &[Bytes]) -> Result<Migrate, Reply> {
    let syntax = || Reply::error("ERR syntax error");
    let (mut copy, mut replace, mut auth, mut keys) = (false, false, Vec::new(), vec![a[2].clone()]);
    let mut i = 5;
    while i < a.len() {
        let opt = &a[i];
        if opt.eq_ignore_ascii_case(b"copy") {
            copy = true;
        } else if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"auth") {
            auth = a.get(i + 1..i + 2).ok_or_else(syntax)?.to_vec();
            i += 1;
        } else if opt.eq_ignore_ascii_case(b"auth2") {
            auth = a.get(i + 1..i + 3).ok_or_else(syntax)?.to_vec();
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"keys") {
            if !a[2].is_empty() {
                return Err(Reply::error(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            keys = a[i + 1..].to_vec();
            break;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    let number = |raw: &Bytes| cluster::parse_i64(raw).ok_or_else(|| Reply::error(ERR_NOT_INTEGER));
    let timeout = number(&a[4])?;
    let db = number(&a[3])?;
    let addr = format!("{}:{}", String::from_utf8_lossy(&a[0]), String::from_utf8_lossy(&a[1]));
    let timeout_ms = if timeout <= 0 { 1000 } else { timeout as u64 };
    Ok(Migrate { addr, db, timeout_ms, copy, replace, auth, keys })
}

const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// MIGRATE: moves keys to another node with RESTORE-ASKING, as Redis 7.0's `migrateCommand` does (no socket
/// cache: one connection per call, so `SELECT db` opens every exchange). Key commands wait while it runs.
async fn migrate(node: &Node, a: &[Bytes], asking: bool) -> Reply {
    let m = match parse_migrate(a) {
        Ok(m) => m,
        Err(reply) => return reply,
    };
    let _gate = node.key_gate.lock().await;
    if !m.keys.is_empty() {
        // MIGRATE always works on this node while the slot is open; otherwise it is routed like any command.
        let slot = cluster::key_slot(&m.keys[0]);
        let me = node.id();
        let open =
            node.meta.read_local(|s| s.migrating_to(&me, slot).is_some() || s.importing_from(&me, slot).is_some());
        if !open {
            if let Err(redirect) = route(node, &m.keys, asking) {
                return redirect;
            }
        }
    }
    let found: Vec<(Bytes, Bytes)> = {
        let data = node.data.lock().expect("data lock");
        m.keys.iter().filter_map(|k| data.get(k).map(|v| (k.clone(), v.clone()))).collect()
    };
    if found.is_empty() {
        return Reply::Simple("NOKEY".into());
    }
    let limit = std::time::Duration::from_millis(m.timeout_ms);
    let io_error = |what: &str| Reply::error(format!("IOERR error or timeout {what} to target instance"));
    let mut stream = match tokio::time::timeout(limit, tokio::net::TcpStream::connect(m.addr.as_str())).await {
        Ok(Ok(stream)) => stream,
        _ => return io_error("writing"),
    };
    let mut request = Vec::new();
    if !m.auth.is_empty() {
        let mut args = vec![Bytes::from_static(b"AUTH")];
        args.extend(m.auth.iter().cloned());
        request.extend(crate::resp::encode_request(&args));
    }
    request.extend(crate::resp::encode_request(&[Bytes::from_static(b"SELECT"), Bytes::from(m.db.to_string())]));
    for (key, value) in &found {
        let mut args = vec![
            Bytes::from_static(b"RESTORE-ASKING"),
            key.clone(),
            Bytes::from_static(b"0"),
            dump::dump(value).into(),
        ];
        if m.replace {
            args.push(Bytes::from_static(b"REPLACE"));
        }
        request.extend(crate::resp::encode_request(&args));
    }
    let expected = found.len() + 1 + usize::from(!m.auth.is_empty());
    let replies = match exchange(&mut stream, &request, expected, limit).await {
        Ok(replies) => replies,
        Err(reply) => return reply,
    };
    let mut first_error = None;
    let mut data = node.data.lock().expect("data lock");
    let (setup, restores) = replies.split_at(expected - found.len());
    if let Some(e) = setup.iter().find(|r| r.is_error()) {
        return target_error(e);
    }
    for ((key, _), reply) in found.iter().zip(restores) {
        if reply.is_error() {
            first_error.get_or_insert(reply);
        } else if !m.copy {
            data.remove(key);
        }
    }
    first_error.map_or_else(Reply::ok, target_error)
}

/// Sends `request` and reads `expected` replies, each step within `limit`; Redis's IOERR if either fails.
async fn exchange(
    stream: &mut tokio::net::TcpStream,
    request: &[u8],
    expected: usize,
    limit: std::time::Duration,
) -> Result<Vec<Reply>, Reply> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io_error = |what: &str| Reply::error(format!("IOERR error or timeout {what} to target instance"));
    let sent = async {
        stream.write_all(request).await?;
        stream.flush().await
    };
    if !matches!(tokio::time::timeout(limit, sent).await, Ok(Ok(()))) {
        return Err(io_error("writing"));
    }
    let mut replies = Vec::with_capacity(expected);
    let mut input = bytes::BytesMut::new();
    let read_all = async {
        while replies.len() < expected {
            match crate::resp::take_reply(&mut input) {
                Ok(Some(reply)) => replies.push(reply),
                Ok(None) => {
                    if stream.read_buf(&mut input).await? == 0 {
                        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
                    }
                }
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        Ok(())
    };
    if !matches!(tokio::time::timeout(limit, read_all).await, Ok(Ok(()))) {
        return Err(io_error("reading"));
    }
    Ok(replies)
}

fn target_error(reply: &Reply) -> Reply {
    let text = match reply {
        Reply::Error(e) => e.clone(),
        other => format!("{other:?}"),
    };
    Reply::error(format!("ERR Target instance replied with error: {text}"))
}

/// CLUSTER SETSLOT. Redis refuses a replica before it looks at the arguments, and checks a MIGRATING /
/// IMPORTING slot's owner before it looks the node up: an id that names no node is answered in that order too.
async fn set_slot(node: &Node, parsed: Result<(Slot, SetSlotArg), Reply>) -> Reply {
    let me = node.id();
    if node.meta.read_local(|s| s.node(&me).is_some_and(|n| !n.is_master())) {
        return meta_error(MetaError::SetSlotOnReplica);
    }
    let (slot, arg) = match parsed {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let owner = node.meta.read_local(|s| s.owner(slot));
    let action = match arg {
        SetSlotArg::Stable => SetSlotAction::Stable,
        SetSlotArg::Migrating(_) if owner != Some(me) => return meta_error(MetaError::NotSlotOwner(slot)),
        SetSlotArg::Importing(_) if owner == Some(me) => return meta_error(MetaError::AlreadySlotOwner(slot)),
        SetSlotArg::Migrating(NodeArg { id: Some(to), .. }) => SetSlotAction::Migrating(to),
        SetSlotArg::Importing(NodeArg { id: Some(from), .. }) => SetSlotAction::Importing(from),
        SetSlotArg::Migrating(arg) | SetSlotArg::Importing(arg) => {
            return meta_error(MetaError::DontKnowNode(arg.raw));
        }
        SetSlotArg::Node(NodeArg { id: Some(owner), .. }) => {
            SetSlotAction::Node { owner, holds_keys: !keys_in_slot(node, slot, 1).is_empty() }
        }
        SetSlotArg::Node(arg) => return arg.unknown(),
    };
    ok_or_error(node.meta.write(Command::SetSlot { node: me, slot, action }).await)
}
