//! Group membership under the Raft strategies: MEET merges, FORGET, RESET (docs/MEMBERSHIP.md).
//!
//! Every node starts as a cluster of one. MEET merges a cluster of one (the joiner) into the other side's group;
//! two multi-node groups never merge.

use std::sync::Arc;
use std::time::Duration;

use super::bus::{self, BusReply, BusRequest, LeaderOp};
use super::meta_store::{MetaStore, Route};
use crate::meta::{Command, MetaError, MetaState, NodeId, NodeInfo};
use crate::raft::{rt, GroupId, RaftGroup};
use crate::resp::Reply;

/// Deadline of the best-effort "you were forgotten" message.
const LEAVE_NOTICE_TIMEOUT_MS: u64 = 500;

/// The joining side of a merge.
struct Joiner {
    entry: NodeInfo,
    slots: Vec<crate::meta::SlotSpan>,
    bus_addr: String,
    applied: Option<u64>,
}

impl MetaStore {
    /// CLUSTER MEET under a Raft strategy. The handshake is always made (it tells which side joins); the merge
    /// itself runs with the strategy's timing (`run_write`).
    pub(super) async fn meet(&self, ip: String, port: u16, bus_port: u16, node_id: Option<NodeId>) -> Reply {
        if let Some(id) = node_id {
            if self.read_local(|s| s.contains(&id)) {
                return Reply::ok();
            }
        }
        let timeout_ms = self.inner.config.bus_timeout_ms;
        let (peer, peer_slots, peer_group) = match bus::hello(&ip, bus_port, timeout_ms).await {
            Ok(answer) => answer,
            Err(e) => {
                return Reply::error(format!("ERR Can't reach node {ip}:{port} on its cluster bus port {bus_port}: {e}"))
            }
        };
        if let Some(id) = node_id {
            if id != peer.id {
                return Reply::error(format!("ERR Node {ip}:{port} is {}, not {id}", peer.id));
            }
        }
        let Some(peer_group) = peer_group else {
            return Reply::error(format!("ERR Can't meet {ip}:{port}: it does not keep its metadata in Raft"));
        };
        let mine = match self.current_group() {
            Ok(g) => g,
            Err(e) => return Reply::error(format!("CLUSTERDOWN {e}")),
        };
        if peer_group.id == mine.id() || self.read_local(|s| s.contains(&peer.id)) {
            return Reply::ok();
        }
        let my_size = mine.read(MetaState::node_count);
        if my_size == 0 || peer_group.size == 0 {
            return Reply::error(format!("ERR Can't meet {ip}:{port}: a merge is in progress, try again"));
        }
        if my_size > 1 && peer_group.size > 1 {
            return Reply::error(format!("ERR Can't meet {ip}:{port}: both nodes already belong to different clusters"));
        }
        let peer_bus = format!("{ip}:{bus_port}");
        let store = self.clone();
        let work = if peer_group.size == 1 {
            // The target joins this node's group (also when both are clusters of one).
            let mut entry = peer;
            entry.ip = ip;
            entry.port = port;
            entry.bus_port = bus_port;
            let joiner = Joiner { entry, slots: peer_slots, bus_addr: peer_bus, applied: peer_group.applied };
            let member = self.myself();
            let member_ip = self.inner.config.ip.clone();
            let route = self.route_to_leader(&mine);
            let group = mine.id();
            Box::pin(async move { store.merge(group, route, member, member_ip, joiner).await })
                as std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<()>, Reply>> + Send>>
        } else {
            // This node, a cluster of one, joins the target's group.
            let me = self.myself();
            let (entry, slots) = mine.read(|s| (s.node(&me).cloned(), s.slot_runs_of(&me)));
            let Some(mut entry) = entry else {
                return Reply::error("ERR this node is not in its own table yet, try again");
            };
            if entry.ip.is_empty() {
                entry.ip = self.inner.config.ip.clone();
            }
            let joiner = Joiner { entry, slots, bus_addr: self.bus_addr(), applied: mine.applied_index() };
            Box::pin(async move { store.merge(peer_group.id, Route::Remote(peer_bus), peer.id, ip, joiner).await })
        };
        match self.run_write(work).await {
            Ok(_) => Reply::ok(),
            Err(reply) => reply,
        }
    }

    /// The merge proper: `member` (reached at `route`) has its group commit the joiner's entry and slots; the
    /// joiner replaces its cluster of one with an empty Raft instance of the group; the leader adds it.
    async fn merge(
        &self,
        group: GroupId,
        route: Route,
        member: NodeId,
        member_ip: String,
        joiner: Joiner,
    ) -> Result<Option<()>, Reply> {
        let joiner_id = joiner.entry.id;
        let meet = Command::Meet { receiver: member, receiver_ip: member_ip, node: joiner.entry, slots: joiner.slots };
        match self.leader_call(group, route.clone(), LeaderOp::Write(meet)).await {
            Ok(BusReply::Written(Ok(_))) => {}
            Ok(BusReply::Written(Err(e))) => return Err(Reply::error(e.to_string())),
            Ok(other) => return Err(merge_failed(joiner_id, format!("unexpected reply {other:?}"))),
            Err(e) => return Err(merge_failed(joiner_id, e)),
        }
        tracing::info!("meet: {joiner_id} joins group of {member}");
        let joined = if joiner_id == self.myself() {
            self.join_group(group, joiner_id, joiner.applied).await
        } else {
            let request = BusRequest::Join { group, node: joiner_id, expect_applied: joiner.applied };
            let timeout = Duration::from_millis(self.inner.config.bus_timeout_ms);
            match bus::call(&joiner.bus_addr, &request, timeout).await {
                Ok(BusReply::Done) => Ok(()),
                Ok(BusReply::Error(e)) => Err(e),
                Ok(other) => Err(format!("unexpected reply {other:?}")),
                Err(e) => Err(e.to_string()),
            }
        };
        if let Err(why) = joined {
            // Undo the table entry: the joiner stays the cluster of one it was.
            let undo = LeaderOp::Write(Command::Forget { by: member, target: joiner_id });
            let undone = self.leader_call(group, route, undo).await;
            tracing::info!("meet: {joiner_id} refused to join ({why}); entry removed: {}", undone.is_ok());
            return Err(merge_failed(joiner_id, why));
        }
        let add = LeaderOp::AddMember { node: joiner_id, addr: joiner.bus_addr };
        match self.leader_call(group, route, add).await {
            Ok(_) => Ok(Some(())),
            Err(e) => Err(merge_failed(joiner_id, format!("adding it to the Raft group: {e}"))),
        }
    }

    /// This node leaves its cluster of one for an empty instance of `group`, unless its table changed since the
    /// handshake (`expect_applied`). The table shown meanwhile is the one it had (`local`).
    pub(super) async fn join_group(&self, group: GroupId, node: NodeId, expect_applied: Option<u64>) -> Result<(), String> {
        let _swap = self.inner.swapping.lock().await;
        let me = self.myself();
        if node != me {
            return Err(format!("this node is {me}, not {node}"));
        }
        let current = self.current_group()?;
        if current.id() == group {
            // Already a member of that very group (another MEET merged this node first): joining again is a
            // no-op, and refusing would make the caller undo the entry the other MEET acknowledged (found by
            // `sim fuzz`: two MEETs racing on one joiner under read-index).
            return Ok(());
        }
        let size = current.read(MetaState::node_count);
        if size != 1 {
            return Err(format!("this node already belongs to a cluster of {size}"));
        }
        if current.applied_index() != expect_applied {
            return Err("its table changed since the handshake".to_string());
        }
        let table = current.read(MetaState::clone);
        *self.inner.local.lock().expect("meta lock") = table.clone();
        *self.inner.joining.lock().expect("joining lock") = true;
        current.shutdown().await;
        let disk = &self.inner.config.disk;
        let fresh =
            RaftGroup::join(me, group, table, disk, self.inner.config.clock, self.inner.transport.clone()).await.map_err(|e| e.to_string())?;
        *self.inner.group.lock().expect("group lock") = Some(Arc::new(fresh));
        tracing::info!("meet: {me} left its cluster of one for group {group}");
        Ok(())
    }

    /// Replaces this node's Raft instance with a new cluster of one whose table holds only `entry`.
    async fn become_cluster_of_one(&self, entry: NodeInfo) -> Result<(), String> {
        if let Some(old) = self.group() {
            old.shutdown().await;
        }
        *self.inner.local.lock().expect("meta lock") = MetaState::new(entry.clone());
        *self.inner.joining.lock().expect("joining lock") = false;
        *self.inner.myself.lock().expect("myself lock") = entry.id;
        let id = entry.id;
        let fresh = RaftGroup::found(entry, self.bus_addr(), &self.inner.config.disk, self.inner.config.clock, self.inner.transport.clone()).await;
        match fresh {
            Ok(g) => {
                *self.inner.group.lock().expect("group lock") = Some(Arc::new(g));
                tracing::info!("meta: {id} is a cluster of one");
                Ok(())
            }
            Err(e) => {
                *self.inner.group.lock().expect("group lock") = None;
                Err(e.to_string())
            }
        }
    }

    /// This node's entry as its tables know it (the group's, else the one shown meanwhile), as a fresh master.
    fn own_entry(&self) -> NodeInfo {
        let me = self.myself();
        let entry = self
            .read_local(|s| s.node(&me).cloned())
            .or_else(|| self.inner.local.lock().expect("meta lock").node(&me).cloned())
            .unwrap_or_else(|| self.inner.config.initial_entry());
        NodeInfo { master: None, ..entry }
    }

    /// CLUSTER FORGET under a Raft strategy: the group commits the Forget, then drops the target from the Raft
    /// membership, then (best effort) tells the target to become a cluster of one.
    pub(super) async fn forget(&self, target: NodeId) -> Reply {
        let store = self.clone();
        let work = async move {
            let me = store.myself();
            // The target's entry as committed so far: it keeps its config epoch when it becomes a cluster of one
            // (a Redis node that others forget keeps its own epoch).
            let last_entry = store.read_local(|s| s.node(&target).cloned());
            store.propose(Command::Forget { by: me, target }).await?;
            let group = store.current_group().map_err(|e| Reply::error(format!("CLUSTERDOWN {e}")))?;
            let target_addr = group.members().get(&target).cloned();
            let route = store.route_to_leader(&group);
            store
                .leader_call(group.id(), route, LeaderOp::RemoveMember { node: target })
                .await
                .map_err(|e| Reply::error(format!("CLUSTERDOWN forgot {target} but could not remove it from Raft: {e}")))?;
            if let Some(addr) = target_addr {
                let notice = BusRequest::Leave { group: group.id(), node: target, entry: last_entry };
                let sent = bus::call(&addr, &notice, Duration::from_millis(LEAVE_NOTICE_TIMEOUT_MS)).await;
                tracing::info!("forget: {target} told to leave: {}", sent.map_or_else(|e| e.to_string(), |_| "ok".into()));
            }
            Ok(Some(()))
        };
        match self.run_write(work).await {
            Ok(_) => Reply::ok(),
            Err(reply) => reply,
        }
    }

    /// CLUSTER RESET under a Raft strategy: leave the group (it commits this node's removal), then restart as a
    /// cluster of one (HARD: under a new id, epochs zeroed). Always awaited, whatever the strategy.
    pub(super) async fn reset(&self, hard: bool) -> Reply {
        let _swap = self.inner.swapping.lock().await;
        let me = self.myself();
        let group = match self.current_group() {
            Ok(g) => g,
            Err(e) => return Reply::error(format!("CLUSTERDOWN {e}")),
        };
        let entry = self.own_entry();
        let others: Vec<NodeInfo> = group.read(|s| s.nodes().filter(|n| n.id != me).cloned().collect());
        if !others.is_empty() {
            let Some(by) = others.iter().find(|n| n.master != Some(me)).map(|n| n.id) else {
                return Reply::error("ERR Can't leave the cluster: every other node is a replica of this one");
            };
            let route = self.route_to_leader(&group);
            match self.leader_call(group.id(), route.clone(), LeaderOp::Write(Command::Forget { by, target: me })).await {
                Ok(BusReply::Written(Ok(_))) => {}
                Ok(BusReply::Written(Err(e))) => return meta_reply(e),
                Ok(other) => return Reply::error(format!("CLUSTERDOWN leaving the cluster: unexpected reply {other:?}")),
                Err(e) => return Reply::error(format!("CLUSTERDOWN leaving the cluster: {e}")),
            }
            if let Err(e) = self.leader_call(group.id(), route, LeaderOp::RemoveMember { node: me }).await {
                return Reply::error(format!("CLUSTERDOWN left the table but not the Raft group: {e}"));
            }
        }
        let entry = if hard {
            NodeInfo { id: rt::random_node_id(), config_epoch: 0, ..entry }
        } else {
            entry
        };
        match self.become_cluster_of_one(entry).await {
            Ok(()) => Reply::ok(),
            Err(e) => Reply::error(format!("CLUSTERDOWN restarting as a cluster of one: {e}")),
        }
    }

    pub(super) async fn serve_join(&self, group: GroupId, node: NodeId, expect_applied: Option<u64>) -> BusReply {
        match self.join_group(group, node, expect_applied).await {
            Ok(()) => BusReply::Done,
            Err(e) => BusReply::Error(e),
        }
    }

    pub(super) async fn serve_leave(&self, group: GroupId, node: NodeId, last: Option<NodeInfo>) -> BusReply {
        let _swap = self.inner.swapping.lock().await;
        if node != self.myself() || self.group().map(|g| g.id()) != Some(group) {
            return BusReply::Error(format!("not {node} of group {group}"));
        }
        // The group's table may no longer hold this node; the one shown meanwhile may predate the merge, when the
        // node did not know its address yet (a node that was in a group knows it) and had an older config epoch.
        let mut entry = self.own_entry();
        if let Some(last) = last.filter(|l| l.id == node) {
            if last.config_epoch > entry.config_epoch {
                entry.config_epoch = last.config_epoch;
            }
            if entry.ip.is_empty() {
                entry.ip = last.ip;
            }
        }
        if entry.ip.is_empty() {
            entry.ip = self.inner.config.ip.clone();
        }
        match self.become_cluster_of_one(entry).await {
            Ok(()) => BusReply::Done,
            Err(e) => BusReply::Error(e),
        }
    }
}

fn merge_failed(joiner: NodeId, why: impl std::fmt::Display) -> Reply {
    Reply::error(format!("ERR Can't merge node {joiner}: {why}"))
}

fn meta_reply(e: MetaError) -> Reply {
    Reply::error(e.to_string())
}
