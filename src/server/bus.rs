//! The cluster bus: a second listener (port + 10000 by default, as in Redis) for node-to-node messages.
//!
//! Frames are a 4-byte big-endian length followed by a postcard payload (serde's compact binary form: varint
//! integers, no field names, node ids as their 20 bytes): what crosses the wire in the simulation is what crosses
//! it for real. Every exchange has a deadline; every frame has a size bound. One connection carries one request
//! at a time (request, reply, request, ...).
//!
//! Messages: the MEET handshake (`Hello`), Raft's own RPCs (`Raft`, tagged with the group), and the
//! metadata-group operations of docs/MEMBERSHIP.md (`Leader`, `ReadIndex`, `Join`, `Leave`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Node;
use crate::meta::{Command, Event, MetaError, NodeId, NodeInfo, SlotSpan};
use crate::raft::network::BoxFuture;
use crate::raft::{GroupId, RaftRpc, RaftRpcReply, Transport};

/// Largest bus frame accepted, in bytes.
pub const FRAME_BYTES_MAX: usize = 16 << 20;

/// One request per frame, short-lived (decoded, served, dropped): a Raft RPC's inline size (~390 bytes, the
/// largest) costs less than boxing it, an allocation per RPC on the hottest path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, Deserialize)]
pub enum BusRequest {
    /// Who are you? (Redis's MEET handshake: learns the peer's id, what it serves, and its Raft group.)
    Hello,
    /// A Raft RPC from `from`, a member of `group`.
    Raft { from: NodeId, group: GroupId, rpc: RaftRpc },
    /// Run `op` as the leader of `group` (answered `NotLeader` with a hint otherwise; never forwarded further).
    Leader { group: GroupId, op: LeaderOp },
    /// As the leader of `group`: which log index must a linearizable read wait for?
    ReadIndex { group: GroupId },
    /// To `node`, whose entry `group`'s table has committed: leave your cluster of one and start an empty Raft
    /// instance of `group`, unless that would lose something your table holds (`terms`). `peers`: the group
    /// members' bus addresses, whom the joiner asks later whether its join went through. Idempotent: a node
    /// already in `group` answers `Done`.
    Join { group: GroupId, node: NodeId, terms: JoinTerms, peers: Vec<String> },
    /// To `node`, removed from `group`: become a cluster of one again. `entry` is its entry as the group's
    /// table held it before the removal (its latest config epoch and address), when the sender knew it.
    Leave {
        group: GroupId,
        node: NodeId,
        #[serde(default)]
        entry: Option<crate::meta::NodeInfo>,
    },
}

impl BusRequest {
    /// Short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            BusRequest::Hello => "hello",
            BusRequest::Raft { rpc, .. } => rpc.kind(),
            BusRequest::Leader { op: LeaderOp::Write(_), .. } => "leader-write",
            BusRequest::Leader { op: LeaderOp::AddMember { .. }, .. } => "leader-add-member",
            BusRequest::Leader { op: LeaderOp::RemoveMember { .. }, .. } => "leader-remove-member",
            BusRequest::Leader { op: LeaderOp::IsMember { .. }, .. } => "leader-is-member",
            BusRequest::Leader { op: LeaderOp::Promote { .. }, .. } => "leader-promote",
            BusRequest::ReadIndex { .. } => "read-index",
            BusRequest::Join { .. } => "join",
            BusRequest::Leave { .. } => "leave",
        }
    }

    fn is_heartbeat(&self) -> bool {
        matches!(self, BusRequest::Raft { rpc, .. } if rpc.is_heartbeat())
    }
}

/// An operation only a group's leader can run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaderOp {
    /// Propose a metadata command; answered once committed and applied on the leader.
    Write(Command),
    /// Add `node` (bus address `addr`) as a learner, wait for it to catch up, promote it to voter (≤ 5 voters).
    AddMember { node: NodeId, addr: String },
    /// Remove `node` from the group's Raft membership.
    RemoveMember { node: NodeId },
    /// Make the learner `node` a voter.
    Promote { node: NodeId },
    /// Does the group's table list `node`? Answered after a read barrier (the leader confirms its leadership
    /// with a quorum and has applied everything committed before), so `Member(false)` is final for that entry.
    IsMember { node: NodeId },
}

/// What a joiner must still hold for its join to lose nothing: exactly these slots, and a config epoch no
/// greater than this one (the group may have raised it to resolve a collision, never lowered it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTerms {
    pub slots: Vec<SlotSpan>,
    pub config_epoch: u64,
    /// Set when the joiner's whole group was absorbed (`Command::Absorb`): the group it comes from, sealed, whose
    /// table the asking group imported. The joiner then swaps whatever its table holds (it can take no write of
    /// its own: the table is sealed), even if it has not applied the seal yet.
    #[serde(default)]
    pub absorbed_from: Option<GroupId>,
}

/// What the peer says of its Raft group in a `Hello`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub id: GroupId,
    /// Nodes in the group's table (1: a cluster of one; 0: the node is joining a group right now).
    pub size: usize,
    /// Last log index the peer applied (a merge refuses to go on if it moved).
    pub applied: Option<u64>,
    /// The highest epochs its table showed for nodes it no longer lists (a joiner brings them along).
    #[serde(default)]
    pub shown: Vec<(NodeId, u64)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum BusReply {
    /// `group` is `None` when the peer runs the local-only strategy (no Raft).
    Hello {
        node: NodeInfo,
        slots: Vec<SlotSpan>,
        #[serde(default)]
        group: Option<GroupSummary>,
    },
    Raft(RaftRpcReply),
    Written(Result<Event, MetaError>),
    Done,
    ReadIndex(u64),
    /// Not the leader of the group; `leader` is the leader's bus address if known. Nothing was done.
    NotLeader {
        leader: Option<String>,
    },
    /// A transient refusal (membership change in progress). Nothing was done.
    Busy(String),
    /// The answer to `IsMember`.
    Member(bool),
    /// A `Join` whose terms no longer match the joiner's table (it took writes of its own since the handshake):
    /// here is what it holds now, for the group to record before it asks again. Nothing was done.
    Changed(JoinTerms),
    /// A `Join` the node will not carry out as things stand (it is in another group, or joining would lose
    /// part of its table): the group should call the join off. Nothing was done.
    Refused(String),
    Error(String),
}

pub(super) async fn accept_loop(node: Arc<Node>, listener: TcpListener) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else { return };
        let node = node.clone();
        crate::raft::rt::spawn_boxed(serve_bus_connection(node, stream, peer));
    }
}

async fn serve_bus_connection(node: Arc<Node>, mut stream: TcpStream, peer: SocketAddr) {
    loop {
        let request: BusRequest = match read_frame(&mut stream).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "bus: dropping connection");
                return;
            }
        };
        // The peer's ephemeral port is left out: traces must not depend on port allocation.
        let kind = request.kind();
        if request.is_heartbeat() {
            tracing::debug!("bus: recv {kind} from {}", peer.ip());
        } else if let BusRequest::Raft { from, .. } = &request {
            tracing::info!("bus: recv {kind} from {from}");
        } else {
            tracing::info!("bus: recv {kind} from {}", peer.ip());
        }
        let drop_reply = !matches!(request, BusRequest::Raft { .. } | BusRequest::Hello);
        let reply = match request {
            BusRequest::Hello => {
                node.meta.wait_started().await;
                let me = node.id();
                let (node_entry, slots) = node.meta.read_local(|s| {
                    let entry = s.node(&me).cloned().unwrap_or_else(|| node.config.initial_entry());
                    (entry, s.slot_runs_of(&me))
                });
                BusReply::Hello { node: node_entry, slots, group: node.meta.group_summary() }
            }
            BusRequest::Raft { group, rpc, .. } => node.meta.serve_raft(group, rpc).await,
            // Boxed: membership changes build whole Raft instances, whose futures are large; inline, every bus
            // connection's task would carry room for them and copy it when spawned.
            BusRequest::Leader { group, op } => Box::pin(node.meta.serve_leader_op(group, op)).await,
            BusRequest::ReadIndex { group } => node.meta.serve_read_index(group).await,
            BusRequest::Join { group, node: id, terms, peers } => {
                Box::pin(node.meta.serve_join(group, id, terms, peers)).await
            }
            BusRequest::Leave { group, node: id, entry } => Box::pin(node.meta.serve_leave(group, id, entry)).await,
        };
        // BUGGIFY: the request was served (a write may have committed) but its answer is lost.
        if drop_reply && crate::raft::rt::buggify("buggify.bus_reply_dropped", BUGGIFY_BUS_CHANCE) {
            return;
        }
        if write_frame(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

/// How often an active BUGGIFY point of the bus fires when reached.
const BUGGIFY_BUS_CHANCE: f64 = 0.05;

/// Why a bus call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallFailure {
    /// The connection could not be opened: nothing was sent (safe to retry).
    Unreachable(String),
    /// Sent, but no (valid) answer before the deadline: the outcome is unknown.
    Failed(String),
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::Unreachable(e) | CallFailure::Failed(e) => f.write_str(e),
        }
    }
}

/// First and largest pause between connection attempts, and how long refusals are retried before the peer is
/// reported unreachable (callers such as leader forwarding then pick another route), in milliseconds.
const CONNECT_RETRY_FIRST_MS: u64 = 10;
const CONNECT_RETRY_MAX_MS: u64 = 100;
const CONNECT_RETRY_WINDOW_MS: u64 = 500;

/// One request, one reply, on a fresh connection to `addr` (`ip:bus_port`), within `timeout`. A refused
/// connection is retried with backoff until the deadline, as a TCP stack retries a SYN: a peer behind a slow or
/// briefly clogged link is not a dead peer.
pub async fn call(addr: &str, request: &BusRequest, timeout: Duration) -> Result<BusReply, CallFailure> {
    let kind = request.kind();
    tracing::info!("bus: send {kind} to {addr}");
    // BUGGIFY: the connection resets before the request is sent (the caller cannot tell it from a lost answer).
    if crate::raft::rt::buggify("buggify.bus_call_failed", BUGGIFY_BUS_CHANCE) {
        return Err(CallFailure::Failed(format!("{addr}: connection reset (buggify)")));
    }
    let connected = std::sync::atomic::AtomicBool::new(false);
    let exchange = async {
        let mut pause = CONNECT_RETRY_FIRST_MS;
        let mut waited = 0;
        let mut stream = loop {
            match TcpStream::connect(addr).await {
                Ok(stream) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused && waited < CONNECT_RETRY_WINDOW_MS => {
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    waited += pause;
                    pause = (pause * 2).min(CONNECT_RETRY_MAX_MS);
                }
                Err(e) => return Err(CallFailure::Unreachable(format!("{addr}: {e}"))),
            }
        };
        connected.store(true, std::sync::atomic::Ordering::Relaxed);
        write_frame(&mut stream, request).await.map_err(|e| CallFailure::Failed(format!("{addr}: {e}")))?;
        match read_frame::<BusReply>(&mut stream).await {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(CallFailure::Failed(format!("{addr}: connection closed"))),
            Err(e) => Err(CallFailure::Failed(format!("{addr}: {e}"))),
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) if !connected.load(std::sync::atomic::Ordering::Relaxed) => {
            Err(CallFailure::Unreachable(format!("{addr}: connection refused for {} ms", timeout.as_millis())))
        }
        Err(_) => {
            crate::probe::hit("bus.exchange_deadline");
            Err(CallFailure::Failed(format!("{addr}: no answer to {kind} within {} ms", timeout.as_millis())))
        }
    }
}

/// The MEET handshake: asks the node at `ip:bus_port` who it is.
pub async fn hello(
    ip: &str,
    bus_port: u16,
    timeout_ms: u64,
) -> Result<(NodeInfo, Vec<SlotSpan>, Option<GroupSummary>), String> {
    match call(&format!("{ip}:{bus_port}"), &BusRequest::Hello, Duration::from_millis(timeout_ms)).await {
        Ok(BusReply::Hello { node, slots, group }) => Ok((node, slots, group)),
        Ok(BusReply::Error(e)) => Err(e),
        Ok(other) => Err(format!("unexpected reply {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Raft's network over the bus: the per-peer connections of openraft's clients carry `BusRequest::Raft`.
pub(crate) struct BusTransport;

impl Transport for BusTransport {
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, std::io::Result<TcpStream>> {
        Box::pin(TcpStream::connect(addr))
    }

    fn exchange<'a>(
        &'a self,
        stream: &'a mut TcpStream,
        from: NodeId,
        group: GroupId,
        rpc: RaftRpc,
    ) -> BoxFuture<'a, std::io::Result<RaftRpcReply>> {
        Box::pin(async move {
            let request = BusRequest::Raft { from, group, rpc };
            if request.is_heartbeat() {
                tracing::debug!("bus: send {} to {}", request.kind(), peer_addr(stream));
            } else {
                tracing::info!("bus: send {} to {}", request.kind(), peer_addr(stream));
            }
            write_frame(stream, &request).await?;
            match read_frame::<BusReply>(stream).await? {
                Some(BusReply::Raft(reply)) => Ok(reply),
                Some(BusReply::Error(e)) => Ok(RaftRpcReply::Refused(e)),
                Some(other) => Err(std::io::Error::other(format!("unexpected reply {other:?}"))),
                None => Err(std::io::Error::other("connection closed")),
            }
        })
    }
}

fn peer_addr(stream: &TcpStream) -> String {
    stream.peer_addr().map_or_else(|_| "?".to_string(), |a| a.to_string())
}

pub(crate) async fn write_frame<T: Serialize>(stream: &mut TcpStream, value: &T) -> std::io::Result<()> {
    let frame = encode_frame(value)?;
    stream.write_all(&frame).await?;
    stream.flush().await
}

/// A frame: the payload's length (4 bytes, big-endian), then the payload in postcard. The payload is appended
/// straight after a placeholder for the length, which is filled in at the end (no second buffer, no copy).
fn encode_frame<T: Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    let mut frame = Vec::with_capacity(FRAME_CAPACITY_START);
    frame.extend_from_slice(&[0; 4]);
    let mut frame = postcard::to_extend(value, frame).map_err(std::io::Error::other)?;
    let payload = frame.len() - 4;
    if payload > FRAME_BYTES_MAX {
        return Err(std::io::Error::other("bus frame too large"));
    }
    frame[..4].copy_from_slice(&(payload as u32).to_be_bytes());
    Ok(frame)
}

/// Room a frame starts with: most (a Raft heartbeat, a vote, a reply) fit.
const FRAME_CAPACITY_START: usize = 256;

/// `Ok(None)` on a clean end of stream before a frame starts.
pub(crate) async fn read_frame<T: for<'de> Deserialize<'de>>(stream: &mut TcpStream) -> std::io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > FRAME_BYTES_MAX {
        return Err(std::io::Error::other(format!("bus frame of {len} bytes exceeds {FRAME_BYTES_MAX}")));
    }
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await?;
    postcard::from_bytes(&payload).map(Some).map_err(std::io::Error::other)
}

#[cfg(test)]
mod frame_tests {
    use super::*;

    #[test]
    fn a_frame_is_the_payload_length_then_the_payload_in_postcard() {
        let long: Vec<String> = (0..100).map(|i| format!("node-{i}")).collect();
        let short = (7u64, "x".to_string());
        for (payload, frame) in [
            (postcard::to_allocvec(&long).unwrap(), encode_frame(&long).unwrap()),
            (postcard::to_allocvec(&short).unwrap(), encode_frame(&short).unwrap()),
        ] {
            assert_eq!(frame[..4], (payload.len() as u32).to_be_bytes());
            assert_eq!(frame[4..], payload[..]);
        }
    }
}
