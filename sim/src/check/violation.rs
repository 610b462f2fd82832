//! Violations: typed nouns for the broken facts a run observed, each carrying the property it breaks.

use std::fmt;
use std::time::Duration;

use super::property::Property;
use crate::hosts::{normalize, Host};

/// A broken fact the run observed. Each variant names the property it defends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// `expect ... known-nodes=N`: AiKv's convergence check — every node must know exactly N nodes.
    KnownNodes { line: usize, node: usize, expected: usize, known: usize, error: Option<String> },
    /// `expect ... knows=<id>`: the node's CLUSTER NODES must list that node.
    MissingNode { line: usize, node: usize, missing: String, error: Option<String> },
    /// `expect ... reply=<text>`: the reply must be exactly this (e.g. REPLICATE answering OK).
    UnexpectedReply { line: usize, node: usize, expected: String, got: String },
    /// `expect ... contains=<text>`: the reply must contain this text.
    MissingText { line: usize, node: usize, expected: String, got: String },
    /// An `expect` got an error reply where data was expected: the node refused to answer (e.g. read-index with
    /// no leader reachable). Unavailability, not a wrong answer; reported apart from stale reads.
    Unavailable { line: usize, node: usize, error: String },
    /// Linearizable membership reads (check/linearizable_reads.rs): a CLUSTER NODES that began after a MEET's OK
    /// does not list a node that MEET had joined.
    StaleMembershipRead { line: usize, node: usize, missing: String, write_ok_at: Duration, read_start: Duration },
    /// Convergence (check/convergence.rs): a node of a settled cluster does not list every node.
    NotConverged {
        line: usize,
        node: usize,
        known: usize,
        expected: usize,
        missing: Option<usize>,
        error: Option<String>,
    },
    /// Convergence: `node` lists `lists`, which does not list it back.
    OneSidedMembership { line: usize, node: usize, lists: usize },
    /// Agreement (check/agreement.rs): two nodes differ on the config signature or on CLUSTER SLOTS. Texts as
    /// the nodes sent them (ids normalized when the outcome is built).
    Disagreement { line: usize, on: &'static str, first: (usize, String), other: (usize, String) },
    /// Liveness (check/liveness.rs): `settle`'s bound passed with the cluster still unconverged or disagreeing.
    NotSettled { line: usize, within_ms: u64, cause: Box<Violation> },
    /// `wait-consistent`'s bound passed with the config signatures still differing.
    NeverConsistent { line: usize, within_ms: u64, cause: Box<Violation> },
    /// Slot safety (check/slot_safety.rs): a node's table gives a slot two owners.
    SlotOwnedTwice { line: usize, node: usize, slot: u16, owners: Vec<String> },
    /// Slot safety: a node's table has a replica whose master is missing or not a master.
    ReplicaOfNonMaster { line: usize, node: usize, replica: String, master: String, why: &'static str },
    /// Slot safety: a node's view of some node's config epoch went down.
    EpochWentBack { line: usize, node: usize, of: String, from: u64, to: u64 },
    /// Durability (check/durability.rs): a write answered OK, and the settled table does not reflect it.
    LostWrite { line: usize, write: String, ok_at: Duration, node: usize, missing: String },
    /// A broken fact found by a checker that declares no variant of its own: `kind` is the noun for the fact
    /// (`MyselfNotSelf`), `fact` the sentence after `line N: ` (ids as the nodes sent them; normalized with the
    /// rest). A new checker can start here and earn its own typed variant when something needs to match on it.
    Broken { property: Property, kind: &'static str, line: usize, fact: String },
}

impl Violation {
    /// The scenario line that found it.
    pub fn line(&self) -> usize {
        match self {
            Violation::KnownNodes { line, .. }
            | Violation::MissingNode { line, .. }
            | Violation::UnexpectedReply { line, .. }
            | Violation::MissingText { line, .. }
            | Violation::StaleMembershipRead { line, .. }
            | Violation::Unavailable { line, .. }
            | Violation::NotConverged { line, .. }
            | Violation::OneSidedMembership { line, .. }
            | Violation::Disagreement { line, .. }
            | Violation::NotSettled { line, .. }
            | Violation::NeverConsistent { line, .. }
            | Violation::SlotOwnedTwice { line, .. }
            | Violation::ReplicaOfNonMaster { line, .. }
            | Violation::EpochWentBack { line, .. }
            | Violation::LostWrite { line, .. }
            | Violation::Broken { line, .. } => *line,
        }
    }

    /// The node a violation names (the reader, the node whose table is wrong, the first of two that disagree).
    pub fn node(&self) -> Option<usize> {
        match self {
            Violation::KnownNodes { node, .. }
            | Violation::MissingNode { node, .. }
            | Violation::UnexpectedReply { node, .. }
            | Violation::MissingText { node, .. }
            | Violation::Unavailable { node, .. }
            | Violation::StaleMembershipRead { node, .. }
            | Violation::NotConverged { node, .. }
            | Violation::OneSidedMembership { node, .. }
            | Violation::SlotOwnedTwice { node, .. }
            | Violation::ReplicaOfNonMaster { node, .. }
            | Violation::EpochWentBack { node, .. }
            | Violation::LostWrite { node, .. } => Some(*node),
            Violation::Disagreement { first, .. } => Some(first.0),
            Violation::NotSettled { cause, .. } | Violation::NeverConsistent { cause, .. } => cause.node(),
            Violation::Broken { .. } => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Violation::KnownNodes { .. } => "KnownNodes",
            Violation::MissingNode { .. } => "MissingNode",
            Violation::UnexpectedReply { .. } => "UnexpectedReply",
            Violation::MissingText { .. } => "MissingText",
            Violation::StaleMembershipRead { .. } => "StaleMembershipRead",
            Violation::Unavailable { .. } => "Unavailable",
            Violation::NotConverged { .. } => "NotConverged",
            Violation::OneSidedMembership { .. } => "OneSidedMembership",
            Violation::Disagreement { .. } => "Disagreement",
            Violation::NotSettled { .. } => "NotSettled",
            Violation::NeverConsistent { .. } => "NeverConsistent",
            Violation::SlotOwnedTwice { .. } => "SlotOwnedTwice",
            Violation::ReplicaOfNonMaster { .. } => "ReplicaOfNonMaster",
            Violation::EpochWentBack { .. } => "EpochWentBack",
            Violation::LostWrite { .. } => "LostWrite",
            Violation::Broken { kind, .. } => kind,
        }
    }

    /// The property the violation breaks.
    pub fn property(&self) -> Property {
        match self {
            Violation::KnownNodes { .. }
            | Violation::MissingNode { .. }
            | Violation::UnexpectedReply { .. }
            | Violation::MissingText { .. } => Property::EXPECT,
            Violation::Unavailable { .. } => Property::AVAILABILITY,
            Violation::StaleMembershipRead { .. } => super::linearizable_reads::PROPERTY,
            Violation::NotConverged { .. } | Violation::OneSidedMembership { .. } => Property::CONVERGENCE,
            Violation::Disagreement { .. } => Property::AGREEMENT,
            Violation::NotSettled { .. } => Property::LIVENESS,
            Violation::NeverConsistent { .. } => Property::WAIT_CONSISTENT,
            Violation::SlotOwnedTwice { .. }
            | Violation::ReplicaOfNonMaster { .. }
            | Violation::EpochWentBack { .. } => super::slot_safety::PROPERTY,
            Violation::LostWrite { .. } => super::durability::PROPERTY,
            Violation::Broken { property, .. } => *property,
        }
    }

    /// The same violation with every host id replaced by `<nK>`.
    pub fn normalized(self, hosts: &[Host]) -> Violation {
        match self {
            Violation::Disagreement { line, on, first, other } => Violation::Disagreement {
                line,
                on,
                first: (first.0, normalize(&first.1, hosts)),
                other: (other.0, normalize(&other.1, hosts)),
            },
            Violation::NotSettled { line, within_ms, cause } => {
                Violation::NotSettled { line, within_ms, cause: Box::new(cause.normalized(hosts)) }
            }
            Violation::NeverConsistent { line, within_ms, cause } => {
                Violation::NeverConsistent { line, within_ms, cause: Box::new(cause.normalized(hosts)) }
            }
            Violation::Broken { property, kind, line, fact } => {
                Violation::Broken { property, kind, line, fact: normalize(&fact, hosts) }
            }
            other => other,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::KnownNodes { line, node, expected, known, error } => match error {
                Some(e) => write!(f, "line {line}: n{node} answered -{e} where {expected} known nodes were expected"),
                None => write!(f, "line {line}: n{node} knows {known}/{expected} nodes"),
            },
            Violation::MissingNode { line, node, missing, error } => match error {
                Some(e) => write!(f, "line {line}: n{node} answered -{e} where a list naming {missing} was expected"),
                None => write!(f, "line {line}: n{node} does not list {missing}"),
            },
            Violation::UnexpectedReply { line, node, expected, got } => {
                write!(f, "line {line}: n{node} answered {got}, expected {expected}")
            }
            Violation::MissingText { line, node, expected, got } => {
                write!(f, "line {line}: n{node}'s reply {got} does not contain {expected:?}")
            }
            Violation::Unavailable { line, node, error } => write!(f, "line {line}: n{node} answered -{error}"),
            Violation::StaleMembershipRead { line, node, missing, write_ok_at, read_start } => write!(
                f,
                "line {line}: n{node}'s CLUSTER NODES started at {} omits {missing}, whose MEET was acknowledged at {}",
                crate::trace::stamp(*read_start).trim(),
                crate::trace::stamp(*write_ok_at).trim()
            ),
            Violation::NotConverged { node, known, expected, missing, error, line } => match (error, missing) {
                (Some(e), _) => write!(f, "line {line}: n{node} answered -{e} instead of its view of {expected} nodes"),
                (None, Some(m)) => write!(f, "line {line}: n{node} knows {known}/{expected} nodes (missing n{m})"),
                (None, None) => write!(f, "line {line}: n{node} knows {known}/{expected} nodes"),
            },
            Violation::OneSidedMembership { line, node, lists } => {
                write!(f, "line {line}: n{node} lists n{lists}, which does not list n{node}")
            }
            Violation::Disagreement { line, on, first, other } => write!(
                f,
                "line {line}: n{} and n{} disagree on the {on}: n{} has {:?}, n{} has {:?}",
                first.0, other.0, first.0, first.1, other.0, other.1
            ),
            Violation::NotSettled { within_ms, cause, .. } => {
                write!(
                    f,
                    "{}",
                    cause.to_string().replacen(
                        ": ",
                        &format!(": not settled {} after faults stopped: ", show_ms(*within_ms)),
                        1
                    )
                )
            }
            Violation::NeverConsistent { within_ms, cause, .. } => {
                write!(
                    f,
                    "{}",
                    cause.to_string().replacen(
                        ": ",
                        &format!(": still inconsistent after {}: ", show_ms(*within_ms)),
                        1
                    )
                )
            }
            Violation::SlotOwnedTwice { line, node, slot, owners } => {
                write!(f, "line {line}: n{node}'s CLUSTER NODES gives slot {slot} two owners: {}", owners.join(" and "))
            }
            Violation::ReplicaOfNonMaster { line, node, replica, master, why } => {
                write!(f, "line {line}: n{node}'s CLUSTER NODES makes {replica} a replica of {master}, which {why}")
            }
            Violation::EpochWentBack { line, node, of, from, to } => {
                write!(
                    f,
                    "line {line}: n{node}'s CLUSTER NODES shows {of}'s config epoch going back from {from} to {to}"
                )
            }
            Violation::LostWrite { line, write, ok_at, node, missing } => write!(
                f,
                "line {line}: {write} answered OK at {}, but after settling n{node}'s table says: {missing}",
                crate::trace::stamp(*ok_at).trim()
            ),
            Violation::Broken { line, fact, .. } => write!(f, "line {line}: {fact}"),
        }
    }
}

/// `30s`, `1500ms`.
fn show_ms(ms: u64) -> String {
    if ms % 1000 == 0 && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}
