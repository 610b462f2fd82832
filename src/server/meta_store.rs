//! Where a node's metadata lives and how it is read and written: the consistency strategy.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use super::NodeConfig;
use crate::cluster::View;
use crate::meta::{Command, Event, MetaState, NodeId};
use crate::resp::Reply;

/// How CLUSTER writes and metadata reads reach the table (see README, "Strategies").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strategy {
    /// Each node edits only its own table (AiKv at the "fix" commit: Raft was never wired).
    LocalOnly,
    /// Propose to Raft in a spawned task and answer OK at once; read the local state machine.
    FireAndForget,
    /// Await the commit (5 s timeout), then sleep 200 ms; read the local state machine (the seed's fix).
    CommitThenSleep,
    /// Await the commit; reads first pass a linearizable barrier (read index), or answer an error.
    ReadIndex,
}

impl Strategy {
    pub const ALL: [Strategy; 4] =
        [Strategy::LocalOnly, Strategy::FireAndForget, Strategy::CommitThenSleep, Strategy::ReadIndex];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::LocalOnly => "local-only",
            Strategy::FireAndForget => "fire-and-forget",
            Strategy::CommitThenSleep => "commit-then-sleep",
            Strategy::ReadIndex => "read-index",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown strategy '{0}' (expected one of: local-only, fire-and-forget, commit-then-sleep, read-index)")]
pub struct StrategyParseError(pub String);

impl FromStr for Strategy {
    type Err = StrategyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL.into_iter().find(|st| st.name() == s).ok_or_else(|| StrategyParseError(s.to_string()))
    }
}

/// The node's metadata under its strategy.
pub struct MetaStore {
    /// This node's id; CLUSTER RESET HARD changes it.
    myself: Mutex<NodeId>,
    local: Mutex<MetaState>,
}

impl MetaStore {
    pub(crate) fn new(config: &NodeConfig) -> Self {
        MetaStore { myself: Mutex::new(config.node_id), local: Mutex::new(MetaState::new(config.initial_entry())) }
    }

    /// Applies a CLUSTER write. Local-only: to this node's table, at once.
    pub async fn write(&self, command: Command) -> Result<Event, Reply> {
        let mut state = self.local.lock().expect("meta lock");
        let result = state.apply(&command);
        match &result {
            Ok(event) => {
                tracing::debug!(verb = command.verb(), ?event, "meta: applied");
                if let Event::Reset { node, .. } = event {
                    *self.myself.lock().expect("myself lock") = *node;
                }
            }
            Err(e) => tracing::debug!(verb = command.verb(), error = %e, "meta: refused"),
        }
        result.map_err(|e| Reply::error(e.to_string()))
    }

    /// A metadata read that a client sees (NODES / INFO / SLOTS / SHARDS / REPLICAS), with the strategy's
    /// consistency guarantee.
    pub async fn read<R>(&self, f: impl FnOnce(View<'_>) -> R) -> Result<R, Reply> {
        let state = self.local.lock().expect("meta lock");
        Ok(f(View { state: &state, myself: self.myself() }))
    }

    pub fn myself(&self) -> NodeId {
        *self.myself.lock().expect("myself lock")
    }

    /// The local table as it is now, without any barrier: for routing and for validation before a write.
    pub fn read_local<R>(&self, f: impl FnOnce(&MetaState) -> R) -> R {
        f(&self.local.lock().expect("meta lock"))
    }
}
