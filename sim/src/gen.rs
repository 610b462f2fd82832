//! Generated scenarios: proptest strategies that produce the same [`Scenario`] AST the parser produces.
//!
//! A case is a cluster size (3–9), a madsim seed, and a list of *actions*, each with a keep bit: the cluster's
//! MEETs in one of the usual orders (star to the first node, star from it, chain, full mesh, reverse, redis-cli's
//! order), with a random side receiving each MEET and a random MEET form (`ip port` or AiKv's `ip port id`);
//! the slots split over the masters (contiguous ADDSLOTSRANGE or scattered ADDSLOTS ranges); REPLICATE of the
//! others; a FORGET and re-MEET; reads on random nodes, sleeps, and (optionally) fault windows — each opened
//! after some action and closed a few actions later. Every case ends with `settle`. Shrinking clears keep bits
//! (dropping actions), shrinks sleeps and fault windows, and moves the seed toward 0, so a failure shrinks to the
//! few steps that matter. Generated scenarios carry no `expect` lines: the checkers alone decide.
//!
//! With faults on, the generator also draws the hazards the literature names for Raft-backed metadata (the same
//! ones the hand-written scenarios in `scenarios/` pin down): a minority partition held past an election (reads
//! on a deposed leader: Jepsen on etcd and Consul), a long GC-like pause (Kleppmann), kills and restarts in the
//! middle of an election (Raft §5.2), a kill of the node that just answered a write (commit vs. reply, Raft
//! §5.4.2), and drifting clocks (Raft §6.4).

use std::ops::RangeInclusive;

use proptest::prelude::*;

use crate::scenario::{Fault, Field, Header, Scenario, Step, Target, Word};

/// Bounds on generated cases (see `sim fuzz --help`).
#[derive(Clone, Debug)]
pub struct GenConfig {
    pub nodes: RangeInclusive<usize>,
    /// Insert fault windows (kill/restart, pause/resume, partition/heal, clog/unclog).
    pub faults: bool,
    /// Start a background read workload (`workload reads …` on every node) in about half the cases, and a write
    /// workload (`workload writes …`: slot claims racing the set-up's, MEETs of members) in about a third.
    pub workloads: bool,
    /// Largest number of extra actions (reads, sleeps, faults) beyond the cluster set-up.
    pub extras_max: usize,
    /// Longest sleep.
    pub sleep_ms_max: u64,
    /// The bound of the `settle` every case ends with.
    pub settle_ms: u64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            nodes: 3..=9,
            faults: true,
            workloads: true,
            extras_max: 12,
            sleep_ms_max: 2_000,
            settle_ms: 30_000,
        }
    }
}

/// The MEET orders the generator draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeetOrder {
    /// n1 meets n2, n3, ...
    StarToFirst,
    /// n2, n3, ... each meet n1 (redis-cli sends its star MEET this way).
    StarFromFirst,
    /// n1 meets n2, n2 meets n3, ...
    Chain,
    /// every i < j: ni meets nj.
    FullMesh,
    /// nN meets nN-1, ..., n2 meets n1.
    Reverse,
    /// redis-cli --cluster create: slots first, then every node but n1 meets n1.
    RedisCli,
}

const ORDERS: [MeetOrder; 6] = [
    MeetOrder::StarToFirst,
    MeetOrder::StarFromFirst,
    MeetOrder::Chain,
    MeetOrder::FullMesh,
    MeetOrder::Reverse,
    MeetOrder::RedisCli,
];

/// One generated action (compiled into one or more steps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Meet {
        from: usize,
        to: usize,
        with_id: bool,
    },
    AddSlotsRange {
        node: usize,
        ranges: Vec<(u32, u32)>,
    },
    AddSlots {
        node: usize,
        ranges: Vec<(u32, u32)>,
    },
    Replicate {
        node: usize,
        master: usize,
    },
    Forget {
        by: usize,
        target: usize,
    },
    Read {
        node: usize,
    },
    /// A write Redis refuses in most states (so the metadata model can catch a node that accepts it): `ADDSLOTS
    /// slot` of a slot some master likely serves, `ADDSLOTS slot slot`, or `REPLICATE other` (a chain when
    /// `other` is a replica, refused when `node` serves slots or is `other`).
    Conflict {
        node: usize,
        other: usize,
        slot: u32,
        kind: ConflictKind,
    },
    Sleep {
        ms: u64,
    },
    /// `fault`, then a sleep of `hold_ms` (0: none; long enough for an election when drawn as a hazard), then
    /// `undo` after `undo_after` more actions (or at the settle).
    FaultWindow {
        fault: Fault,
        undo: Fault,
        undo_after: usize,
        hold_ms: u64,
    },
    /// A restart in the middle of an election: kill `first` (the group's leader, often), wait `gap_ms` until the
    /// others are electing, kill `second` for `down_ms`, restart it, then restart `first`.
    ElectionRestarts {
        first: usize,
        second: usize,
        gap_ms: u64,
        down_ms: u64,
    },
    /// Kill the node the previous kept action was sent to, right after its reply; restart it `undo_after`
    /// actions later (a leader killed between its commit and the followers learning of it).
    KillLastReceiver {
        undo_after: usize,
    },
}

impl Action {
    /// The node this action's (first) command is sent to, if it sends one.
    fn receiver(&self) -> Option<usize> {
        match self {
            Action::Meet { from: node, .. }
            | Action::AddSlotsRange { node, .. }
            | Action::AddSlots { node, .. }
            | Action::Replicate { node, .. }
            | Action::Forget { by: node, .. }
            | Action::Conflict { node, .. }
            | Action::Read { node } => Some(*node),
            _ => None,
        }
    }
}

/// Which conflicting or invalid write an [`Action::Conflict`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictKind {
    BusySlot,
    SlotTwice,
    Replicate,
}

/// A generated case before compilation.
#[derive(Clone, Debug)]
pub struct Case {
    pub nodes: usize,
    pub seed: u64,
    pub order: MeetOrder,
    /// Actions with their keep bits.
    pub actions: Vec<(bool, Action)>,
    pub settle_ms: u64,
    /// Clock drift per node in percent (the header's `drift=`), drawn with the faults.
    pub drift: Vec<(usize, i32)>,
    /// The period of a read workload on every node started before the first action (`None`: no workload).
    pub workload_ms: Option<u64>,
    /// The period of a write workload on every node started before the first action (`None`: none). It claims
    /// the case's last [`WRITE_WORKLOAD_SLOTS`] slots, which the set-up assigns too: claims conflict.
    pub writes_ms: Option<u64>,
}

/// How many of the last slots a generated write workload claims.
pub const WRITE_WORKLOAD_SLOTS: u16 = 16;

fn cluster(sub: &str) -> Vec<Word> {
    vec![Word::text("CLUSTER"), Word::text(sub)]
}

impl Case {
    /// The scenario this case runs (the kept actions, then `settle`).
    pub fn scenario(&self) -> Scenario {
        let mut steps = Vec::new();
        if let Some(every_ms) = self.workload_ms {
            let ops = crate::scenario::ReadOp::ALL.to_vec();
            steps.push(Step::Workload(crate::scenario::Workload::Reads { every_ms, on: Target::All, ops }));
        }
        if let Some(every_ms) = self.writes_ms {
            let ops = crate::scenario::WriteOp::ALL.to_vec();
            let slots = (16_384 - WRITE_WORKLOAD_SLOTS, 16_383);
            steps.push(Step::Workload(crate::scenario::Workload::Writes { every_ms, on: Target::All, ops, slots }));
        }
        // Undo steps of open fault windows, with the index of the kept action after which each is due.
        let mut pending: Vec<(usize, Fault)> = Vec::new();
        let kept: Vec<&Action> = self.actions.iter().filter(|(k, _)| *k).map(|(_, a)| a).collect();
        for i in 0..kept.len() {
            compile(&kept, i, &mut steps, &mut pending);
            let (due, later): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(at, _)| *at <= i);
            pending = later;
            steps.extend(due.into_iter().map(|(_, undo)| Step::Fault(undo)));
        }
        steps.extend(pending.into_iter().map(|(_, undo)| Step::Fault(undo)));
        steps.push(Step::Settle { within_ms: self.settle_ms });
        Scenario {
            intro: vec![format!(
                "Generated: {} nodes, MEET order {:?}, {} of {} actions kept.",
                self.nodes,
                self.order,
                kept.len(),
                self.actions.len()
            )],
            header: Header {
                nodes: self.nodes,
                strategy: None,
                profile: None,
                base_port: Header::DEFAULT_BASE_PORT,
                drift: self.drift.clone(),
                strict: false,
            },
            steps,
            lines: Vec::new(),
        }
    }
}

/// The steps of kept action `i`; a fault window's undo goes to `pending` with the index it is due after.
fn compile(kept: &[&Action], i: usize, steps: &mut Vec<Step>, pending: &mut Vec<(usize, Fault)>) {
    let call = |node: usize, command: Vec<Word>| Step::Call { target: Target::Node(node), command };
    match kept[i] {
        Action::Meet { from, to, with_id } => {
            let mut c = cluster("MEET");
            c.push(Word::var(*to, Field::Ip));
            c.push(Word::var(*to, Field::Port));
            if *with_id {
                c.push(Word::var(*to, Field::Id));
            }
            steps.push(call(*from, c));
        }
        Action::AddSlotsRange { node, ranges } => {
            let mut c = cluster("ADDSLOTSRANGE");
            for (a, b) in ranges {
                c.push(Word::text(a.to_string()));
                c.push(Word::text(b.to_string()));
            }
            steps.push(call(*node, c));
        }
        Action::AddSlots { node, ranges } => {
            let mut c = cluster("ADDSLOTS");
            c.extend(ranges.iter().map(|&(start, end)| Word::Range { start, end }));
            steps.push(call(*node, c));
        }
        Action::Replicate { node, master } => {
            let mut c = cluster("REPLICATE");
            c.push(Word::var(*master, Field::Id));
            steps.push(call(*node, c));
        }
        Action::Conflict { node, other, slot, kind } => {
            let command = match kind {
                ConflictKind::BusySlot => vec![Word::text(slot.to_string())],
                ConflictKind::SlotTwice => vec![Word::text(slot.to_string()), Word::text(slot.to_string())],
                ConflictKind::Replicate => vec![Word::var(*other, Field::Id)],
            };
            let mut c = cluster(if *kind == ConflictKind::Replicate { "REPLICATE" } else { "ADDSLOTS" });
            c.extend(command);
            steps.push(call(*node, c));
        }
        Action::Forget { by, target } => {
            // FORGET, then MEET it again (Redis's isolate-and-rejoin).
            let mut c = cluster("FORGET");
            c.push(Word::var(*target, Field::Id));
            steps.push(call(*by, c));
            let mut c = cluster("MEET");
            c.push(Word::var(*target, Field::Ip));
            c.push(Word::var(*target, Field::Port));
            steps.push(call(*by, c));
        }
        Action::Read { node } => steps.push(call(*node, cluster("NODES"))),
        Action::Sleep { ms } => steps.push(Step::Sleep { ms: *ms }),
        Action::FaultWindow { fault, undo, undo_after, hold_ms } => {
            steps.push(Step::Fault(fault.clone()));
            if *hold_ms > 0 {
                steps.push(Step::Sleep { ms: *hold_ms });
            }
            pending.push((i + undo_after, undo.clone()));
        }
        Action::ElectionRestarts { first, second, gap_ms, down_ms } => {
            steps.push(Step::Fault(Fault::Kill(*first)));
            steps.push(Step::Sleep { ms: *gap_ms });
            steps.push(Step::Fault(Fault::Kill(*second)));
            steps.push(Step::Sleep { ms: *down_ms });
            steps.push(Step::Fault(Fault::Restart(*second)));
            steps.push(Step::Fault(Fault::Restart(*first)));
        }
        Action::KillLastReceiver { undo_after } => {
            if let Some(node) = kept[..i].iter().rev().find_map(|a| a.receiver()) {
                steps.push(Step::Fault(Fault::Kill(node)));
                pending.push((i + undo_after, Fault::Restart(node)));
            }
        }
    }
}

/// The MEETs of an order (before the slot set-up, except for redis-cli's order, handled by the caller).
fn meets(order: MeetOrder, n: usize) -> Vec<(usize, usize)> {
    match order {
        MeetOrder::StarToFirst => (2..=n).map(|k| (1, k)).collect(),
        MeetOrder::StarFromFirst | MeetOrder::RedisCli => (2..=n).map(|k| (k, 1)).collect(),
        MeetOrder::Chain => (1..n).map(|k| (k, k + 1)).collect(),
        MeetOrder::FullMesh => (1..=n).flat_map(|i| (i + 1..=n).map(move |j| (i, j))).collect(),
        MeetOrder::Reverse => (2..=n).rev().map(|k| (k, k - 1)).collect(),
    }
}

/// The 16,384 slots split over `masters`: one contiguous range each, or `pieces` interleaved ranges each.
fn slot_split(masters: usize, pieces: usize) -> Vec<Vec<(u32, u32)>> {
    let chunks = masters * pieces;
    let bounds: Vec<u32> = (0..=chunks).map(|c| (c as u64 * 16_384 / chunks as u64) as u32).collect();
    let mut out = vec![Vec::new(); masters];
    for c in 0..chunks {
        out[c % masters].push((bounds[c], bounds[c + 1] - 1));
    }
    out
}

/// How long a hazard holds its fault before the next action: past an election (openraft followers wait out
/// the silent leader's lease, 5 s, then their own 2.5–5 s timeout), in milliseconds.
const ELECTION_HOLD_MS: std::ops::Range<u64> = 8_000..14_000;

fn arb_fault_window(n: usize) -> BoxedStrategy<Action> {
    let node = 1..=n;
    let window =
        |fault: Fault, undo: Fault, undo_after: usize| Action::FaultWindow { fault, undo, undo_after, hold_ms: 0 };
    let other = move |a: usize, b: usize| if b >= a { b + 1 } else { b };
    prop_oneof![
        (node.clone(), 1usize..5).prop_map(move |(k, after)| window(Fault::Kill(k), Fault::Restart(k), after)),
        (node.clone(), 1usize..5).prop_map(move |(k, after)| window(Fault::Pause(k), Fault::Resume(k), after)),
        (1..n, 1usize..5, Just(n)).prop_map(move |(cut, after, n)| {
            let groups = vec![(1..=cut).collect(), (cut + 1..=n).collect()];
            window(Fault::Partition(groups), Fault::Heal, after)
        }),
        (node.clone(), 1..n, 1usize..5).prop_map(move |(a, b, after)| {
            let b = other(a, b);
            window(Fault::Clog { from: a, to: b }, Fault::Unclog { from: a, to: b }, after)
        }),
        // Hazard: a minority (one node, or two) cut off past an election; what follows runs on both sides.
        (node.clone(), any::<bool>(), 1usize..5, ELECTION_HOLD_MS, Just(n)).prop_map(
            move |(k, pair, after, hold_ms, n)| {
                let mut minority = vec![k];
                if pair && n >= 5 {
                    minority.push(k % n + 1);
                }
                minority.sort_unstable();
                let rest: Vec<usize> = (1..=n).filter(|j| !minority.contains(j)).collect();
                Action::FaultWindow {
                    fault: Fault::Partition(vec![minority, rest]),
                    undo: Fault::Heal,
                    undo_after: after,
                    hold_ms,
                }
            }
        ),
        // Hazard: a long, GC-like pause, past an election.
        (node.clone(), 1usize..5, ELECTION_HOLD_MS).prop_map(|(k, after, hold_ms)| Action::FaultWindow {
            fault: Fault::Pause(k),
            undo: Fault::Resume(k),
            undo_after: after,
            hold_ms
        }),
        // Hazard: restarts in the middle of an election.
        (node.clone(), 1..n, 6_000u64..10_000, 200u64..3_000).prop_map(move |(first, second, gap_ms, down_ms)| {
            Action::ElectionRestarts { first, second: other(first, second), gap_ms, down_ms }
        }),
        // Hazard: the node that just answered a write dies at once.
        (1usize..5).prop_map(|undo_after| Action::KillLastReceiver { undo_after }),
    ]
    .boxed()
}

/// Clock drift (with faults on, a third of the cases): one node, often the first (the usual leader), runs
/// -50 %..+50 %, and each other node ±20 % or not at all.
fn arb_drift(n: usize, faults: bool) -> BoxedStrategy<Vec<(usize, i32)>> {
    if !faults {
        return Just(Vec::new()).boxed();
    }
    let drifts = (1..=n, -50i32..=50, prop::collection::vec(prop::option::weighted(0.3, -20i32..=20), n));
    prop_oneof![
        2 => Just(Vec::new()),
        1 => drifts.prop_map(|(lead, lead_pct, others)| {
            let mut drift: Vec<(usize, i32)> = others
                .into_iter()
                .enumerate()
                .filter_map(|(i, p)| p.map(|p| (i + 1, p)))
                .filter(|&(k, p)| k != lead && p != 0)
                .collect();
            if lead_pct != 0 {
                drift.push((lead, lead_pct));
            }
            drift.sort_unstable();
            drift
        }),
    ]
    .boxed()
}

fn arb_extra(n: usize, config: &GenConfig) -> BoxedStrategy<Action> {
    let read = (1..=n).prop_map(|node| Action::Read { node });
    let sleep = (0..=config.sleep_ms_max).prop_map(|ms| Action::Sleep { ms });
    let forget = (1..=n, 1..n).prop_map(move |(by, t)| {
        let target = if t >= by { t + 1 } else { t };
        Action::Forget { by, target }
    });
    let kinds = prop::sample::select(vec![ConflictKind::BusySlot, ConflictKind::SlotTwice, ConflictKind::Replicate]);
    let conflict = (1..=n, 1..=n, 0u32..16_384, kinds).prop_map(|(node, other, slot, kind)| Action::Conflict {
        node,
        other,
        slot,
        kind,
    });
    if config.faults {
        prop_oneof![4 => read, 3 => sleep, 1 => forget, 1 => conflict, 3 => arb_fault_window(n)].boxed()
    } else {
        prop_oneof![4 => read, 3 => sleep, 1 => forget, 1 => conflict].boxed()
    }
}

/// The cluster set-up of a case, before the extras: the MEETs (`pairs`, each flipped or not, with or without the
/// id), the slots over the masters, then REPLICATE of the others; redis-cli's order puts the slots first.
struct SetUp {
    order: MeetOrder,
    pairs: Vec<(usize, usize)>,
    flips: Vec<(bool, bool)>,
    masters: usize,
    contiguous: bool,
    pieces: usize,
    replica_of: Vec<usize>,
}

impl SetUp {
    fn plan(&self) -> Vec<Action> {
        let order = self.order;
        let meet_actions = self.pairs.iter().zip(&self.flips).map(|(&(a, b), &(flip, with_id))| {
            // redis-cli's star MEET always goes from the joining node to n1.
            let (from, to) = if flip && order != MeetOrder::RedisCli { (b, a) } else { (a, b) };
            Action::Meet { from, to, with_id }
        });
        let pieces = if self.contiguous { 1 } else { self.pieces };
        let slot_actions = slot_split(self.masters, pieces).into_iter().enumerate().map(|(i, ranges)| {
            if self.contiguous {
                Action::AddSlotsRange { node: i + 1, ranges }
            } else {
                Action::AddSlots { node: i + 1, ranges }
            }
        });
        let mut plan: Vec<Action> = Vec::new();
        if order == MeetOrder::RedisCli {
            plan.extend(slot_actions);
            plan.extend(meet_actions);
        } else {
            plan.extend(meet_actions);
            plan.extend(slot_actions);
        }
        let masters = self.masters;
        plan.extend(
            self.replica_of.iter().enumerate().map(|(i, &m)| Action::Replicate { node: masters + 1 + i, master: m }),
        );
        plan
    }
}

/// The planned actions with the extras interleaved (one after every other planned action until they run out,
/// the rest at the end), each with its keep bit (`keep` in order, then kept).
fn interleave(plan: Vec<Action>, extras: Vec<Option<Action>>, extras_max: usize, keep: &[bool]) -> Vec<(bool, Action)> {
    let mut actions = Vec::new();
    let mut extras = extras.into_iter().flatten().take(extras_max);
    for (i, a) in plan.into_iter().enumerate() {
        actions.push(a);
        if i % 2 == 1 {
            actions.extend(extras.next());
        }
    }
    actions.extend(extras);
    actions.into_iter().zip(keep.iter().copied().chain(std::iter::repeat(true))).map(|(a, k)| (k, a)).collect()
}

/// A read workload's period in half the cases and a write workload's in a third (each shrinks toward none),
/// when workloads are on.
fn arb_workload(on: bool) -> BoxedStrategy<(Option<u64>, Option<u64>)> {
    if on {
        let reads = prop::option::weighted(0.5, prop::sample::select(vec![50u64, 100, 250]));
        let writes = prop::option::weighted(0.33, prop::sample::select(vec![100u64, 250, 500]));
        (reads, writes).boxed()
    } else {
        Just((None, None)).boxed()
    }
}

/// The proptest strategy for whole cases.
pub fn arb_case(config: GenConfig) -> impl Strategy<Value = Case> {
    let settle_ms = config.settle_ms;
    let faults = config.faults;
    let workloads = config.workloads;
    (config.nodes.clone(), 0u64..10_000, prop::sample::select(ORDERS.to_vec()), 1usize..4).prop_flat_map(
        move |(n, seed, order, pieces)| {
            let masters = n.div_ceil(2);
            let extras_max = config.extras_max;
            let pairs = meets(order, n);
            let meet_count = pairs.len();
            // Keep bits and extras first: proptest shrinks a tuple element by element, and dropping actions is what
            // makes a case small.
            (
                prop::collection::vec(prop::bool::weighted(0.95), 2 * (meet_count + n)),
                prop::collection::vec(prop::option::weighted(0.4, arb_extra(n, &config)), meet_count + n),
                Just((n, seed, order, pieces, masters, pairs)),
                prop::collection::vec((any::<bool>(), any::<bool>()), meet_count),
                any::<bool>(),
                prop::collection::vec(1..=masters, n - masters),
                arb_drift(n, faults),
                arb_workload(workloads),
            )
                .prop_map(
                    move |(
                        keep,
                        extras,
                        (n, seed, order, pieces, masters, pairs),
                        flips,
                        contiguous,
                        replica_of,
                        drift,
                        (workload_ms, writes_ms),
                    )| {
                        let set_up = SetUp { order, pairs, flips, masters, contiguous, pieces, replica_of };
                        let actions = interleave(set_up.plan(), extras, extras_max, &keep);
                        Case { nodes: n, seed, order, actions, settle_ms, drift, workload_ms, writes_ms }
                    },
                )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{parse, print};

    #[test]
    fn slot_splits_cover_every_slot_once() {
        for (masters, pieces) in [(1, 1), (3, 1), (5, 3), (2, 2)] {
            let split = slot_split(masters, pieces);
            let mut all: Vec<u32> = split.iter().flatten().flat_map(|&(a, b)| a..=b).collect();
            all.sort_unstable();
            assert_eq!(all, (0..16_384).collect::<Vec<_>>(), "{masters} masters, {pieces} pieces");
        }
    }

    #[test]
    fn every_meet_order_joins_every_node() {
        for order in ORDERS {
            for n in 3..=9 {
                let mut reached = std::collections::BTreeSet::from([1]);
                for _ in 0..n {
                    for (a, b) in meets(order, n) {
                        if reached.contains(&a) || reached.contains(&b) {
                            reached.insert(a);
                            reached.insert(b);
                        }
                    }
                }
                assert_eq!(reached.len(), n, "{order:?} with {n} nodes");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn generated_scenarios_are_valid_input(case in arb_case(GenConfig::default())) {
            let scenario = case.scenario();
            let text = print(&scenario);
            let back = parse("gen.scn", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back, scenario);
        }
    }
}
