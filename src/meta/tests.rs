use super::*;

fn id(n: u64) -> NodeId {
    NodeId::from_u64(n)
}

fn node(n: u64) -> NodeInfo {
    NodeInfo::new(id(n), "127.0.0.1", 7000 + n as u16, 17000 + n as u16)
}

/// Node 1's table after meeting nodes 2..=count (all masters, no slots).
fn cluster(count: u64) -> MetaState {
    let mut s = MetaState::new(node(1));
    for n in 2..=count {
        s.apply(&meet(1, node(n), vec![])).unwrap();
    }
    s
}

fn meet(receiver: u64, joining: NodeInfo, slots: Vec<SlotSpan>) -> Command {
    Command::Meet { receiver: id(receiver), receiver_ip: "127.0.0.1".into(), node: joining, slots, shown: vec![] }
}

fn add(node: u64, spans: &[(u16, u16)]) -> Command {
    Command::AddSlots { node: id(node), spans: spans.iter().map(|&(a, b)| SlotSpan::range(a, b)).collect() }
}

fn del(node: u64, spans: &[(u16, u16)]) -> Command {
    Command::DelSlots { node: id(node), spans: spans.iter().map(|&(a, b)| SlotSpan::range(a, b)).collect() }
}

fn err(s: &mut MetaState, c: Command) -> String {
    let before = s.clone();
    let e = s.apply(&c).expect_err("command must fail").to_string();
    assert_eq!(*s, before, "a failed command must leave the state unchanged");
    e
}

#[test]
fn bootstrap_founds_a_cluster_of_one_on_an_empty_table() {
    let mut s = MetaState::empty();
    let me = NodeInfo::new(id(1), "", 7000, 17000);
    assert_eq!(s.apply(&Command::Bootstrap { node: me.clone() }), Ok(Event::Bootstrapped { node: id(1) }));
    assert_eq!(s, MetaState::new(me));
}

#[test]
fn bootstrap_is_refused_on_a_table_with_nodes() {
    let mut s = cluster(2);
    assert_eq!(
        err(&mut s, Command::Bootstrap { node: node(3) }),
        "ERR Can't bootstrap a table that already has 2 node(s)"
    );
    let mut one = MetaState::new(node(1));
    assert_eq!(
        err(&mut one, Command::Bootstrap { node: node(1) }),
        "ERR Can't bootstrap a table that already has 1 node(s)"
    );
}

#[test]
fn commands_display_deterministically_for_traces() {
    let c = Command::Forget { by: id(1), target: id(2) };
    assert_eq!(c.to_string(), format!("Forget {{ by: NodeId({}), target: NodeId({}) }}", id(1), id(2)));
}

#[test]
fn fresh_node_knows_only_itself() {
    let s = MetaState::new(NodeInfo::new(id(1), "", 7000, 17000));
    assert_eq!(s.node_count(), 1);
    assert_eq!(s.assigned_slot_count(), 0);
    assert_eq!(s.current_epoch(), 0);
}

#[test]
fn meet_adds_the_node_and_teaches_the_receiver_its_ip() {
    let mut s = MetaState::new(NodeInfo::new(id(1), "", 7000, 17000));
    let ev = s.apply(&meet(1, node(2), vec![])).unwrap();
    assert!(matches!(ev, Event::NodeAdded { slots: 0, .. }));
    assert_eq!(s.node(&id(1)).unwrap().ip, "127.0.0.1");
    assert!(s.contains(&id(2)));
}

#[test]
fn meet_of_a_known_node_is_a_no_op() {
    let mut s = cluster(2);
    let before = s.clone();
    assert_eq!(
        s.apply(&meet(1, node(2), vec![])).unwrap(),
        Event::NodeAlreadyKnown { node: id(2), slots: vec![], config_epoch: 1 }
    );
    assert_eq!(s, before);
}

#[test]
fn meet_carries_the_joining_nodes_slots() {
    let mut s = MetaState::new(node(1));
    s.apply(&meet(1, node(2), vec![SlotSpan::range(0, 99)])).unwrap();
    assert_eq!(s.owner(50), Some(id(2)));
    assert_eq!(s.slot_count_of(&id(2)), 100);
}

#[test]
fn meet_with_a_conflicting_slot_claim_changes_nothing() {
    let mut s = MetaState::new(node(1));
    s.apply(&add(1, &[(10, 10)])).unwrap();
    let e = err(&mut s, meet(1, node(2), vec![SlotSpan::range(0, 20)]));
    assert_eq!(e, format!("ERR Can't meet node {}: it serves slot 10, which {} already serves", id(2), id(1)));
}

#[test]
fn meet_resolves_config_epoch_collisions_between_masters() {
    let s = cluster(3);
    let epochs: Vec<u64> = s.nodes().map(|n| n.config_epoch).collect();
    assert_eq!(epochs, vec![0, 1, 2]);
    assert_eq!(s.current_epoch(), 2);
}

#[test]
fn raise_epoch_never_lowers_and_steps_over_another_masters_epoch() {
    let mut s = cluster(3); // epochs 0, 1, 2
    s.apply(&Command::RaiseEpoch { node: id(2), epoch: 0 }).unwrap();
    assert_eq!(s.node(&id(2)).unwrap().config_epoch, 1, "never lowered");
    s.apply(&Command::RaiseEpoch { node: id(1), epoch: 2 }).unwrap();
    assert_eq!(s.node(&id(1)).unwrap().config_epoch, 3, "2 is n3's: stepped over it");
    assert_eq!(s.current_epoch(), 3);
    s.apply(&Command::RaiseEpoch { node: id(2), epoch: 7 }).unwrap();
    assert_eq!(s.node(&id(2)).unwrap().config_epoch, 7);
    assert_eq!(s.current_epoch(), 7);
    assert_eq!(s.check_invariants(), Ok(()));
    assert!(s.apply(&Command::RaiseEpoch { node: id(9), epoch: 1 }).is_err(), "not a member");
}

#[test]
fn meet_keeps_distinct_epochs_set_by_set_config_epoch() {
    let mut s = MetaState::new(node(1));
    s.apply(&Command::SetConfigEpoch { node: id(1), epoch: 1 }).unwrap();
    let mut joining = node(2);
    joining.config_epoch = 2;
    s.apply(&meet(1, joining, vec![])).unwrap();
    assert_eq!(s.node(&id(2)).unwrap().config_epoch, 2);
    assert_eq!(s.current_epoch(), 2);
}

#[test]
fn addslots_assigns_to_the_acting_node() {
    let mut s = cluster(2);
    assert_eq!(s.apply(&add(2, &[(0, 5460)])).unwrap(), Event::SlotsAssigned { node: id(2), count: 5461 });
    assert_eq!(s.slot_runs_of(&id(2)), vec![SlotSpan::range(0, 5460)]);
}

#[test]
fn addslots_rejects_a_slot_owned_by_another_node() {
    let mut s = cluster(2);
    s.apply(&add(1, &[(0, 0)])).unwrap();
    assert_eq!(err(&mut s, add(2, &[(0, 0)])), "ERR Slot 0 is already busy");
}

#[test]
fn addslots_rejects_a_slot_the_node_already_owns() {
    let mut s = cluster(1);
    s.apply(&add(1, &[(0, 0)])).unwrap();
    assert_eq!(err(&mut s, add(1, &[(0, 0)])), "ERR Slot 0 is already busy");
}

#[test]
fn addslots_rejects_duplicate_slot() {
    let mut s = cluster(1);
    assert_eq!(err(&mut s, add(1, &[(1, 1), (1, 1)])), "ERR Slot 1 specified multiple times");
}

#[test]
fn addslotsrange_overlap_is_reported_at_the_first_repeated_slot() {
    let mut s = cluster(1);
    assert_eq!(err(&mut s, add(1, &[(0, 10), (5, 12)])), "ERR Slot 5 specified multiple times");
}

#[test]
fn addslots_is_all_or_nothing() {
    let mut s = cluster(2);
    s.apply(&add(1, &[(100, 100)])).unwrap();
    assert_eq!(err(&mut s, add(2, &[(0, 99), (100, 100)])), "ERR Slot 100 is already busy");
    assert_eq!(s.owner(0), None);
}

#[test]
fn addslots_busy_is_checked_before_duplicates_in_argument_order() {
    let mut s = cluster(1);
    s.apply(&add(1, &[(7, 7)])).unwrap();
    // 3 3 7: the repeated 3 comes first.
    assert_eq!(err(&mut s, add(1, &[(3, 3), (3, 3), (7, 7)])), "ERR Slot 3 specified multiple times");
    // 7 3 3: busy 7 comes first.
    assert_eq!(err(&mut s, add(1, &[(7, 7), (3, 3), (3, 3)])), "ERR Slot 7 is already busy");
}

#[test]
fn addslots_to_a_replica_is_refused() {
    let mut s = cluster(2);
    s.apply(&Command::Replicate { node: id(2), master: id(1) }).unwrap();
    assert_eq!(
        err(&mut s, add(2, &[(0, 0)])),
        format!("ERR Slots can only be assigned to a master, and {} is a replica", id(2))
    );
}

#[test]
fn delslots_rejects_unassigned_slot() {
    let mut s = cluster(1);
    assert_eq!(err(&mut s, del(1, &[(5, 5)])), "ERR Slot 5 is already unassigned");
    assert_eq!(err(&mut s, del(1, &[(0, 10)])), "ERR Slot 0 is already unassigned");
}

#[test]
fn delslots_unassigns_any_owner_and_is_all_or_nothing() {
    let mut s = cluster(2);
    s.apply(&add(2, &[(0, 9)])).unwrap();
    assert_eq!(err(&mut s, del(1, &[(0, 10)])), "ERR Slot 10 is already unassigned");
    assert_eq!(s.slot_count_of(&id(2)), 10);
    assert_eq!(s.apply(&del(1, &[(0, 9)])).unwrap(), Event::SlotsUnassigned { count: 10 });
    assert_eq!(s.assigned_slot_count(), 0);
}

#[test]
fn delslots_repeated_slot_is_reported() {
    let mut s = cluster(1);
    s.apply(&add(1, &[(0, 9)])).unwrap();
    assert_eq!(err(&mut s, del(1, &[(1, 1), (1, 1)])), "ERR Slot 1 specified multiple times");
}

#[test]
fn forget_removes_the_node_and_frees_its_slots() {
    let mut s = cluster(3);
    s.apply(&add(3, &[(0, 99)])).unwrap();
    let ev = s.apply(&Command::Forget { by: id(1), target: id(3) }).unwrap();
    assert_eq!(ev, Event::NodeForgotten { node: id(3), slots_freed: 100, orphans_promoted: 0 });
    assert!(!s.contains(&id(3)));
    assert_eq!(s.owner(0), None);
}

#[test]
fn forget_myself_is_refused() {
    let mut s = cluster(2);
    assert_eq!(
        err(&mut s, Command::Forget { by: id(1), target: id(1) }),
        "ERR I tried hard but I can't forget myself..."
    );
}

#[test]
fn forget_unknown_node_is_refused() {
    let mut s = cluster(2);
    assert_eq!(err(&mut s, Command::Forget { by: id(1), target: id(9) }), format!("ERR Unknown node {}", id(9)));
}

#[test]
fn forget_my_master_is_refused() {
    let mut s = cluster(2);
    s.apply(&Command::Replicate { node: id(2), master: id(1) }).unwrap();
    assert_eq!(err(&mut s, Command::Forget { by: id(2), target: id(1) }), "ERR Can't forget my master!");
}

#[test]
fn forget_of_a_master_promotes_its_other_replicas() {
    let mut s = cluster(3);
    s.apply(&Command::Replicate { node: id(3), master: id(2) }).unwrap();
    let ev = s.apply(&Command::Forget { by: id(1), target: id(2) }).unwrap();
    assert_eq!(ev, Event::NodeForgotten { node: id(2), slots_freed: 0, orphans_promoted: 1 });
    assert!(s.node(&id(3)).unwrap().is_master());
}

#[test]
fn replicate_makes_the_node_a_replica() {
    let mut s = cluster(2);
    s.apply(&add(1, &[(0, 5460)])).unwrap();
    assert_eq!(
        s.apply(&Command::Replicate { node: id(2), master: id(1) }).unwrap(),
        Event::ReplicaOf { node: id(2), master: id(1) }
    );
    assert_eq!(s.node(&id(2)).unwrap().master, Some(id(1)));
    assert_eq!(s.replicas_of(&id(1)).count(), 1);
}

#[test]
fn replicate_myself_is_refused() {
    let mut s = cluster(2);
    assert_eq!(err(&mut s, Command::Replicate { node: id(1), master: id(1) }), "ERR Can't replicate myself");
}

#[test]
fn replicate_unknown_node_is_refused() {
    let mut s = cluster(2);
    assert_eq!(err(&mut s, Command::Replicate { node: id(1), master: id(7) }), format!("ERR Unknown node {}", id(7)));
}

#[test]
fn replicate_a_replica_is_refused() {
    let mut s = cluster(3);
    s.apply(&Command::Replicate { node: id(3), master: id(2) }).unwrap();
    assert_eq!(
        err(&mut s, Command::Replicate { node: id(1), master: id(3) }),
        "ERR I can only replicate a master, not a replica."
    );
}

#[test]
fn replicate_from_a_master_with_slots_is_refused() {
    let mut s = cluster(2);
    s.apply(&add(1, &[(0, 0)])).unwrap();
    assert_eq!(
        err(&mut s, Command::Replicate { node: id(1), master: id(2) }),
        "ERR To set a master the node must be empty and without assigned slots."
    );
}

#[test]
fn replicate_moves_the_nodes_own_replicas_along() {
    let mut s = cluster(3);
    s.apply(&Command::Replicate { node: id(3), master: id(2) }).unwrap();
    s.apply(&Command::Replicate { node: id(2), master: id(1) }).unwrap();
    assert_eq!(s.node(&id(3)).unwrap().master, Some(id(1)));
}

#[test]
fn replica_prints_its_masters_epoch() {
    let mut s = cluster(2);
    s.apply(&Command::Replicate { node: id(2), master: id(1) }).unwrap();
    let replica = s.node(&id(2)).unwrap();
    assert_eq!(s.effective_epoch(replica), s.node(&id(1)).unwrap().config_epoch);
}

#[test]
fn set_config_epoch_on_a_lone_node() {
    let mut s = cluster(1);
    s.apply(&Command::SetConfigEpoch { node: id(1), epoch: 5 }).unwrap();
    assert_eq!(s.current_epoch(), 5);
    assert_eq!(
        err(&mut s, Command::SetConfigEpoch { node: id(1), epoch: 6 }),
        "ERR The user can assign a config epoch only when the node's config epoch is zero."
    );
}

#[test]
fn set_config_epoch_after_join_is_refused() {
    let mut s = cluster(2);
    assert_eq!(
        err(&mut s, Command::SetConfigEpoch { node: id(1), epoch: 1 }),
        "ERR The user can assign a config epoch only when the node does not know any other node."
    );
}

#[test]
fn reset_soft_forgets_everyone_and_keeps_epochs() {
    let mut s = cluster(3);
    s.apply(&add(1, &[(0, 10)])).unwrap();
    let epoch = s.current_epoch();
    assert_eq!(
        s.apply(&Command::Reset { node: id(1), hard: false, new_id: id(99) }).unwrap(),
        Event::Reset { node: id(1), forgotten: 2 }
    );
    assert_eq!(s.node_count(), 1);
    assert_eq!(s.assigned_slot_count(), 0);
    assert_eq!(s.current_epoch(), epoch);
}

#[test]
fn reset_hard_renames_and_zeroes_epochs() {
    let mut s = cluster(3);
    s.apply(&Command::Replicate { node: id(3), master: id(1) }).unwrap();
    s.apply(&Command::Reset { node: id(3), hard: true, new_id: id(99) }).unwrap();
    let me = s.nodes().next().unwrap();
    assert_eq!((me.id, me.config_epoch, me.is_master()), (id(99), 0, true));
    assert_eq!(s.current_epoch(), 0);
}

#[test]
fn commands_from_a_node_outside_the_table_are_refused() {
    let mut s = cluster(2);
    assert_eq!(err(&mut s, add(9, &[(0, 0)])), format!("ERR Node {} is not part of this cluster", id(9)));
}

#[test]
fn slot_runs_are_maximal_and_ascending() {
    let mut s = cluster(1);
    s.apply(&add(1, &[(0, 99), (101, 200), (100, 100), (300, 300)])).unwrap();
    assert_eq!(s.slot_runs_of(&id(1)), vec![SlotSpan::range(0, 200), SlotSpan::one(300)]);
}

#[test]
fn slot_runs_of_every_owner_match_the_per_node_runs() {
    let mut s = cluster(3);
    s.apply(&add(1, &[(0, 99), (200, 200)])).unwrap();
    s.apply(&add(2, &[(100, 199), (201, 300)])).unwrap();
    let all = s.slot_runs();
    for n in 1..=3 {
        assert_eq!(all.get(&id(n)).cloned().unwrap_or_default(), s.slot_runs_of(&id(n)), "node {n}");
    }
    assert!(!all.contains_key(&id(3)), "a node without slots has no runs");
}

#[test]
fn commands_round_trip_through_serde() {
    let c = meet(1, node(2), vec![SlotSpan::range(0, 5)]);
    let text = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), c);
}

#[test]
fn apply_is_a_pure_function_of_state_and_command() {
    let log = [
        meet(1, node(2), vec![]),
        meet(1, node(3), vec![]),
        add(1, &[(0, 5460)]),
        add(2, &[(5461, 10922)]),
        Command::Replicate { node: id(3), master: id(1) },
        add(3, &[(20000 % 16384, 20000 % 16384)]),
    ];
    let run = || {
        let mut s = MetaState::new(node(1));
        let results: Vec<_> = log.iter().map(|c| s.apply(c)).collect();
        (s, results)
    };
    assert_eq!(run(), run());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arb_command() -> impl Strategy<Value = Command> {
        let nid = (1u64..6).prop_map(id);
        let span = (0u16..SLOT_COUNT, 0u16..64).prop_map(|(a, len)| SlotSpan::range(a, (a + len).min(SLOT_COUNT - 1)));
        prop_oneof![
            ((1u64..6), (1u64..6), prop::collection::vec(span.clone(), 0..3)).prop_map(|(r, n, slots)| meet(
                r,
                node(n),
                slots
            )),
            (nid.clone(), nid.clone()).prop_map(|(by, target)| Command::Forget { by, target }),
            (nid.clone(), prop::collection::vec(span.clone(), 1..4))
                .prop_map(|(node, spans)| Command::AddSlots { node, spans }),
            (nid.clone(), prop::collection::vec(span, 1..4))
                .prop_map(|(node, spans)| Command::DelSlots { node, spans }),
            (nid.clone(), nid.clone()).prop_map(|(node, master)| Command::Replicate { node, master }),
            (nid.clone(), 0u64..4).prop_map(|(node, epoch)| Command::SetConfigEpoch { node, epoch }),
            (nid.clone(), any::<bool>()).prop_map(|(node, hard)| Command::Reset { node, hard, new_id: id(42) }),
            (1u64..6).prop_map(|n| Command::Bootstrap { node: node(n) }),
            (nid, 0u64..8).prop_map(|(node, epoch)| Command::RaiseEpoch { node, epoch }),
        ]
    }

    /// Redis's check, slot by slot in argument order (`checkSlotAssignmentsOrReply`): the reference the span-wise
    /// [`MetaState::check_slot_spans`] must agree with.
    fn check_slot_by_slot(s: &MetaState, spans: &[SlotSpan], delete: bool) -> Result<(), MetaError> {
        let mut seen = std::collections::BTreeSet::new();
        for slot in spans.iter().flat_map(|span| span.slots()) {
            let assigned = s.owner(slot).is_some();
            if delete && !assigned {
                return Err(MetaError::SlotUnassigned(slot));
            }
            if !delete && assigned {
                return Err(MetaError::SlotBusy(slot));
            }
            if !seen.insert(slot) {
                return Err(MetaError::SlotRepeated(slot));
            }
        }
        Ok(())
    }

    proptest! {
        /// On a crowded range (40 slots, so spans overlap the table and each other), the span-wise check finds
        /// the same first error as the slot-by-slot one.
        #[test]
        fn span_wise_slot_checks_find_what_slot_by_slot_checks_find(
            owned in prop::collection::vec((0u16..40, 0u16..6, 1u64..4), 0..6),
            spans in prop::collection::vec((0u16..40, 0u16..8), 1..5),
            delete in any::<bool>(),
        ) {
            let mut s = MetaState::new(node(1));
            s.apply(&meet(1, node(2), vec![])).unwrap();
            s.apply(&meet(1, node(3), vec![])).unwrap();
            for (start, len, owner) in owned {
                let _ = s.apply(&add(owner, &[(start, start + len)]));
            }
            prop_assert_eq!(s.check_invariants(), Ok(()));
            let spans: Vec<SlotSpan> = spans.into_iter().map(|(a, len)| SlotSpan::range(a, a + len)).collect();
            prop_assert_eq!(s.check_slot_spans(&spans, delete), check_slot_by_slot(&s, &spans, delete));
        }

        /// Whatever the command sequence: invariants hold after every step, and a failed command changes nothing.
        #[test]
        fn invariants_hold_and_failures_change_nothing(cmds in prop::collection::vec(arb_command(), 1..40)) {
            let mut s = MetaState::new(node(1));
            for c in &cmds {
                let before = s.clone();
                match s.apply(c) {
                    Ok(_) => prop_assert_eq!(s.check_invariants(), Ok(())),
                    Err(_) => prop_assert_eq!(&s, &before),
                }
            }
        }
    }
}

// ---- merges of two multi-node clusters: Seal, Absorb, Decide, Unseal ----

/// Nodes 4 and 5's table (4 serves 100-199 at epoch 1, 5 replicates 4), sealed for merge `token` into group 7.
/// A node's slots, as `Command::Absorb` carries them.
type SlotsOf = Vec<(NodeId, Vec<SlotSpan>)>;

fn sealed_pair(token: u64) -> (MetaState, Vec<NodeInfo>, SlotsOf) {
    let mut s = MetaState::new(NodeInfo { config_epoch: 1, ..node(4) });
    s.apply(&meet(4, node(5), vec![])).unwrap();
    s.apply(&add(4, &[(100, 199)])).unwrap();
    s.apply(&Command::Replicate { node: id(5), master: id(4) }).unwrap();
    let Ok(Event::Sealed { table }) =
        s.apply(&Command::Seal { into: 7, token, asks: vec!["a:1".into()], member: id(1) })
    else {
        panic!("seal refused")
    };
    assert_eq!(*table, s, "the seal's event is the table as sealed");
    let nodes: Vec<NodeInfo> = table.nodes().cloned().collect();
    let slots = nodes.iter().map(|n| (n.id, table.slot_runs_of(&n.id))).collect();
    (s, nodes, slots)
}

fn absorb(token: u64, nodes: &[NodeInfo], slots: &[(NodeId, Vec<SlotSpan>)]) -> Command {
    Command::Absorb {
        receiver: id(1),
        receiver_ip: "10.0.0.1".into(),
        from: 9,
        token,
        nodes: nodes.to_vec(),
        slots: slots.to_vec(),
        shown: vec![],
    }
}

#[test]
fn a_sealed_table_refuses_every_write_until_unsealed_by_its_token() {
    let (mut s, ..) = sealed_pair(3);
    assert_eq!(err(&mut s, add(4, &[(0, 0)])), "ERR this cluster is merging into another one, try again");
    assert_eq!(err(&mut s, meet(4, node(6), vec![])), "ERR this cluster is merging into another one, try again");
    assert_eq!(s.apply(&Command::Unseal { token: 2 }), Ok(Event::Unsealed { sealed: false }));
    assert!(s.sealed().is_some(), "another token unseals nothing");
    assert_eq!(s.apply(&Command::Unseal { token: 3 }), Ok(Event::Unsealed { sealed: true }));
    assert_eq!(s.sealed(), None);
    assert!(s.apply(&add(4, &[(0, 0)])).is_ok());
    // A seal naming a node this table lists: the two are one cluster already.
    assert_eq!(
        err(&mut s, Command::Seal { into: 7, token: 4, asks: vec![], member: id(5) }),
        format!("ERR Can't merge the clusters: node {} is listed by both, try again", id(5))
    );
}

#[test]
fn absorb_imports_the_sealed_table_with_slots_links_and_distinct_epochs() {
    let (_, nodes, slots) = sealed_pair(3);
    let mut g = cluster(3);
    g.apply(&add(2, &[(0, 99)])).unwrap();
    // The MEETs gave n2 and n3 epochs 1 and 2 (collisions at 0).
    assert_eq!((g.node(&id(2)).unwrap().config_epoch, g.current_epoch()), (1, 2));
    assert_eq!(g.apply(&absorb(3, &nodes, &slots)), Ok(Event::Absorbed { nodes: 2 }));
    assert_eq!(g.node_count(), 5);
    assert_eq!(g.owner(150), Some(id(4)));
    assert_eq!(g.node(&id(5)).unwrap().master, Some(id(4)));
    // n4 came at epoch 1, which n2 holds: it gets one above every epoch of both sides.
    assert_eq!(g.node(&id(4)).unwrap().config_epoch, 3);
    assert_eq!(g.current_epoch(), 3);
    assert_eq!((g.origin(&id(4)), g.origin(&id(5)), g.origin(&id(2))), (Some(9), Some(9), None));
    assert_eq!(g.node(&id(1)).unwrap().ip, "127.0.0.1", "a known address stays");
    assert_eq!(g.check_invariants(), Ok(()));
    // Idempotent, and decided for good.
    assert_eq!(g.apply(&absorb(3, &nodes, &slots)), Ok(Event::Absorbed { nodes: 0 }));
    assert_eq!(g.apply(&Command::Decide { token: 3 }), Ok(Event::Decided { absorbed: true }));
    // A forgotten absorbed node loses its origin.
    g.apply(&Command::Forget { by: id(1), target: id(5) }).unwrap();
    assert_eq!(g.origin(&id(5)), None);
}

#[test]
fn absorb_is_refused_whole_on_a_slot_served_twice_a_node_listed_twice_or_a_merge_called_off() {
    let (_, nodes, slots) = sealed_pair(3);
    let mut g = cluster(2);
    g.apply(&add(2, &[(150, 150)])).unwrap();
    assert_eq!(
        err(&mut g, absorb(3, &nodes, &slots)),
        format!("ERR Can't meet node {}: it serves slot 150, which {} already serves", id(4), id(2))
    );
    let mut g = cluster(2);
    g.apply(&meet(1, node(5), vec![])).unwrap();
    assert_eq!(
        err(&mut g, absorb(3, &nodes, &slots)),
        format!("ERR Can't merge the clusters: node {} is listed by both, try again", id(5))
    );
    let mut g = cluster(2);
    assert_eq!(g.apply(&Command::Decide { token: 3 }), Ok(Event::Decided { absorbed: false }));
    assert_eq!(
        err(&mut g, absorb(3, &nodes, &slots)),
        "ERR Can't merge the clusters: the merge was called off, try again"
    );
    assert_eq!(g.apply(&Command::Decide { token: 3 }), Ok(Event::Decided { absorbed: false }));
}

#[test]
fn a_call_off_forgets_a_pending_joiner_but_not_one_absorbed_with_its_cluster_since() {
    let mut g = cluster(3);
    assert!(matches!(g.apply(&Command::CallOff { by: id(1), target: id(3) }), Ok(Event::NodeForgotten { .. })));
    let (_, nodes, slots) = sealed_pair(3);
    g.apply(&absorb(3, &nodes, &slots)).unwrap();
    let before = g.clone();
    assert_eq!(
        g.apply(&Command::CallOff { by: id(1), target: id(4) }),
        Ok(Event::NodeAlreadyKnown { node: id(4), slots: vec![SlotSpan::range(100, 199)], config_epoch: 3 })
    );
    assert_eq!(g, before);
    assert!(matches!(g.apply(&Command::Forget { by: id(1), target: id(4) }), Ok(Event::NodeForgotten { .. })));
}

#[test]
fn a_node_listed_again_never_shows_a_lower_epoch_than_the_table_showed_before() {
    // n3 shown at epoch 2 (a collision bump at its MEET), then forgotten; it comes back at epoch 0.
    let mut g = cluster(3);
    assert_eq!(g.node(&id(3)).unwrap().config_epoch, 2);
    g.apply(&Command::CallOff { by: id(1), target: id(3) }).unwrap();
    assert_eq!(g.shown_epochs(), vec![(id(3), 2)]);
    g.apply(&meet(1, node(3), vec![])).unwrap();
    assert!(g.node(&id(3)).unwrap().config_epoch >= 2, "{:?}", g.node(&id(3)));
    assert_eq!(g.shown_epochs(), vec![]);
    // Through an absorb: the sealed side showed n2 at 7 once; this side lists n2 lower: raised.
    let (_, nodes, slots) = sealed_pair(3);
    let mut with_shown = absorb(3, &nodes, &slots);
    if let Command::Absorb { shown, .. } = &mut with_shown {
        shown.push((id(2), 7));
        shown.push((id(9), 4));
    }
    g.apply(&with_shown).unwrap();
    assert_eq!(g.node(&id(2)).unwrap().config_epoch, 7);
    assert_eq!(g.shown_epochs(), vec![(id(9), 4)], "a node listed by neither side is remembered");
    assert_eq!(g.check_invariants(), Ok(()));
}

#[test]
fn a_joiner_brings_the_epochs_its_table_showed_and_a_listed_node_is_raised_to_them() {
    // The joiner's table once showed n2 at 6 and n9 at 4 (both no longer listed there).
    let mut g = cluster(3);
    let command = Command::Meet {
        receiver: id(1),
        receiver_ip: "127.0.0.1".into(),
        node: node(4),
        slots: vec![],
        shown: vec![(id(2), 6), (id(9), 4), (id(4), 8)],
    };
    g.apply(&command).unwrap();
    assert_eq!(g.node(&id(2)).unwrap().config_epoch, 6, "listed here: raised");
    assert_eq!(g.shown_epochs(), vec![(id(9), 4)], "not listed: remembered; the joiner's own entry is not");
    assert_eq!(g.check_invariants(), Ok(()));
}

fn setslot(node: u64, slot: Slot, action: SetSlotAction) -> Command {
    Command::SetSlot { node: id(node), slot, action }
}

fn owner_node(owner: u64, holds_keys: bool) -> SetSlotAction {
    SetSlotAction::Node { owner: id(owner), holds_keys }
}

/// Three masters: 1 serves 0..=99, 2 serves 100..=199; node 4 replicates 1.
fn migration_cluster() -> MetaState {
    let mut s = cluster(4);
    s.apply(&add(1, &[(0, 99)])).unwrap();
    s.apply(&add(2, &[(100, 199)])).unwrap();
    s.apply(&Command::Replicate { node: id(4), master: id(1) }).unwrap();
    s
}

#[test]
fn setslot_errors_are_redis_7s_in_redis_7s_order() {
    let mut s = migration_cluster();
    let unknown = id(99);
    assert_eq!(err(&mut s, setslot(4, 5, SetSlotAction::Stable)), "ERR Please use SETSLOT only with masters.");
    assert_eq!(
        err(&mut s, setslot(1, 150, SetSlotAction::Migrating(unknown))),
        "ERR I'm not the owner of hash slot 150"
    );
    assert_eq!(
        err(&mut s, setslot(1, 5, SetSlotAction::Migrating(unknown))),
        format!("ERR I don't know about node {unknown}")
    );
    assert_eq!(err(&mut s, setslot(1, 5, SetSlotAction::Migrating(id(4)))), "ERR Target node is not a master");
    assert_eq!(err(&mut s, setslot(1, 5, SetSlotAction::Importing(id(2)))), "ERR I'm already the owner of hash slot 5");
    assert_eq!(
        err(&mut s, setslot(2, 5, SetSlotAction::Importing(unknown))),
        format!("ERR I don't know about node {unknown}")
    );
    assert_eq!(err(&mut s, setslot(1, 5, owner_node(99, false))), format!("ERR Unknown node {unknown}"));
    assert_eq!(err(&mut s, setslot(1, 5, owner_node(4, false))), "ERR Target node is not a master");
    assert_eq!(
        err(&mut s, setslot(1, 5, owner_node(2, true))),
        "ERR Can't assign hashslot 5 to a different node while I still hold keys for this hash slot."
    );
}

#[test]
fn a_slot_moved_by_setslot_node_bumps_the_importers_epoch_and_closes_both_sides() {
    let mut s = migration_cluster();
    s.apply(&setslot(2, 5, SetSlotAction::Importing(id(1)))).unwrap();
    s.apply(&setslot(1, 5, SetSlotAction::Migrating(id(2)))).unwrap();
    assert_eq!(s.open_slots_of(&id(2)), vec![(5, OpenSlot::Importing(id(1)))]);
    assert_eq!(s.open_slots_of(&id(1)), vec![(5, OpenSlot::Migrating(id(2)))]);
    let before = s.current_epoch();
    let ev = s.apply(&setslot(2, 5, owner_node(2, false))).unwrap();
    assert_eq!(ev, Event::SlotOwnerSet { slot: 5, owner: id(2), epoch: Some(before + 1), demoted: None });
    assert_eq!(s.owner(5), Some(id(2)));
    assert_eq!(s.node(&id(2)).unwrap().config_epoch, before + 1);
    assert_eq!(s.open_slots_of(&id(2)), vec![]);
    // The source still says migrating until it is told too (its keys are gone: the state clears).
    assert_eq!(s.open_slots_of(&id(1)), vec![(5, OpenSlot::Migrating(id(2)))]);
    let ev = s.apply(&setslot(1, 5, owner_node(2, false))).unwrap();
    assert_eq!(ev, Event::SlotOwnerSet { slot: 5, owner: id(2), epoch: None, demoted: None });
    assert_eq!(s.open_slots().count(), 0);
    // A second bump is not needed when the node already holds the highest epoch.
    s.apply(&setslot(2, 6, SetSlotAction::Importing(id(1)))).unwrap();
    let ev = s.apply(&setslot(2, 6, owner_node(2, false))).unwrap();
    assert!(matches!(ev, Event::SlotOwnerSet { epoch: None, .. }), "{ev:?}");
}

#[test]
fn a_master_that_loses_its_last_slot_becomes_a_replica_of_the_new_owner_with_its_replicas() {
    let mut s = cluster(4);
    s.apply(&add(1, &[(0, 0)])).unwrap();
    s.apply(&Command::Replicate { node: id(4), master: id(1) }).unwrap();
    let ev = s.apply(&setslot(2, 0, owner_node(2, false))).unwrap();
    assert!(matches!(ev, Event::SlotOwnerSet { demoted: Some(d), .. } if d == id(1)), "{ev:?}");
    assert_eq!(s.node(&id(1)).unwrap().master, Some(id(2)));
    assert_eq!(s.node(&id(4)).unwrap().master, Some(id(2)));
    // redis-cli then tells the old owner, which answers as a replica does.
    assert_eq!(err(&mut s, setslot(1, 0, owner_node(2, false))), "ERR Please use SETSLOT only with masters.");
}

#[test]
fn open_slots_close_on_stable_addslots_forget_replicate_and_reset() {
    let mut s = migration_cluster();
    s.apply(&setslot(2, 5, SetSlotAction::Importing(id(1)))).unwrap();
    s.apply(&setslot(2, 6, SetSlotAction::Importing(id(3)))).unwrap();
    s.apply(&setslot(1, 7, SetSlotAction::Migrating(id(3)))).unwrap();
    s.apply(&setslot(2, 5, SetSlotAction::Stable)).unwrap();
    assert_eq!(s.open_slots_of(&id(2)), vec![(6, OpenSlot::Importing(id(3)))]);
    s.apply(&setslot(2, 5, SetSlotAction::Importing(id(1)))).unwrap();
    s.apply(&del(1, &[(5, 5)])).unwrap();
    s.apply(&add(2, &[(5, 5)])).unwrap();
    assert_eq!(s.open_slots_of(&id(2)), vec![(6, OpenSlot::Importing(id(3)))], "ADDSLOTS closes the import");
    s.apply(&Command::Forget { by: id(1), target: id(3) }).unwrap();
    assert_eq!(s.open_slots().count(), 0, "no slot stays open with a forgotten node");
    s.apply(&setslot(3 - 1, 300, SetSlotAction::Importing(id(1)))).unwrap();
    s.apply(&del(2, &[(100, 199), (5, 5)])).unwrap();
    s.apply(&Command::Replicate { node: id(2), master: id(1) }).unwrap();
    assert_eq!(s.open_slots().count(), 0, "a node turned replica closes its slots");
    s.apply(&setslot(1, 7, SetSlotAction::Migrating(id(1)))).unwrap();
    s.apply(&Command::Reset { node: id(1), hard: false, new_id: id(1) }).unwrap();
    assert_eq!(s.open_slots().count(), 0);
}

#[test]
fn a_node_forgotten_by_another_is_forgotten_again_with_an_ok_until_it_is_met_again() {
    let mut s = cluster(3);
    s.apply(&Command::Forget { by: id(1), target: id(3) }).unwrap();
    assert!(s.forgotten_by_another(&id(3), &id(2)), "node 2 never forgot it: Redis would answer OK");
    assert!(!s.forgotten_by_another(&id(3), &id(1)), "node 1 forgot it itself: Redis answers Unknown node");
    assert!(!s.forgotten_by_another(&id(2), &id(1)), "a listed node is not forgotten");
    s.apply(&meet(1, node(3), vec![])).unwrap();
    assert!(!s.forgotten_by_another(&id(3), &id(2)), "met again: FORGET is a real one again");
    for n in 10..10 + FORGOTTEN_KEPT as u64 + 1 {
        s.apply(&meet(1, node(n), vec![])).unwrap();
        s.apply(&Command::Forget { by: id(1), target: id(n) }).unwrap();
    }
    assert!(!s.forgotten_by_another(&id(10), &id(2)), "only the last {FORGOTTEN_KEPT} FORGETs are kept");
    assert!(s.forgotten_by_another(&id(11), &id(2)));
}

#[test]
fn failover_swaps_replica_and_master_with_redis_7s_epochs() {
    // Redis 7.0.15 (shared/reference/redis7-captures/migration.txt): A at epoch 2 with replica C, current
    // epoch 2; C's FAILOVER makes C master at 3 and A its replica; A's TAKEOVER then makes A master at 4.
    let mut s = cluster(3);
    s.apply(&add(1, &[(0, 8191)])).unwrap();
    s.apply(&add(2, &[(8192, 16383)])).unwrap();
    s.apply(&Command::Replicate { node: id(3), master: id(1) }).unwrap();
    s.apply(&Command::RaiseEpoch { node: id(1), epoch: s.current_epoch() + 1 }).unwrap();
    let before = s.current_epoch();
    assert_eq!(
        err(&mut s, Command::Failover { node: id(1), takeover: false }),
        "ERR You should send CLUSTER FAILOVER to a replica"
    );
    let ev = s.apply(&Command::Failover { node: id(3), takeover: false }).unwrap();
    assert_eq!(ev, Event::FailedOver { node: id(3), old_master: id(1), epoch: before + 1 });
    assert_eq!(s.slot_runs_of(&id(3)), vec![SlotSpan::range(0, 8191)]);
    assert_eq!(s.slot_runs_of(&id(1)), vec![]);
    assert_eq!(s.node(&id(1)).unwrap().master, Some(id(3)));
    assert_eq!(s.effective_epoch(s.node(&id(1)).unwrap()), before + 1, "a replica shows its master's epoch");
    let ev = s.apply(&Command::Failover { node: id(1), takeover: true }).unwrap();
    assert_eq!(ev, Event::FailedOver { node: id(1), old_master: id(3), epoch: before + 2 });
    assert_eq!(s.node(&id(3)).unwrap().master, Some(id(1)));
    assert_eq!(s.slot_runs_of(&id(1)), vec![SlotSpan::range(0, 8191)]);
}

#[test]
fn failover_takes_the_old_masters_other_replicas_along_and_closes_its_open_slots() {
    let mut s = cluster(4);
    s.apply(&add(1, &[(0, 99)])).unwrap();
    s.apply(&add(2, &[(100, 199)])).unwrap();
    s.apply(&setslot(1, 5, SetSlotAction::Migrating(id(2)))).unwrap();
    s.apply(&Command::Replicate { node: id(3), master: id(1) }).unwrap();
    s.apply(&Command::Replicate { node: id(4), master: id(1) }).unwrap();
    s.apply(&Command::Failover { node: id(4), takeover: false }).unwrap();
    assert_eq!(s.node(&id(3)).unwrap().master, Some(id(4)));
    assert_eq!(s.node(&id(1)).unwrap().master, Some(id(4)));
    assert_eq!(s.node(&id(4)).unwrap().master, None);
    assert_eq!(s.open_slots().count(), 0, "the demoted master's migrating slot closes");
}

#[test]
fn a_table_with_open_slots_and_forgotten_nodes_round_trips_through_the_data_files_json_and_the_wire() {
    // The data file (raft/journal.rs) is JSON: a map with tuple keys once made every snapshot write fail
    // ("key must be a string") on a node started with --dir, as soon as a slot was open.
    let mut s = migration_cluster();
    s.apply(&setslot(2, 5, SetSlotAction::Importing(id(1)))).unwrap();
    s.apply(&setslot(1, 5, SetSlotAction::Migrating(id(2)))).unwrap();
    s.apply(&Command::Forget { by: id(1), target: id(3) }).unwrap();
    let json = serde_json::to_vec(&s).expect("the table serializes to JSON");
    assert_eq!(serde_json::from_slice::<MetaState>(&json).unwrap(), s);
    let wire = postcard::to_allocvec(&s).expect("the table serializes to postcard");
    assert_eq!(postcard::from_bytes::<MetaState>(&wire).unwrap(), s);
}

proptest::proptest! {
    /// The request's own slot set (which ADDSLOTS / DELSLOTS check repeats against) holds exactly the slots of the
    /// spans added, a word at a time, and finds the first of them in any span, as slot-by-slot sets would.
    #[test]
    fn slot_bits_hold_the_slots_of_the_spans_set(
        added in proptest::collection::vec((0u16..SLOT_COUNT, 0u16..200), 0..6),
        probes in proptest::collection::vec((0u16..SLOT_COUNT, 0u16..300), 1..6),
    ) {
        let span = |(start, len): (u16, u16)| SlotSpan::range(start, start.saturating_add(len).min(SLOT_COUNT - 1));
        let mut bits = SlotBits::default();
        let mut naive = std::collections::BTreeSet::new();
        for a in added {
            bits.set(span(a));
            naive.extend(span(a).slots());
        }
        for p in probes {
            let expected = span(p).slots().find(|s| naive.contains(s));
            proptest::prop_assert_eq!(bits.first_set_in(span(p)), expected);
        }
    }
}
