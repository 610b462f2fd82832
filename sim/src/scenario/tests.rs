use super::*;
use clustersim::server::Strategy as NodeStrategy;
use proptest::prelude::*;

fn err(text: &str) -> String {
    parse("x.scn", text).expect_err("must not parse").to_string()
}

#[test]
fn the_strict_keyword_in_the_header_makes_availability_a_failure_and_prints_back() {
    let s = parse("x.scn", "cluster 3 strategy=read-index strict\n").unwrap();
    assert!(s.header.strict);
    assert_eq!(print(&s), "cluster 3 strategy=read-index strict\n");
    assert!(!parse("x.scn", "cluster 3\n").unwrap().header.strict);
    assert_eq!(err("cluster 3 strict strict\n"), "x.scn:1:18: 'strict' given twice");
    assert_eq!(err("cluster 3 lenient\n"), "x.scn:1:11: expected key=value or strict, found 'lenient'");
}

#[test]
fn a_runbook_parses_into_steps() {
    let s = parse(
        "x.scn",
        "# intent\ncluster 3 strategy=read-index\ncall n1 CLUSTER MEET {n2.ip} {n2.port} {n2.id}\nsleep 500ms\n\
         # check\nexpect all \"CLUSTER NODES\" known-nodes=3\ncall n2 CLUSTER ADDSLOTS {0..2}\n",
    )
    .unwrap();
    assert_eq!(s.intro, vec!["intent"]);
    assert_eq!(
        s.header,
        Header {
            nodes: 3,
            strategy: Some(NodeStrategy::ReadIndex),
            profile: None,
            base_port: 6379,
            drift: vec![],
            strict: false
        }
    );
    assert_eq!(
        s.steps,
        vec![
            Step::Call {
                target: Target::Node(1),
                command: vec![
                    Word::text("CLUSTER"),
                    Word::text("MEET"),
                    Word::var(2, Field::Ip),
                    Word::var(2, Field::Port),
                    Word::var(2, Field::Id)
                ]
            },
            Step::Sleep { ms: 500 },
            Step::Comment("check".into()),
            Step::Expect {
                target: Target::All,
                command: vec![Word::text("CLUSTER"), Word::text("NODES")],
                check: Check::KnownNodes(3)
            },
            Step::Call {
                target: Target::Node(2),
                command: vec![Word::text("CLUSTER"), Word::text("ADDSLOTS"), Word::Range { start: 0, end: 2 }]
            },
        ]
    );
}

#[test]
fn templates_glue_to_text_and_hash_tags_stay_literal() {
    let s = parse("x.scn", "cluster 2\ncall n1 GET {user1000}.x:{n2.ip}:{n2.port}\n").unwrap();
    let Step::Call { command, .. } = &s.steps[0] else { panic!() };
    assert_eq!(
        command[1],
        Word::Pieces(vec![
            Piece::Text("{user1000}.x:".into()),
            Piece::Var { node: 2, field: Field::Ip },
            Piece::Text(":".into()),
            Piece::Var { node: 2, field: Field::Port }
        ])
    );
}

#[test]
fn quoted_check_values_may_hold_spaces() {
    let s = parse("x.scn", "cluster 1\nexpect n1 \"CLUSTER FORGET x\" reply=\"ERR Unknown node x\"\n").unwrap();
    let Step::Expect { check, .. } = &s.steps[0] else { panic!() };
    assert_eq!(*check, Check::Reply(Word::text("ERR Unknown node x")));
}

#[test]
fn errors_name_file_line_and_column() {
    assert_eq!(err("call n1 PING\n"), "x.scn:1:1: the first line must be 'cluster <nodes> ...', found 'call'");
    assert_eq!(err("cluster 3\ncall n4 PING\n"), "x.scn:2:6: node n4 does not exist (the cluster has 3 nodes)");
    assert_eq!(err("cluster 3\n  frobnicate n1\n"), "x.scn:2:3: unknown verb 'frobnicate' (expected one of: call, sleep, expect, kill, restart, pause, resume, partition, heal, clog, unclog, latency, loss, wait-consistent, settle, workload)");
    assert_eq!(
        err("cluster 3 drift=n2:20%\n"),
        "x.scn:1:17: expected <node>:<+|-><percent>% such as n2:+20%, found 'n2:20%'"
    );
    assert_eq!(err("cluster 3 drift=n1:+5%,n4:+5%\n"), "x.scn:1:24: node n4 does not exist (the cluster has 3 nodes)");
    assert_eq!(err("cluster 3 drift=n1:-95%\n"), "x.scn:1:17: a clock drift is from -90% to +900%, found '-95%'");
    assert_eq!(err("cluster 3\nkill all\n"), "x.scn:2:6: this verb takes one node, not 'all'");
    assert_eq!(err("cluster 3\nkill n2 now\n"), "x.scn:2:9: unexpected 'now'");
    assert_eq!(err("cluster 3\npartition n1,n2 n2,n3\n"), "x.scn:2:17: n2 is in more than one group");
    assert_eq!(
        err("cluster 3\npartition n1,n2 n3,n7\n"),
        "x.scn:2:20: node n7 does not exist (the cluster has 3 nodes)"
    );
    assert_eq!(
        err("cluster 3\npartition n1,n2\n"),
        "x.scn:2:16: 'partition' needs at least two groups of nodes, such as n1,n2 n3,n4,n5"
    );
    assert_eq!(err("cluster 3\nclog n1-n2\n"), "x.scn:2:6: expected a link such as n1->n2, found 'n1-n2'");
    assert_eq!(err("cluster 3\nclog n1->n5\n"), "x.scn:2:10: node n5 does not exist (the cluster has 3 nodes)");
    assert_eq!(err("cluster 3\nclog n1->n1\n"), "x.scn:2:6: a link joins two different nodes");
    assert_eq!(
        err("cluster 3\nlatency 200ms..10ms\n"),
        "x.scn:2:9: expected a latency range such as 10ms..200ms (at most 10000 ms, minimum below maximum), found '200ms..10ms'"
    );
    assert_eq!(err("cluster 3\nloss 95%\n"), "x.scn:2:6: expected a loss such as 10% (0% to 90%), found '95%'");
    assert_eq!(err("cluster 3\nsettle in=3s\n"), "x.scn:2:8: unknown key 'in' (expected within)");
    assert_eq!(err("cluster 3\nsettle 3s\n"), "x.scn:2:8: expected within=<duration>, found '3s'");
    assert_eq!(
        err("cluster 3\nsettle within=soon\n"),
        "x.scn:2:15: expected a duration such as 30s (at most 3600000 ms), found 'soon'"
    );
    assert_eq!(
        err("cluster 3 speed=fast\n"),
        "x.scn:1:11: unknown key 'speed' (expected strategy, profile, base-port, drift or strict)"
    );
    assert_eq!(
        err("cluster 3 strategy=eventual\n"),
        "x.scn:1:20: unknown strategy 'eventual' (expected one of: local-only, fire-and-forget, commit-then-sleep, read-index)"
    );
    assert_eq!(err("cluster 3\nsleep 5 minutes\n"), "x.scn:2:7: expected a duration such as 500ms or 2s, found '5'");
    assert_eq!(
        err("cluster 3\ncall n1 MEET {n2.host}\n"),
        "x.scn:2:14: unknown field 'host' (expected ip, port, bus or id)"
    );
    assert_eq!(err("cluster 3\ncall n1 X {n9.ip}\n"), "x.scn:2:11: node n9 does not exist (the cluster has 3 nodes)");
    assert_eq!(
        err("cluster 3\nexpect all CLUSTER NODES x=1\n"),
        "x.scn:2:12: the command of an expect is quoted: \"CLUSTER NODES\""
    );
    assert_eq!(
        err("cluster 3\nexpect all \"CLUSTER NODES\" nodes=3\n"),
        "x.scn:2:28: unknown check 'nodes' (expected reply, known-nodes, knows or contains)"
    );
    assert_eq!(err("cluster 3\ncall n1 ECHO \"abc\n"), "x.scn:2:14: unterminated quoted string");
    assert_eq!(err("cluster 3\ncall n1\n"), "x.scn:2:8: 'call' needs a target and a command");
    assert_eq!(err("cluster 0\n"), "x.scn:1:9: expected a node count from 1 to 1000, found '0'");
    assert_eq!(err("cluster 2\ncall n1 ADDSLOTS {9..1}\n"), "x.scn:2:18: range {9..1} is empty");
    assert_eq!(err("# only a comment\n"), "x.scn:1:1: no 'cluster <nodes>' line");
    assert_eq!(err("cluster 2\ncluster 3\n"), "x.scn:2:1: 'cluster' may appear only once, as the first line");
}

#[test]
fn the_unknown_verb_error_lists_every_verb_of_the_table() {
    let names: Vec<&str> = verbs().map(|(name, _)| name).collect();
    assert_eq!(
        err("cluster 3\nfrobnicate\n"),
        format!("x.scn:2:1: unknown verb 'frobnicate' (expected one of: {})", names.join(", "))
    );
    assert!(!names.contains(&"cluster"), "the header is not a step verb");
}

#[test]
fn every_verb_of_the_table_parses_and_is_documented_with_its_usage() {
    let doc = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/SCENARIOS.md"))
        .expect("docs/SCENARIOS.md");
    for (name, usage) in verbs() {
        assert!(usage.starts_with(name), "{usage}");
        assert!(doc.contains(&format!("`{usage}`")), "docs/SCENARIOS.md shows `{usage}`");
        let err = parse("x.scn", &format!("cluster 3\n{name}\n")).err().map(|e| e.message).unwrap_or_default();
        assert!(!err.starts_with("unknown verb"), "{name}: {err}");
    }
}

#[test]
fn option_keys_are_checked_against_each_lines_list() {
    assert_eq!(err("cluster 3\nwait-consistent for=3s\n"), "x.scn:2:17: unknown key 'for' (expected within)");
    assert_eq!(err("cluster 3 strict=yes\n"), "x.scn:1:11: 'strict' is a bare keyword: it takes no value");
    assert_eq!(
        err("cluster 3\nexpect n1 \"PING\" =PONG\n"),
        "x.scn:2:18: unknown check '' (expected reply, known-nodes, knows or contains)"
    );
}

#[test]
fn printing_a_parsed_file_gives_it_back() {
    let text =
        "# intent\ncluster 6 strategy=local-only drift=n2:+20%,n5:-10%\ncall n1 PING\nsleep 2s\nsleep 1500ms\n# x\n\
                expect n2 \"CLUSTER NODES\" knows={n1.id}\ncall n3 ECHO \"a b\"\nexpect all \"PING\" reply=PONG\n\
                kill n2\nrestart n2\npause n3\nresume n3\npartition n1,n2 n3,n4,n5\nheal\nclog n1->n2\nunclog n1->n2\n\
                latency 10ms..200ms\nloss 10%\nwait-consistent within=10s\nsettle within=1500ms\n";
    assert_eq!(print(&parse("x.scn", text).unwrap()), text);
}

#[test]
fn the_shipped_scenarios_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut seen = 0;
    for entry in walk(&dir) {
        let s = load(&entry).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parse("again", &print(&s)).unwrap(), s, "{} survives print/parse", entry.display());
        seen += 1;
    }
    assert!(seen >= 2, "scenarios/ holds the shipped scenarios");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).map(|r| r.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|e| e == "scn") {
            out.push(p);
        }
    }
    out
}

// --- parse(print(x)) == x over generated ASTs ---

fn arb_text() -> impl proptest::strategy::Strategy<Value = String> {
    // Words that cannot be mistaken for variables or ranges.
    prop_oneof![
        Just("CLUSTER".to_string()),
        Just("MEET".to_string()),
        Just("{user}.x".to_string()),
        Just("a b".to_string()),
        Just("quote\"d".to_string()),
        Just("back\\slash".to_string()),
        Just("#hash".to_string()),
        "[a-zA-Z0-9:._-]{1,8}",
    ]
}

fn arb_word(nodes: usize) -> impl proptest::strategy::Strategy<Value = Word> {
    let var = (1..=nodes, prop::sample::select(vec![Field::Ip, Field::Port, Field::Bus, Field::Id]))
        .prop_map(|(node, field)| Piece::Var { node, field });
    prop_oneof![
        arb_text().prop_map(Word::text),
        (0u32..100, 0u32..100).prop_map(|(a, len)| Word::Range { start: a, end: a + len }),
        (prop::collection::vec(
            prop_oneof![arb_text().prop_map(|t| Piece::Text(t.replace([' ', '"', '\\', '#'], ""))), var],
            1..4
        ))
        .prop_map(|pieces| {
            let mut merged: Vec<Piece> = Vec::new();
            for p in pieces {
                match (merged.last_mut(), p) {
                    (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
                    (_, Piece::Text(t)) if t.is_empty() => {}
                    (_, p) => merged.push(p),
                }
            }
            if merged.is_empty() {
                merged.push(Piece::Text("x".into()));
            }
            Word::Pieces(merged)
        }),
    ]
}

fn arb_simple_word(nodes: usize) -> impl proptest::strategy::Strategy<Value = Word> {
    arb_word(nodes).prop_filter("no spaces or quotes inside an expect command", |w| {
        let t = print_word(w);
        !t.contains([' ', '"', '\\'])
    })
}

fn arb_fault(nodes: usize) -> BoxedStrategy<Fault> {
    let node = 1..=nodes;
    let single = prop_oneof![
        node.clone().prop_map(Fault::Kill),
        node.clone().prop_map(Fault::Restart),
        node.clone().prop_map(Fault::Pause),
        node.prop_map(Fault::Resume),
        Just(Fault::Heal),
        (0u64..5000, 1u64..5000).prop_map(|(min_ms, d)| Fault::Latency { min_ms, max_ms: min_ms + d }),
        (0u8..=90).prop_map(|percent| Fault::Loss { percent }),
    ];
    if nodes < 2 {
        return single.boxed();
    }
    let link = (1..=nodes, 1..nodes).prop_map(|(a, b)| (a, if b >= a { b + 1 } else { b }));
    let partition = Just((1..=nodes).collect::<Vec<usize>>()).prop_shuffle().prop_flat_map(|order| {
        (1..order.len()).prop_map(move |cut| Fault::Partition(vec![order[..cut].to_vec(), order[cut..].to_vec()]))
    });
    prop_oneof![
        single,
        partition,
        link.clone().prop_map(|(from, to)| Fault::Clog { from, to }),
        link.prop_map(|(from, to)| Fault::Unclog { from, to }),
    ]
    .boxed()
}

fn arb_scenario() -> impl proptest::strategy::Strategy<Value = Scenario> {
    (
        1usize..8,
        prop::option::of(prop::sample::select(Strategy_ALL.to_vec())),
        prop::option::of(prop::sample::select(crate::profile::Profile::NAMED.to_vec())),
        prop_oneof![Just(6379u16), 7000u16..7100],
        any::<bool>(),
    )
        .prop_flat_map(|(nodes, strategy, profile, base_port, strict)| {
            (
                Just((nodes, strategy, profile, base_port, strict)),
                prop::sample::subsequence((1..=nodes).collect::<Vec<_>>(), 0..=nodes),
                prop::collection::vec(-90i32..=900, nodes),
            )
        })
        .prop_flat_map(|((nodes, strategy, profile, base_port, strict), drifted, percents)| {
            let drift: Vec<(usize, i32)> = drifted.iter().map(|&n| (n, percents[n - 1])).collect();
            let target = prop_oneof![(1..=nodes).prop_map(Target::Node), Just(Target::All)];
            let check = prop_oneof![
                arb_word(nodes).prop_map(Check::Reply),
                (0usize..20).prop_map(Check::KnownNodes),
                arb_word(nodes).prop_map(Check::Knows),
                arb_word(nodes).prop_map(Check::Contains),
            ];
            let step = prop_oneof![
                "[a-z ]{0,12}".prop_map(|c| Step::Comment(c.trim().to_string())),
                (target.clone(), prop::collection::vec(arb_word(nodes), 1..5))
                    .prop_map(|(target, command)| Step::Call { target, command }),
                (0u64..5000).prop_map(|ms| Step::Sleep { ms }),
                arb_fault(nodes).prop_map(Step::Fault),
                (1u64..100_000).prop_map(|within_ms| Step::WaitConsistent { within_ms }),
                (1u64..100_000).prop_map(|within_ms| Step::Settle { within_ms }),
                (target, prop::collection::vec(arb_simple_word(nodes), 1..4), check)
                    .prop_map(|(target, command, check)| Step::Expect { target, command, check }),
            ];
            (
                prop::collection::vec("[a-z ]{0,12}".prop_map(|c| c.trim().to_string()), 0..3),
                prop::collection::vec(step, 0..20),
            )
                .prop_map(move |(intro, steps)| Scenario {
                    intro,
                    header: Header { nodes, strategy, profile, base_port, drift: drift.clone(), strict },
                    steps,
                    lines: vec![],
                })
        })
}

#[allow(non_upper_case_globals)]
const Strategy_ALL: [NodeStrategy; 4] = NodeStrategy::ALL;

proptest! {
    #[test]
    fn parse_of_print_is_identity(s in arb_scenario()) {
        let text = print(&s);
        let back = parse("gen.scn", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, s);
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(text in "[ -~\n]{0,200}") {
        let _ = parse("fuzz.scn", &text);
    }
}

#[test]
fn real_mode_runs_process_faults_and_refuses_network_faults_by_line() {
    use crate::profile::Profile;
    let process = parse("x.scn", "cluster 3\nkill n1\nrestart n1\npause n2\nresume n2\n").unwrap();
    assert!(simulator_only(&process, Profile::Lan).is_empty());
    let network = parse("x.scn", "cluster 3\npartition n1 n2,n3\nsleep 1s\nheal\nclog n1->n2\nloss 5%\n").unwrap();
    let refused = simulator_only(&network, Profile::Lan);
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert!(refused[0].starts_with("line 2: `partition n1 n2,n3`"), "{refused:?}");
    assert!(refused[1].starts_with("line 4: `heal`"), "{refused:?}");
    assert_eq!(
        simulator_only(&process, Profile::Wan),
        vec!["profile wan: network profiles drive madsim's network".to_string()]
    );
    let drift = parse("x.scn", "cluster 3 drift=n2:+20%\n").unwrap();
    assert_eq!(simulator_only(&drift, Profile::Lan).len(), 1);
}

#[test]
fn workload_lines_parse_with_defaults_and_print_back() {
    let s =
        parse("x.scn", "cluster 3\nworkload reads\nworkload reads every=50ms on=n2 ops=slots,nodes\nworkload stop\n")
            .expect("parses");
    assert_eq!(
        s.steps,
        vec![
            Step::Workload(Workload::Reads { every_ms: 100, on: Target::All, ops: ReadOp::ALL.to_vec() }),
            Step::Workload(Workload::Reads {
                every_ms: 50,
                on: Target::Node(2),
                ops: vec![ReadOp::Slots, ReadOp::Nodes]
            }),
            Step::Workload(Workload::Stop),
        ]
    );
    assert_eq!(parse("x.scn", &print(&s)).expect("printed file parses"), s);
}

#[test]
fn write_workload_lines_parse_with_defaults_and_print_back() {
    let s = parse(
        "x.scn",
        "cluster 3\nworkload writes\nworkload writes every=20ms on=n3 ops=meet,slots slots=100-103\nworkload writes slots=7\n",
    )
    .expect("parses");
    assert_eq!(
        s.steps,
        vec![
            Step::Workload(Workload::Writes {
                every_ms: 100,
                on: Target::All,
                ops: vec![WriteOp::Slots],
                slots: Workload::WRITE_SLOTS_DEFAULT
            }),
            Step::Workload(Workload::Writes {
                every_ms: 20,
                on: Target::Node(3),
                ops: vec![WriteOp::Meet, WriteOp::Slots],
                slots: (100, 103)
            }),
            Step::Workload(Workload::Writes {
                every_ms: 100,
                on: Target::All,
                ops: vec![WriteOp::Slots],
                slots: (7, 7)
            }),
        ]
    );
    assert_eq!(parse("x.scn", &print(&s)).expect("printed file parses"), s);
}

#[test]
fn bad_workload_lines_name_the_column() {
    assert_eq!(
        err("cluster 3\nworkload deletes\n"),
        "x.scn:2:10: unknown workload 'deletes' (expected reads, writes or stop)"
    );
    assert_eq!(
        err("cluster 3\nworkload writes slots=200-100\n"),
        "x.scn:2:23: expected a slot range such as 16000-16383 (slots 0 to 16383, low first), found '200-100'"
    );
    assert_eq!(
        err("cluster 3\nworkload writes slots=0-16384\n"),
        "x.scn:2:23: expected a slot range such as 16000-16383 (slots 0 to 16383, low first), found '0-16384'"
    );
    assert_eq!(err("cluster 3\nworkload reads slots=1-2\n"), "x.scn:2:16: 'slots=' belongs to 'workload writes'");
    assert_eq!(
        err("cluster 3\nworkload writes ops=slots,forget\n"),
        "x.scn:2:27: unknown op 'forget' (expected one or more of slots, meet)"
    );
    assert_eq!(
        err("cluster 3\nworkload reads every=5ms\n"),
        "x.scn:2:22: expected a period such as 50ms (from 10 ms to 3600000 ms), found '5ms'"
    );
    assert_eq!(
        err("cluster 3\nworkload reads on=n4\n"),
        "x.scn:2:19: node n4 does not exist (the cluster has 3 nodes)"
    );
    assert_eq!(
        err("cluster 3\nworkload reads ops=nodes,keys\n"),
        "x.scn:2:26: unknown op 'keys' (expected one or more of nodes, slots, shards)"
    );
    assert_eq!(err("cluster 3\nworkload reads on=n1 on=n2\n"), "x.scn:2:22: 'on' given twice");
    assert_eq!(err("cluster 3\nworkload stop now\n"), "x.scn:2:15: unexpected 'now'");
    assert_eq!(
        err("cluster 3\nworkload reads speed=2\n"),
        "x.scn:2:16: unknown workload option 'speed' (expected every, on, ops or slots)"
    );
}
