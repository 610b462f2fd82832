//! The node process: a RESP server over `tokio::net` (madsim's simulated TCP in the simulation build), the
//! cluster bus listener, command dispatch, the slot-routed key space.
//!
//! One task per connection reads requests, answers them in order and writes the replies. A malformed or
//! oversized request gets one error reply and closes that connection only; the node's state is untouched.

mod bus;
mod commands;
mod dump;
mod membership;
mod meta_store;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub use bus::{hello as bus_hello, BusReply, BusRequest, GroupSummary, LeaderOp, FRAME_BYTES_MAX};
pub use meta_store::{Behaviour, MetaStore, ReadGuard, Strategy, StrategyParseError, WriteTiming};

use crate::meta::{NodeId, NodeInfo};
use crate::resp::{self, Limits, Protocol, Reply};

/// Everything a node is started with.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub node_id: NodeId,
    /// Address both listeners bind, and the address this node announces once it has met another node.
    pub ip: String,
    pub port: u16,
    pub bus_port: u16,
    pub strategy: Strategy,
    pub limits: Limits,
    /// Deadline of one cluster-bus exchange (MEET handshake), in milliseconds.
    pub bus_timeout_ms: u64,
    /// Where the Raft state lives: a node started on a disk that holds an instance reopens it (a restart);
    /// on an empty disk it founds a cluster of one. local-only keeps its table in memory only.
    pub disk: crate::raft::Disk,
    /// How fast this node's clock runs (every timer it sets is measured on it); default: true time.
    pub clock: crate::raft::ClockRate,
}

impl NodeConfig {
    /// A node on `port` with Redis's default bus port, `port` + 10000 ([`crate::cluster::bus_port_of`]), and the
    /// defaults for the rest.
    ///
    /// # Panics
    /// When `port` + 10000 passes 65535 (Redis will not run a cluster node there either): a caller choosing such
    /// a port must choose the bus port too, with [`NodeConfig::with_bus_port`].
    pub fn new(node_id: NodeId, ip: impl Into<String>, port: u16) -> Self {
        let bus_port = crate::cluster::bus_port_of(port)
            .unwrap_or_else(|| panic!("port {port} leaves no room for the default bus port (port + 10000)"));
        NodeConfig::with_bus_port(node_id, ip, port, bus_port)
    }

    /// A node on `port` with the cluster bus on `bus_port`, and the defaults for the rest.
    pub fn with_bus_port(node_id: NodeId, ip: impl Into<String>, port: u16, bus_port: u16) -> Self {
        NodeConfig {
            node_id,
            ip: ip.into(),
            port,
            bus_port,
            strategy: Strategy::LocalOnly,
            limits: Limits::default(),
            bus_timeout_ms: 2_000,
            disk: crate::raft::Disk::new(),
            clock: crate::raft::ClockRate::default(),
        }
    }

    /// The table entry this node starts with: a fresh Redis node does not know its own IP yet.
    pub fn initial_entry(&self) -> NodeInfo {
        NodeInfo::new(self.node_id, "", self.port, self.bus_port)
    }
}

/// A running node's shared state.
pub struct Node {
    pub(crate) config: NodeConfig,
    pub(crate) meta: MetaStore,
    /// The key space: only keys of slots this node serves are ever stored.
    pub(crate) data: Mutex<BTreeMap<Bytes, Bytes>>,
    /// Held by MIGRATE for its whole exchange with the target, and briefly by every key command: Redis runs
    /// MIGRATE as one blocking step, so no client sees or changes a key half-way through its move.
    pub(crate) key_gate: tokio::sync::Mutex<()>,
    next_client_id: AtomicU64,
}

impl Node {
    pub fn new(config: NodeConfig) -> Arc<Self> {
        let meta = MetaStore::new(&config);
        Arc::new(Node {
            config,
            meta,
            data: Mutex::new(BTreeMap::new()),
            key_gate: tokio::sync::Mutex::new(()),
            next_client_id: AtomicU64::new(1),
        })
    }

    /// This node's id (the configured one until a CLUSTER RESET HARD renames it).
    pub fn id(&self) -> NodeId {
        self.meta.myself()
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    pub fn key_count(&self) -> usize {
        self.data.lock().expect("data lock").len()
    }
}

/// Binds the client and bus listeners and serves until the task is dropped (or the simulated host is killed).
///
/// Boxed here, in this crate, on purpose: a caller in another crate polls it through the box's vtable instead
/// of compiling the whole server, and openraft's core under it, again. With optimization on, rustc instantiates
/// an upstream crate's async bodies anew in every crate that awaits them (no shared generics above opt-level
/// 1): they were ~40 % of the `sim` library's LLVM IR (`cargo llvm-lines -p sim --lib`, 2026-12-05).
pub fn serve(node: Arc<Node>) -> crate::raft::rt::BoxedTask<std::io::Result<()>> {
    Box::pin(serve_node(node))
}

async fn serve_node(node: Arc<Node>) -> std::io::Result<()> {
    let client = TcpListener::bind((node.config.ip.as_str(), node.config.port)).await?;
    let bus = TcpListener::bind((node.config.ip.as_str(), node.config.bus_port)).await?;
    tracing::info!(id = %node.id(), port = node.config.port, bus_port = node.config.bus_port,
        strategy = %node.config.strategy, "node listening");
    let bus_node = node.clone();
    crate::raft::rt::spawn_boxed(bus::accept_loop(bus_node, bus));
    // Raft strategies: found this node's cluster of one before taking clients (the bus already answers).
    if let Err(e) = node.meta.start().await {
        tracing::error!(error = %e, "raft: could not found this node's cluster of one");
        return Err(std::io::Error::other(e.to_string()));
    }
    loop {
        let (stream, peer) = client.accept().await?;
        let node = node.clone();
        crate::raft::rt::spawn_boxed(serve_connection(node, stream, peer));
    }
}

/// Per-connection state.
pub(crate) struct Session {
    pub id: u64,
    pub protocol: Protocol,
    pub close_after_reply: bool,
    /// ASKING was the previous command: the next one may reach a slot this node imports.
    pub asking: bool,
}

/// BUGGIFY: how often an active reply delay fires per reply, and how long (virtual ms).
const BUGGIFY_REPLY_CHANCE: f64 = 0.1;
const BUGGIFY_REPLY_DELAY_MS: u64 = 100;

async fn serve_connection(node: Arc<Node>, mut stream: TcpStream, peer: SocketAddr) {
    let limits = node.config.limits;
    let mut session = Session {
        id: node.next_client_id.fetch_add(1, Ordering::Relaxed),
        protocol: Protocol::Resp2,
        close_after_reply: false,
        asking: false,
    };
    let mut input = BytesMut::with_capacity(4096);
    let mut output = BytesMut::with_capacity(4096);
    let mut requests = resp::RequestReader::default();
    loop {
        loop {
            match requests.take(&mut input, &limits) {
                Ok(Some(args)) => {
                    let reply = commands::dispatch(&node, &mut session, args).await;
                    if crate::raft::rt::buggify("buggify.reply_delay", BUGGIFY_REPLY_CHANCE) {
                        tokio::time::sleep(Duration::from_millis(BUGGIFY_REPLY_DELAY_MS)).await;
                    }
                    resp::encode(&reply, session.protocol, &mut output);
                    if session.close_after_reply {
                        let _ = write_out(&mut stream, &output).await;
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "closing connection on a protocol error");
                    resp::encode(&Reply::error(e.to_string()), session.protocol, &mut output);
                    let _ = write_out(&mut stream, &output).await;
                    let _ = stream.shutdown().await;
                    return;
                }
            }
        }
        if !output.is_empty() {
            if write_out(&mut stream, &output).await.is_err() {
                return;
            }
            output.clear();
        }
        match stream.read_buf(&mut input).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Writes and flushes (madsim's simulated stream sends on flush).
async fn write_out(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests;
