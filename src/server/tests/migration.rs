//! Slot migration as `redis-cli --cluster reshard` drives it, on read-index nodes: SETSLOT, ASK / TRYAGAIN /
//! MOVED while the slot is open, MIGRATE and RESTORE-ASKING between nodes, DUMP / RESTORE, and the epoch bump of
//! SETSLOT NODE. Expected replies are Redis 7.0.15's (shared/reference/redis7-captures/migration.txt).

use super::raft::merge_all;
use super::*;

/// foo and {foo}... hash to slot 12182.
const SLOT: u16 = 12182;

fn myself_line(nodes: &str) -> String {
    nodes.lines().find(|l| l.contains("myself")).expect("a myself line").to_string()
}

#[test]
// long: one migration step by step, in the order redis-cli drives it; each step's replies depend on the last.
fn a_slot_migrates_with_its_keys_through_ask_migrate_and_setslot_node() {
    let strategy = Strategy::ReadIndex;
    super::raft::run_raft(11, strategy, 3, move |_, a| async move {
        merge_all(strategy, &a).await;
        let (mut c1, mut c2, mut c3) = (Conn::open(a[0]).await, Conn::open(a[1]).await, Conn::open(a[2]).await);
        assert_eq!(c1.call("CLUSTER ADDSLOTSRANGE 0 8191").await, Reply::ok());
        assert_eq!(c2.call("CLUSTER ADDSLOTSRANGE 8192 16383").await, Reply::ok());
        assert_eq!(c3.call(&format!("CLUSTER REPLICATE {}", id(1))).await, Reply::ok());
        assert_eq!(c2.call("SET foo v1").await, Reply::ok());
        assert_eq!(c2.call("SET {foo}2 v2").await, Reply::ok());

        assert_eq!(c1.call(&format!("CLUSTER SETSLOT {SLOT} IMPORTING {}", id(2))).await, Reply::ok());
        assert_eq!(c2.call(&format!("CLUSTER SETSLOT {SLOT} MIGRATING {}", id(1))).await, Reply::ok());
        assert!(myself_line(&c1.text("CLUSTER NODES").await).ends_with(&format!(" [{SLOT}-<-{}]", id(2))));
        assert!(myself_line(&c2.text("CLUSTER NODES").await).ends_with(&format!(" [{SLOT}->-{}]", id(1))));
        assert!(!c3.text("CLUSTER NODES").await.contains('['), "only the node's own line shows its open slots");

        // The source serves the keys it has, sends the others to the target, and refuses a mix.
        assert_eq!(c2.call("GET foo").await, Reply::bulk_str("v1"));
        let ask = Reply::error(format!("ASK {SLOT} 10.0.0.1:7000"));
        assert_eq!(c2.call("GET {foo}missing").await, ask);
        assert_eq!(c2.call("SET {foo}new x").await, ask);
        let tryagain = Reply::error("TRYAGAIN Multiple keys request during rehashing of slot");
        assert_eq!(c2.call("EXISTS foo {foo}missing").await, tryagain);
        // The target serves the slot only right after ASKING.
        let moved = Reply::error(format!("MOVED {SLOT} 10.0.0.2:7000"));
        assert_eq!(c1.call("GET foo").await, moved);
        assert_eq!(c1.call("ASKING").await, Reply::ok());
        assert_eq!(c1.call("GET foo").await, Reply::Null);
        assert_eq!(c1.call("GET foo").await, moved, "ASKING holds for one command");
        assert_eq!(c1.call("ASKING").await, Reply::ok());
        assert_eq!(c1.call("EXISTS {foo}a {foo}b").await, tryagain);

        // MIGRATE moves keys with RESTORE-ASKING; COPY keeps them, REPLACE overwrites.
        let migrate = |key: &'static [u8], opts: &'static [&'static [u8]]| {
            let mut args: Vec<&[u8]> = vec![b"MIGRATE", b"10.0.0.1", b"7000", key, b"0", b"5000"];
            args.extend_from_slice(opts);
            args
        };
        assert_eq!(c2.call_args(&migrate(b"", &[b"KEYS", b"foo"])).await, Reply::ok());
        assert_eq!(c2.call("GET foo").await, ask);
        assert_eq!(c2.call_args(&migrate(b"", &[b"KEYS", b"foo"])).await, Reply::Simple("NOKEY".into()));
        assert_eq!(c2.call_args(&migrate(b"{foo}2", &[b"COPY"])).await, Reply::ok());
        assert_eq!(
            c2.call_args(&migrate(b"{foo}2", &[])).await,
            Reply::error("ERR Target instance replied with error: BUSYKEY Target key name already exists.")
        );
        assert_eq!(c2.call("CLUSTER COUNTKEYSINSLOT 12182").await, Reply::Int(1), "a failed MIGRATE keeps the key");
        assert_eq!(c2.call_args(&migrate(b"{foo}2", &[b"REPLACE"])).await, Reply::ok());
        assert_eq!(c2.call("CLUSTER COUNTKEYSINSLOT 12182").await, Reply::Int(0));
        assert_eq!(c1.call("CLUSTER COUNTKEYSINSLOT 12182").await, Reply::Int(2));
        assert_eq!(
            c2.call_args(&migrate(b"foo", &[b"KEYS", b"foo"])).await,
            Reply::error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
        );

        // SETSLOT NODE: the target first (its epoch is bumped), then the source; a replica is refused.
        let epoch_of = |nodes: &str, n: u64| -> u64 {
            let line = nodes.lines().find(|l| l.starts_with(&id(n))).expect("listed");
            line.split(' ').nth(6).unwrap().parse().unwrap()
        };
        let before = epoch_of(&c1.text("CLUSTER NODES").await, 1);
        assert_eq!(
            c3.call(&format!("CLUSTER SETSLOT {SLOT} NODE {}", id(1))).await,
            Reply::error("ERR Please use SETSLOT only with masters.")
        );
        assert_eq!(c1.call(&format!("CLUSTER SETSLOT {SLOT} NODE {}", id(1))).await, Reply::ok());
        assert_eq!(c2.call(&format!("CLUSTER SETSLOT {SLOT} NODE {}", id(1))).await, Reply::ok());
        let nodes = c3.text("CLUSTER NODES").await;
        assert!(epoch_of(&nodes, 1) > before, "{nodes}");
        assert!(!nodes.contains('['), "{nodes}");
        assert_eq!(c2.call("GET foo").await, Reply::error(format!("MOVED {SLOT} 10.0.0.1:7000")));
        assert_eq!(c1.call("GET foo").await, Reply::bulk_str("v1"));
        assert_eq!(
            c1.call(&format!("CLUSTER SETSLOT {SLOT} NODE {}", id(2))).await,
            Reply::error(format!(
                "ERR Can't assign hashslot {SLOT} to a different node while I still hold keys for this hash slot."
            ))
        );
        assert_eq!(
            c1.call("MIGRATE 10.0.0.9 7000 foo 0 100").await,
            Reply::error("IOERR error or timeout writing to target instance")
        );
        assert_eq!(c1.call("GET foo").await, Reply::bulk_str("v1"), "a MIGRATE that failed keeps the key");
    });
}

#[test]
fn dump_and_restore_round_trip_and_refuse_what_redis_refuses() {
    run(
        |a| async move {
            let mut c = Conn::open(a[0]).await;
            assert_eq!(c.call("CLUSTER ADDSLOTSRANGE 0 16383").await, Reply::ok());
            assert_eq!(c.call("SET foo hello").await, Reply::ok());
            let Reply::Bulk(payload) = c.call("DUMP foo").await else { panic!("DUMP foo") };
            assert_eq!(&payload[..], &b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a"[..]);
            assert_eq!(c.call("DUMP nosuchkey").await, Reply::Null);
            let busy = Reply::error("BUSYKEY Target key name already exists.");
            assert_eq!(c.call_args(&[b"RESTORE", b"foo", b"0", &payload]).await, busy);
            assert_eq!(
                c.call_args(&[b"RESTORE", b"foo", b"-1", &payload, b"REPLACE"]).await,
                Reply::error("ERR Invalid TTL value, must be >= 0")
            );
            assert_eq!(
                c.call_args(&[b"RESTORE", b"bar", b"0", &payload, b"FOO"]).await,
                Reply::error("ERR syntax error")
            );
            assert_eq!(c.call_args(&[b"RESTORE", b"bar", b"0", &payload, b"REPLACE", b"ABSTTL"]).await, Reply::ok());
            assert_eq!(c.call("GET bar").await, Reply::bulk_str("hello"));
            assert_eq!(
                c.call("RESTORE baz 0 garbage").await,
                Reply::error("ERR DUMP payload version or checksum are wrong")
            );
        },
        1,
    );
}

#[test]
fn failover_promotes_the_replica_and_every_node_reads_the_swap_at_once() {
    let strategy = Strategy::ReadIndex;
    super::raft::run_raft(12, strategy, 3, move |_, a| async move {
        merge_all(strategy, &a).await;
        let (mut c1, mut c2, mut c3) = (Conn::open(a[0]).await, Conn::open(a[1]).await, Conn::open(a[2]).await);
        assert_eq!(c1.call("CLUSTER ADDSLOTSRANGE 0 16383").await, Reply::ok());
        assert_eq!(c2.call(&format!("CLUSTER REPLICATE {}", id(1))).await, Reply::ok());
        let to_replica = Reply::error("ERR You should send CLUSTER FAILOVER to a replica");
        assert_eq!(c1.call("CLUSTER FAILOVER").await, to_replica);
        assert_eq!(c2.call("CLUSTER FAILOVER FOO").await, Reply::error("ERR syntax error"));
        assert_eq!(c2.call("CLUSTER FAILOVER").await, Reply::ok());
        // Read-index: the swap is in every node's CLUSTER NODES as soon as the OK came back.
        let nodes = c3.text("CLUSTER NODES").await;
        let line = |n: u64| nodes.lines().find(|l| l.starts_with(&id(n))).expect("listed").to_string();
        assert!(line(2).contains(" master - ") && line(2).ends_with(" connected 0-16383"), "{nodes}");
        assert!(line(1).contains(&format!(" slave {} ", id(2))), "{nodes}");
        assert_eq!(c2.call("CLUSTER FAILOVER").await, to_replica, "n2 is the master now");
        assert_eq!(c1.call("CLUSTER FAILOVER TAKEOVER").await, Reply::ok());
        assert!(c3.text("CLUSTER NODES").await.contains(&format!(" slave {} ", id(1))));
    });
}
