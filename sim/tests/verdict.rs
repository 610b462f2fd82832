//! The verdict's classes end to end: the fault injector records the windows, the rules class each violation,
//! and `strict` turns availability into a failure. Small scenarios written here, one seed each.
#![cfg(madsim)]

use clustersim::server::Strategy;
use sim::profile::Profile;
use sim::verdict::{FailedWrite, Rule};
use sim::{run, Class, Outcome, RunOptions};

fn outcome(text: &str, strict: bool) -> Outcome {
    let mut scenario = sim::scenario::parse("t.scn", text).unwrap_or_else(|e| panic!("{e}"));
    scenario.header.strict |= strict;
    run(&scenario, &RunOptions::new(0, Strategy::ReadIndex))
}

/// n1 MEETs n3 across a partition (the MEET answers an error), then the scenario expects three known nodes.
const MEET_ACROSS_A_PARTITION: &str = "cluster 3
call n1 CLUSTER MEET {n2.ip} {n2.port} {n2.id}
sleep 1s
partition n1,n2 n3
call n1 CLUSTER MEET {n3.ip} {n3.port} {n3.id}
heal
sleep 30s
expect all \"CLUSTER NODES\" known-nodes=3
";

#[test]
fn an_expect_after_a_meet_refused_during_a_partition_is_availability_naming_the_meet() {
    let o = outcome(MEET_ACROSS_A_PARTITION, false);
    assert_eq!(o.windows.len(), 1, "{:?}", o.windows);
    assert_eq!(o.windows[0].opened_by, "partition n1,n2 n3");
    assert_eq!(o.tally.errors, 1, "the MEET across the partition answered an error");
    assert_eq!(o.tally.errors_in_windows, 1);
    assert_eq!(o.findings.len(), 3, "{:?}", o.findings);
    for f in &o.findings {
        assert!(matches!(f.rule, Rule::AfterFaultedWrite { write: FailedWrite { line: 5, node: 1, .. }, .. }), "{f}");
    }
    assert_eq!(o.class(), Some(Class::Availability));
    assert!(o.passed(), "availability alone passes");
}

#[test]
fn under_strict_the_same_run_fails() {
    let o = outcome(MEET_ACROSS_A_PARTITION, true);
    assert_eq!(o.class(), Some(Class::Availability));
    assert!(!o.passed());
    let header = outcome(&MEET_ACROSS_A_PARTITION.replacen("cluster 3", "cluster 3 strict", 1), false);
    assert!(!header.passed(), "the header keyword does what --strict does");
}

#[test]
fn with_no_fault_a_wrong_answer_is_safety_and_an_error_is_liveness() {
    let o = outcome(
        "cluster 3
call n1 CLUSTER MEET {n2.ip} {n2.port} {n2.id}
sleep 1s
expect n1 \"CLUSTER NODES\" known-nodes=3
expect n1 \"CLUSTER NOSUCHTHING\" reply=OK
",
        false,
    );
    assert!(o.windows.is_empty());
    let rules: Vec<(usize, &Rule)> = o.findings.iter().map(|f| (f.violation.line(), &f.rule)).collect();
    assert_eq!(rules, [(4, &Rule::WrongAnswer), (5, &Rule::ErrorWhileHealthy)]);
    assert_eq!(o.class(), Some(Class::Safety));
    assert!(!o.passed());
}

#[test]
fn a_non_lan_profile_is_one_fault_window_from_the_start_until_settle() {
    let scenario = sim::scenario::parse(
        "t.scn",
        "cluster 3\ncall n1 CLUSTER MEET {n2.ip} {n2.port} {n2.id}\nsleep 2s\nsettle\nsleep 1s\n",
    )
    .unwrap();
    let o = run(&scenario, &RunOptions::new(1, Strategy::ReadIndex).profile(Profile::Wan));
    assert_eq!(o.windows.len(), 1, "{:?}", o.windows);
    assert_eq!(o.windows[0].opened_by, "profile wan");
    assert_eq!(o.windows[0].start, std::time::Duration::ZERO);
    assert!(
        o.windows[0].end >= std::time::Duration::from_secs(2) && o.windows[0].end < o.virtual_time,
        "closed at settle: {:?}",
        o.windows[0]
    );
}

/// Two of three nodes are killed for longer than an election timeout (the third campaigns alone, raising its
/// term), then `settle` (which restarts them) gets 1 s: the group needs an election, which takes longer, so the nodes cannot answer a linearizable read in time.
const SETTLE_SHORTER_THAN_AN_ELECTION: &str = "cluster 3
call n1 CLUSTER MEET {n2.ip} {n2.port} {n2.id}
call n1 CLUSTER MEET {n3.ip} {n3.port} {n3.id}
sleep 2s
kill n1
kill n2
sleep 12s
settle within=1s
";

#[test]
fn no_settle_poll_outlives_the_settle_bound() {
    let o = outcome(SETTLE_SHORTER_THAN_AN_ELECTION, false);
    let polls: Vec<_> = o.history.iter().filter(|c| c.line == 8).collect();
    let start = polls.iter().map(|c| c.start).min().expect("settle polled");
    let end = polls.iter().map(|c| c.end).max().expect("settle polled");
    // Each poll is given the time left until the bound; madsim's scheduling adds well under a millisecond.
    let bound = std::time::Duration::from_millis(1_005);
    assert!(end - start <= bound, "a poll ended {:?} after the settle began", end - start);
    assert!(
        o.findings.iter().any(|f| matches!(f.violation, sim::Violation::NotSettled { line: 8, within_ms: 1000, .. })),
        "{}",
        sim::outcome_report(&o)
    );
}
