//! Who serves each of the 16,384 slots, kept as maximal runs: an ADDSLOTSRANGE of 5,461 slots is one entry, not
//! 5,461, and CLUSTER NODES / SLOTS / SHARDS read the runs they print straight from it.
//!
//! The form is canonical — runs are disjoint, in slot order, and two adjacent runs never have the same owner
//! (they are merged) — so two tables with the same assignments are equal as values. [`SlotTable::check`] verifies
//! that form (part of `MetaState::check_invariants`).
//!
//! Serialized as a sequence of `[start, end, owner]` runs. A text format (the data file) also reads the form
//! earlier versions wrote, a map from each slot to its owner.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{NodeId, Slot, SlotSpan, SLOT_COUNT};

/// The slot map: run start → (run end, owner).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotTable {
    runs: BTreeMap<Slot, (Slot, NodeId)>,
    assigned: usize,
}

impl SlotTable {
    /// The run holding `slot`: (start, end, owner).
    fn run_at(&self, slot: Slot) -> Option<(Slot, Slot, NodeId)> {
        let (start, (end, owner)) = self.runs.range(..=slot).next_back()?;
        (*end >= slot).then_some((*start, *end, *owner))
    }

    /// The owner of `slot`, if assigned.
    pub fn owner(&self, slot: Slot) -> Option<NodeId> {
        self.run_at(slot).map(|(_, _, owner)| owner)
    }

    /// How many slots are assigned.
    pub fn len(&self) -> usize {
        self.assigned
    }

    pub fn is_empty(&self) -> bool {
        self.assigned == 0
    }

    /// Every maximal run with its owner, in slot order.
    pub fn runs(&self) -> impl Iterator<Item = (SlotSpan, NodeId)> + '_ {
        self.runs.iter().map(|(start, (end, owner))| (SlotSpan { start: *start, end: *end }, *owner))
    }

    /// Every assigned slot with its owner, in slot order.
    pub fn assignments(&self) -> impl Iterator<Item = (Slot, NodeId)> + '_ {
        self.runs().flat_map(|(span, owner)| span.slots().map(move |slot| (slot, owner)))
    }

    /// The maximal runs `node` serves, ascending.
    pub fn runs_of(&self, node: &NodeId) -> Vec<SlotSpan> {
        self.runs().filter(|(_, owner)| owner == node).map(|(span, _)| span).collect()
    }

    /// How many slots `node` serves.
    pub fn count_of(&self, node: &NodeId) -> usize {
        self.runs().filter(|(_, owner)| owner == node).map(|(span, _)| span.len()).sum()
    }

    /// Whether `node` serves any slot.
    pub fn serves_any(&self, node: &NodeId) -> bool {
        self.runs.values().any(|(_, owner)| owner == node)
    }

    /// The first slot of `span` that is assigned.
    pub fn first_assigned_in(&self, span: SlotSpan) -> Option<Slot> {
        if self.run_at(span.start).is_some() {
            return Some(span.start);
        }
        self.runs.range(span.start..=span.end).next().map(|(start, _)| *start)
    }

    /// The first slot of `span` that is not assigned.
    pub fn first_unassigned_in(&self, span: SlotSpan) -> Option<Slot> {
        let mut slot = span.start;
        while let Some((_, end, _)) = self.run_at(slot) {
            if end >= span.end {
                return None;
            }
            slot = end + 1;
        }
        Some(slot)
    }

    /// Gives `span` to `node`. Every slot of it must be unassigned (callers validate first).
    pub fn assign(&mut self, span: SlotSpan, node: NodeId) {
        debug_assert!(self.first_assigned_in(span).is_none(), "assign over assigned slots {span:?}");
        let (mut start, mut end) = (span.start, span.end);
        if let Some((left, left_end, owner)) = start.checked_sub(1).and_then(|s| self.run_at(s)) {
            if owner == node && left_end + 1 == start {
                self.runs.remove(&left);
                start = left;
            }
        }
        if let Some(&(right_end, owner)) = end.checked_add(1).and_then(|s| self.runs.get(&s)) {
            if owner == node {
                self.runs.remove(&(end + 1));
                end = right_end;
            }
        }
        self.runs.insert(start, (end, node));
        self.assigned += span.len();
    }

    /// Unassigns every assigned slot of `span`; how many were assigned.
    pub fn unassign(&mut self, span: SlotSpan) -> usize {
        let mut hit: Vec<(Slot, Slot, NodeId)> = Vec::new();
        if let Some(run) = self.run_at(span.start) {
            hit.push(run);
        }
        let inside = self.runs.range(span.start..=span.end).filter(|(start, _)| **start != span.start);
        hit.extend(inside.map(|(start, (end, owner))| (*start, *end, *owner)));
        let mut freed = 0;
        for (start, end, owner) in hit {
            self.runs.remove(&start);
            if start < span.start {
                self.runs.insert(start, (span.start - 1, owner));
            }
            if end > span.end {
                self.runs.insert(span.end + 1, (end, owner));
            }
            freed += usize::from(end.min(span.end) - start.max(span.start)) + 1;
        }
        self.assigned -= freed;
        freed
    }

    /// Unassigns every slot `node` serves; how many.
    pub fn unassign_owner(&mut self, node: &NodeId) -> usize {
        let before = self.assigned;
        self.runs.retain(|start, (end, owner)| {
            let keep = owner != node;
            if !keep {
                self.assigned -= usize::from(*end - *start) + 1;
            }
            keep
        });
        before - self.assigned
    }

    pub fn clear(&mut self) {
        self.runs.clear();
        self.assigned = 0;
    }

    /// The canonical form: runs in range, disjoint, ordered, adjacent runs of different owners, the count right.
    pub fn check(&self) -> Result<(), String> {
        let mut previous: Option<(Slot, NodeId)> = None;
        let mut count = 0;
        for (start, (end, owner)) in &self.runs {
            if start > end || *end >= SLOT_COUNT {
                return Err(format!("slot run {start}-{end} out of range"));
            }
            match previous {
                Some((prev_end, _)) if prev_end >= *start => {
                    return Err(format!("slot runs overlap at {start}"));
                }
                Some((prev_end, prev_owner)) if prev_end + 1 == *start && prev_owner == *owner => {
                    return Err(format!("slot runs {prev_end} and {start} of {owner} not merged"));
                }
                _ => {}
            }
            count += usize::from(end - start) + 1;
            previous = Some((*end, *owner));
        }
        if count != self.assigned {
            return Err(format!("slot count {} but runs hold {count}", self.assigned));
        }
        Ok(())
    }

    /// Adds one run read from a serialized table, refusing overlaps and slots out of range.
    fn insert_read<E: serde::de::Error>(&mut self, span: SlotSpan, owner: NodeId) -> Result<(), E> {
        if span.start > span.end || span.end >= SLOT_COUNT {
            return Err(E::custom(format!("slot run {}-{} out of range", span.start, span.end)));
        }
        if let Some(slot) = self.first_assigned_in(span) {
            return Err(E::custom(format!("slot {slot} assigned twice")));
        }
        self.assign(span, owner);
        Ok(())
    }
}

impl Serialize for SlotTable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.runs.len()))?;
        for (start, (end, owner)) in &self.runs {
            seq.serialize_element(&(start, end, owner))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for SlotTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            d.deserialize_any(TableVisitor)
        } else {
            d.deserialize_seq(TableVisitor)
        }
    }
}

struct TableVisitor;

impl<'de> Visitor<'de> for TableVisitor {
    type Value = SlotTable;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("slot runs [start, end, owner], or a map from slot to owner")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SlotTable, A::Error> {
        let mut table = SlotTable::default();
        while let Some((start, end, owner)) = seq.next_element::<(Slot, Slot, NodeId)>()? {
            table.insert_read(SlotSpan { start, end }, owner)?;
        }
        Ok(table)
    }

    /// The form data files written before runs: `{"0": "<id>", "1": "<id>", ...}`.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SlotTable, A::Error> {
        let mut table = SlotTable::default();
        while let Some((slot, owner)) = map.next_entry::<Slot, NodeId>()? {
            table.insert_read(SlotSpan { start: slot, end: slot }, owner)?;
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> NodeId {
        NodeId::from_bytes([n; 20])
    }

    fn span(start: Slot, end: Slot) -> SlotSpan {
        SlotSpan { start, end }
    }

    /// The table as (start, end, owner byte) triples.
    fn shape(t: &SlotTable) -> Vec<(Slot, Slot, u8)> {
        t.runs().map(|(s, o)| (s.start, s.end, o.as_bytes()[0])).collect()
    }

    #[test]
    fn adjacent_runs_of_one_owner_merge_and_others_do_not() {
        let mut t = SlotTable::default();
        t.assign(span(10, 19), id(1));
        t.assign(span(30, 39), id(1));
        t.assign(span(20, 29), id(1));
        assert_eq!(shape(&t), vec![(10, 39, 1)]);
        t.assign(span(40, 40), id(2));
        t.assign(span(0, 9), id(2));
        assert_eq!(shape(&t), vec![(0, 9, 2), (10, 39, 1), (40, 40, 2)]);
        assert_eq!(t.len(), 41);
        assert_eq!(t.check(), Ok(()));
    }

    #[test]
    fn unassign_splits_runs_and_counts_only_assigned_slots() {
        let mut t = SlotTable::default();
        t.assign(span(0, 99), id(1));
        t.assign(span(200, 299), id(2));
        assert_eq!(t.unassign(span(50, 59)), 10);
        assert_eq!(shape(&t), vec![(0, 49, 1), (60, 99, 1), (200, 299, 2)]);
        assert_eq!(t.unassign(span(90, 250)), 10 + 51);
        assert_eq!(shape(&t), vec![(0, 49, 1), (60, 89, 1), (251, 299, 2)]);
        assert_eq!(t.len(), 50 + 30 + 49);
        assert_eq!(t.owner(60), Some(id(1)));
        assert_eq!(t.owner(90), None);
        assert_eq!(t.check(), Ok(()));
        assert_eq!(t.unassign_owner(&id(1)), 80);
        assert_eq!(shape(&t), vec![(251, 299, 2)]);
    }

    #[test]
    fn first_assigned_and_unassigned_slot_of_a_span() {
        let mut t = SlotTable::default();
        t.assign(span(10, 19), id(1));
        t.assign(span(20, 29), id(2));
        assert_eq!(t.first_assigned_in(span(0, 9)), None);
        assert_eq!(t.first_assigned_in(span(0, 15)), Some(10));
        assert_eq!(t.first_assigned_in(span(15, 40)), Some(15));
        assert_eq!(t.first_unassigned_in(span(10, 29)), None);
        assert_eq!(t.first_unassigned_in(span(12, 35)), Some(30));
        assert_eq!(t.first_unassigned_in(span(5, 12)), Some(5));
    }

    #[test]
    fn serialized_runs_round_trip_and_the_old_per_slot_map_still_reads() {
        let mut t = SlotTable::default();
        t.assign(span(0, 5460), id(1));
        t.assign(span(5461, 5461), id(2));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<SlotTable>(&json).unwrap(), t);
        let binary = postcard::to_allocvec(&t).unwrap();
        assert!(binary.len() < 60, "{} bytes", binary.len());
        assert_eq!(postcard::from_bytes::<SlotTable>(&binary).unwrap(), t);
        let old = format!(r#"{{"1": "{}", "2": "{}", "3": "{}"}}"#, id(1), id(1), id(2));
        let read: SlotTable = serde_json::from_str(&old).unwrap();
        assert_eq!(shape(&read), vec![(1, 2, 1), (3, 3, 2)]);
    }

    #[test]
    fn serialized_tables_with_overlaps_or_slots_out_of_range_are_refused() {
        let overlap = format!(r#"[[0, 10, "{}"], [5, 6, "{}"]]"#, id(1), id(2));
        let err = serde_json::from_str::<SlotTable>(&overlap).unwrap_err().to_string();
        assert!(err.contains("slot 5 assigned twice"), "{err}");
        let out = format!(r#"[[0, 16384, "{}"]]"#, id(1));
        let err = serde_json::from_str::<SlotTable>(&out).unwrap_err().to_string();
        assert!(err.contains("out of range"), "{err}");
    }
}
