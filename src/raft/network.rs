//! Raft RPCs between the members of a group. They travel over the cluster bus: this module defines what is
//! sent ([`RaftRpc`], [`RaftRpcReply`]) and how openraft's network traits map onto a [`Transport`], which the
//! server's bus implements (so the dependency points `server → raft`, and the bus keeps one framing).
//!
//! Every call is bounded by openraft's `RPCOption::hard_ttl()`. A connection is kept per peer and re-dialled
//! after any error or timeout (a half-done exchange leaves the stream unusable).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openraft::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::error::{
    Fatal, NetworkError, RPCError, RaftError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{BasicNode, OptionalSend, RPCTypes, RaftNetworkFactory, RaftNetworkV2};
use openraft_rt::{AsyncRuntime, Select2};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

use super::rt::Rt;
use super::{GroupId, Raft, TypeConfig};
use crate::meta::{MetaState, NodeId};

type C = TypeConfig;

/// One Raft RPC, as sent to a peer of the same group.
#[derive(Debug, Serialize, Deserialize)]
pub enum RaftRpc {
    Append(AppendEntriesRequest<C>),
    Vote(VoteRequest<C>),
    PreVote(VoteRequest<C>),
    /// The whole snapshot in one frame: a metadata table is small (≤ 16384 slots + the nodes).
    Snapshot {
        vote: VoteOf<C>,
        meta: SnapshotMetaOf<C>,
        data: Box<MetaState>,
    },
}

impl RaftRpc {
    /// Short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            RaftRpc::Append(a) if a.entries.is_empty() => "raft-heartbeat",
            RaftRpc::Append(_) => "raft-append",
            RaftRpc::Vote(_) => "raft-vote",
            RaftRpc::PreVote(_) => "raft-pre-vote",
            RaftRpc::Snapshot { .. } => "raft-snapshot",
        }
    }

    /// Heartbeats are frequent (every 50 ms per peer): traces keep them at debug level.
    pub fn is_heartbeat(&self) -> bool {
        matches!(self, RaftRpc::Append(a) if a.entries.is_empty())
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub enum RaftRpcReply {
    Append(Result<AppendEntriesResponse<C>, RaftError<C>>),
    Vote(Result<VoteResponse<C>, RaftError<C>>),
    Snapshot(Result<SnapshotResponse<C>, Fatal<C>>),
    /// The receiver is not (or no longer) a member of the sender's group.
    Refused(String),
}

/// Serves one RPC on this node's Raft instance.
pub(super) async fn serve_rpc(raft: &Raft, rpc: RaftRpc) -> RaftRpcReply {
    match rpc {
        RaftRpc::Append(r) => RaftRpcReply::Append(raft.append_entries(r).await),
        RaftRpc::Vote(r) => RaftRpcReply::Vote(raft.vote(r).await),
        RaftRpc::PreVote(r) => RaftRpcReply::Vote(raft.pre_vote(r).await),
        RaftRpc::Snapshot { vote, meta, data } => {
            RaftRpcReply::Snapshot(raft.install_full_snapshot(vote, openraft::Snapshot { meta, snapshot: data }).await)
        }
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How Raft RPCs reach a peer (implemented by the cluster bus).
pub trait Transport: Send + Sync + 'static {
    /// Opens a connection to a peer's bus address (`ip:bus_port`).
    fn connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<TcpStream>>;
    /// Sends `rpc` for `group` on an open connection and reads the reply. `from` names the sender, for traces.
    fn exchange<'a>(
        &'a self,
        stream: &'a mut TcpStream,
        from: NodeId,
        group: GroupId,
        rpc: RaftRpc,
    ) -> BoxFuture<'a, io::Result<RaftRpcReply>>;
}

pub(super) struct NetworkFactory {
    pub me: NodeId,
    pub group: GroupId,
    pub transport: Arc<dyn Transport>,
}

impl RaftNetworkFactory<C> for NetworkFactory {
    type Network = NetworkClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> NetworkClient {
        NetworkClient {
            me: self.me,
            group: self.group,
            target,
            addr: node.addr.clone(),
            conn: None,
            transport: self.transport.clone(),
        }
    }
}

pub(super) struct NetworkClient {
    me: NodeId,
    group: GroupId,
    target: NodeId,
    addr: String,
    /// madsim's `TcpStream` is not `Sync`, `RaftNetworkV2` must be: the mutex only adds `Sync` (we always hold
    /// `&mut self`, so it is reached through `get_mut`, never locked).
    conn: Option<std::sync::Mutex<TcpStream>>,
    transport: Arc<dyn Transport>,
}

enum CallError {
    Connect(io::Error),
    Io(io::Error),
    Timeout,
}

impl NetworkClient {
    async fn call(&mut self, rpc: RaftRpc, ttl: Duration) -> Result<RaftRpcReply, CallError> {
        let (addr, me, group) = (self.addr.clone(), self.me, self.group);
        let transport = self.transport.clone();
        let conn = &mut self.conn;
        let exchange = async move {
            if conn.is_none() {
                let stream = transport.connect(&addr).await.map_err(CallError::Connect)?;
                *conn = Some(std::sync::Mutex::new(stream));
            }
            let Some(slot) = conn.as_mut() else { return Err(CallError::Io(io::Error::other("no connection"))) };
            let stream = slot.get_mut().unwrap_or_else(|e| e.into_inner());
            transport.exchange(stream, me, group, rpc).await.map_err(CallError::Io)
        };
        let result = match Rt::timeout(ttl, exchange).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout),
        };
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    fn rpc_error(&self, e: CallError, action: RPCTypes, ttl: Duration) -> RPCError<C> {
        match e {
            // Nobody listening: openraft backs off on Unreachable.
            CallError::Connect(e) => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Io(e) => RPCError::Network(NetworkError::new(&e)),
            CallError::Timeout => RPCError::Timeout(Timeout { action, id: self.me, target: self.target, timeout: ttl }),
        }
    }
}

/// A remote fatal error (the peer's Raft stopped) or a refusal (not in our group): back off as if unreachable.
fn unreachable(why: impl std::fmt::Display) -> RPCError<C> {
    RPCError::Unreachable(Unreachable::from_string(why.to_string()))
}

fn bad_reply(reply: &RaftRpcReply) -> RPCError<C> {
    match reply {
        RaftRpcReply::Refused(why) => unreachable(why),
        other => RPCError::Network(NetworkError::from_string(format!("unexpected reply {other:?}"))),
    }
}

impl RaftNetworkV2<C> for NetworkClient {
    type SnapshotData = Box<MetaState>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<C>, RPCError<C>> {
        let ttl = option.hard_ttl();
        match self.call(RaftRpc::Append(rpc), ttl).await {
            Ok(RaftRpcReply::Append(Ok(r))) => Ok(r),
            Ok(RaftRpcReply::Append(Err(e))) => Err(unreachable(e)),
            Ok(other) => Err(bad_reply(&other)),
            Err(e) => Err(self.rpc_error(e, RPCTypes::AppendEntries, ttl)),
        }
    }

    async fn vote(&mut self, rpc: VoteRequest<C>, option: RPCOption) -> Result<VoteResponse<C>, RPCError<C>> {
        self.vote_call(RaftRpc::Vote(rpc), option).await
    }

    async fn pre_vote(&mut self, rpc: VoteRequest<C>, option: RPCOption) -> Result<VoteResponse<C>, RPCError<C>> {
        self.vote_call(RaftRpc::PreVote(rpc), option).await
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<C>,
        snapshot: SnapshotOf<C, Box<MetaState>>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        let ttl = option.hard_ttl();
        let rpc = RaftRpc::Snapshot { vote, meta: snapshot.meta, data: snapshot.snapshot };
        // Biased, in argument order: cancellation wins over a completed call.
        match Rt::select2(cancel, self.call(rpc, ttl)).await {
            Select2::First(closed) => Err(StreamingError::Closed(closed)),
            Select2::Second(Ok(RaftRpcReply::Snapshot(Ok(r)))) => Ok(r),
            Select2::Second(Ok(RaftRpcReply::Snapshot(Err(fatal)))) => {
                Err(StreamingError::Unreachable(Unreachable::from_string(fatal.to_string())))
            }
            Select2::Second(Ok(other)) => Err(match bad_reply(&other) {
                RPCError::Unreachable(u) => StreamingError::Unreachable(u),
                _ => StreamingError::Network(NetworkError::from_string(format!("unexpected reply {other:?}"))),
            }),
            Select2::Second(Err(e)) => Err(match self.rpc_error(e, RPCTypes::InstallSnapshot, ttl) {
                RPCError::Timeout(t) => StreamingError::Timeout(t),
                RPCError::Unreachable(u) => StreamingError::Unreachable(u),
                RPCError::Network(n) => StreamingError::Network(n),
                RPCError::RemoteError(r) => StreamingError::Network(NetworkError::from_string(r.to_string())),
            }),
        }
    }
}

impl NetworkClient {
    async fn vote_call(&mut self, rpc: RaftRpc, option: RPCOption) -> Result<VoteResponse<C>, RPCError<C>> {
        let ttl = option.hard_ttl();
        match self.call(rpc, ttl).await {
            Ok(RaftRpcReply::Vote(Ok(r))) => Ok(r),
            Ok(RaftRpcReply::Vote(Err(e))) => Err(unreachable(e)),
            Ok(other) => Err(bad_reply(&other)),
            Err(e) => Err(self.rpc_error(e, RPCTypes::Vote, ttl)),
        }
    }
}
