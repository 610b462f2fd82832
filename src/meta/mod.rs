//! The cluster metadata state machine: node table, slot map, epochs, replica links.
//!
//! Pure and synchronous: [`MetaState::apply`] is a function of (state, command) and nothing else — no clock, no
//! I/O, no randomness — so the same command log yields the same table on every node, in every process. This is
//! what Raft replicates (see `raft/`), and what the local-only strategy edits directly.
//!
//! Commands name the node that *acts* (the node that received `CLUSTER ADDSLOTS`, the replica of `CLUSTER
//! REPLICATE`, ...): in a replicated table, "myself" is a property of the reader, not of the table.
//!
//! Every Redis 7.0 rule lives here, with its verbatim error text ([`MetaError`]). The invariants that must hold
//! after every apply are in [`MetaState::check_invariants`]; the harness checks the same facts from the outside.

mod id;
mod slots;

use std::collections::BTreeMap;

/// Whether [`MetaState::apply`] checks every invariant after each command: in debug builds, and in any build
/// with the `invariants` feature, which the simulation harness (`sim`) always enables, so release sweeps spend
/// their seeds with the checks on (a broken invariant is a panic the sweep reports as a failed seed).
pub const CHECK_INVARIANTS: bool = cfg!(any(debug_assertions, feature = "invariants"));

use serde::{Deserialize, Serialize};

pub use id::NodeId;
pub use slots::SlotTable;

/// Number of hash slots in a Redis cluster.
pub const SLOT_COUNT: u16 = 16384;

/// A hash slot, `0..SLOT_COUNT`.
pub type Slot = u16;

/// An inclusive run of slots as the user wrote it: `ADDSLOTS 5` is `5..=5`, `ADDSLOTSRANGE 0 10` is `0..=10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlotSpan {
    pub start: Slot,
    pub end: Slot,
}

impl SlotSpan {
    pub fn one(slot: Slot) -> Self {
        SlotSpan { start: slot, end: slot }
    }

    pub fn range(start: Slot, end: Slot) -> Self {
        assert!(start <= end && end < SLOT_COUNT, "invalid span {start}..={end}");
        SlotSpan { start, end }
    }

    pub fn slots(self) -> impl Iterator<Item = Slot> {
        self.start..=self.end
    }

    pub fn len(self) -> usize {
        usize::from(self.end - self.start) + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }
}

/// One node as the table knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: NodeId,
    /// Empty until the node has taken part in a MEET (a fresh Redis node prints `:7000@17000`).
    pub ip: String,
    pub port: u16,
    pub bus_port: u16,
    /// `Some(master)` for a replica.
    pub master: Option<NodeId>,
    /// This node's own config epoch. Rendering uses the master's for a replica, as Redis does.
    pub config_epoch: u64,
}

impl NodeInfo {
    pub fn new(id: NodeId, ip: impl Into<String>, port: u16, bus_port: u16) -> Self {
        NodeInfo { id, ip: ip.into(), port, bus_port, master: None, config_epoch: 0 }
    }

    pub fn is_master(&self) -> bool {
        self.master.is_none()
    }
}

/// A change to the metadata. Serializable: this is the Raft log entry payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Command {
    /// The first entry of a replicated table: `node` founds a cluster of one. Valid only on an empty table.
    Bootstrap { node: NodeInfo },
    /// `CLUSTER MEET` applied to `receiver`'s table: `node` joins, bringing the slots it already serves.
    /// The receiver learns its own address (`receiver_ip`) if it did not know it yet.
    /// `shown`: the highest epochs the joiner's own table showed for nodes it no longer lists; a node of this
    /// table among them is raised to it, so a reader of the joiner never sees that node's epoch go back.
    Meet {
        receiver: NodeId,
        receiver_ip: String,
        node: NodeInfo,
        slots: Vec<SlotSpan>,
        #[serde(default)]
        shown: Vec<(NodeId, u64)>,
    },
    /// `CLUSTER FORGET target`, sent to `by`.
    Forget { by: NodeId, target: NodeId },
    /// Not a Redis command: a join of `target` is called off (it refused): `Forget`, unless the table has absorbed
    /// `target` with its whole group meanwhile (`Absorb`) — the refusal was about the join that absorb replaced.
    CallOff { by: NodeId, target: NodeId },
    /// `CLUSTER ADDSLOTS` / `ADDSLOTSRANGE`: assign every slot of `spans` to `node`, all or nothing.
    AddSlots { node: NodeId, spans: Vec<SlotSpan> },
    /// `CLUSTER DELSLOTS` / `DELSLOTSRANGE`: unassign every slot of `spans`, all or nothing.
    DelSlots { node: NodeId, spans: Vec<SlotSpan> },
    /// `CLUSTER REPLICATE master`, sent to `node`.
    Replicate { node: NodeId, master: NodeId },
    /// `CLUSTER SETSLOT slot IMPORTING|MIGRATING|STABLE|NODE`, sent to `node`.
    SetSlot { node: NodeId, slot: Slot, action: SetSlotAction },
    /// `CLUSTER FAILOVER [FORCE|TAKEOVER]`, sent to the replica `node`: it takes its master's slots and the master
    /// (with the master's other replicas) replicates it. `takeover`: the epoch is bumped without agreement.
    Failover { node: NodeId, takeover: bool },
    /// `CLUSTER SET-CONFIG-EPOCH epoch`, sent to `node`.
    SetConfigEpoch { node: NodeId, epoch: u64 },
    /// `CLUSTER RESET [SOFT|HARD]` of `node`'s own table: it forgets every other node, becomes a master without
    /// slots; HARD also zeroes the epochs and renames the node to `new_id`.
    Reset { node: NodeId, hard: bool, new_id: NodeId },
    /// Not a Redis command: `node`'s config epoch becomes at least `epoch` (higher still if that would collide
    /// with another master's). A joiner that refuses a merge raises its epoch to the one the merging group
    /// showed for it, so no reader ever sees that node's epoch go back.
    RaiseEpoch { node: NodeId, epoch: u64 },
    /// Not a Redis command: this table's group is to be absorbed into group `into` (a MEET between two
    /// multi-node clusters). From now on the table refuses every command but `Unseal` and `Decide` (reads are
    /// refused too, by the node), so the table the other group imports is the last one this group acknowledged.
    /// `token` names this merge attempt; `asks` are the bus addresses of `into`'s members, whom the group's
    /// leader asks what became of the merge if it is not finished in time (`Decide`).
    /// Refused if the table lists `member` (the absorbing side's node the MEET named): the two are one cluster
    /// already (another merge, the other way round, got there first).
    Seal { into: u64, token: u64, asks: Vec<String>, member: NodeId },
    /// Not a Redis command: the merge `token` did not happen (its `Absorb` failed or was called off): the table
    /// takes writes again. A no-op unless the table is sealed by that token.
    Unseal { token: u64 },
    /// Not a Redis command: the table imports the sealed table of group `from` (`nodes`, each with its slots),
    /// as one MEET merge of many nodes; `receiver` learns its address as for `Meet`. Refused if a slot is served
    /// on both sides, if a node is on both sides (a join of it is pending: try again), or if merge `token` was
    /// called off already (`Decide` first); a second `Absorb` of one token is a no-op.
    Absorb {
        receiver: NodeId,
        receiver_ip: String,
        from: u64,
        token: u64,
        nodes: Vec<NodeInfo>,
        slots: Vec<(NodeId, Vec<SlotSpan>)>,
        /// The sealed table's epochs shown for nodes it no longer lists (`MetaState`'s `shown`).
        shown: Vec<(NodeId, u64)>,
    },
    /// Not a Redis command: decides merge `token` for good — absorbed if its `Absorb` was applied, otherwise
    /// called off (a later `Absorb` of it is refused). What a sealed group asks when its merge is not finished.
    Decide { token: u64 },
}

impl Command {
    /// The verb, for traces.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Bootstrap { .. } => "bootstrap",
            Command::Meet { .. } => "meet",
            Command::Forget { .. } => "forget",
            Command::CallOff { .. } => "call-off",
            Command::AddSlots { .. } => "addslots",
            Command::DelSlots { .. } => "delslots",
            Command::Replicate { .. } => "replicate",
            Command::SetSlot { .. } => "setslot",
            Command::Failover { .. } => "failover",
            Command::SetConfigEpoch { .. } => "set-config-epoch",
            Command::Reset { .. } => "reset",
            Command::RaiseEpoch { .. } => "raise-epoch",
            Command::Seal { .. } => "seal",
            Command::Unseal { .. } => "unseal",
            Command::Absorb { .. } => "absorb",
            Command::Decide { .. } => "decide",
        }
    }
}

/// The verb and its arguments, for traces (openraft prints log payloads with `Display`). Deterministic: it is
/// the derived `Debug` of the fields, whose collections are vectors and whose ids print as hex.
impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self)
    }
}

/// What `CLUSTER SETSLOT` does to a slot, as Redis 7.0's `clusterCommandSetSlot` does it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SetSlotAction {
    /// `MIGRATING id`: the slot's owner hands its keys to `id`; keys it no longer has are answered with `-ASK`.
    Migrating(NodeId),
    /// `IMPORTING id`: the node serves the slot's keys to clients that send `ASKING` first.
    Importing(NodeId),
    /// `STABLE`: the node forgets both states for the slot.
    Stable,
    /// `NODE id`: `id` owns the slot from now on. `holds_keys`: the acting node stored keys of the slot when
    /// it took the command (key counts are the node's own data, not metadata: the node reads them).
    Node { owner: NodeId, holds_keys: bool },
}

/// What an applied command changed (for traces and tests).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Bootstrapped {
        node: NodeId,
    },
    NodeAdded {
        node: NodeId,
        slots: usize,
        config_epoch: u64,
    },
    /// MEET of a node already in the table: nothing but (maybe) an address changed.
    NodeAlreadyKnown {
        node: NodeId,
        /// What the table holds for it: a merge of a node the group listed already offers it these terms.
        #[serde(default)]
        slots: Vec<SlotSpan>,
        #[serde(default)]
        config_epoch: u64,
    },
    NodeForgotten {
        node: NodeId,
        slots_freed: usize,
        orphans_promoted: usize,
    },
    SlotsAssigned {
        node: NodeId,
        count: usize,
    },
    SlotsUnassigned {
        count: usize,
    },
    ReplicaOf {
        node: NodeId,
        master: NodeId,
    },
    ConfigEpochSet {
        node: NodeId,
        epoch: u64,
    },
    Reset {
        node: NodeId,
        forgotten: usize,
    },
    /// SETSLOT MIGRATING / IMPORTING / STABLE: the acting node's open-slot state for `slot` changed.
    SlotStateSet {
        node: NodeId,
        slot: Slot,
    },
    /// FAILOVER: `node` became a master in place of `old_master`, at config epoch `epoch`.
    FailedOver {
        node: NodeId,
        old_master: NodeId,
        epoch: u64,
    },
    /// SETSLOT NODE: `slot` is `owner`'s. `epoch`: the acting node's config epoch if the command bumped it (it
    /// was importing the slot); `demoted`: the previous owner, left without slots, became `owner`'s replica.
    SlotOwnerSet {
        slot: Slot,
        owner: NodeId,
        epoch: Option<u64>,
        demoted: Option<NodeId>,
    },
    /// The table as sealed: what the absorbing group imports.
    Sealed {
        table: Box<MetaState>,
    },
    Unsealed {
        sealed: bool,
    },
    Absorbed {
        nodes: usize,
    },
    Decided {
        absorbed: bool,
    },
}

/// A rule the command broke. `Display` is Redis 7.0's verbatim error reply (without the leading `-`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum MetaError {
    #[error("ERR Unknown node {0}")]
    UnknownNode(String),
    #[error("ERR I tried hard but I can't forget myself...")]
    ForgetMyself,
    #[error("ERR Can't forget my master!")]
    ForgetMyMaster,
    #[error("ERR Can't replicate myself")]
    ReplicateMyself,
    #[error("ERR I can only replicate a master, not a replica.")]
    ReplicateReplica,
    #[error("ERR To set a master the node must be empty and without assigned slots.")]
    MasterNotEmpty,
    #[error("ERR Slot {0} is already busy")]
    SlotBusy(Slot),
    #[error("ERR Slot {0} is already unassigned")]
    SlotUnassigned(Slot),
    #[error("ERR Slot {0} specified multiple times")]
    SlotRepeated(Slot),
    #[error("ERR The user can assign a config epoch only when the node does not know any other node.")]
    EpochNotAlone,
    #[error("ERR The user can assign a config epoch only when the node's config epoch is zero.")]
    EpochAlreadySet,
    /// Not a Redis rule: a replica cannot own slots in a table that must keep "every slot owner is a master".
    #[error("ERR Slots can only be assigned to a master, and {0} is a replica")]
    SlotsToReplica(NodeId),
    /// Not a Redis rule: a MEET merge in which the joining node claims a slot the table gives to another node.
    #[error("ERR Can't meet node {node}: it serves slot {slot}, which {owner} already serves")]
    MeetSlotConflict { node: NodeId, slot: Slot, owner: NodeId },
    /// Not a Redis rule: `Bootstrap` founds a table, so it is refused on one that already has nodes.
    #[error("ERR Can't bootstrap a table that already has {0} node(s)")]
    BootstrapNotEmpty(usize),
    /// The acting node is not in the table (a command sent to a node that has been forgotten, or reset).
    #[error("ERR Node {0} is not part of this cluster")]
    ActorNotMember(NodeId),
    /// Not a Redis rule: the table is sealed while another cluster absorbs this one (`Command::Seal`).
    #[error("ERR this cluster is merging into another one, try again")]
    Merging,
    /// Not a Redis rule: an `Absorb` of a merge already called off (`Command::Decide`).
    #[error("ERR Can't merge the clusters: the merge was called off, try again")]
    MergeCalledOff,
    #[error("ERR You should send CLUSTER FAILOVER to a replica")]
    FailoverOnMaster,
    #[error("ERR Please use SETSLOT only with masters.")]
    SetSlotOnReplica,
    #[error("ERR I'm not the owner of hash slot {0}")]
    NotSlotOwner(Slot),
    #[error("ERR I'm already the owner of hash slot {0}")]
    AlreadySlotOwner(Slot),
    /// SETSLOT MIGRATING / IMPORTING naming a node the table does not list (NODE says `Unknown node`).
    #[error("ERR I don't know about node {0}")]
    DontKnowNode(String),
    #[error("ERR Target node is not a master")]
    TargetNotMaster,
    #[error("ERR Can't assign hashslot {0} to a different node while I still hold keys for this hash slot.")]
    SlotHoldsKeys(Slot),
    /// Not a Redis rule: an `Absorb` naming a node this table lists already (a join of it is still pending here).
    #[error("ERR Can't merge the clusters: node {0} is listed by both, try again")]
    MergeOverlap(NodeId),
}

/// The metadata of one cluster (or one node's view of it, in local-only mode).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaState {
    nodes: BTreeMap<NodeId, NodeInfo>,
    slots: SlotTable,
    current_epoch: u64,
    /// Set while another group absorbs this one (`Command::Seal`).
    #[serde(default)]
    sealed: Option<Seal>,
    /// Merges this table decided, by token: absorbed (`true`) or called off (`false`).
    #[serde(default)]
    merges: BTreeMap<u64, bool>,
    /// The group each absorbed node came from (its `Join` names it: see `Command::Absorb`).
    #[serde(default)]
    origins: BTreeMap<NodeId, u64>,
    /// The highest config epoch this table showed for each node it no longer lists (forgotten, or a join called
    /// off). A node listed again never shows a lower one: a reader that saw it must never see its epoch go back
    /// (Redis's epochs only rise), also when the node comes back through another cluster's table (`Absorb`).
    #[serde(default)]
    shown: BTreeMap<NodeId, u64>,
    /// Open slots, by (acting node, slot): the node SETSLOT MIGRATING named. Redis keeps these per node and
    /// never gossips them; here each node's own entries sit in the shared table, keyed by that node.
    #[serde(default, with = "pairs")]
    migrating: BTreeMap<(NodeId, Slot), NodeId>,
    /// Open slots, by (acting node, slot): the node SETSLOT IMPORTING named.
    #[serde(default, with = "pairs")]
    importing: BTreeMap<(NodeId, Slot), NodeId>,
    /// The last [`FORGOTTEN_KEPT`] FORGETs, oldest first: (forgotten node, node that forgot it). Redis 7.0 forgets
    /// per node, so `redis-cli --cluster del-node` sends FORGET to every node and each answers OK; in a shared
    /// table the first one removes the node for all, and the others are answered from here.
    #[serde(default)]
    forgotten: Vec<(NodeId, NodeId)>,
}

/// A map serialized as a sequence of (key, value) pairs: the data file is JSON, whose object keys must be
/// strings, and these maps have tuple keys.
mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        map: &BTreeMap<K, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>, K: Deserialize<'de> + Ord, V: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<K, V>, D::Error> {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?.into_iter().collect())
    }
}

/// How many FORGETs a table remembers ([`MetaState::forgotten_by_another`]).
pub const FORGOTTEN_KEPT: usize = 64;

/// One open slot of a node (SETSLOT MIGRATING / IMPORTING).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenSlot {
    Migrating(NodeId),
    Importing(NodeId),
}

/// A sealed table's merge: see [`Command::Seal`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    pub into: u64,
    pub token: u64,
    pub asks: Vec<String>,
}

impl MetaState {
    /// A cluster of one: a fresh node that knows only itself.
    pub fn new(myself: NodeInfo) -> Self {
        let current_epoch = myself.config_epoch;
        let mut nodes = BTreeMap::new();
        nodes.insert(myself.id, myself);
        MetaState { nodes, slots: SlotTable::default(), current_epoch, ..MetaState::empty() }
    }

    /// A table with no node at all (the initial state of a replicated state machine before its first entry).
    pub fn empty() -> Self {
        MetaState {
            nodes: BTreeMap::new(),
            slots: SlotTable::default(),
            current_epoch: 0,
            sealed: None,
            merges: BTreeMap::new(),
            origins: BTreeMap::new(),
            shown: BTreeMap::new(),
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            forgotten: Vec::new(),
        }
    }

    /// Whether a node other than `asker` forgot `node` and it is not listed again since: Redis would still list
    /// it on `asker`, and forget it there with an OK.
    pub fn forgotten_by_another(&self, node: &NodeId, asker: &NodeId) -> bool {
        !self.nodes.contains_key(node) && self.forgotten.iter().any(|(n, by)| n == node && by != asker)
    }

    /// The node `node` is migrating `slot` to (SETSLOT MIGRATING), if any.
    pub fn migrating_to(&self, node: &NodeId, slot: Slot) -> Option<NodeId> {
        self.migrating.get(&(*node, slot)).copied()
    }

    /// The node `node` is importing `slot` from (SETSLOT IMPORTING), if any.
    pub fn importing_from(&self, node: &NodeId, slot: Slot) -> Option<NodeId> {
        self.importing.get(&(*node, slot)).copied()
    }

    /// `node`'s open slots in slot order, as CLUSTER NODES prints them on its `myself` line: a slot both
    /// migrating and importing shows as migrating (Redis's `clusterGenNodeDescription`).
    pub fn open_slots_of(&self, node: &NodeId) -> Vec<(Slot, OpenSlot)> {
        let range = (*node, 0)..=(*node, SLOT_COUNT - 1);
        let mut open: BTreeMap<Slot, OpenSlot> =
            self.importing.range(range.clone()).map(|((_, slot), from)| (*slot, OpenSlot::Importing(*from))).collect();
        open.extend(self.migrating.range(range).map(|((_, slot), to)| (*slot, OpenSlot::Migrating(*to))));
        open.into_iter().collect()
    }

    /// Every (node, slot) left open by SETSLOT MIGRATING or IMPORTING, in node then slot order.
    pub fn open_slots(&self) -> impl Iterator<Item = (NodeId, Slot)> + '_ {
        let all: std::collections::BTreeSet<(NodeId, Slot)> =
            self.migrating.keys().chain(self.importing.keys()).copied().collect();
        all.into_iter()
    }

    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.values()
    }

    pub fn node(&self, id: &NodeId) -> Option<&NodeInfo> {
        self.nodes.get(id)
    }

    pub fn contains(&self, id: &NodeId) -> bool {
        self.nodes.contains_key(id)
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn current_epoch(&self) -> u64 {
        self.current_epoch
    }

    /// The merge this table is sealed for, if any ([`Command::Seal`]).
    pub fn sealed(&self) -> Option<&Seal> {
        self.sealed.as_ref()
    }

    /// The highest config epoch this table showed for each node it no longer lists, in id order.
    pub fn shown_epochs(&self) -> Vec<(NodeId, u64)> {
        self.shown.iter().map(|(n, e)| (*n, *e)).collect()
    }

    /// The group an absorbed node came from ([`Command::Absorb`]).
    pub fn origin(&self, node: &NodeId) -> Option<u64> {
        self.origins.get(node).copied()
    }

    /// The owner of `slot`, if assigned.
    pub fn owner(&self, slot: Slot) -> Option<NodeId> {
        self.slots.owner(slot)
    }

    /// Every assigned slot with its owner, in slot order.
    pub fn assignments(&self) -> impl Iterator<Item = (Slot, NodeId)> + '_ {
        self.slots.assignments()
    }

    /// Every maximal run of slots with one owner, with that owner, in slot order (what CLUSTER SLOTS prints).
    pub fn slot_table_runs(&self) -> impl Iterator<Item = (SlotSpan, NodeId)> + '_ {
        self.slots.runs()
    }

    pub fn assigned_slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The slots `node` serves, as maximal runs, ascending.
    pub fn slot_runs_of(&self, node: &NodeId) -> Vec<SlotSpan> {
        self.slots.runs_of(node)
    }

    /// Every owner's slots as maximal runs, in one pass over the slot runs (rendering all nodes with
    /// [`Self::slot_runs_of`] would walk them once per node).
    pub fn slot_runs(&self) -> BTreeMap<NodeId, Vec<SlotSpan>> {
        let mut runs: BTreeMap<NodeId, Vec<SlotSpan>> = BTreeMap::new();
        for (span, owner) in self.slots.runs() {
            runs.entry(owner).or_default().push(span);
        }
        runs
    }

    pub fn slot_count_of(&self, node: &NodeId) -> usize {
        self.slots.count_of(node)
    }

    /// The replicas of `master`, in id order.
    pub fn replicas_of(&self, master: &NodeId) -> impl Iterator<Item = &NodeInfo> {
        let master = *master;
        self.nodes.values().filter(move |n| n.master == Some(master))
    }

    /// The config epoch Redis prints for `node`: its own for a master, its master's for a replica.
    pub fn effective_epoch(&self, node: &NodeInfo) -> u64 {
        match node.master.and_then(|m| self.nodes.get(&m)) {
            Some(master) => master.config_epoch,
            None => node.config_epoch,
        }
    }

    /// Validates a slot list in argument order, exactly as Redis's `checkSlotAssignmentsOrReply` does: for each
    /// slot, "already unassigned" (delete) or "already busy" (add) first, then "specified multiple times".
    ///
    /// Span by span, not slot by slot: the first slot of a span with an ownership error and the first one named
    /// by an earlier span are found with range lookups, and the earlier of the two is the error (the ownership
    /// error first on the same slot, as Redis checks it first).
    pub fn check_slot_spans(&self, spans: &[SlotSpan], delete: bool) -> Result<(), MetaError> {
        let mut seen = SlotBits::default();
        for span in spans {
            let owner_error = if delete {
                self.slots.first_unassigned_in(*span).map(MetaError::SlotUnassigned)
            } else {
                self.slots.first_assigned_in(*span).map(MetaError::SlotBusy)
            };
            let repeated = seen.first_set_in(*span);
            match (owner_error, repeated) {
                (Some(e @ (MetaError::SlotUnassigned(at) | MetaError::SlotBusy(at))), r)
                    if r.is_none_or(|r| at <= r) =>
                {
                    return Err(e)
                }
                (_, Some(r)) => return Err(MetaError::SlotRepeated(r)),
                (Some(e), None) => return Err(e),
                (None, None) => {}
            }
            seen.set(*span);
        }
        Ok(())
    }

    /// Applies `command`. On error the state is unchanged (every command validates fully before mutating).
    pub fn apply(&mut self, command: &Command) -> Result<Event, MetaError> {
        if self.sealed.is_some() && !matches!(command, Command::Unseal { .. } | Command::Decide { .. }) {
            return Err(MetaError::Merging);
        }
        let event = match command {
            Command::Bootstrap { node } => {
                if !self.nodes.is_empty() {
                    return Err(MetaError::BootstrapNotEmpty(self.nodes.len()));
                }
                *self = MetaState::new(node.clone());
                Event::Bootstrapped { node: node.id }
            }
            Command::Meet { receiver, receiver_ip, node, slots, shown } => {
                let event = self.meet(receiver, receiver_ip, node, slots)?;
                self.remember_shown(shown)?;
                event
            }
            Command::Forget { by, target } => self.forget(by, target)?,
            Command::CallOff { target, .. } if self.origins.contains_key(target) => self.already_known(target),
            Command::CallOff { by, target } => self.forget(by, target)?,
            Command::AddSlots { node, spans } => {
                let actor = self.actor(node)?;
                if !actor.is_master() {
                    return Err(MetaError::SlotsToReplica(*node));
                }
                self.check_slot_spans(spans, false)?;
                let mut count = 0;
                for span in spans {
                    self.slots.assign(*span, *node);
                    self.close_importing(node, *span);
                    count += span.len();
                }
                Event::SlotsAssigned { node: *node, count }
            }
            Command::DelSlots { node, spans } => {
                self.actor(node)?;
                self.check_slot_spans(spans, true)?;
                for span in spans {
                    self.close_importing(node, *span);
                }
                let count = spans.iter().map(|span| self.slots.unassign(*span)).sum();
                Event::SlotsUnassigned { count }
            }
            Command::Replicate { node, master } => self.replicate(node, master)?,
            Command::SetSlot { node, slot, action } => self.set_slot(node, *slot, *action)?,
            Command::Failover { node, takeover } => self.failover(node, *takeover)?,
            Command::SetConfigEpoch { node, epoch } => {
                let actor = self.actor(node)?;
                if self.nodes.len() > 1 {
                    return Err(MetaError::EpochNotAlone);
                }
                if actor.config_epoch != 0 {
                    return Err(MetaError::EpochAlreadySet);
                }
                let me = self.nodes.get_mut(node).expect("actor exists");
                me.config_epoch = *epoch;
                self.current_epoch = self.current_epoch.max(*epoch);
                Event::ConfigEpochSet { node: *node, epoch: *epoch }
            }
            Command::RaiseEpoch { node, epoch } => self.raise_epoch(node, *epoch)?,
            Command::Seal { into, token, asks, member } => self.seal(*into, *token, asks, member)?,
            Command::Unseal { token } => self.unseal(*token),
            Command::Absorb { receiver, receiver_ip, from, token, nodes, slots, shown } => {
                self.absorb(receiver, receiver_ip, (*from, *token), nodes, slots, shown)?
            }
            Command::Decide { token } => Event::Decided { absorbed: *self.merges.entry(*token).or_insert(false) },
            Command::Reset { node, hard, new_id } => self.reset(node, *hard, new_id)?,
        };
        if CHECK_INVARIANTS {
            assert_eq!(self.check_invariants(), Ok(()), "after {command:?}");
        }
        Ok(event)
    }

    fn reset(&mut self, node: &NodeId, hard: bool, new_id: &NodeId) -> Result<Event, MetaError> {
        let mut me = self.actor(node)?.clone();
        let forgotten = self.nodes.len() - 1;
        self.nodes.clear();
        self.slots.clear();
        self.origins.clear();
        self.shown.clear();
        self.migrating.clear();
        self.importing.clear();
        self.forgotten.clear();
        me.master = None;
        if hard {
            me.id = *new_id;
            me.config_epoch = 0;
            self.current_epoch = 0;
        }
        let id = me.id;
        self.nodes.insert(id, me);
        Ok(Event::Reset { node: id, forgotten })
    }

    /// [`Command::Seal`].
    fn seal(&mut self, into: u64, token: u64, asks: &[String], member: &NodeId) -> Result<Event, MetaError> {
        if self.nodes.contains_key(member) {
            return Err(MetaError::MergeOverlap(*member));
        }
        self.sealed = Some(Seal { into, token, asks: asks.to_vec() });
        Ok(Event::Sealed { table: Box::new(self.clone()) })
    }

    /// [`Command::Unseal`].
    fn unseal(&mut self, token: u64) -> Event {
        let sealed = self.sealed.as_ref().is_some_and(|s| s.token == token);
        if sealed {
            self.sealed = None;
        }
        Event::Unsealed { sealed }
    }

    fn actor(&self, node: &NodeId) -> Result<&NodeInfo, MetaError> {
        self.nodes.get(node).ok_or(MetaError::ActorNotMember(*node))
    }

    fn meet(
        &mut self,
        receiver: &NodeId,
        receiver_ip: &str,
        node: &NodeInfo,
        claims: &[SlotSpan],
    ) -> Result<Event, MetaError> {
        self.actor(receiver)?;
        if let Some(known) = self.nodes.get(&node.id) {
            // A node already in the table: Redis's handshake finds the known id and drops the duplicate.
            let known_id = known.id;
            self.learn_ip(receiver, receiver_ip);
            let known = self.nodes.get_mut(&known_id).expect("known");
            if known.ip.is_empty() {
                known.ip = node.ip.clone();
            }
            return Ok(self.already_known(&known_id));
        }
        for span in claims {
            if let Some(slot) = self.slots.first_assigned_in(*span) {
                let owner = self.slots.owner(slot).expect("an assigned slot has an owner");
                return Err(MetaError::MeetSlotConflict { node: node.id, slot, owner });
            }
        }
        // Claims come from the joiner's own table (disjoint runs); one naming a slot twice is refused whole.
        self.check_slot_spans(claims, false)?;
        let mut joining = node.clone();
        if joining.master.is_some_and(|m| !self.nodes.get(&m).is_some_and(NodeInfo::is_master)) {
            // Its master is not (or no longer) a master here: it joins as a master without slots.
            joining.master = None;
        }
        // Shown before (forgotten, or a join called off): never lower than then.
        self.forgotten.retain(|(n, _)| *n != joining.id);
        if let Some(seen) = self.shown.remove(&joining.id) {
            joining.config_epoch = joining.config_epoch.max(seen);
        }
        // Redis resolves config-epoch collisions between masters through gossip
        // (clusterHandleConfigEpochCollision); the table resolves them at join, deterministically.
        if joining.is_master() && self.nodes.values().any(|n| n.is_master() && n.config_epoch == joining.config_epoch) {
            self.current_epoch += 1;
            joining.config_epoch = self.current_epoch;
        }
        self.current_epoch = self.current_epoch.max(joining.config_epoch);
        let mut slots = 0;
        for span in claims {
            self.slots.assign(*span, joining.id);
            slots += span.len();
        }
        let event = Event::NodeAdded { node: joining.id, slots, config_epoch: joining.config_epoch };
        self.nodes.insert(joining.id, joining);
        self.learn_ip(receiver, receiver_ip);
        Ok(event)
    }

    /// [`Command::Absorb`]: every check first, then the import. A master whose config epoch another master
    /// (of either side) already holds gets a new one above every epoch of both sides, as a MEET's joiner does.
    ///
    /// Epochs never go back for a reader of either side: an incoming node this table showed before (`shown`) comes
    /// at least at that epoch, and a node listed here that the sealed table showed higher is raised to it.
    fn absorb(
        &mut self,
        receiver: &NodeId,
        receiver_ip: &str,
        (from, token): (u64, u64),
        nodes: &[NodeInfo],
        slots: &[(NodeId, Vec<SlotSpan>)],
        shown: &[(NodeId, u64)],
    ) -> Result<Event, MetaError> {
        self.actor(receiver)?;
        match self.merges.get(&token) {
            Some(true) => return Ok(Event::Absorbed { nodes: 0 }),
            Some(false) => return Err(MetaError::MergeCalledOff),
            None => {}
        }
        if let Some(both) = nodes.iter().find(|n| self.nodes.contains_key(&n.id)) {
            return Err(MetaError::MergeOverlap(both.id));
        }
        let mut claimed = SlotBits::default();
        for (node, spans) in slots {
            for span in spans {
                if let Some(slot) = self.slots.first_assigned_in(*span) {
                    let owner = self.slots.owner(slot).expect("an assigned slot has an owner");
                    return Err(MetaError::MeetSlotConflict { node: *node, slot, owner });
                }
                if let Some(slot) = claimed.first_set_in(*span) {
                    return Err(MetaError::SlotRepeated(slot));
                }
                claimed.set(*span);
            }
        }
        let incoming: BTreeMap<NodeId, &NodeInfo> = nodes.iter().map(|n| (n.id, n)).collect();
        let is_master = |id: &NodeId| incoming.get(id).is_some_and(|n| n.is_master());
        if let Some((node, _)) = slots.iter().find(|(node, spans)| !spans.is_empty() && !is_master(node)) {
            return Err(MetaError::SlotsToReplica(*node));
        }
        self.current_epoch = nodes.iter().map(|n| n.config_epoch).fold(self.current_epoch, u64::max);
        self.remember_shown(shown)?;
        let mut taken: std::collections::BTreeSet<u64> =
            self.nodes.values().filter(|n| n.is_master()).map(|n| n.config_epoch).collect();
        for node in nodes {
            let mut entry = node.clone();
            if entry.master.is_some_and(|m| !is_master(&m)) {
                entry.master = None;
            }
            self.forgotten.retain(|(n, _)| *n != entry.id);
            if let Some(seen) = self.shown.remove(&entry.id) {
                entry.config_epoch = entry.config_epoch.max(seen);
                self.current_epoch = self.current_epoch.max(seen);
            }
            if entry.is_master() && !taken.insert(entry.config_epoch) {
                self.current_epoch += 1;
                entry.config_epoch = self.current_epoch;
                taken.insert(entry.config_epoch);
            }
            self.origins.insert(entry.id, from);
            self.nodes.insert(entry.id, entry);
        }
        for (node, spans) in slots {
            for span in spans {
                self.slots.assign(*span, *node);
            }
        }
        self.merges.insert(token, true);
        self.learn_ip(receiver, receiver_ip);
        Ok(Event::Absorbed { nodes: nodes.len() })
    }

    /// Another table's memory of epochs shown (`shown` of `Meet` / `Absorb`): a node listed here is raised to it;
    /// one not listed is remembered (and applied when it is listed: `meet`, `absorb`). The other table lists
    /// neither the joiner nor an absorbed node among them (a listed node has no shown epoch: `check_invariants`).
    fn remember_shown(&mut self, shown: &[(NodeId, u64)]) -> Result<(), MetaError> {
        for &(node, epoch) in shown {
            if self.nodes.contains_key(&node) {
                self.raise_epoch(&node, epoch)?;
            } else {
                let kept = self.shown.entry(node).or_insert(epoch);
                *kept = (*kept).max(epoch);
            }
        }
        Ok(())
    }

    fn already_known(&self, node: &NodeId) -> Event {
        let config_epoch = self.nodes.get(node).map_or(0, |n| n.config_epoch);
        Event::NodeAlreadyKnown { node: *node, slots: self.slots.runs_of(node), config_epoch }
    }

    fn raise_epoch(&mut self, node: &NodeId, epoch: u64) -> Result<Event, MetaError> {
        let actor = self.actor(node)?;
        let mut raised = actor.config_epoch.max(epoch);
        if raised > actor.config_epoch
            && actor.is_master()
            && self.nodes.values().any(|n| n.id != *node && n.is_master() && n.config_epoch == raised)
        {
            raised = self.current_epoch.max(raised) + 1;
        }
        self.nodes.get_mut(node).expect("actor exists").config_epoch = raised;
        self.current_epoch = self.current_epoch.max(raised);
        Ok(Event::ConfigEpochSet { node: *node, epoch: raised })
    }

    fn learn_ip(&mut self, node: &NodeId, ip: &str) {
        if let Some(me) = self.nodes.get_mut(node) {
            if me.ip.is_empty() {
                me.ip = ip.to_string();
            }
        }
    }

    fn forget(&mut self, by: &NodeId, target: &NodeId) -> Result<Event, MetaError> {
        let actor = self.actor(by)?;
        let Some(victim) = self.nodes.get(target) else {
            return Err(MetaError::UnknownNode(target.to_string()));
        };
        if by == target {
            return Err(MetaError::ForgetMyself);
        }
        if actor.master == Some(victim.id) {
            return Err(MetaError::ForgetMyMaster);
        }
        let removed = self.nodes.remove(target).expect("the victim is listed");
        if self.forgotten.len() == FORGOTTEN_KEPT {
            self.forgotten.remove(0);
        }
        self.forgotten.push((*target, *by));
        let kept = self.shown.entry(*target).or_insert(removed.config_epoch);
        *kept = (*kept).max(removed.config_epoch);
        self.origins.remove(target);
        // Redis's clusterDelNode: no slot stays migrating to, or importing from, a deleted node.
        let names = |(n, _): &(NodeId, Slot), peer: &mut NodeId| n != target && peer != target;
        self.migrating.retain(names);
        self.importing.retain(names);
        let slots_freed = self.slots.unassign_owner(target);
        // Redis leaves the forgotten master's replicas pointing nowhere; the table keeps "a replica's master
        // exists" by turning them into masters without slots.
        let mut orphans_promoted = 0;
        for n in self.nodes.values_mut() {
            if n.master == Some(*target) {
                n.master = None;
                orphans_promoted += 1;
            }
        }
        Ok(Event::NodeForgotten { node: *target, slots_freed, orphans_promoted })
    }

    fn replicate(&mut self, node: &NodeId, master: &NodeId) -> Result<Event, MetaError> {
        let actor = self.actor(node)?;
        let Some(target) = self.nodes.get(master) else {
            return Err(MetaError::UnknownNode(master.to_string()));
        };
        if node == master {
            return Err(MetaError::ReplicateMyself);
        }
        if !target.is_master() {
            return Err(MetaError::ReplicateReplica);
        }
        if actor.is_master() && self.slots.serves_any(node) {
            return Err(MetaError::MasterNotEmpty);
        }
        self.make_replica(node, master);
        Ok(Event::ReplicaOf { node: *node, master: *master })
    }

    /// `node` (and its own replicas, so no replica ever points at a replica) replicate `master`. Like Redis's
    /// `clusterSetMaster`, a node turned replica closes its open slots.
    fn make_replica(&mut self, node: &NodeId, master: &NodeId) {
        for n in self.nodes.values_mut() {
            if n.master == Some(*node) || n.id == *node {
                n.master = Some(*master);
            }
        }
        self.migrating.retain(|(n, _), _| n != node);
        self.importing.retain(|(n, _), _| n != node);
    }

    /// [`Command::Failover`]. Redis's manual failover ends with the replica elected at `currentEpoch + 1`; a
    /// TAKEOVER bumps without agreement (`clusterBumpConfigEpochWithoutConsensus`). Either way the promoted node
    /// serves every slot its master did, and the master and its other replicas become its replicas.
    fn failover(&mut self, node: &NodeId, takeover: bool) -> Result<Event, MetaError> {
        let actor = self.actor(node)?;
        let Some(old_master) = actor.master else { return Err(MetaError::FailoverOnMaster) };
        let own_epoch = actor.config_epoch;
        self.nodes.get_mut(node).expect("actor exists").master = None;
        for span in self.slots.runs_of(&old_master) {
            self.slots.unassign(span);
            self.slots.assign(span, *node);
        }
        self.make_replica(&old_master, node);
        if !takeover || own_epoch == 0 || own_epoch != self.current_epoch {
            self.current_epoch += 1;
            self.nodes.get_mut(node).expect("actor exists").config_epoch = self.current_epoch;
        }
        let epoch = self.nodes[node].config_epoch;
        Ok(Event::FailedOver { node: *node, old_master, epoch })
    }

    /// ADDSLOTS / DELSLOTS of `node` close its importing state for those slots (Redis: "now we are the real
    /// owner of the slot").
    fn close_importing(&mut self, node: &NodeId, span: SlotSpan) {
        let keys: Vec<_> = self.importing.range((*node, span.start)..=(*node, span.end)).map(|(k, _)| *k).collect();
        for key in keys {
            self.importing.remove(&key);
        }
    }

    /// A SETSLOT target: MIGRATING / IMPORTING and NODE word an unknown node differently.
    fn setslot_target(&self, id: &NodeId, unknown: fn(String) -> MetaError) -> Result<(), MetaError> {
        match self.nodes.get(id) {
            None => Err(unknown(id.to_string())),
            Some(n) if !n.is_master() => Err(MetaError::TargetNotMaster),
            Some(_) => Ok(()),
        }
    }

    /// [`Command::SetSlot`]: Redis 7.0's `clusterCommandSetSlot`, check for check and in its order.
    fn set_slot(&mut self, node: &NodeId, slot: Slot, action: SetSlotAction) -> Result<Event, MetaError> {
        if !self.actor(node)?.is_master() {
            return Err(MetaError::SetSlotOnReplica);
        }
        let owner = self.slots.owner(slot);
        let key = (*node, slot);
        match action {
            SetSlotAction::Migrating(to) => {
                if owner != Some(*node) {
                    return Err(MetaError::NotSlotOwner(slot));
                }
                self.setslot_target(&to, MetaError::DontKnowNode)?;
                self.migrating.insert(key, to);
            }
            SetSlotAction::Importing(from) => {
                if owner == Some(*node) {
                    return Err(MetaError::AlreadySlotOwner(slot));
                }
                self.setslot_target(&from, MetaError::DontKnowNode)?;
                self.importing.insert(key, from);
            }
            SetSlotAction::Stable => {
                self.migrating.remove(&key);
                self.importing.remove(&key);
            }
            SetSlotAction::Node { owner: new_owner, holds_keys } => {
                return self.set_slot_owner(node, slot, new_owner, holds_keys);
            }
        }
        Ok(Event::SlotStateSet { node: *node, slot })
    }

    /// SETSLOT NODE. The previous owner, left without slots by it, becomes a replica of the new one (Redis 7.0
    /// with its default `cluster-allow-replica-migration yes`: the previous owner does this itself when it hears
    /// of the new owner's higher epoch, and its replicas follow; `redis-cli --cluster` relies on it).
    fn set_slot_owner(
        &mut self,
        node: &NodeId,
        slot: Slot,
        new_owner: NodeId,
        holds_keys: bool,
    ) -> Result<Event, MetaError> {
        self.setslot_target(&new_owner, MetaError::UnknownNode)?;
        let previous = self.slots.owner(slot);
        if previous == Some(*node) && new_owner != *node && holds_keys {
            return Err(MetaError::SlotHoldsKeys(slot));
        }
        let key = (*node, slot);
        if !holds_keys {
            self.migrating.remove(&key);
        }
        let span = SlotSpan::one(slot);
        self.slots.unassign(span);
        self.slots.assign(span, new_owner);
        let mut epoch = None;
        if new_owner == *node && self.importing.remove(&key).is_some() {
            // clusterBumpConfigEpochWithoutConsensus: a new epoch unless this node's is already the highest.
            let me = self.nodes.get(node).expect("actor exists").config_epoch;
            if me == 0 || me != self.current_epoch {
                self.current_epoch += 1;
                self.nodes.get_mut(node).expect("actor exists").config_epoch = self.current_epoch;
                epoch = Some(self.current_epoch);
            }
        }
        let demoted = previous.filter(|p| *p != new_owner && !self.slots.serves_any(p));
        if let Some(p) = demoted {
            self.make_replica(&p, &new_owner);
        }
        Ok(Event::SlotOwnerSet { slot, owner: new_owner, epoch, demoted })
    }

    /// The facts that must hold after every apply. Returns the first broken one.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.slots.check()?;
        if let Some(node) = self.origins.keys().find(|n| !self.nodes.contains_key(n)) {
            return Err(format!("origin kept for unknown node {node}"));
        }
        if let Some(node) = self.shown.keys().find(|n| self.nodes.contains_key(n)) {
            return Err(format!("listed node {node} also kept as shown before"));
        }
        for (kind, open) in [("migrating", &self.migrating), ("importing", &self.importing)] {
            for ((node, slot), peer) in open {
                match self.nodes.get(node) {
                    None => return Err(format!("slot {slot} {kind} on unknown node {node}")),
                    Some(n) if !n.is_master() => return Err(format!("slot {slot} {kind} on replica {node}")),
                    Some(_) if !self.nodes.contains_key(peer) => {
                        return Err(format!("slot {slot} of {node} {kind} with unknown node {peer}"))
                    }
                    Some(_) => {}
                }
            }
        }
        for (span, owner) in self.slots.runs() {
            let slot = span.start;
            match self.nodes.get(&owner) {
                None => return Err(format!("slot {slot} owned by unknown node {owner}")),
                Some(n) if !n.is_master() => return Err(format!("slot {slot} owned by replica {owner}")),
                Some(_) => {}
            }
        }
        for n in self.nodes.values() {
            if let Some(m) = n.master {
                match self.nodes.get(&m) {
                    None => return Err(format!("replica {} of unknown master {m}", n.id)),
                    Some(master) if !master.is_master() => {
                        return Err(format!("replica {} of replica {m}", n.id));
                    }
                    Some(_) => {}
                }
            }
            if n.config_epoch > self.current_epoch {
                return Err(format!(
                    "node {} config epoch {} > current epoch {}",
                    n.id, n.config_epoch, self.current_epoch
                ));
            }
        }
        Ok(())
    }
}

/// A set of slots as 16,384 bits (on the stack: no allocation per check).
struct SlotBits([u64; SLOT_COUNT as usize / 64]);

impl Default for SlotBits {
    fn default() -> Self {
        SlotBits([0; SLOT_COUNT as usize / 64])
    }
}

impl SlotBits {
    /// The bits of `word` (64 slots) that `span` covers.
    fn mask(word: usize, span: SlotSpan) -> u64 {
        let (first, last) = (usize::from(span.start), usize::from(span.end));
        let mut bits = u64::MAX;
        if word == first / 64 {
            bits &= u64::MAX << (first % 64);
        }
        if word == last / 64 && last % 64 != 63 {
            bits &= (1u64 << (last % 64 + 1)) - 1;
        }
        bits
    }

    fn words(span: SlotSpan) -> std::ops::RangeInclusive<usize> {
        usize::from(span.start) / 64..=usize::from(span.end) / 64
    }

    /// The first slot of `span` in the set.
    fn first_set_in(&self, span: SlotSpan) -> Option<Slot> {
        Self::words(span).find_map(|word| {
            let bits = self.0[word] & Self::mask(word, span);
            (bits != 0).then(|| (word * 64 + bits.trailing_zeros() as usize) as Slot)
        })
    }

    /// Adds `span`'s slots, a word at a time (a span can be 5,461 slots).
    fn set(&mut self, span: SlotSpan) {
        for word in Self::words(span) {
            self.0[word] |= Self::mask(word, span);
        }
    }
}

#[cfg(test)]
mod tests;
