//! Group membership under the Raft strategies: MEET merges, FORGET, RESET, and the repair round that finishes
//! whatever a fault cut short (docs/MEMBERSHIP.md, "Why it converges").
//!
//! Every node starts as a cluster of one. MEET merges a cluster of one (the joiner) into the other side's group;
//! two multi-node groups never merge. The group's committed table decides: once it lists the joiner the join
//! goes ahead (the leader's repair round finishes it if the MEET is cut short), and a node is a member of a
//! group exactly while that group's table lists it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::bus::{self, BusReply, BusRequest, GroupSummary, JoinTerms, LeaderOp};
use super::meta_store::{MetaStore, ReadGuard, Route};
use crate::meta::{Command, Event, MetaError, MetaState, NodeId, NodeInfo, SlotSpan};
use crate::raft::{rt, GroupId, RaftGroup, VOTERS_MAX};
use crate::resp::Reply;

/// Deadline of the best-effort "you were forgotten" message.
const LEAVE_NOTICE_TIMEOUT_MS: u64 = 500;
/// How often every node runs its repair round, on its own clock.
pub const REPAIR_INTERVAL_MS: u64 = 1_000;
/// Rounds in a row a leader sees a node its table lists and its Raft membership lacks before it admits the node
/// itself (a MEET that just committed the entry is normally adding it).
pub const REPAIR_GRACE_ROUNDS: u32 = 2;
/// Rounds in a row a node of a multi-node group goes without a leader, or unlisted by its table, or outside
/// its Raft membership, before it asks the group whether it is still a member.
pub const ORPHAN_GRACE_ROUNDS: u32 = 3;
/// A member the leader has not heard from for this long (no acknowledged heartbeat or replication) is sent
/// `Join` again: it may have left its instance on a stale `Leave` (docs/MEMBERSHIP.md).
pub const SILENT_MEMBER_MS: u64 = 3_000;
/// Bound on each bus exchange and each leader operation of a repair round.
const REPAIR_CALL_TIMEOUT_MS: u64 = 2_000;
/// How long a MEET that met a merge in progress keeps starting over (local ms), and its backoff.
const MEET_RETRY_MS: u64 = 5_000;
const MEET_BACKOFF_FIRST_MS: u64 = 100;
const MEET_BACKOFF_MAX_MS: u64 = 1_000;
/// How every MEET error that a later attempt may not get ends: nothing of the attempt is left.
const TRY_AGAIN: &str = "try again";
/// Rounds in a row a group stays sealed before its leader asks the other group to decide the merge.
pub const SEAL_GRACE_ROUNDS: u32 = 5;
/// Asks in a row in which every node asked answered that it is not in the group asked about (the group this one
/// is sealed into, or this node's own) before that group is taken for gone.
pub const GONE_ASKS: u32 = 3;
/// How a node answers a request about a group it is not in (`MetaStore::serve_leader_op`).
const NOT_A_MEMBER: &str = "not a member of group";
/// How long a refusing joiner waits to raise its epoch (well inside the asking node's call timeout).
const RAISE_EPOCH_TIMEOUT_MS: u64 = 500;
/// Most times a MEET records a joiner's changed slots and asks again before leaving the rest to the repair round.
const JOIN_UPDATES_MAX: usize = 3;
/// Most addresses one membership question tries (members, the peers it joined with, leader hints).
const MEMBERSHIP_ASKS_MAX: usize = 8;

/// A sealed group's leader's count of rounds sealed and of asks that found the other group gone.
#[derive(Default)]
struct SealWatch {
    rounds: u32,
    gone: u32,
}

/// What asking a group's nodes around got ([`MetaStore::ask_around`]).
enum Asked {
    /// A node answered for the group.
    Answer(BusReply),
    /// Every node asked answered that it is not in that group: nobody can answer for it.
    AllGone,
    /// No answer (unreachable, timed out, nobody asked).
    NoAnswer,
}

/// The joining side of a merge.
struct Joiner {
    entry: NodeInfo,
    slots: Vec<SlotSpan>,
    bus_addr: String,
    /// The epochs its table showed for nodes it no longer lists (`Command::Meet`'s `shown`).
    shown: Vec<(NodeId, u64)>,
}

/// One side of a merge of two multi-node clusters: its group, the way to its leader, the node of it the MEET
/// named (and its address as named), and bus addresses of its members.
struct Side {
    group: GroupId,
    route: Route,
    member: NodeId,
    member_ip: String,
    asks: Vec<String>,
}

/// Why a join did not happen.
pub(super) enum JoinError {
    /// The joiner will not join as things stand: the group should call the join off.
    Refused(String),
    /// Unreachable, timed out, or failed on the joiner's side: it may still happen.
    Failed(String),
    /// The joiner's own table changed since the terms were taken (it acknowledged writes of its own: slots it
    /// added or removed): what it holds now. The group records it, then asks again, so that nothing either side
    /// acknowledged is lost (calling the join off would drop what the group acknowledged about the joiner).
    Changed(JoinTerms),
}

/// Slots of `from` not in `to`, as maximal runs.
fn slots_missing(from: &[SlotSpan], to: &[SlotSpan]) -> Vec<SlotSpan> {
    let keep: BTreeSet<u16> = to.iter().flat_map(|s| s.slots()).collect();
    let mut runs: Vec<SlotSpan> = Vec::new();
    for slot in from.iter().flat_map(|s| s.slots()).filter(|s| !keep.contains(s)) {
        match runs.last_mut() {
            Some(run) if run.end + 1 == slot => run.end = slot,
            _ => runs.push(SlotSpan::one(slot)),
        }
    }
    runs
}

impl MetaStore {
    /// CLUSTER MEET under a Raft strategy. The handshake is always made (it tells which side joins); the merge
    /// itself runs with the strategy's timing (`run_write`).
    ///
    /// Redis answers MEET at once and gossip does the rest, whatever else is under way; here a MEET that met a
    /// merge in progress (its own handshake saw one, or its joiner refused because it took another `Join` or
    /// formed a cluster of its own meanwhile, and the join was called off) starts over from the handshake,
    /// with backoff, for up to [`MEET_RETRY_MS`]: the next attempt sees where the other side ended up (and
    /// joins it, or merges the two clusters).
    pub(super) async fn meet(&self, ip: String, port: u16, bus_port: u16, node_id: Option<NodeId>) -> Reply {
        let deadline = std::time::Instant::now() + self.local_ms(MEET_RETRY_MS);
        let mut backoff_ms = MEET_BACKOFF_FIRST_MS;
        loop {
            let reply = self.meet_once(ip.clone(), port, bus_port, node_id).await;
            let again = matches!(&reply, Reply::Error(e) if e.ends_with(TRY_AGAIN));
            let backoff = self.local_ms(backoff_ms);
            if !again || std::time::Instant::now() + backoff >= deadline {
                return reply;
            }
            crate::probe::hit("meet.retried");
            tokio::time::sleep(backoff).await;
            backoff_ms = (backoff_ms * 2).min(MEET_BACKOFF_MAX_MS);
        }
    }

    async fn meet_once(&self, ip: String, port: u16, bus_port: u16, node_id: Option<NodeId>) -> Reply {
        if let Some(id) = node_id {
            if self.read_local(|s| s.contains(&id)) {
                return self.confirm_same_cluster(id, &ip, port).await;
            }
        }
        let timeout_ms = self.inner.config.bus_timeout_ms;
        let (peer, peer_slots, peer_group) = match bus::hello(&ip, bus_port, timeout_ms).await {
            Ok(answer) => answer,
            Err(e) => {
                return Reply::error(format!(
                    "ERR Can't reach node {ip}:{port} on its cluster bus port {bus_port}: {e}"
                ))
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
            return self.confirm_same_cluster(peer.id, &ip, port).await;
        }
        let my_size = mine.read(MetaState::node_count);
        if my_size == 0 || peer_group.size == 0 {
            return Reply::error(format!("ERR Can't meet {ip}:{port}: a merge is in progress, try again"));
        }
        let peer_bus = format!("{ip}:{bus_port}");
        if my_size > 1 && peer_group.size > 1 {
            return self.merge_clusters(&mine, my_size, (peer.id, ip), &peer_group, peer_bus).await;
        }
        let store = self.clone();
        let work = if peer_group.size == 1 {
            // The target joins this node's group (also when both are clusters of one).
            let mut entry = peer;
            entry.ip = ip;
            entry.port = port;
            entry.bus_port = bus_port;
            let joiner = Joiner { entry, slots: peer_slots, bus_addr: peer_bus, shown: peer_group.shown.clone() };
            let member = self.myself();
            let member_ip = self.inner.config.ip.clone();
            let route = self.route_to_leader(&mine);
            let peers = mine.members().into_values().collect();
            let group = mine.id();
            Box::pin(async move { store.merge(group, route, member, member_ip, joiner, peers).await })
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
            let joiner = Joiner { entry, slots, bus_addr: self.bus_addr(), shown: mine.read(MetaState::shown_epochs) };
            let peers = vec![peer_bus.clone()];
            Box::pin(
                async move { store.merge(peer_group.id, Route::Remote(peer_bus), peer.id, ip, joiner, peers).await },
            )
        };
        match self.run_write(work).await {
            Ok(_) => Reply::ok(),
            Err(reply) => reply,
        }
    }

    /// MEET between two multi-node clusters: the smaller one (the target's, of two of one size) is absorbed
    /// whole ([`Self::absorb_group`]). `peer` is the target's id and its IP as the MEET named it.
    async fn merge_clusters(
        &self,
        mine: &RaftGroup,
        my_size: usize,
        (peer, ip): (NodeId, String),
        peer_group: &GroupSummary,
        peer_bus: String,
    ) -> Reply {
        let here = Side {
            group: mine.id(),
            route: self.route_to_leader(mine),
            member: self.myself(),
            member_ip: self.inner.config.ip.clone(),
            asks: mine.members().into_values().collect(),
        };
        let there = Side {
            group: peer_group.id,
            route: Route::Remote(peer_bus.clone()),
            member: peer,
            member_ip: ip,
            asks: vec![peer_bus],
        };
        let (into, from) = if my_size >= peer_group.size { (here, there) } else { (there, here) };
        let store = self.clone();
        match self.run_write(async move { store.absorb_group(into, from).await }).await {
            Ok(_) => Reply::ok(),
            Err(reply) => reply,
        }
    }

    /// MEET of a node this one already lists, or already shares a group with. The local-read strategies answer
    /// OK at once. read-index answers OK only once a linearizable read shows both nodes in the table *and* both
    /// are in the group's Raft membership, so an OK always means what a finished merge means. Before, a node left
    /// in an instance of a group that had called its join off answered OK here and was never listed; and a MEET
    /// of a node another member's MEET had just listed (its entry committed, its answer not in yet) answered OK,
    /// then the node refused and the entry was removed (`workload writes` found it: concurrent MEETs of one
    /// joiner). The membership is this node's own view; after the read it holds every membership change
    /// committed before the read began, and a lagging one only answers "try again".
    async fn confirm_same_cluster(&self, other: NodeId, ip: &str, port: u16) -> Reply {
        if self.behaviour().read_guard == ReadGuard::LocalState {
            return Reply::ok();
        }
        let in_progress = || Reply::error(format!("ERR Can't meet {ip}:{port}: a merge is in progress, try again"));
        match self.read(|v| v.state.contains(&v.myself) && v.state.contains(&other)).await {
            Ok(true) => match self.current_group() {
                Ok(group) => {
                    let members = group.members();
                    if members.contains_key(&self.myself()) && members.contains_key(&other) {
                        Reply::ok()
                    } else {
                        crate::probe::hit("meet.confirm_join_pending");
                        in_progress()
                    }
                }
                Err(e) => Reply::error(format!("CLUSTERDOWN {e}")),
            },
            Ok(false) => in_progress(),
            Err(reply) => reply,
        }
    }

    /// The merge proper: `member` (reached at `route`) has its group commit the joiner's entry and slots; the
    /// joiner replaces its cluster of one with an empty Raft instance of the group; the leader adds it. Once the
    /// entry is committed the join is decided: a step cut short here is finished by the leader's repair round,
    /// and only a joiner's refusal calls it off (the entry is then removed).
    async fn merge(
        &self,
        group: GroupId,
        route: Route,
        member: NodeId,
        member_ip: String,
        joiner: Joiner,
        peers: Vec<String>,
    ) -> Result<Option<()>, Reply> {
        let joiner_id = joiner.entry.id;
        let lock = self.inner.merging.lock().expect("merging lock").entry(joiner_id).or_default().clone();
        let _one_merge_of_this_joiner = lock.lock().await;
        let mut terms = self.commit_meet_entry(group, route.clone(), (member, member_ip), &joiner).await?;
        tracing::info!("meet: {joiner_id} joins group of {member}");
        let mut joined = Err(JoinError::Failed("not asked".to_string()));
        for _ in 0..JOIN_UPDATES_MAX {
            joined = self.join_once(group, &joiner, &terms, &peers).await;
            let Err(JoinError::Changed(now)) = &joined else { break };
            crate::probe::hit("meet.join_changed");
            match self.record_joiner_slots(group, route.clone(), joiner_id, &terms.slots, &now.slots).await {
                Ok(()) => terms.slots = now.slots.clone(),
                Err(why) => {
                    joined = Err(JoinError::Refused(format!(
                        "its table changed since the handshake and cannot be recorded: {why}"
                    )));
                    break;
                }
            }
        }
        // Another MEET of the same joiner (or the repair round) may have joined it meanwhile — its own refusal or
        // changed table was about a moment before that, and a record the group no longer takes is that other
        // join's doing. Calling the join off then would forget a member: asked once more, a joiner already in
        // the group says so (`workload writes` found both races).
        if matches!(joined, Err(JoinError::Refused(_))) && self.join_once(group, &joiner, &terms, &peers).await.is_ok()
        {
            crate::probe::hit("meet.joined_by_another");
            joined = Ok(());
        }
        match joined {
            Ok(()) => {}
            Err(JoinError::Refused(why)) => {
                crate::probe::hit("meet.join_refused");
                let undo = LeaderOp::Write(Command::CallOff { by: member, target: joiner_id });
                let undone = self.leader_call(group, route, undo).await;
                tracing::info!("meet: {joiner_id} refused to join ({why}); entry removed: {}", undone.is_ok());
                // Called off: nothing of this attempt is left, and the next one sees where the joiner went.
                return Err(merge_failed(joiner_id, format!("{why}, {TRY_AGAIN}")));
            }
            Err(JoinError::Failed(why)) => {
                return Err(merge_failed(joiner_id, format!("{why} (the group's leader finishes the join)")));
            }
            Err(JoinError::Changed(_)) => {
                return Err(merge_failed(joiner_id, "its table keeps changing (the group's leader finishes the join)"));
            }
        }
        let add = LeaderOp::AddMember { node: joiner_id, addr: joiner.bus_addr };
        match self.leader_call(group, route, add).await {
            Ok(_) => Ok(Some(())),
            Err(e) => Err(merge_failed(
                joiner_id,
                format!("adding it to the Raft group: {e} (the group's leader finishes the join)"),
            )),
        }
    }

    /// A MEET between two multi-node clusters: `from`'s group is absorbed into `into`'s, a two-phase commit whose
    /// decision is `into`'s log (docs/MEMBERSHIP.md, "Two multi-node clusters"):
    /// 1. `from` commits `Seal`: its table refuses every write (and its nodes every read) from then on, so the
    ///    table it answers with is the last one it acknowledged;
    /// 2. `into` commits `Absorb` of that table (refused on a slot served by both sides, a node listed by both,
    ///    or a merge already called off: then `from` is unsealed and the MEET answers the error);
    /// 3. every node of `from` swaps to an empty instance of `into` (`Join`, whose terms name the sealed group)
    ///    and is added. From step 2 on the merge is decided: a step cut short is finished by `into`'s repair
    ///    round; a seal whose `Absorb` never came is undone by `from`'s leader (`Decide`, then `Unseal`).
    async fn absorb_group(&self, into: Side, from: Side) -> Result<Option<()>, Reply> {
        let token = rt::random_u64();
        let failed = |why: String| Reply::error(format!("ERR Can't merge the clusters: {why}"));
        let seal = Command::Seal { into: into.group, token, asks: into.asks.clone(), member: into.member };
        let table = match self.leader_call(from.group, from.route.clone(), LeaderOp::Write(seal)).await {
            Ok(BusReply::Written(Ok(Event::Sealed { table }))) => *table,
            Ok(BusReply::Written(Err(e))) => return Err(meta_reply(e)),
            Ok(other) => return Err(failed(format!("sealing: unexpected reply {other:?}"))),
            Err(e) => return Err(failed(format!("sealing: {e} (the group's leader undoes a seal left behind)"))),
        };
        crate::probe::hit("merge.sealed");
        let nodes: Vec<NodeInfo> = table.nodes().cloned().collect();
        let slots: Vec<(NodeId, Vec<SlotSpan>)> = table.slot_runs().into_iter().collect();
        let absorb = Command::Absorb {
            receiver: into.member,
            receiver_ip: into.member_ip.clone(),
            from: from.group,
            token,
            nodes: nodes.clone(),
            slots,
            shown: table.shown_epochs(),
        };
        match self.leader_call(into.group, into.route.clone(), LeaderOp::Write(absorb)).await {
            Ok(BusReply::Written(Ok(_))) => {}
            Ok(BusReply::Written(Err(e))) => {
                let undo = LeaderOp::Write(Command::Unseal { token });
                let undone = self.leader_call(from.group, from.route.clone(), undo).await;
                tracing::info!("merge: group {} not absorbed ({e}); unsealed: {}", from.group, undone.is_ok());
                return Err(meta_reply(e));
            }
            Ok(other) => return Err(failed(format!("absorbing: unexpected reply {other:?}"))),
            Err(e) => return Err(failed(format!("absorbing: {e} (the groups' leaders finish or undo the merge)"))),
        }
        tracing::info!("merge: group {} absorbed group {} ({} nodes)", into.group, from.group, nodes.len());
        let mut unfinished = Vec::new();
        for entry in nodes {
            let id = entry.id;
            let bus_addr = format!("{}:{}", entry.ip, entry.bus_port);
            let terms = JoinTerms {
                slots: table.slot_runs_of(&id),
                config_epoch: entry.config_epoch,
                absorbed_from: Some(from.group),
            };
            let joiner = Joiner { entry, slots: terms.slots.clone(), bus_addr: bus_addr.clone(), shown: vec![] };
            let outcome = match self.join_once(into.group, &joiner, &terms, &into.asks).await {
                Ok(()) => self
                    .leader_call(into.group, into.route.clone(), LeaderOp::AddMember { node: id, addr: bus_addr })
                    .await
                    .map(|_| ()),
                Err(JoinError::Refused(why) | JoinError::Failed(why)) => Err(why),
                Err(JoinError::Changed(_)) => Err("its table changed".to_string()),
            };
            if let Err(why) = outcome {
                unfinished.push(format!("{id}: {why}"));
            }
        }
        if unfinished.is_empty() {
            Ok(Some(()))
        } else {
            Err(failed(format!("{} (the group's leader finishes the merge)", unfinished.join("; "))))
        }
    }

    /// On the leader of a sealed group, every [`SEAL_GRACE_ROUNDS`] rounds: asks the group it is sealed into to
    /// decide the merge (`Decide`, committed there: absorbed, or called off for good) and unseals if it was
    /// called off. Absorbed: nothing to do here, that group's repair round brings every node over.
    ///
    /// If every node it asks answers that it is in that group no more, [`GONE_ASKS`] times in a row, the
    /// group is gone (absorbed into a third one, or all of it forgotten) and nobody can decide: the seal is
    /// undone. Had that group absorbed this one before it went, the third group lists this group's nodes and
    /// brings them over, which they accept while sealed (`refuse_unless_joinable`); a seal undone first only
    /// leaves this cluster on its own.
    async fn resolve_seal(&self, group: &RaftGroup, watch: &mut SealWatch) {
        let Some(seal) = group.read(|s| s.sealed().cloned()) else {
            *watch = SealWatch::default();
            return;
        };
        watch.rounds += 1;
        if watch.rounds < SEAL_GRACE_ROUNDS {
            return;
        }
        watch.rounds = 0;
        let decide =
            BusRequest::Leader { group: seal.into, op: LeaderOp::Write(Command::Decide { token: seal.token }) };
        let decided = |r: &BusReply| matches!(r, BusReply::Written(Ok(Event::Decided { .. })));
        let absorbed = match self.ask_around(seal.asks.clone(), &decide, decided).await {
            Asked::Answer(BusReply::Written(Ok(Event::Decided { absorbed }))) => absorbed,
            Asked::AllGone if watch.gone + 1 >= GONE_ASKS => {
                crate::probe::hit("merge.absorbing_group_gone");
                false
            }
            Asked::AllGone => {
                watch.gone += 1;
                return;
            }
            _ => {
                watch.gone = 0;
                return;
            }
        };
        *watch = SealWatch::default();
        if absorbed {
            tracing::info!("merge: group {} is absorbed into {}; its nodes are brought over", group.id(), seal.into);
            return;
        }
        crate::probe::hit("merge.called_off");
        let undone = self.bounded_leader_op(group, LeaderOp::Write(Command::Unseal { token: seal.token })).await;
        tracing::info!("merge: group {} was not absorbed into {}: unsealed: {undone}", group.id(), seal.into);
    }

    /// The merge's first step: the group commits the joiner's entry (`Meet`); the terms the joiner is offered.
    async fn commit_meet_entry(
        &self,
        group: GroupId,
        route: Route,
        (member, member_ip): (NodeId, String),
        joiner: &Joiner,
    ) -> Result<JoinTerms, Reply> {
        let joiner_id = joiner.entry.id;
        let mut terms =
            JoinTerms { slots: joiner.slots.clone(), config_epoch: joiner.entry.config_epoch, absorbed_from: None };
        let meet = Command::Meet {
            receiver: member,
            receiver_ip: member_ip,
            node: joiner.entry.clone(),
            slots: joiner.slots.clone(),
            shown: joiner.shown.clone(),
        };
        match self.leader_call(group, route, LeaderOp::Write(meet)).await {
            // The table may have bumped the joiner's epoch (a collision): the joiner is offered that one.
            Ok(BusReply::Written(Ok(Event::NodeAdded { config_epoch, .. }))) => terms.config_epoch = config_epoch,
            // Listed already (an earlier MEET's join, not finished): the terms are what the table holds for it,
            // so a joiner that took slots since answers `Changed` and they are recorded (offering its own slots
            // instead let it swap, and the group, which never had them, lost them: `LostWrite`, BUGGIFY seed 23).
            Ok(BusReply::Written(Ok(Event::NodeAlreadyKnown { slots, config_epoch, .. }))) => {
                terms.slots = slots;
                terms.config_epoch = config_epoch;
            }
            Ok(BusReply::Written(Ok(_))) => {}
            Ok(BusReply::Written(Err(e))) => return Err(Reply::error(e.to_string())),
            Ok(other) => return Err(merge_failed(joiner_id, format!("unexpected reply {other:?}"))),
            Err(e) => return Err(merge_failed(joiner_id, e)),
        }
        Ok(terms)
    }

    /// One `Join` request to the joiner under `terms` (this node itself, or over the bus).
    async fn join_once(
        &self,
        group: GroupId,
        joiner: &Joiner,
        terms: &JoinTerms,
        peers: &[String],
    ) -> Result<(), JoinError> {
        let id = joiner.entry.id;
        if id == self.myself() {
            self.join_group(group, id, terms, peers.to_vec()).await
        } else {
            let timeout_ms = self.inner.config.bus_timeout_ms;
            self.ask_to_join(&joiner.bus_addr, group, id, terms.clone(), peers.to_vec(), timeout_ms).await
        }
    }

    /// Commits, in `group`, the joiner's slots as its own table holds them now (`to`) instead of `from`: a
    /// `DelSlots` of what it gave up, an `AddSlots` of what it took. Fails if the group gave those slots to
    /// another node meanwhile.
    async fn record_joiner_slots(
        &self,
        group: GroupId,
        route: Route,
        joiner: NodeId,
        from: &[SlotSpan],
        to: &[SlotSpan],
    ) -> Result<(), String> {
        let dropped = slots_missing(from, to);
        let taken = slots_missing(to, from);
        for command in [
            (!dropped.is_empty()).then_some(Command::DelSlots { node: joiner, spans: dropped }),
            (!taken.is_empty()).then_some(Command::AddSlots { node: joiner, spans: taken }),
        ]
        .into_iter()
        .flatten()
        {
            match self.leader_call(group, route.clone(), LeaderOp::Write(command)).await {
                Ok(BusReply::Written(Ok(_))) => {}
                Ok(BusReply::Written(Err(e))) => return Err(e.to_string()),
                Ok(other) => return Err(format!("unexpected reply {other:?}")),
                Err(e) => return Err(e),
            }
        }
        tracing::info!("meet: {joiner}'s own slots recorded in the group before it joins");
        Ok(())
    }

    /// Sends `Join` to the node at `addr`.
    async fn ask_to_join(
        &self,
        addr: &str,
        group: GroupId,
        node: NodeId,
        terms: JoinTerms,
        peers: Vec<String>,
        timeout_ms: u64,
    ) -> Result<(), JoinError> {
        let request = BusRequest::Join { group, node, terms, peers };
        match bus::call(addr, &request, Duration::from_millis(timeout_ms)).await {
            Ok(BusReply::Done) => Ok(()),
            Ok(BusReply::Refused(why)) => Err(JoinError::Refused(why)),
            Ok(BusReply::Changed(now)) => Err(JoinError::Changed(now)),
            Ok(BusReply::Error(e)) => Err(JoinError::Failed(e)),
            Ok(other) => Err(JoinError::Failed(format!("unexpected reply {other:?}"))),
            Err(e) => Err(JoinError::Failed(e.to_string())),
        }
    }

    /// A joiner refusing a merge first raises its own config epoch, in its own group, to the one the merging
    /// group's table showed for it (`terms.config_epoch`: the table may have bumped it to resolve a collision):
    /// a reader of that table saw this node at that epoch, and must never see it lower when it meets this node
    /// again. Best effort within [`RAISE_EPOCH_TIMEOUT_MS`] (a group without a known leader keeps the old epoch).
    async fn keep_offered_epoch(
        &self,
        current: &RaftGroup,
        me: NodeId,
        terms: &JoinTerms,
        why: JoinError,
    ) -> JoinError {
        let JoinError::Refused(_) = &why else { return why };
        let mine = current.read(|s| s.node(&me).map(|n| n.config_epoch));
        // Without a known leader the write could not commit: the refusal is not held up for it (the asking
        // node's call would time out first and take the refusal for silence).
        if mine.is_none_or(|e| e >= terms.config_epoch) || current.leader().is_none() {
            return why;
        }
        crate::probe::hit("meet.refusal_keeps_offered_epoch");
        let raise = LeaderOp::Write(Command::RaiseEpoch { node: me, epoch: terms.config_epoch });
        let call = self.leader_call(current.id(), self.route_to_leader(current), raise);
        let raised = tokio::time::timeout(self.local_ms(RAISE_EPOCH_TIMEOUT_MS), call).await;
        let raised = matches!(raised, Ok(Ok(BusReply::Written(Ok(_)))));
        tracing::info!(
            "meet: {me} refuses a join that showed it at config epoch {}: raised its own: {raised}",
            terms.config_epoch
        );
        why
    }

    /// This node leaves its cluster of one for an empty instance of `group`, whose table has committed its
    /// entry — unless that would lose something its own table holds (`terms`). Joining the group it is already
    /// in is done already (two MEETs, or a MEET and the leader's repair round, racing on one joiner). While the
    /// swap runs no write of this node is in flight (`write_gate`), so nothing acknowledged can slip between the
    /// check and the swap. The table shown meanwhile is the one it had (`local`).
    pub(super) async fn join_group(
        &self,
        group: GroupId,
        node: NodeId,
        terms: &JoinTerms,
        peers: Vec<String>,
    ) -> Result<(), JoinError> {
        let _swap = self.inner.swapping.lock().await;
        let me = self.myself();
        if node != me {
            return Err(JoinError::Refused(format!("this node is {me}, not {node}")));
        }
        let current = self.current_group().map_err(JoinError::Failed)?;
        if current.id() == group {
            return Ok(());
        }
        if let Err(refused) = refuse_unless_joinable(&current, me, terms) {
            return Err(self.keep_offered_epoch(&current, me, terms, refused).await);
        }
        let _no_writes = self.inner.write_gate.write().await;
        if let Err(refused) = refuse_unless_joinable(&current, me, terms) {
            return Err(self.keep_offered_epoch(&current, me, terms, refused).await);
        }
        let table = current.read(MetaState::clone);
        *self.inner.local.lock().expect("meta lock") = table.clone();
        *self.inner.joining.lock().expect("joining lock") = true;
        current.shutdown().await;
        let disk = &self.inner.config.disk;
        let fresh =
            RaftGroup::join(me, group, table, peers, disk, self.inner.config.clock, self.inner.transport.clone())
                .await
                .map_err(|e| JoinError::Failed(e.to_string()))?;
        *self.inner.group.lock().expect("group lock") = Some(Arc::new(fresh));
        tracing::info!("meet: {me} left its cluster of one for group {group}");
        Ok(())
    }

    /// Replaces this node's Raft instance with a new cluster of one whose table holds `entry` serving `slots`.
    async fn become_cluster_of_one(&self, entry: NodeInfo, slots: Vec<SlotSpan>) -> Result<(), String> {
        if let Some(old) = self.group() {
            old.shutdown().await;
        }
        let mut shown = MetaState::new(entry.clone());
        if !slots.is_empty() {
            let restore = Command::AddSlots { node: entry.id, spans: slots.clone() };
            if let Err(e) = shown.apply(&restore) {
                tracing::warn!(error = %e, "meta: slots not shown while restarting as a cluster of one");
            }
        }
        *self.inner.local.lock().expect("meta lock") = shown;
        *self.inner.joining.lock().expect("joining lock") = false;
        *self.inner.myself.lock().expect("myself lock") = entry.id;
        let id = entry.id;
        let fresh = RaftGroup::found(
            entry,
            slots,
            self.bus_addr(),
            &self.inner.config.disk,
            self.inner.config.clock,
            self.inner.transport.clone(),
        )
        .await;
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

    /// CLUSTER FORGET under a Raft strategy: the group commits the Forget (from then on no read lists the
    /// target), then drops the target from the Raft membership and tells it to become a cluster of one. Those
    /// two are best effort: the leader's repair round removes any member its table no longer lists, and a
    /// forgotten node that missed the notice finds out by asking (`ask_whether_member`).
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
            if let Err(e) = store.leader_call(group.id(), route, LeaderOp::RemoveMember { node: target }).await {
                tracing::info!(
                    "forget: {target} stays in the Raft membership for now ({e}); the leader's repair round removes it"
                );
            }
            if let Some(addr) = target_addr {
                let notice = BusRequest::Leave { group: group.id(), node: target, entry: last_entry };
                let sent = bus::call(&addr, &notice, Duration::from_millis(LEAVE_NOTICE_TIMEOUT_MS)).await;
                tracing::info!(
                    "forget: {target} told to leave: {}",
                    sent.map_or_else(|e| e.to_string(), |_| "ok".into())
                );
            }
            Ok(Some(()))
        };
        match self.run_write(work).await {
            Ok(_) => Reply::ok(),
            Err(reply) => reply,
        }
    }

    /// CLUSTER RESET under a Raft strategy: leave the group (it commits this node's removal from the table; the
    /// leader drops it from the Raft membership, now or in its repair round), then restart as a cluster of one
    /// (HARD: under a new id, epochs zeroed). Always awaited, whatever the strategy.
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
            match self.leader_call(group.id(), route.clone(), LeaderOp::Write(Command::Forget { by, target: me })).await
            {
                Ok(BusReply::Written(Ok(_))) => {}
                Ok(BusReply::Written(Err(e))) => return meta_reply(e),
                Ok(other) => {
                    return Reply::error(format!("CLUSTERDOWN leaving the cluster: unexpected reply {other:?}"))
                }
                Err(e) => return Reply::error(format!("CLUSTERDOWN leaving the cluster: {e}")),
            }
            if let Err(e) = self.leader_call(group.id(), route, LeaderOp::RemoveMember { node: me }).await {
                tracing::info!(
                    "reset: {me} stays in the Raft membership for now ({e}); the leader's repair round removes it"
                );
            }
        }
        let entry = if hard { NodeInfo { id: rt::random_node_id(), config_epoch: 0, ..entry } } else { entry };
        match self.become_cluster_of_one(entry, Vec::new()).await {
            Ok(()) => Reply::ok(),
            Err(e) => Reply::error(format!("CLUSTERDOWN restarting as a cluster of one: {e}")),
        }
    }

    pub(super) async fn serve_join(
        &self,
        group: GroupId,
        node: NodeId,
        terms: JoinTerms,
        peers: Vec<String>,
    ) -> BusReply {
        match self.join_group(group, node, &terms, peers).await {
            Ok(()) => BusReply::Done,
            Err(JoinError::Refused(why)) => BusReply::Refused(why),
            Err(JoinError::Changed(now)) => BusReply::Changed(now),
            Err(JoinError::Failed(why)) => BusReply::Error(why),
        }
    }

    pub(super) async fn serve_leave(&self, group: GroupId, node: NodeId, last: Option<NodeInfo>) -> BusReply {
        let _swap = self.inner.swapping.lock().await;
        if node != self.myself() || self.group().map(|g| g.id()) != Some(group) {
            return BusReply::Error(format!("not {node} of group {group}"));
        }
        match self.become_cluster_of_one(self.entry_after_leaving(last), Vec::new()).await {
            Ok(()) => BusReply::Done,
            Err(e) => BusReply::Error(e),
        }
    }

    /// This node's entry once removed from its group: as the group's table last held it (`last`, when known)
    /// or as the node's own tables do; a node that was in a group knows its address and keeps its latest
    /// config epoch (the one shown meanwhile may predate the merge).
    fn entry_after_leaving(&self, last: Option<NodeInfo>) -> NodeInfo {
        let mut entry = self.own_entry();
        let last = last.or_else(|| self.group().and_then(|g| g.forgotten_entry(&entry.id)));
        if let Some(last) = last.filter(|l| l.id == entry.id) {
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
        entry
    }

    // ---- the repair round: what makes every merge and removal finish (docs/MEMBERSHIP.md) ----

    /// Runs forever on every node of a Raft strategy: every [`REPAIR_INTERVAL_MS`] on its clock, a leader makes
    /// its group's Raft membership follow its committed table ([`Self::repair_group`]), and any node that looks
    /// cut off from its group asks whether it is still a member ([`Self::ask_whether_member`]).
    pub(super) async fn repair_loop(self) {
        let mut unadmitted: BTreeMap<(GroupId, NodeId), u32> = BTreeMap::new();
        let mut orphan_rounds = 0u32;
        let mut gone_asks = 0u32;
        let mut sealed = SealWatch::default();
        loop {
            tokio::time::sleep(self.local_ms(REPAIR_INTERVAL_MS)).await;
            let Some(group) = self.group() else { continue };
            self.note_merged(&group);
            if group.is_leader() {
                self.resolve_seal(&group, &mut sealed).await;
                self.repair_group(&group, &mut unadmitted).await;
            } else {
                unadmitted.clear();
                sealed = SealWatch::default();
            }
            orphan_rounds = if self.looks_cut_off(&group) { orphan_rounds + 1 } else { 0 };
            if orphan_rounds == 0 {
                gone_asks = 0;
            }
            if orphan_rounds >= ORPHAN_GRACE_ROUNDS {
                orphan_rounds = 0;
                let gone = self.ask_whether_member(&group).await;
                // Only a node that never caught up (its table does not list it) takes a group nobody answers
                // for as gone: a member of a group absorbed into another also finds every other member gone
                // from it, and must wait for the absorbing group's `Join` (leaving showed stale reads).
                let never_listed = !group.read(|s| s.contains(&group.node_id()));
                gone_asks = if gone && never_listed { gone_asks + 1 } else { 0 };
                if gone_asks >= GONE_ASKS {
                    // Every node it knows of that group has left it (all of it moved on before this node caught
                    // up) and nobody can answer: the group is gone.
                    gone_asks = 0;
                    crate::probe::hit("repair.group_gone");
                    self.leave_group_that_dropped_me(group.id()).await;
                }
            }
        }
    }

    /// Clears `joining` once this node's group table, as applied here, lists it (reads through the barrier do
    /// not pass by `read_local`, which otherwise clears it).
    fn note_merged(&self, group: &RaftGroup) {
        if *self.inner.joining.lock().expect("joining lock") && group.read(|s| s.contains(&group.node_id())) {
            *self.inner.joining.lock().expect("joining lock") = false;
        }
    }

    /// One leader round. The committed table is the truth; the Raft membership follows it:
    /// 1. a node the table lists and Raft lacks (its MEET was cut short after the commit) is asked to `Join`
    ///    (idempotent), then added; if it refuses, its entry is removed (the join is called off);
    /// 2. a member the table no longer lists (a FORGET or RESET cut short) is removed and told to leave;
    /// 3. while the group has fewer than [`VOTERS_MAX`] voters, a learner the table lists is promoted.
    ///
    /// Nothing is judged before a read barrier: a new leader may not have applied every committed entry yet
    /// while its membership (effective from the log) already names the nodes those entries added.
    async fn repair_group(&self, group: &Arc<RaftGroup>, unadmitted: &mut BTreeMap<(GroupId, NodeId), u32>) {
        let silent = group.silent_members(self.local_ms(SILENT_MEMBER_MS));
        if !membership_differs(group) && silent.is_empty() {
            unadmitted.clear();
            return;
        }
        let timeout = self.local_ms(REPAIR_CALL_TIMEOUT_MS);
        let Ok(Ok(index)) = tokio::time::timeout(timeout, group.read_index()).await else { return };
        if group.wait_applied(index, timeout).await.is_err() {
            return;
        }
        let me = group.node_id();
        let gid = group.id();
        let listed: Vec<(NodeInfo, Vec<SlotSpan>)> =
            group.read(|s| s.nodes().map(|n| (n.clone(), s.slot_runs_of(&n.id))).collect());
        let listed_ids: BTreeSet<NodeId> = listed.iter().map(|(n, _)| n.id).collect();
        let members = group.members();
        // Listed nodes outside the Raft membership, and listed members the leader no longer hears from (a member
        // that left its instance on a stale `Leave` or membership answer answers `Join` by joining again; one
        // that is merely down or cut off is not reached, and costs one failed call every other round).
        let unjoined = |id: &NodeId| !members.contains_key(id) || silent.contains(id);
        unadmitted.retain(|(g, id), _| *g == gid && listed_ids.contains(id) && unjoined(id));
        let peers: Vec<String> = members.values().cloned().collect();
        // An entry without an address (a founder no MEET has named yet) cannot be a node cut off from a MEET.
        let unjoined = listed.iter().filter(|(n, _)| n.id != me && !n.ip.is_empty() && unjoined(&n.id));
        for (entry, slots) in unjoined {
            let rounds = unadmitted.entry((gid, entry.id)).or_insert(0);
            *rounds += 1;
            if *rounds >= REPAIR_GRACE_ROUNDS {
                *rounds = 0;
                self.admit(group, entry, slots, peers.clone()).await;
            }
        }
        for (id, addr) in members.iter().filter(|(id, _)| !listed_ids.contains(id)) {
            crate::probe::hit("repair.member_removed");
            let removed = self.bounded_leader_op(group, LeaderOp::RemoveMember { node: *id }).await;
            tracing::info!("repair: {id} is no longer listed: removed from the Raft membership: {removed}");
            // Only if still unlisted: a MEET may have listed it again meanwhile (its `Join` would then race
            // this notice).
            if *id != me && !group.read(|s| s.contains(id)) {
                let notice = BusRequest::Leave { group: gid, node: *id, entry: None };
                let _ = bus::call(addr, &notice, Duration::from_millis(LEAVE_NOTICE_TIMEOUT_MS)).await;
            }
        }
        let voters = group.voters();
        if voters.len() < VOTERS_MAX {
            if let Some(learner) = members.keys().find(|id| !voters.contains(id) && listed_ids.contains(id)) {
                let promoted = self.bounded_leader_op(group, LeaderOp::Promote { node: *learner }).await;
                tracing::info!("repair: learner {learner} promoted to voter: {promoted}");
            }
        }
    }

    /// Finishes a join cut short: asks the node to `Join` under the terms the table holds for it, then adds it;
    /// calls the join off if the node refuses.
    async fn admit(&self, group: &Arc<RaftGroup>, entry: &NodeInfo, slots: &[SlotSpan], peers: Vec<String>) {
        let id = entry.id;
        let addr = format!("{}:{}", entry.ip, entry.bus_port);
        let absorbed_from = group.read(|s| s.origin(&id));
        let terms = JoinTerms { slots: slots.to_vec(), config_epoch: entry.config_epoch, absorbed_from };
        crate::probe::hit("repair.join_resent");
        match self.ask_to_join(&addr, group.id(), id, terms, peers, REPAIR_CALL_TIMEOUT_MS).await {
            Ok(()) => {
                let added = self.bounded_leader_op(group, LeaderOp::AddMember { node: id, addr }).await;
                tracing::info!("repair: {id} is listed but was not a member: joined, added: {added}");
            }
            Err(JoinError::Refused(why)) => self.call_off(group, id, &why, absorbed_from.is_some()).await,
            Err(JoinError::Changed(now)) => {
                // Recorded now; the next round asks again under the new terms.
                let recorded = self.record_joiner_slots(group.id(), Route::Local, id, slots, &now.slots).await;
                tracing::info!("repair: {id} took writes of its own before joining: recorded: {recorded:?}");
                if recorded.is_err() {
                    self.call_off(group, id, "its own slots conflict with the group's", false).await;
                }
            }
            Err(JoinError::Failed(why)) => {
                tracing::info!("repair: {id} is listed but not a member; not reached ({why})")
            }
        }
    }

    /// Calls a join off: the group commits `CallOff` of the node that will not join (a no-op if its whole group
    /// was absorbed meanwhile), or `Forget` if it was absorbed when asked (`absorbed`).
    async fn call_off(&self, group: &RaftGroup, id: NodeId, why: &str, absorbed: bool) {
        crate::probe::hit("repair.join_called_off");
        let me = group.node_id();
        let by = group.read(|s| {
            let not_its_replica = |n: &&NodeInfo| n.id != id && n.master != Some(id);
            s.node(&me).filter(not_its_replica).or_else(|| s.nodes().find(not_its_replica)).map(|n| n.id)
        });
        let outcome = match by {
            Some(by) => {
                let command =
                    if absorbed { Command::Forget { by, target: id } } else { Command::CallOff { by, target: id } };
                self.bounded_leader_op(group, LeaderOp::Write(command)).await
            }
            None => "no node can forget it".to_string(),
        };
        tracing::info!("repair: {id} will not join ({why}): join called off: {outcome}");
    }

    /// Runs a leader operation on this node's own instance within [`REPAIR_CALL_TIMEOUT_MS`]; a short outcome
    /// for the trace.
    async fn bounded_leader_op(&self, group: &RaftGroup, op: LeaderOp) -> String {
        let timeout = self.local_ms(REPAIR_CALL_TIMEOUT_MS);
        match tokio::time::timeout(timeout, self.serve_leader_op(group.id(), op)).await {
            Ok(BusReply::Done) | Ok(BusReply::Written(Ok(_))) => "ok".to_string(),
            Ok(BusReply::Written(Err(e))) => e.to_string(),
            Ok(other) => format!("{other:?}"),
            Err(_) => format!("no outcome within {REPAIR_CALL_TIMEOUT_MS} ms"),
        }
    }

    /// Whether this node, in a group of more than itself, has no leader, is not listed by its table as applied
    /// here, or is outside its Raft membership: what a joiner whose join was called off, or a forgotten node
    /// that missed its notice, looks like (and a node in a minority partition, which asking does not harm).
    fn looks_cut_off(&self, group: &RaftGroup) -> bool {
        let me = group.node_id();
        let members = group.members();
        if !group.is_joined() && members.len() <= 1 && members.contains_key(&me) {
            return false;
        }
        let listed = group.read(|s| s.contains(&me));
        !(listed && members.contains_key(&me) && group.leader().is_some())
    }

    /// Asks the group (its members, else the peers this instance joined with, following leader hints) whether
    /// its table still lists this node. A definite no — after the leader's read barrier — means the join was
    /// called off or the node was forgotten: it becomes a cluster of one again, with the table it had before
    /// joining (a join called off) or its latest entry (a node forgotten).
    ///
    /// Whether every node asked answered that it is not in that group (none answered for it).
    async fn ask_whether_member(&self, group: &RaftGroup) -> bool {
        let me = group.node_id();
        let own = self.bus_addr();
        let mut start: Vec<String> = group.members().into_iter().filter(|(id, _)| *id != me).map(|(_, a)| a).collect();
        start.extend(group.peers().iter().filter(|a| **a != own).cloned());
        let request = BusRequest::Leader { group: group.id(), op: LeaderOp::IsMember { node: me } };
        match self.ask_around(start, &request, |r| matches!(r, BusReply::Member(_))).await {
            Asked::Answer(BusReply::Member(false)) => {
                crate::probe::hit("repair.is_member_no");
                self.leave_group_that_dropped_me(group.id()).await;
                false
            }
            Asked::AllGone => true,
            _ => false,
        }
    }

    /// Sends `request` to the nodes at `start`, one after the other, following "not leader" hints (never to this
    /// node), at most [`MEMBERSHIP_ASKS_MAX`] addresses, until one gives a reply `is_answer` takes.
    async fn ask_around(
        &self,
        start: Vec<String>,
        request: &BusRequest,
        is_answer: impl Fn(&BusReply) -> bool,
    ) -> Asked {
        let own = self.bus_addr();
        let mut queue: VecDeque<String> = start.into();
        let mut asked = BTreeSet::new();
        let mut all_gone = true;
        while let Some(addr) = queue.pop_front() {
            if asked.len() >= MEMBERSHIP_ASKS_MAX || !asked.insert(addr.clone()) {
                continue;
            }
            match bus::call(&addr, request, self.local_ms(REPAIR_CALL_TIMEOUT_MS)).await {
                Ok(reply) if is_answer(&reply) => return Asked::Answer(reply),
                Ok(BusReply::NotLeader { leader: Some(leader) }) if leader != own => {
                    all_gone = false;
                    queue.push_front(leader)
                }
                Ok(BusReply::Error(e)) if e.starts_with(NOT_A_MEMBER) => {}
                _ => all_gone = false,
            }
        }
        if all_gone && !asked.is_empty() {
            Asked::AllGone
        } else {
            Asked::NoAnswer
        }
    }

    async fn leave_group_that_dropped_me(&self, group: GroupId) {
        let _swap = self.inner.swapping.lock().await;
        // Still the same instance, and still cut off: a MEET may have brought this node back meanwhile.
        match self.group() {
            Some(g) if g.id() == group && self.looks_cut_off(&g) => {}
            _ => return,
        }
        let me = self.myself();
        // Never merged: the instance's table never listed this node (the `joining` flag alone can be stale: it
        // is cleared lazily, and a node forgotten right after its join may never have cleared it).
        let joining = *self.inner.joining.lock().expect("joining lock");
        let never_merged =
            joining && self.group().is_some_and(|g| g.forgotten_entry(&me).is_none() && !g.read(|s| s.contains(&me)));
        let (entry, slots) = if never_merged {
            let local = self.inner.local.lock().expect("meta lock").clone();
            let entry = local.node(&me).cloned().unwrap_or_else(|| self.inner.config.initial_entry());
            (entry, local.slot_runs_of(&me))
        } else {
            (self.entry_after_leaving(None), Vec::new())
        };
        tracing::info!(
            "repair: group {group} does not list {me}: back to a cluster of one (joined: {})",
            !never_merged
        );
        match self.become_cluster_of_one(entry, slots).await {
            Ok(()) => crate::probe::hit("repair.cluster_of_one"),
            Err(e) => tracing::warn!(error = %e, "repair: restarting as a cluster of one"),
        }
    }
}

/// Whether the group's Raft membership (voters and learners) differs from the nodes its table lists, as applied
/// here, or a listed learner could be promoted: a cheap look, without a barrier, before a repair round.
fn membership_differs(group: &RaftGroup) -> bool {
    let members = group.members();
    let listed: BTreeSet<NodeId> =
        group.read(|s| s.nodes().filter(|n| !n.ip.is_empty() || n.id == group.node_id()).map(|n| n.id).collect());
    if members.keys().copied().collect::<BTreeSet<_>>() != listed {
        return true;
    }
    let voters = group.voters();
    voters.len() < VOTERS_MAX && members.keys().any(|id| !voters.contains(id))
}

/// A joiner's check before it swaps: it is a cluster of one, serving exactly the slots the group's table holds
/// for it, with a config epoch no greater than the table's (otherwise the join would lose what it acknowledged).
fn refuse_unless_joinable(current: &RaftGroup, me: NodeId, terms: &JoinTerms) -> Result<(), JoinError> {
    // Its whole group was absorbed into the asking one (sealed first: nothing it holds can change): it swaps as it
    // is. Also when its group was sealed into a group the asking one absorbed since (nested merges): the asking
    // group lists this node only because that group's table did, which it did only once it absorbed this one.
    if terms.absorbed_from.is_some()
        && (terms.absorbed_from == Some(current.id())
            || current.read(|s| s.sealed().map(|x| x.into)) == terms.absorbed_from)
    {
        return Ok(());
    }
    let (size, epoch, slots) =
        current.read(|s| (s.node_count(), s.node(&me).map(|n| n.config_epoch), s.slot_runs_of(&me)));
    if size != 1 {
        return Err(JoinError::Refused(format!("this node already belongs to a cluster of {size}")));
    }
    // A table that does not list this node is another group's, not yet caught up: this node has already taken
    // another group's `Join` (whose table committed its entry), so that join, not this one, goes ahead. Taking
    // this one too left the first group with a voter that had gone (`sim check`: BUGGIFY seed 53).
    if epoch.is_none() {
        return Err(JoinError::Refused("this node is joining another cluster".to_string()));
    }
    if epoch.is_some_and(|e| e > terms.config_epoch) {
        return Err(JoinError::Refused("its config epoch rose since the handshake".to_string()));
    }
    if slots != terms.slots {
        return Err(JoinError::Changed(JoinTerms { slots, config_epoch: terms.config_epoch, absorbed_from: None }));
    }
    Ok(())
}

fn merge_failed(joiner: NodeId, why: impl std::fmt::Display) -> Reply {
    Reply::error(format!("ERR Can't merge node {joiner}: {why}"))
}

fn meta_reply(e: MetaError) -> Reply {
    Reply::error(e.to_string())
}
