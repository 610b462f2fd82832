use super::*;
use crate::meta::{Command, MetaState, NodeInfo};
use crate::resp::{encode_to_vec, Protocol};

fn args(line: &str) -> Vec<Bytes> {
    line.split_whitespace().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
}

fn parse_err(line: &str) -> String {
    match parse(&args(line)) {
        Err(Reply::Error(e)) => e,
        other => panic!("{line:?} should fail, got {other:?}"),
    }
}

fn slot_args(line: &str) -> SlotArgs {
    match parse(&args(line)).unwrap() {
        ClusterRequest::Slots { args, .. } => args,
        other => panic!("not a slot command: {other:?}"),
    }
}

/// Every argument error of the reference table, verbatim.
#[test]
fn argument_errors_match_redis_7_verbatim() {
    let cases: &[(&str, &str)] = &[
        ("MEET 127.0.0.1", "ERR wrong number of arguments for 'cluster|meet' command"),
        ("MEET 1.2.3 7001", "ERR Invalid node address specified: 1.2.3:7001"),
        ("MEET localhost 7011", "ERR Invalid node address specified: localhost:7011"),
        ("MEET 127.0.0.1 abc", "ERR Invalid TCP base port specified: abc"),
        ("MEET 127.0.0.1 70000", "ERR Invalid node address specified: 127.0.0.1:70000"),
        ("MEET 127.0.0.1 7001 abc", "ERR Invalid TCP bus port specified: abc"),
        (
            "MEET 127.0.0.1 7001 17001 extra",
            "ERR unknown subcommand or wrong number of arguments for 'MEET'. Try CLUSTER HELP.",
        ),
        (
            "meet 127.0.0.1 7001 17001 extra",
            "ERR unknown subcommand or wrong number of arguments for 'meet'. Try CLUSTER HELP.",
        ),
        ("FORGET", "ERR wrong number of arguments for 'cluster|forget' command"),
        ("ADDSLOTS", "ERR wrong number of arguments for 'cluster|addslots' command"),
        ("KEYSLOT", "ERR wrong number of arguments for 'cluster|keyslot' command"),
        ("KEYSLOT a b", "ERR wrong number of arguments for 'cluster|keyslot' command"),
        ("MYID x", "ERR wrong number of arguments for 'cluster|myid' command"),
        ("NODES x", "ERR wrong number of arguments for 'cluster|nodes' command"),
        ("INFO x", "ERR wrong number of arguments for 'cluster|info' command"),
        ("FOOBAR", "ERR unknown subcommand 'FOOBAR'. Try CLUSTER HELP."),
        ("foobar", "ERR unknown subcommand 'foobar'. Try CLUSTER HELP."),
        ("ADDSLOTSRANGE 0 10 20", "ERR wrong number of arguments for 'cluster|addslotsrange' command"),
        ("ADDSLOTSRANGE 0", "ERR wrong number of arguments for 'cluster|addslotsrange' command"),
        ("COUNTKEYSINSLOT 16384", "ERR Invalid slot"),
        ("COUNTKEYSINSLOT -1", "ERR Invalid slot"),
        ("COUNTKEYSINSLOT abc", "ERR value is not an integer or out of range"),
        ("GETKEYSINSLOT 0 -1", "ERR Invalid slot or number of keys"),
        ("GETKEYSINSLOT 99999 1", "ERR Invalid slot or number of keys"),
        ("GETKEYSINSLOT x 1", "ERR value is not an integer or out of range"),
        ("RESET FOO", "ERR syntax error"),
        ("SET-CONFIG-EPOCH -1", "ERR Invalid config epoch specified: -1"),
        ("SET-CONFIG-EPOCH x", "ERR value is not an integer or out of range"),
        ("LINKS", "ERR CLUSTER LINKS is not supported by this node"),
        ("FAILOVER FOO", "ERR syntax error"),
        (
            "FAILOVER FORCE extra",
            "ERR unknown subcommand or wrong number of arguments for 'FAILOVER'. Try CLUSTER HELP.",
        ),
        ("SETSLOT 5", "ERR wrong number of arguments for 'cluster|setslot' command"),
    ];
    for (line, expected) in cases {
        assert_eq!(parse_err(line), *expected, "CLUSTER {line}");
    }
    assert_eq!(parse(&[]), Err(Reply::error("ERR wrong number of arguments for 'cluster' command")));
}

#[test]
fn setslot_parse_errors_are_carried_to_the_node_which_refuses_a_replica_first() {
    let carried = |line: &str| match parse(&args(line)) {
        Ok(ClusterRequest::SetSlot(Err(reply))) => reply,
        other => panic!("CLUSTER {line}: {other:?}"),
    };
    let action = "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP";
    for line in ["SETSLOT 5 FOO", "SETSLOT 5 STABLE extra", "SETSLOT 5 NODE", "SETSLOT 5 MIGRATING a b"] {
        assert_eq!(carried(line), Reply::error(action), "{line}");
    }
    for line in ["SETSLOT 16384 STABLE", "SETSLOT -1 NODE x", "SETSLOT x FOO"] {
        assert_eq!(carried(line), Reply::error("ERR Invalid or out of range slot"), "{line}");
    }
    let id = "0123456789abcdef0123456789abcdef01234567";
    let Ok(ClusterRequest::SetSlot(Ok((slot, SetSlotArg::Importing(arg))))) =
        parse(&args(&format!("setslot 7 importing {id}")))
    else {
        panic!("a valid IMPORTING");
    };
    assert_eq!((slot, arg.id.map(|i| i.to_string())), (7, Some(id.to_string())));
    assert_eq!(parse(&args("SETSLOT 7 Stable")), Ok(ClusterRequest::SetSlot(Ok((7, SetSlotArg::Stable)))));
}

#[test]
fn a_slot_list_parse_error_wins_and_a_range_parse_error_ends_the_valid_prefix() {
    for line in ["ADDSLOTS 16384", "ADDSLOTS -1", "ADDSLOTS abc", "ADDSLOTSRANGE 0 16384", "DELSLOTS 1 x 2"] {
        assert_eq!(slot_args(line).error.as_deref(), Some("ERR Invalid or out of range slot"), "{line}");
    }
    // ADDSLOTS / DELSLOTS: every argument is parsed before the table is consulted, so no prefix is kept.
    assert_eq!(slot_args("DELSLOTS 1 x 2").spans, vec![]);
    let a = slot_args("ADDSLOTSRANGE 0 3 10 5");
    assert_eq!(a.spans, vec![SlotSpan::range(0, 3)]);
    assert_eq!(a.error.as_deref(), Some("ERR start slot number 10 is greater than end slot number 5"));
}

#[test]
fn consecutive_slot_arguments_fold_into_one_span_in_argument_order() {
    let spans = slot_args("ADDSLOTS 0 1 2 5 4 6 7").spans;
    assert_eq!(spans, vec![SlotSpan::range(0, 2), SlotSpan::one(5), SlotSpan::one(4), SlotSpan::range(6, 7)]);
    assert_eq!(slot_args("ADDSLOTSRANGE 0 3 4 9 9 9").spans, vec![SlotSpan::range(0, 9), SlotSpan::one(9)]);
}

#[test]
fn meet_accepts_bus_port_and_aikv_node_id_forms() {
    let id = "9bfc40bad9e8f85c9e90bec522b5f7c566255eec";
    let nid = NodeId::parse(id.as_bytes());
    let meet = |line: &str| parse(&args(line)).unwrap();
    assert_eq!(
        meet("MEET 127.0.0.1 7001"),
        ClusterRequest::Meet { ip: "127.0.0.1".into(), port: 7001, bus_port: 17001, node_id: None }
    );
    assert_eq!(
        meet("MEET 127.0.0.1 7001 7101"),
        ClusterRequest::Meet { ip: "127.0.0.1".into(), port: 7001, bus_port: 7101, node_id: None }
    );
    assert_eq!(
        meet(&format!("MEET 127.0.0.1 7001 {id}")),
        ClusterRequest::Meet { ip: "127.0.0.1".into(), port: 7001, bus_port: 17001, node_id: nid }
    );
    assert_eq!(
        meet(&format!("MEET ::1 7001 7101 {id}")),
        ClusterRequest::Meet { ip: "::1".into(), port: 7001, bus_port: 7101, node_id: nid }
    );
}

#[test]
fn integers_follow_redis_string2ll() {
    assert_eq!(parse_i64(b"42"), Some(42));
    assert_eq!(parse_i64(b"-7"), Some(-7));
    for bad in [&b""[..], b"+1", b" 1", b"1 ", b"01", b"-0", b"1e3", b"99999999999999999999"] {
        assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
    for bad in [&b"-"[..], b"--1", b"-05", b"00", b"\xff", b"9223372036854775808", b"-9223372036854775809"] {
        assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
    assert_eq!(parse_i64(b"0"), Some(0));
    assert_eq!(parse_i64(b"16383"), Some(16_383));
    assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
}

proptest::proptest! {
    /// A slot argument's one-pass read agrees with getSlotOrReply's rule (string2ll, then `0..16384`) on any
    /// short digit-like bytes: leading zeros, signs, numbers just past the last slot, five digits and more.
    #[test]
    fn slot_arguments_read_in_one_pass_as_string2ll_reads_them(
        raw in proptest::collection::vec(proptest::prop_oneof![
            proptest::prelude::Just(b'0'), proptest::prelude::Just(b'1'), proptest::prelude::Just(b'3'),
            proptest::prelude::Just(b'6'), proptest::prelude::Just(b'8'), proptest::prelude::Just(b'9'),
            proptest::prelude::Just(b'-'), proptest::prelude::Just(b'+'), proptest::prelude::Just(b' '),
        ], 0..8)
    ) {
        let by_rule = match parse_i64(&raw) {
            Some(n) if (0..i64::from(SLOT_COUNT)).contains(&n) => Ok(n as Slot),
            _ => Err(ERR_SLOT.to_string()),
        };
        proptest::prop_assert_eq!(parse_slot(&Bytes::from(raw.clone())), by_rule, "{:?}", String::from_utf8_lossy(&raw));
    }
}

#[test]
fn slot_arguments_at_the_edges_of_the_slot_range() {
    for (raw, slot) in
        [("0", Some(0)), ("16383", Some(16_383)), ("16384", None), ("99999", None), ("00", None), ("-1", None)]
    {
        assert_eq!(parse_slot(&Bytes::from(raw)).ok(), slot, "{raw}");
    }
}

// --- Golden rendering against redis7-captures/ (cluster.txt, fresh.txt) ---

const M0: &str = "9bfc40bad9e8f85c9e90bec522b5f7c566255eec";
const M1: &str = "794ce3b6355c5243138c4d3c7a5269058be6bb41";
const M2: &str = "bdf330cabbbe28e63ab542f98a21e3531eff565d";
const R3: &str = "0211691ed29e16aa9cd2870b45949d0cb3a67869";
const R4: &str = "3e06b430fbe38e44f11e89d1353d2abc7acb7289";
const R5: &str = "d3b9a9b9b7ab9a906644723762fb34227a6cbba5";

fn nid(s: &str) -> NodeId {
    NodeId::parse(s.as_bytes()).unwrap()
}

/// The captured 3+3 cluster (redis-cli --cluster create ... --cluster-replicas 1), as one table.
fn captured_cluster() -> MetaState {
    let ports = [(M0, 7000), (M1, 7001), (M2, 7002), (R3, 7003), (R4, 7004), (R5, 7005)];
    let info = |i: usize| {
        let (id, port) = ports[i];
        let mut n = NodeInfo::new(nid(id), "127.0.0.1", port, port + 10000);
        n.config_epoch = i as u64 + 1;
        n
    };
    let mut s = MetaState::new(info(0));
    for i in 1..6 {
        s.apply(&Command::Meet {
            receiver: nid(M0),
            receiver_ip: "127.0.0.1".into(),
            node: info(i),
            slots: vec![],
            shown: vec![],
        })
        .unwrap();
    }
    for (id, a, b) in [(M0, 0, 5460), (M1, 5461, 10922), (M2, 10923, 16383)] {
        s.apply(&Command::AddSlots { node: nid(id), spans: vec![SlotSpan::range(a, b)] }).unwrap();
    }
    for (r, m) in [(R3, M1), (R4, M2), (R5, M0)] {
        s.apply(&Command::Replicate { node: nid(r), master: nid(m) }).unwrap();
    }
    s
}

/// `redis-cli -p 7000 CLUSTER NODES` from the capture; ping/pong columns are normalised to `0 0`.
const CAPTURED_NODES_7000: &str = "\
794ce3b6355c5243138c4d3c7a5269058be6bb41 127.0.0.1:7001@17001 master - 0 1795674198516 2 connected 5461-10922
0211691ed29e16aa9cd2870b45949d0cb3a67869 127.0.0.1:7003@17003 slave 794ce3b6355c5243138c4d3c7a5269058be6bb41 0 1795674199523 2 connected
bdf330cabbbe28e63ab542f98a21e3531eff565d 127.0.0.1:7002@17002 master - 0 1795674198012 3 connected 10923-16383
9bfc40bad9e8f85c9e90bec522b5f7c566255eec 127.0.0.1:7000@17000 myself,master - 0 1795674198000 1 connected 0-5460
d3b9a9b9b7ab9a906644723762fb34227a6cbba5 127.0.0.1:7005@17005 slave 9bfc40bad9e8f85c9e90bec522b5f7c566255eec 0 1795674200029 1 connected
3e06b430fbe38e44f11e89d1353d2abc7acb7289 127.0.0.1:7004@17004 slave bdf330cabbbe28e63ab542f98a21e3531eff565d 0 1795674199523 3 connected
";

fn normalise_ping_pong(line: &str) -> String {
    let mut f: Vec<&str> = line.split(' ').collect();
    f[4] = "0";
    f[5] = "0";
    f.join(" ")
}

#[test]
fn nodes_renders_the_captured_cluster_line_for_line() {
    let s = captured_cluster();
    let ours = render_nodes(View { state: &s, myself: nid(M0) });
    assert!(ours.ends_with('\n'), "every line, the last included, ends with \\n");
    let mut expected: Vec<String> = CAPTURED_NODES_7000.lines().map(normalise_ping_pong).collect();
    expected.sort(); // Redis prints dict order; this node prints id order.
    let ours_lines: Vec<String> = ours.lines().map(str::to_string).collect();
    assert_eq!(ours_lines, expected);
}

#[test]
fn nodes_from_a_replica_shows_myself_slave_and_master_epoch() {
    let s = captured_cluster();
    let ours = render_nodes(View { state: &s, myself: nid(R3) });
    let line = ours.lines().find(|l| l.starts_with(R3)).unwrap();
    assert_eq!(line, format!("{R3} 127.0.0.1:7003@17003 myself,slave {M1} 0 0 2 connected"));
}

#[test]
fn fresh_node_renders_like_the_capture() {
    let s = MetaState::new(NodeInfo::new(nid(M0), "", 7000, 17000));
    let v = View { state: &s, myself: nid(M0) };
    assert_eq!(render_nodes(v), format!("{M0} :7000@17000 myself,master - 0 0 0 connected\n"));
    assert_eq!(
        render_info(v),
        "cluster_state:fail\r\ncluster_slots_assigned:0\r\ncluster_slots_ok:0\r\ncluster_slots_pfail:0\r\n\
         cluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:0\r\ncluster_current_epoch:0\r\n\
         cluster_my_epoch:0\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n"
    );
    assert_eq!(encode_to_vec(&render_slots(v), Protocol::Resp2), b"*0\r\n");
    let shards = format!(
        "*1\r\n*4\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n*1\r\n*14\r\n$2\r\nid\r\n$40\r\n{M0}\r\n$4\r\nport\r\n:7000\r\n\
         $2\r\nip\r\n$0\r\n\r\n$8\r\nendpoint\r\n$0\r\n\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n:0\r\n\
         $6\r\nhealth\r\n$6\r\nonline\r\n"
    );
    assert_eq!(String::from_utf8(encode_to_vec(&render_shards(v), Protocol::Resp2)).unwrap(), shards);
}

#[test]
fn info_of_the_captured_cluster() {
    let s = captured_cluster();
    let info = render_info(View { state: &s, myself: nid(M0) });
    let head: Vec<&str> = info.split("\r\n").take(9).collect();
    assert_eq!(
        head,
        [
            "cluster_state:ok",
            "cluster_slots_assigned:16384",
            "cluster_slots_ok:16384",
            "cluster_slots_pfail:0",
            "cluster_slots_fail:0",
            "cluster_known_nodes:6",
            "cluster_size:3",
            "cluster_current_epoch:6",
            "cluster_my_epoch:1",
        ]
    );
    let replica_view = render_info(View { state: &s, myself: nid(R4) });
    assert!(replica_view.contains("\r\ncluster_my_epoch:3\r\n"), "a replica reports its master's epoch");
}

#[test]
fn slots_of_the_captured_cluster() {
    let s = captured_cluster();
    let entry = |a: i64, b: i64, m: (&str, i64), r: (&str, i64)| {
        let node = |(id, port): (&str, i64)| {
            Reply::Array(vec![
                Reply::bulk_str("127.0.0.1"),
                Reply::Int(port),
                Reply::bulk_str(id),
                Reply::Array(vec![]),
            ])
        };
        Reply::Array(vec![Reply::Int(a), Reply::Int(b), node(m), node(r)])
    };
    assert_eq!(
        render_slots(View { state: &s, myself: nid(M0) }),
        Reply::Array(vec![
            entry(0, 5460, (M0, 7000), (R5, 7005)),
            entry(5461, 10922, (M1, 7001), (R3, 7003)),
            entry(10923, 16383, (M2, 7002), (R4, 7004)),
        ])
    );
}

#[test]
fn slots_splits_runs_where_the_owner_changes() {
    let mut s = captured_cluster();
    s.apply(&Command::DelSlots { node: nid(M0), spans: vec![SlotSpan::one(100)] }).unwrap();
    s.apply(&Command::AddSlots { node: nid(M1), spans: vec![SlotSpan::one(100)] }).unwrap();
    let Reply::Array(entries) = render_slots(View { state: &s, myself: nid(M0) }) else { panic!() };
    let ranges: Vec<(Reply, Reply)> = entries
        .iter()
        .map(|e| match e {
            Reply::Array(v) => (v[0].clone(), v[1].clone()),
            _ => panic!(),
        })
        .collect();
    let r = |a, b| (Reply::Int(a), Reply::Int(b));
    assert_eq!(ranges, vec![r(0, 99), r(100, 100), r(101, 5460), r(5461, 10922), r(10923, 16383)]);
    let nodes = render_nodes(View { state: &s, myself: nid(M0) });
    assert!(nodes.contains(&format!("{M1} 127.0.0.1:7001@17001 master - 0 0 2 connected 100 5461-10922\n")));
    assert!(nodes.contains(&format!("{M0} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-99 101-5460\n")));
}

#[test]
fn shards_resp3_is_a_map_per_shard_with_master_first() {
    let s = captured_cluster();
    let wire =
        String::from_utf8(encode_to_vec(&render_shards(View { state: &s, myself: nid(M0) }), Protocol::Resp3)).unwrap();
    // Shards in master-id order: 794c (7001), 9bfc (7000), bdf3 (7002).
    let expected_start = format!(
        "*3\r\n%2\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*2\r\n%7\r\n$2\r\nid\r\n$40\r\n{M1}\r\n\
         $4\r\nport\r\n:7001\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
    );
    assert!(wire.starts_with(&expected_start), "{wire}");
    assert!(wire.contains(&format!("$40\r\n{R3}\r\n$4\r\nport\r\n:7003\r\n")));
    assert!(wire.contains("$4\r\nrole\r\n$7\r\nreplica\r\n"));
}

#[test]
fn replicas_lists_the_replica_lines_without_newlines() {
    let s = captured_cluster();
    assert_eq!(
        render_replicas(View { state: &s, myself: nid(M0) }, &nid(M0)),
        Reply::Array(vec![Reply::bulk(format!("{R5} 127.0.0.1:7005@17005 slave {M0} 0 0 1 connected"))])
    );
}

#[test]
fn every_row_answers_redis_arity_error_for_too_few_or_too_many_arguments() {
    for row in SUBCOMMANDS {
        let expected = format!("ERR wrong number of arguments for 'cluster|{}' command", row.name);
        // Arguments after the subcommand: Redis's arity counts `CLUSTER` and the subcommand too.
        let needed = row.arity.unsigned_abs() as usize - 2;
        let mut wrong = Vec::new();
        if row.arity > 0 {
            wrong.push(needed + 1);
        }
        if needed > 0 {
            wrong.push(needed - 1);
        }
        for count in wrong {
            for name in [row.name.to_string(), row.name.to_uppercase()] {
                let line = std::iter::once(name).chain((0..count).map(|i| i.to_string())).collect::<Vec<_>>();
                assert_eq!(parse_err(&line.join(" ")), expected, "CLUSTER {}", line.join(" "));
            }
        }
    }
}

#[test]
fn every_row_accepts_its_declared_arity() {
    for row in SUBCOMMANDS {
        let needed = row.arity.unsigned_abs() as usize;
        assert!(row.accepts(needed), "{} with {needed}", row.name);
        assert!(!row.accepts(needed - 1), "{} with {}", row.name, needed - 1);
        assert_eq!(row.accepts(needed + 1), row.arity < 0, "{} with {}", row.name, needed + 1);
    }
}

#[test]
fn unknown_subcommand_answers_redis_error_cut_at_128_characters() {
    assert_eq!(parse_err("NOSUCH"), "ERR unknown subcommand 'NOSUCH'. Try CLUSTER HELP.");
    assert_eq!(parse_err("nosuch 1 2 3"), "ERR unknown subcommand 'nosuch'. Try CLUSTER HELP.");
    let long = "x".repeat(200);
    assert_eq!(parse_err(&long), format!("ERR unknown subcommand '{}'. Try CLUSTER HELP.", "x".repeat(128)));
}

#[test]
fn subcommand_table_has_unique_lowercase_names_apart_from_the_unsupported_ones() {
    let mut seen = std::collections::BTreeSet::new();
    for row in SUBCOMMANDS {
        assert!(seen.insert(row.name), "{} twice", row.name);
        assert_eq!(row.name, row.name.to_ascii_lowercase());
        assert!(row.arity.unsigned_abs() >= 2, "{}: the arity counts CLUSTER and the subcommand", row.name);
        assert!(!UNSUPPORTED.contains(&row.name), "{} is both implemented and unsupported", row.name);
        assert_eq!(subcommand(row.name).map(|r| r.name), Some(row.name));
    }
}

#[test]
fn help_is_redis_7_text_built_from_the_table() {
    const REDIS_7_HELP: &[&str] = &[
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ADDSLOTS <slot> [<slot> ...]",
        "    Assign slots to current node.",
        "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Assign slots which are between <start-slot> and <end-slot> to current node.",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "COUNT-FAILURE-REPORTS <node-id>",
        "    Return number of failure reports for <node-id>.",
        "DELSLOTS <slot> [<slot> ...]",
        "    Delete slots information from current node.",
        "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
        "FAILOVER [FORCE|TAKEOVER]",
        "    Promote current replica node to being a master.",
        "FORGET <node-id>",
        "    Remove a node from the cluster.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MEET <ip> <port> [<bus-port>] [<node-id>]",
        "    Connect nodes into a working cluster.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICATE <node-id>",
        "    Configure current node as replica to <node-id>.",
        "RESET [HARD|SOFT]",
        "    Reset current node (default: soft).",
        "SET-CONFIG-EPOCH <epoch>",
        "    Set config epoch of current node.",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
        "    Set slot state.",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "HELP",
        "    Print this help.",
    ];
    let expected = Reply::Array(REDIS_7_HELP.iter().map(|l| Reply::Simple((*l).to_string())).collect());
    assert_eq!(help(), expected);
    assert_eq!(parse(&args("help")), Ok(ClusterRequest::Help));
}

#[test]
fn bus_port_is_port_plus_10000_or_none_when_it_overflows() {
    assert_eq!(bus_port_of(6379), Some(16379));
    assert_eq!(bus_port_of(55535), Some(65535));
    assert_eq!(bus_port_of(55536), None);
    assert_eq!(bus_port_of(u16::MAX), None);
}

#[test]
fn meet_without_room_for_the_default_bus_port_is_an_invalid_address() {
    assert_eq!(parse_err("MEET 127.0.0.1 60000"), "ERR Invalid node address specified: 127.0.0.1:60000");
    assert_eq!(
        parse_err("MEET 127.0.0.1 9223372036854775807"),
        "ERR Invalid node address specified: 127.0.0.1:9223372036854775807"
    );
    let explicit = parse(&args("MEET 127.0.0.1 60000 5000")).unwrap();
    assert_eq!(explicit, ClusterRequest::Meet { ip: "127.0.0.1".into(), port: 60000, bus_port: 5000, node_id: None });
    let edge = parse(&args("MEET 127.0.0.1 55535")).unwrap();
    assert_eq!(edge, ClusterRequest::Meet { ip: "127.0.0.1".into(), port: 55535, bus_port: 65535, node_id: None });
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary argument vectors never panic the parser, and every error it returns is one RESP error line.
        #[test]
        fn arbitrary_arguments_never_panic(argv in prop::collection::vec(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..12).prop_map(Bytes::from),
            prop::sample::select(vec!["MEET", "ADDSLOTS", "ADDSLOTSRANGE", "DELSLOTSRANGE", "FORGET", "RESET",
                "GETKEYSINSLOT", "127.0.0.1", "7000", "-1", "16383", "16384", "hard", M0]).prop_map(|s: &str| Bytes::copy_from_slice(s.as_bytes())),
        ], 0..8)) {
            match parse(&argv) {
                Ok(_) => {}
                Err(Reply::Error(e)) => {
                    prop_assert!(e.starts_with("ERR "));
                    let wire = encode_to_vec(&Reply::Error(e), Protocol::Resp2);
                    prop_assert_eq!(wire.iter().filter(|&&b| b == b'\n').count(), 1);
                }
                Err(other) => prop_assert!(false, "non-error rejection {:?}", other),
            }
        }
    }
}
