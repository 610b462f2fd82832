//! The scenario AST: what parsed files and generated cases both are. `print` turns it back into a file.

use std::fmt;

use clustersim::server::Strategy;

use crate::profile::Profile;

/// A whole scenario: the `cluster` header and the steps, with the comments kept in place.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Comment lines before the header (without the `# `), usually the intent.
    pub intro: Vec<String>,
    pub header: Header,
    pub steps: Vec<Step>,
    /// The file line of each step, when parsed from a file (empty for generated scenarios). Not part of equality.
    pub lines: Vec<usize>,
}

impl Scenario {
    /// The 1-based line of step `index`: from the file, or from the printed layout for generated scenarios.
    pub fn line_of(&self, index: usize) -> usize {
        self.lines.get(index).copied().unwrap_or(self.intro.len() + 2 + index)
    }
}

impl PartialEq for Scenario {
    fn eq(&self, other: &Self) -> bool {
        self.intro == other.intro && self.header == other.header && self.steps == other.steps
    }
}

impl Eq for Scenario {}

/// `cluster <nodes> [strategy=<s>] [profile=<p>] [base-port=<p>] [drift=<...>] [strict]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub nodes: usize,
    /// The strategy the file asks for; a CLI `--strategy` overrides it. `None`: the CLI must give one.
    pub strategy: Option<Strategy>,
    /// The network profile the file asks for; a CLI `--profile` overrides it. `None`: lan.
    pub profile: Option<Profile>,
    /// Node `i` (1-based) listens on `base_port + i - 1`.
    pub base_port: u16,
    /// `drift=n2:+20%,n3:-10%`: how fast each listed node's clock runs against true time, in percent (the others
    /// run true). Every timer a node sets is measured on its clock (see `clustersim::raft::ClockRate`).
    pub drift: Vec<(usize, i32)>,
    /// `strict`: the scenario asserts availability — an error during a fault window (an availability violation,
    /// `crate::verdict`) fails the run, as `--strict` does.
    pub strict: bool,
}

impl Header {
    pub const DEFAULT_BASE_PORT: u16 = 6379;
    /// Redis Cluster's own design limit.
    pub const NODES_MAX: usize = 1000;
    pub const DRIFT_PERCENT_MIN: i32 = -90;
    pub const DRIFT_PERCENT_MAX: i32 = 900;
}

/// Which node(s) a step talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Node `i`, 1-based (`n1`).
    Node(usize),
    /// Every node, in order (`all`).
    All,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Node(i) => write!(f, "n{i}"),
            Target::All => f.write_str("all"),
        }
    }
}

/// A per-node value a template can name: `{n2.ip}`, `{n2.port}`, `{n2.bus}`, `{n2.id}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Ip,
    Port,
    Bus,
    Id,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Ip => "ip",
            Field::Port => "port",
            Field::Bus => "bus",
            Field::Id => "id",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Field::Ip, Field::Port, Field::Bus, Field::Id].into_iter().find(|f| f.name() == name)
    }
}

/// One piece of a word: literal text or a node variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Var { node: usize, field: Field },
}

/// One command argument as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Word {
    /// Text and variables glued together: `{n2.ip}:{n2.port}`.
    Pieces(Vec<Piece>),
    /// `{0..5460}`: expands to one argument per number, inclusive.
    Range { start: u32, end: u32 },
}

impl Word {
    pub fn text(s: impl Into<String>) -> Self {
        Word::Pieces(vec![Piece::Text(s.into())])
    }

    pub fn var(node: usize, field: Field) -> Self {
        Word::Pieces(vec![Piece::Var { node, field }])
    }
}

/// What an `expect` step checks about each reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// `reply=<text>`: the reply (simple string, error or bulk) is exactly this.
    Reply(Word),
    /// `known-nodes=<n>`: the reply has exactly n lines starting with a 40-hex id (AiKv's check).
    KnownNodes(usize),
    /// `knows=<id>`: some line of the reply starts with this id.
    Knows(Word),
    /// `contains=<text>`: the reply text contains this.
    Contains(Word),
}

impl Check {
    pub fn key(&self) -> &'static str {
        match self {
            Check::Reply(_) => "reply",
            Check::KnownNodes(_) => "known-nodes",
            Check::Knows(_) => "knows",
            Check::Contains(_) => "contains",
        }
    }
}

/// One line of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `# text`
    Comment(String),
    /// `call <target> <word>...`: send the command, record the reply.
    Call { target: Target, command: Vec<Word> },
    /// `sleep <duration>`: let virtual time pass.
    Sleep { ms: u64 },
    /// `expect <target> "<command>" <check>=<value>`: send the command and judge the reply.
    Expect { target: Target, command: Vec<Word>, check: Check },
    /// A fault the harness injects (docs/SCENARIOS.md, "Faults").
    Fault(Fault),
    /// `wait-consistent [within=<duration>]`: poll CLUSTER NODES on every node every 100 ms until the redis-cli
    /// config signatures agree (redis-cli `--cluster create`'s "Waiting for the cluster to join"). A violation
    /// if they never do within the bound.
    WaitConsistent { within_ms: u64 },
    /// `settle [within=<duration>]`: the liveness phase. Faults stop (links healed, paused hosts resumed, killed
    /// hosts restarted, the profile's schedule and latency/loss back to lan), then every node is polled every
    /// 100 ms until the cluster has converged (every node lists every node) and agrees (config signature and
    /// CLUSTER SLOTS). Agreement and durability are judged on the views it ends with.
    Settle { within_ms: u64 },
    /// `workload reads …` / `workload writes …` / `workload stop`: background clients
    /// that run alongside the following steps and faults (Jepsen's clients), every call in the history.
    Workload(Workload),
}

/// A background workload (docs/SCENARIOS.md, "Workloads").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    /// One client per target node, each looping over `ops` (one call, then `every_ms` of virtual time) until
    /// `workload stop`, the next `workload reads` (which replaces it) or the end of the steps.
    Reads { every_ms: u64, on: Target, ops: Vec<ReadOp> },
    /// One client per target node, each looping over `ops` (one write, then `every_ms`) until `workload stop`,
    /// the next `workload writes` (which replaces it) or the end of the steps. Slot writes use `slots` (an
    /// inclusive range): client k of the workload claims slot `first + (k + i) % len` on its i-th round, so
    /// clients of different nodes claim the same slots at different times (conflicting claims), and gives a slot
    /// back (DELSLOTS) only after its own ADDSLOTS was acknowledged.
    Writes { every_ms: u64, on: Target, ops: Vec<WriteOp>, slots: (u16, u16) },
    /// Stops every running workload (a call still in flight is abandoned: it is not in the history).
    Stop,
}

impl Workload {
    pub const EVERY_MS_MIN: u64 = 10;
    pub const EVERY_MS_DEFAULT: u64 = 100;
    /// The slots a write workload claims unless told: the last 64, which a scenario that assigns every slot
    /// already owns (every claim is then a conflict the node must refuse).
    pub const WRITE_SLOTS_DEFAULT: (u16, u16) = (16_320, 16_383);
}

/// A write a workload issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WriteOp {
    /// `CLUSTER ADDSLOTS <s>`, then `CLUSTER DELSLOTS <s>` if the claim was acknowledged.
    Slots,
    /// `CLUSTER MEET` of another node of the run (the next one, round after round): a member already, so a
    /// correct node changes nothing, but the join path runs under the faults.
    Meet,
}

impl WriteOp {
    pub const ALL: [WriteOp; 2] = [WriteOp::Slots, WriteOp::Meet];

    /// The name in a scenario (`ops=slots,meet`).
    pub fn name(self) -> &'static str {
        match self {
            WriteOp::Slots => "slots",
            WriteOp::Meet => "meet",
        }
    }
}

/// A read a workload issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReadOp {
    Nodes,
    Slots,
    Shards,
}

impl ReadOp {
    pub const ALL: [ReadOp; 3] = [ReadOp::Nodes, ReadOp::Slots, ReadOp::Shards];

    /// The name in a scenario (`ops=nodes,slots`).
    pub fn name(self) -> &'static str {
        match self {
            ReadOp::Nodes => "nodes",
            ReadOp::Slots => "slots",
            ReadOp::Shards => "shards",
        }
    }

    /// The CLUSTER subcommand it sends.
    pub fn subcommand(self) -> &'static str {
        match self {
            ReadOp::Nodes => "NODES",
            ReadOp::Slots => "SLOTS",
            ReadOp::Shards => "SHARDS",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workload::Reads { every_ms, on, ops } => {
                let names: Vec<&str> = ops.iter().map(|o| o.name()).collect();
                write!(f, "workload reads every={every_ms}ms on={on} ops={}", names.join(","))
            }
            Workload::Writes { every_ms, on, ops, slots } => {
                let names: Vec<&str> = ops.iter().map(|o| o.name()).collect();
                write!(
                    f,
                    "workload writes every={every_ms}ms on={on} ops={} slots={}-{}",
                    names.join(","),
                    slots.0,
                    slots.1
                )
            }
            Workload::Stop => f.write_str("workload stop"),
        }
    }
}

impl Step {
    pub const WAIT_CONSISTENT_DEFAULT_MS: u64 = 10_000;
    pub const SETTLE_DEFAULT_MS: u64 = 30_000;
}

/// A fault step. Nodes are 1-based. The client host's links are never touched: it talks to every side of a
/// partition, as a Jepsen client on each side would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `kill n2`: the host's process dies; its tasks and connections are gone, its disk stays.
    Kill(usize),
    /// `restart n2`: the host's process starts again (from its disk under the Raft strategies). Restarting a
    /// live host kills it first.
    Restart(usize),
    /// `pause n2`: the host stops running (a stopped VM, a long GC pause); its peers see a silent node.
    Pause(usize),
    /// `resume n2`.
    Resume(usize),
    /// `partition n1,n2 n3,n4,n5`: links between hosts of different groups are cut both ways (hosts not named
    /// keep all their links). Replaces any earlier partition.
    Partition(Vec<Vec<usize>>),
    /// `heal`: every cluster link is up again (partitions and clogs undone).
    Heal,
    /// `clog n1->n2`: packets from n1 to n2 are held back (one way) until `unclog`.
    Clog { from: usize, to: usize },
    /// `unclog n1->n2`.
    Unclog { from: usize, to: usize },
    /// `latency 10ms..200ms`: every packet from now on takes a latency drawn from this range (madsim's
    /// latency is global, not per link).
    Latency { min_ms: u64, max_ms: u64 },
    /// `loss 10%`: this share of packets is lost from now on (each loss stalls its TCP stream).
    Loss { percent: u8 },
}

impl Fault {
    pub fn verb(&self) -> &'static str {
        match self {
            Fault::Kill(_) => "kill",
            Fault::Restart(_) => "restart",
            Fault::Pause(_) => "pause",
            Fault::Resume(_) => "resume",
            Fault::Partition(_) => "partition",
            Fault::Heal => "heal",
            Fault::Clog { .. } => "clog",
            Fault::Unclog { .. } => "unclog",
            Fault::Latency { .. } => "latency",
            Fault::Loss { .. } => "loss",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = self.verb();
        match self {
            Fault::Kill(n) | Fault::Restart(n) | Fault::Pause(n) | Fault::Resume(n) => write!(f, "{verb} n{n}"),
            Fault::Partition(groups) => {
                f.write_str(verb)?;
                for g in groups {
                    let names: Vec<String> = g.iter().map(|n| format!("n{n}")).collect();
                    write!(f, " {}", names.join(","))?;
                }
                Ok(())
            }
            Fault::Heal => f.write_str(verb),
            Fault::Clog { from, to } | Fault::Unclog { from, to } => write!(f, "{verb} n{from}->n{to}"),
            Fault::Latency { min_ms, max_ms } => write!(f, "{verb} {min_ms}ms..{max_ms}ms"),
            Fault::Loss { percent } => write!(f, "{verb} {percent}%"),
        }
    }
}
