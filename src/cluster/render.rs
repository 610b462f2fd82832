//! Rendering of the metadata table in Redis 7.0's exact formats (see `shared/reference/redis-cluster.md`).
//!
//! Deterministic by construction: nodes in id order, slots ascending. Redis prints its dict order and wall-clock
//! ping/pong times; this node prints `0 0` for ping-sent/pong-recv (it has no gossip pings), so outputs can be
//! hashed and snapshotted.

use std::fmt::Write as _;

use crate::meta::{MetaState, NodeId, NodeInfo, OpenSlot, SlotSpan, SLOT_COUNT};
use crate::resp::Reply;

/// A table as seen by one node (`myself` decides the `myself` flag and `cluster_my_epoch`).
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub state: &'a MetaState,
    pub myself: NodeId,
}

/// One `CLUSTER NODES` line, without its trailing `\n`.
pub fn render_node_line(view: View<'_>, node: &NodeInfo) -> String {
    node_line(view, node, &view.state.slot_runs_of(&node.id))
}

fn node_line(view: View<'_>, node: &NodeInfo, runs: &[SlotSpan]) -> String {
    let mut flags = Vec::with_capacity(2);
    if node.id == view.myself {
        flags.push("myself");
    }
    flags.push(if node.is_master() { "master" } else { "slave" });
    let master = node.master.map_or_else(|| "-".to_string(), |m| m.to_string());
    let mut line = format!(
        "{} {}:{}@{} {} {} 0 0 {} connected",
        node.id,
        node.ip,
        node.port,
        node.bus_port,
        flags.join(","),
        master,
        view.state.effective_epoch(node)
    );
    for run in runs {
        if run.start == run.end {
            let _ = write!(line, " {}", run.start);
        } else {
            let _ = write!(line, " {}-{}", run.start, run.end);
        }
    }
    if node.id == view.myself {
        // Only the `myself` line shows open slots, as Redis does: they are this node's own state.
        for (slot, open) in view.state.open_slots_of(&node.id) {
            let _ = match open {
                OpenSlot::Migrating(to) => write!(line, " [{slot}->-{to}]"),
                OpenSlot::Importing(from) => write!(line, " [{slot}-<-{from}]"),
            };
        }
    }
    line
}

/// `CLUSTER NODES`: one line per node, every line (the last included) ending in `\n`.
pub fn render_nodes(view: View<'_>) -> String {
    let runs = view.state.slot_runs();
    let mut out = String::new();
    for node in view.state.nodes() {
        out.push_str(&node_line(view, node, runs.get(&node.id).map_or(&[], Vec::as_slice)));
        out.push('\n');
    }
    out
}

/// `CLUSTER REPLICAS <master>`: the replicas' NODES lines (without `\n`), as bulk strings.
pub fn render_replicas(view: View<'_>, master: &NodeId) -> Reply {
    Reply::Array(view.state.replicas_of(master).map(|r| Reply::bulk(render_node_line(view, r))).collect())
}

/// `CLUSTER INFO`: `key:value\r\n` lines. The state is `ok` when every slot is assigned (this node has no
/// failure detection, so no slot is ever in FAIL).
pub fn render_info(view: View<'_>) -> String {
    let s = view.state;
    let assigned = s.assigned_slot_count();
    let state = if assigned == usize::from(SLOT_COUNT) { "ok" } else { "fail" };
    let size = s.nodes().filter(|n| n.is_master() && s.slot_count_of(&n.id) > 0).count();
    let my_epoch = s.node(&view.myself).map_or(0, |me| s.effective_epoch(me));
    let mut out = String::new();
    for (key, value) in [
        ("cluster_state", state.to_string()),
        ("cluster_slots_assigned", assigned.to_string()),
        ("cluster_slots_ok", assigned.to_string()),
        ("cluster_slots_pfail", "0".into()),
        ("cluster_slots_fail", "0".into()),
        ("cluster_known_nodes", s.node_count().to_string()),
        ("cluster_size", size.to_string()),
        ("cluster_current_epoch", s.current_epoch().to_string()),
        ("cluster_my_epoch", my_epoch.to_string()),
        ("cluster_stats_messages_sent", "0".into()),
        ("cluster_stats_messages_received", "0".into()),
        ("total_cluster_links_buffer_limit_exceeded", "0".into()),
    ] {
        let _ = write!(out, "{key}:{value}\r\n");
    }
    out
}

fn slots_node_entry(node: &NodeInfo) -> Reply {
    Reply::Array(vec![
        Reply::bulk_str(&node.ip),
        Reply::Int(i64::from(node.port)),
        Reply::bulk(node.id.to_string()),
        Reply::Array(vec![]),
    ])
}

/// `CLUSTER SLOTS`: one entry per maximal run of consecutive slots with the same owner, in slot order:
/// `[start, end, master, replicas...]`.
pub fn render_slots(view: View<'_>) -> Reply {
    let s = view.state;
    let mut entries = Vec::new();
    for (span, owner) in s.slot_table_runs() {
        let Some(master) = s.node(&owner) else { continue };
        let mut entry =
            vec![Reply::Int(i64::from(span.start)), Reply::Int(i64::from(span.end)), slots_node_entry(master)];
        entry.extend(s.replicas_of(&owner).map(slots_node_entry));
        entries.push(Reply::Array(entry));
    }
    Reply::Array(entries)
}

fn shard_node(node: &NodeInfo) -> Reply {
    let pairs = [
        ("id", Reply::bulk(node.id.to_string())),
        ("port", Reply::Int(i64::from(node.port))),
        ("ip", Reply::bulk_str(&node.ip)),
        ("endpoint", Reply::bulk_str(&node.ip)),
        ("role", Reply::bulk_str(if node.is_master() { "master" } else { "replica" })),
        ("replication-offset", Reply::Int(0)),
        ("health", Reply::bulk_str("online")),
    ];
    Reply::Map(pairs.into_iter().map(|(k, v)| (Reply::bulk_str(k), v)).collect())
}

/// `CLUSTER SHARDS`: one shard per master (slotless masters included), masters in id order; each shard's slots
/// as flat `start, end` pairs and its nodes master first. Maps in RESP3, flat arrays in RESP2.
pub fn render_shards(view: View<'_>) -> Reply {
    let s = view.state;
    let shards = s
        .nodes()
        .filter(|n| n.is_master())
        .map(|master| {
            let slots = s
                .slot_runs_of(&master.id)
                .into_iter()
                .flat_map(|r| [Reply::Int(i64::from(r.start)), Reply::Int(i64::from(r.end))])
                .collect();
            let nodes = std::iter::once(master).chain(s.replicas_of(&master.id)).map(shard_node).collect();
            Reply::Map(vec![
                (Reply::bulk_str("slots"), Reply::Array(slots)),
                (Reply::bulk_str("nodes"), Reply::Array(nodes)),
            ])
        })
        .collect();
    Reply::Array(shards)
}
