//! Coverage probes: named rare branches of the node (FoundationDB's code probes, Antithesis's "sometimes"
//! assertions). A green sweep says which of them it reached, and how often (`sim sweep` prints the table; a
//! branch never reached is a branch the seeds did not test).
//!
//! [`hit`] emits one `tracing` event under the dedicated target [`TARGET`] with the probe's name in the field
//! `probe`. The simulation harness collects those events as a set of names (with the first virtual time), not as
//! trace lines, so adding or removing a probe never changes a run's trace or its hash. In the real binary they
//! are ordinary INFO log lines. [`ALL`] lists every probe with what reaching it means, so reports can show the
//! probes never hit; a test checks that every name placed in the code is listed and every listed name is placed.
//! The `buggify.*` probes are BUGGIFY's injection points (`raft::rt::buggify`): each firing counts as a probe.

/// The target every probe event is emitted under.
pub const TARGET: &str = "clustersim::probe";

/// A probe: its name (`area.what_happened`) and one line on what reaching it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub name: &'static str,
    pub about: &'static str,
}

const fn probe(name: &'static str, about: &'static str) -> Probe {
    Probe { name, about }
}

/// Every probe of the node, grouped by area.
pub const ALL: &[Probe] = &[
    probe("write.not_leader", "a forwarded write or group operation reached a node that no longer leads"),
    probe("write.leader_unreachable", "a write or group operation found its leader unreachable and retried"),
    probe("write.deadline_exceeded", "a write or group operation found no leader within the strategy's deadline"),
    probe("write.background_failed", "fire-and-forget: a write already answered OK failed in the background"),
    probe(
        "write.own_apply_unconfirmed",
        "read-index: a committed write whose own node could not confirm applying it (barrier failed): CLUSTERDOWN",
    ),
    probe("read.barrier_no_leader", "a ReadIndex read barrier found no leader known"),
    probe("read.barrier_leader_moved", "the leader asked for a read index answered that it no longer leads"),
    probe(
        "read.barrier_failed",
        "a read barrier failed (no leader, leader moved, no read index or apply in time): CLUSTERDOWN",
    ),
    probe(
        "read.removed_from_table",
        "a read found this node missing from its group's table (forgotten, not yet a cluster of one): CLUSTERDOWN",
    ),
    probe(
        "read.sealed_table",
        "a read found its group's table sealed (another cluster is absorbing this one): CLUSTERDOWN",
    ),
    probe("merge.sealed", "a MEET of two multi-node clusters sealed the smaller one's table for the merge"),
    probe(
        "merge.called_off",
        "a sealed group's leader asked the other group, which called the merge off: the table is unsealed",
    ),
    probe(
        "merge.absorbing_group_gone",
        "a sealed group's leader found every node of the group it is sealed into gone from it: unsealed",
    ),
    probe(
        "repair.group_gone",
        "a node cut off from its group found every member it knows gone from it: back to a cluster of one",
    ),
    probe("bus.exchange_deadline", "a bus exchange was connected but got no answer before its deadline"),
    probe("raft.reopened", "a restarted node reopened the Raft instance its disk kept (a merge or join resumes)"),
    probe("raft.log_truncated", "uncommitted log entries were truncated (a new leader overwrote them)"),
    probe("raft.snapshot_installed", "a follower installed a snapshot sent by its leader"),
    probe("raft.snapshot_built", "an instance built a snapshot of its state machine"),
    probe("raft.leader_lost", "an instance that knew a leader lost it (an election follows)"),
    probe("meet.join_changed", "a joiner answered Changed (it took writes since the handshake); its slots recorded"),
    probe("meet.join_refused", "a joiner refused to join; its entry was forgotten again"),
    probe(
        "meet.joined_by_another",
        "a joiner that refused (or whose changed slots could not be recorded) had joined through another MEET",
    ),
    probe(
        "meet.refusal_keeps_offered_epoch",
        "a joiner refusing a merge raised its epoch to the one the merging group showed for it",
    ),
    probe("meet.retried", "a MEET met a merge in progress (or a joiner that went elsewhere) and started over"),
    probe(
        "meet.confirm_join_pending",
        "a MEET of a listed node whose join is not finished (not in the Raft membership yet): try again",
    ),
    probe("repair.join_resent", "a repair round re-sent Join to a listed node outside the Raft membership"),
    probe("repair.join_called_off", "a repair round called a join off (the node refused)"),
    probe("repair.member_removed", "a repair round removed an unlisted member (a FORGET or RESET cut short)"),
    probe("repair.is_member_no", "a node that looked cut off was told it is no longer a member"),
    probe("repair.cluster_of_one", "a node dropped by its group became a cluster of one again"),
    probe("buggify.apply_delay", "BUGGIFY: the state machine slept before applying a batch of entries"),
    probe("buggify.reply_delay", "BUGGIFY: a client reply was delayed before being written"),
    probe("buggify.bus_reply_dropped", "BUGGIFY: a bus request was served but its reply dropped (connection closed)"),
    probe("buggify.bus_call_failed", "BUGGIFY: a bus call failed at once as if its connection had been reset"),
    probe("buggify.raft_tiny_log", "BUGGIFY: a Raft instance started with a tiny snapshot policy (snapshots, purges)"),
];

/// Records that the rare branch `name` (one of [`ALL`]) was reached.
pub fn hit(name: &'static str) {
    debug_assert!(ALL.iter().any(|p| p.name == name), "probe {name} is not listed in probe::ALL");
    tracing::info!(target: "clustersim::probe", probe = name, "probe");
}

/// The probe named `name`, if the node has one.
pub fn find(name: &str) -> Option<&'static Probe> {
    ALL.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every `probe::hit("…")` and `buggify("…")` in src/ names a listed probe, and every listed probe is placed
    /// somewhere: the list is the code's, not a wish list.
    #[test]
    fn every_probe_is_listed_and_every_listed_probe_is_placed() {
        let mut placed = BTreeSet::new();
        let mut files = Vec::new();
        collect_sources(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source is readable");
            for marker in ["probe::hit(\"", "buggify(\""] {
                for (at, _) in text.match_indices(marker) {
                    let rest = &text[at + marker.len()..];
                    let name = &rest[..rest.find('"').expect("a closing quote")];
                    if name != "name" {
                        placed.insert(name.to_string());
                    }
                }
            }
        }
        let listed: BTreeSet<String> = ALL.iter().map(|p| p.name.to_string()).collect();
        assert_eq!(placed, listed);
        assert_eq!(listed.len(), ALL.len(), "probe names are unique");
    }

    fn collect_sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                collect_sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("probe.rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn find_knows_listed_probes_only() {
        assert_eq!(find("raft.reopened").map(|p| p.name), Some("raft.reopened"));
        assert!(find("raft.nonexistent").is_none());
    }
}
