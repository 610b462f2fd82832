//! Property: open slots — once the cluster has settled, the slots a node shows open (`[slot->-id]` migrating,
//! `[slot-<-id]` importing, on the `myself` line of its CLUSTER NODES) are exactly what the run's steps left:
//! - `UnexplainedOpenSlot`: a node shows a slot migrating (importing) that no `CLUSTER SETSLOT <slot> MIGRATING`
//!   (`IMPORTING`) sent to that node before the settle began could have opened — acknowledged, or unanswered
//!   (it may still have taken effect);
//! - `SlotLeftOpen`: a node shows a slot open although the last SETSLOT of that slot sent to it before the settle
//!   was an acknowledged `STABLE` (or, for importing, an acknowledged `NODE <itself>`), with no other SETSLOT
//!   of the slot sent to it after that one.
//!
//! Only SETSLOT MIGRATING / IMPORTING opens a slot; every other write (SETSLOT STABLE / NODE, ADDSLOTS,
//! DELSLOTS, FORGET, REPLICATE, FAILOVER, RESET, a merge) only closes one, so neither rule can fire on a run
//! that did nothing wrong. `redis-cli --cluster check` warns about the same states ("has slots in migrating
//! state"); after a reshard they must be gone.
//!
//! Source: Redis 7.0's `clusterCommandSetSlot` and `clusterGenNodeDescription` (open slots are the node's own,
//! shown on its own line only).

use std::collections::BTreeMap;

use super::{Class, Property, Settled, Violation};
use crate::history::CallRecord;
use crate::hosts::Host;

pub const PROPERTY: Property = Property { name: "open-slots", class: Class::Safety };

/// Whether a slot is migrating or importing on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Migrating,
    Importing,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Migrating => "migrating",
            State::Importing => "importing",
        }
    }
}

/// What a SETSLOT sent to a node said about one of its slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Open(State),
    Stable,
    /// `NODE <id>`; `true` when the id is the receiving node's own.
    Node(bool),
}

/// One SETSLOT sent to a node: its action, whether it was acknowledged, its scenario line.
type Sent = (Action, bool, usize);

/// `CLUSTER SETSLOT <slot> <action> [id]` as sent to `call.node`, if the call is one.
fn setslot(call: &CallRecord) -> Option<(u16, Action)> {
    let words: Vec<&str> = call.command.split_whitespace().collect();
    if words.len() < 4 || !words[0].eq_ignore_ascii_case("CLUSTER") || !words[1].eq_ignore_ascii_case("SETSLOT") {
        return None;
    }
    let slot: u16 = words[2].parse().ok().filter(|s| *s < 16_384)?;
    let action = match words[3].to_ascii_uppercase().as_str() {
        "MIGRATING" => Action::Open(State::Migrating),
        "IMPORTING" => Action::Open(State::Importing),
        "STABLE" => Action::Stable,
        // Ids in the history read `<nK>` by the time checkers run (outcome::finish normalizes them).
        "NODE" => Action::Node(words.get(4).is_some_and(|id| *id == format!("<n{}>", call.node))),
        _ => return None,
    };
    Some((slot, action))
}

/// The open slots on the `myself` line of a CLUSTER NODES text.
fn shown_open(text: &str) -> Vec<(u16, State)> {
    let Some(line) = text.lines().find(|l| l.split(' ').nth(2).is_some_and(|f| f.split(',').any(|x| x == "myself")))
    else {
        return Vec::new();
    };
    line.split(' ')
        .filter_map(|t| t.strip_prefix('[')?.strip_suffix(']'))
        .filter_map(|t| match (t.split_once("->-"), t.split_once("-<-")) {
            (Some((slot, _)), _) => Some((slot.parse().ok()?, State::Migrating)),
            (None, Some((slot, _))) => Some((slot.parse().ok()?, State::Importing)),
            _ => None,
        })
        .collect()
}

pub fn check(history: &[CallRecord], _hosts: &[Host], settled: &Settled) -> Vec<Violation> {
    // Per (node, slot): the SETSLOTs sent before the settle, in the order sent, with whether each was acked.
    let mut sent: BTreeMap<(usize, u16), Vec<Sent>> = BTreeMap::new();
    for call in history.iter().filter(|c| c.start < settled.start) {
        if let Some((slot, action)) = setslot(call) {
            sent.entry((call.node, slot)).or_default().push((action, call.is_ok(), call.line));
        }
    }
    let settle_line = history.iter().find(|c| c.quiet && c.start >= settled.start).map_or(0, |c| c.line);
    let mut violations = Vec::new();
    for view in &settled.views {
        let Ok(text) = &view.nodes else { continue };
        for (slot, state) in shown_open(text) {
            let steps = sent.get(&(view.node, slot)).map_or(&[][..], Vec::as_slice);
            let what = format!("n{}'s CLUSTER NODES shows slot {slot} {} after settling", view.node, state.name());
            if !steps.iter().any(|(a, _, _)| *a == Action::Open(state)) {
                let fact = format!("{what}, but no SETSLOT {slot} {} was sent to it", state.name().to_uppercase());
                violations.push(Violation::Broken {
                    property: PROPERTY,
                    kind: "UnexplainedOpenSlot",
                    line: settle_line,
                    fact,
                });
                continue;
            }
            let closed = match steps.last() {
                Some((Action::Stable, true, line)) => Some((*line, "STABLE")),
                Some((Action::Node(true), true, line)) if state == State::Importing => Some((*line, "NODE <itself>")),
                _ => None,
            };
            if let Some((line, how)) = closed {
                let fact = format!("{what}, though its last SETSLOT {slot} was {how}, acknowledged");
                violations.push(Violation::Broken { property: PROPERTY, kind: "SlotLeftOpen", line, fact });
            }
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::views::NodeView;
    use clustersim::resp::Reply;
    use std::time::Duration;

    fn hosts() -> Vec<Host> {
        crate::hosts::hosts(&crate::scenario::parse("t", "cluster 3\n").unwrap())
    }

    fn call(node: usize, line: usize, command: &str, at: u64, reply: Reply) -> CallRecord {
        let mut c = crate::history::record(node, line, command, (at, at + 1), reply, &hosts());
        c.command = command.to_string();
        c
    }

    fn settled(views: &[(usize, &str)]) -> Settled {
        Settled {
            start: Duration::from_millis(1_000),
            views: views
                .iter()
                .map(|(node, text)| NodeView { node: *node, nodes: Ok(text.to_string()), slots: None })
                .collect(),
        }
    }

    const N1_MIGRATING: &str = "<n1> 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-5460 [7->-<n2>]\n";
    const N2_IMPORTING: &str = "<n2> 10.0.0.2:6380@16380 myself,master - 0 0 2 connected 5461-10922 [7-<-<n1>]\n";
    const N2_CLOSED: &str = "<n2> 10.0.0.2:6380@16380 myself,master - 0 0 2 connected 5461-10922\n";

    #[test]
    fn slots_left_open_by_the_steps_pass_and_closed_ones_show_closed() {
        let h = [
            call(2, 3, "CLUSTER SETSLOT 7 IMPORTING <n1>", 10, Reply::ok()),
            call(1, 4, "CLUSTER SETSLOT 7 MIGRATING <n2>", 20, Reply::ok()),
        ];
        assert_eq!(check(&h, &hosts(), &settled(&[(1, N1_MIGRATING), (2, N2_IMPORTING)])), vec![]);
        let closed = [h[0].clone(), call(2, 5, "CLUSTER SETSLOT 7 NODE <n2>", 30, Reply::ok())];
        assert_eq!(check(&closed, &hosts(), &settled(&[(2, N2_CLOSED)])), vec![]);
    }

    #[test]
    fn an_open_slot_no_setslot_opened_fires() {
        let v = check(&[], &hosts(), &settled(&[(1, N1_MIGRATING)]));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].kind(), "UnexplainedOpenSlot");
        assert!(v[0].to_string().contains("n1's CLUSTER NODES shows slot 7 migrating after settling"), "{}", v[0]);
        // An IMPORTING sent does not explain a migrating slot.
        let h = [call(1, 3, "CLUSTER SETSLOT 7 IMPORTING <n2>", 10, Reply::error("ERR I'm already the owner"))];
        assert_eq!(check(&h, &hosts(), &settled(&[(1, N1_MIGRATING)])).len(), 1);
    }

    #[test]
    fn a_slot_closed_by_an_acknowledged_stable_or_node_itself_and_still_open_fires() {
        for (closer, line) in [("CLUSTER SETSLOT 7 STABLE", 6), ("CLUSTER SETSLOT 7 NODE <n2>", 7)] {
            let h = [
                call(2, 3, "CLUSTER SETSLOT 7 IMPORTING <n1>", 10, Reply::ok()),
                call(2, line, closer, 30, Reply::ok()),
            ];
            let v = check(&h, &hosts(), &settled(&[(2, N2_IMPORTING)]));
            assert_eq!(v.len(), 1, "{closer}: {v:?}");
            assert_eq!((v[0].kind(), v[0].line()), ("SlotLeftOpen", line));
        }
    }

    #[test]
    fn an_unanswered_close_or_a_reopen_after_it_or_node_elsewhere_imposes_nothing() {
        let open = call(2, 3, "CLUSTER SETSLOT 7 IMPORTING <n1>", 10, Reply::ok());
        for later in [
            vec![call(2, 4, "CLUSTER SETSLOT 7 STABLE", 30, Reply::error("CLUSTERDOWN metadata write failed"))],
            vec![
                call(2, 4, "CLUSTER SETSLOT 7 STABLE", 30, Reply::ok()),
                call(2, 5, "CLUSTER SETSLOT 7 IMPORTING <n1>", 40, Reply::ok()),
            ],
            vec![call(2, 4, "CLUSTER SETSLOT 7 NODE <n1>", 30, Reply::ok())],
        ] {
            let mut h = vec![open.clone()];
            h.extend(later);
            assert_eq!(check(&h, &hosts(), &settled(&[(2, N2_IMPORTING)])), vec![], "{h:?}");
        }
        // A SETSLOT sent after the settle began is not the steps' doing: the first one still explains.
        let after = [open, call(2, 9, "CLUSTER SETSLOT 7 STABLE", 2_000, Reply::ok())];
        assert_eq!(check(&after, &hosts(), &settled(&[(2, N2_IMPORTING)])), vec![]);
    }
}
