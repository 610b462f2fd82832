//! Node behaviour over madsim's simulated TCP: the same code the real binary runs.
#![cfg(madsim)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use madsim::runtime::{Handle, Runtime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::meta::NodeId;
use crate::resp::{encode_request, take_reply, Reply};

/// A test connection: sends one request, reads one reply.
struct Conn(TcpStream, BytesMut);

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        Conn(TcpStream::connect(addr).await.expect("connect"), BytesMut::new())
    }

    async fn raw(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).await.unwrap();
        self.0.flush().await.unwrap();
    }

    async fn read_reply(&mut self) -> Option<Reply> {
        loop {
            if let Some(r) = take_reply(&mut self.1).expect("well-formed reply") {
                return Some(r);
            }
            if self.0.read_buf(&mut self.1).await.unwrap_or(0) == 0 {
                return None;
            }
        }
    }

    /// One request of the given arguments (an empty one included, which `call` cannot write).
    async fn call_args(&mut self, args: &[&[u8]]) -> Reply {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        self.raw(&encode_request(&args)).await;
        self.read_reply().await.expect("a reply")
    }

    async fn call(&mut self, line: &str) -> Reply {
        let args: Vec<Bytes> = line.split_whitespace().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect();
        self.raw(&encode_request(&args)).await;
        self.read_reply().await.expect("a reply")
    }

    async fn text(&mut self, line: &str) -> String {
        let r = self.call(line).await;
        match r.as_text() {
            Some(t) => t.into_owned(),
            None => panic!("{line}: expected text, got {r:?}"),
        }
    }
}

fn host_ip(i: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, i])
}

/// Starts `count` nodes (hosts 10.0.0.1.., port 7000, ids 1..) and returns their client addresses.
fn start_nodes(count: u8) -> Vec<SocketAddr> {
    start_nodes_with(count, Strategy::LocalOnly)
}

/// Starts `count` nodes (hosts `n1`.. at 10.0.0.1.., port 7000, ids 1..) under `strategy`.
fn start_nodes_with(count: u8, strategy: Strategy) -> Vec<SocketAddr> {
    start_nodes_on(count, strategy, None)
}

/// Like `start_nodes_with`; with `data_root`, each (re)start of `nK` opens its Disk from `data_root/nK`, as
/// `clustersim-node --dir` does, so a restart reads back only what the data file holds.
fn start_nodes_on(count: u8, strategy: Strategy, data_root: Option<&std::path::Path>) -> Vec<SocketAddr> {
    let handle = Handle::current();
    (1..=count)
        .map(|i| {
            let ip = host_ip(i);
            let dir = data_root.map(|r| r.join(format!("n{i}")));
            handle
                .create_node()
                .name(format!("n{i}"))
                .ip(ip)
                .init(move || {
                    let mut config = NodeConfig::new(NodeId::from_u64(u64::from(i)), ip.to_string(), 7000);
                    config.strategy = strategy;
                    if let Some(dir) = &dir {
                        config.disk = crate::raft::Disk::open(dir).expect("the data file reads back whole");
                    }
                    async move { serve(Node::new(config)).await.expect("serve") }
                })
                .build();
            SocketAddr::new(ip, 7000)
        })
        .collect()
}

/// Runs `f` on a client host, after the nodes had a moment to bind.
fn run<F: std::future::Future<Output = ()> + Send + 'static>(
    f: impl FnOnce(Vec<SocketAddr>) -> F + Send + 'static,
    nodes: u8,
) {
    run_erased(Box::new(move |addrs| Box::pin(f(addrs))), nodes)
}

/// A test's body with its future's type erased: the runtime's task code is compiled once for all the tests
/// that use it, not once per test (crate::raft::rt::spawn_boxed says what that costs).
pub(super) type TestBody<A> = Box<dyn FnOnce(A) -> crate::raft::rt::BoxedTask<()> + Send>;

fn run_erased(f: TestBody<Vec<SocketAddr>>, nodes: u8) {
    let rt = Runtime::with_seed_and_config(7, madsim::Config::default());
    rt.block_on(async move {
        let addrs = start_nodes(nodes);
        let client = Handle::current().create_node().name("client").ip(host_ip(100)).build();
        client
            .spawn(async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                f(addrs).await
            })
            .await
            .unwrap();
    });
}

fn id(n: u64) -> String {
    NodeId::from_u64(n).to_string()
}

#[test]
fn fresh_node_answers_ping_myid_nodes_and_info() {
    run(
        |a| async move {
            let mut c = Conn::open(a[0]).await;
            assert_eq!(c.call("PING").await, Reply::Simple("PONG".into()));
            assert_eq!(c.text("CLUSTER MYID").await, id(1));
            assert_eq!(
                c.text("CLUSTER NODES").await,
                format!("{} :7000@17000 myself,master - 0 0 0 connected\n", id(1))
            );
            assert!(c.text("CLUSTER INFO").await.starts_with("cluster_state:fail\r\n"));
            assert_eq!(c.call("GET foo").await, Reply::error("CLUSTERDOWN Hash slot not served"));
        },
        1,
    );
}

#[test]
fn meet_without_an_id_learns_it_over_the_bus() {
    run(
        |a| async move {
            let mut c = Conn::open(a[0]).await;
            assert_eq!(c.call("CLUSTER MEET 10.0.0.2 7000").await, Reply::ok());
            let nodes = c.text("CLUSTER NODES").await;
            assert_eq!(nodes.lines().count(), 2);
            assert!(nodes.contains(&format!("{} 10.0.0.2:7000@17000 master - 0 0 1 connected\n", id(2))), "{nodes}");
            assert!(nodes.contains(&format!("{} 10.0.0.1:7000@17000 myself,master", id(1))), "{nodes}");
            // Local-only: the target's table is untouched.
            let mut c2 = Conn::open(a[1]).await;
            assert_eq!(c2.text("CLUSTER NODES").await.lines().count(), 1);
        },
        2,
    );
}

#[test]
fn meet_of_an_unreachable_node_is_an_error_and_changes_nothing() {
    run(
        |a| async move {
            let mut c = Conn::open(a[0]).await;
            let r = c.call("CLUSTER MEET 10.0.0.9 7000").await;
            assert!(matches!(&r, Reply::Error(e) if e.starts_with("ERR Can't reach node 10.0.0.9:7000")), "{r:?}");
            assert_eq!(c.text("CLUSTER NODES").await.lines().count(), 1);
        },
        1,
    );
}

#[test]
fn keys_are_served_by_their_slot_owner_and_redirected_elsewhere() {
    run(
        |a| async move {
            let mut c1 = Conn::open(a[0]).await;
            let mut c2 = Conn::open(a[1]).await;
            assert_eq!(c1.call(&format!("CLUSTER MEET 10.0.0.2 7000 {}", id(2))).await, Reply::ok());
            assert_eq!(c1.call("CLUSTER ADDSLOTSRANGE 0 8191").await, Reply::ok());
            // Node 1's table says node 2 owns the rest (local-only: node 1 is told directly via its table).
            assert_eq!(c2.call("CLUSTER ADDSLOTSRANGE 8192 16383").await, Reply::ok());
            assert_eq!(c1.call("SET bar 1").await, Reply::ok(), "bar is slot 5061, node 1's");
            assert_eq!(c1.call("GET bar").await, Reply::bulk_str("1"));
            assert_eq!(
                c1.call("GET foo").await,
                Reply::error("CLUSTERDOWN Hash slot not served"),
                "node 1 has not learned node 2's slots"
            );
            assert_eq!(c2.call("GET bar").await, Reply::error("CLUSTERDOWN Hash slot not served"));
            assert_eq!(c2.call("SET foo x").await, Reply::ok());
            assert_eq!(c1.call("DEL bar {bar}x").await, Reply::Int(1));
            assert_eq!(
                c1.call("EXISTS bar foo").await,
                Reply::error("CROSSSLOT Keys in request don't hash to the same slot")
            );
            assert_eq!(c1.call("DBSIZE").await, Reply::Int(0));
            assert_eq!(c2.call("CLUSTER COUNTKEYSINSLOT 12182").await, Reply::Int(1));
            assert_eq!(c2.call("CLUSTER GETKEYSINSLOT 12182 10").await, Reply::Array(vec![Reply::bulk_str("foo")]));
        },
        2,
    );
}

#[test]
fn moved_points_at_the_owner_in_the_local_table() {
    run(
        |a| async move {
            let mut c2 = Conn::open(a[1]).await;
            assert_eq!(c2.call("CLUSTER ADDSLOTSRANGE 0 16383").await, Reply::ok());
            let mut c1 = Conn::open(a[0]).await;
            // Without an id, MEET asks node 2, which brings its slots along.
            assert_eq!(c1.call("CLUSTER MEET 10.0.0.2 7000").await, Reply::ok());
            assert_eq!(c1.call("GET foo").await, Reply::error("MOVED 12182 10.0.0.2:7000"));
            assert!(c1.text("CLUSTER INFO").await.starts_with("cluster_state:ok\r\n"));
        },
        2,
    );
}

#[test]
fn cluster_errors_reach_the_client_verbatim() {
    run(
        |a| async move {
            let mut c = Conn::open(a[0]).await;
            let me = id(1);
            for (line, expected) in [
                (format!("CLUSTER FORGET {me}"), "ERR I tried hard but I can't forget myself...".to_string()),
                ("CLUSTER FORGET deadbeef".into(), "ERR Unknown node deadbeef".into()),
                (format!("CLUSTER REPLICATE {me}"), "ERR Can't replicate myself".into()),
                ("CLUSTER REPLICATE deadbeef".into(), "ERR Unknown node deadbeef".into()),
                ("CLUSTER ADDSLOTS 1 1".into(), "ERR Slot 1 specified multiple times".into()),
                ("CLUSTER DELSLOTS 5".into(), "ERR Slot 5 is already unassigned".into()),
                (
                    "CLUSTER ADDSLOTSRANGE 10 5".into(),
                    "ERR start slot number 10 is greater than end slot number 5".into(),
                ),
                ("CLUSTER ADDSLOTSRANGE 0 10 5 12".into(), "ERR Slot 5 specified multiple times".into()),
                ("CLUSTER FOOBAR".into(), "ERR unknown subcommand 'FOOBAR'. Try CLUSTER HELP.".into()),
                ("GET".into(), "ERR wrong number of arguments for 'get' command".into()),
                ("SELECT 1".into(), "ERR SELECT is not allowed in cluster mode".into()),
                ("FOO a b".into(), "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ".into()),
            ] {
                assert_eq!(c.call(&line).await, Reply::error(expected), "{line}");
            }
            // Redis 7.0 parses every ADDSLOTS / DELSLOTS argument before it looks at the table (checked against
            // redis-server 7.0.15); the range forms check each pair against the table before parsing the next.
            assert_eq!(c.call("CLUSTER ADDSLOTS 0").await, Reply::ok());
            assert_eq!(c.call("CLUSTER ADDSLOTS 0 abc").await, Reply::error("ERR Invalid or out of range slot"));
            assert_eq!(c.call("CLUSTER ADDSLOTS 0 1 16384").await, Reply::error("ERR Invalid or out of range slot"));
            assert_eq!(c.call("CLUSTER DELSLOTS 5 16384").await, Reply::error("ERR Invalid or out of range slot"));
            assert_eq!(c.call("CLUSTER ADDSLOTS 1 abc").await, Reply::error("ERR Invalid or out of range slot"));
            assert_eq!(c.call("CLUSTER ADDSLOTS 0").await, Reply::error("ERR Slot 0 is already busy"));
            assert_eq!(
                c.call("CLUSTER ADDSLOTSRANGE 0 0 20000 20001").await,
                Reply::error("ERR Slot 0 is already busy")
            );
            assert_eq!(c.call("SET {x}a 1").await, Reply::error("CLUSTERDOWN Hash slot not served"));
        },
        1,
    );
}

#[test]
fn replicate_and_reset_follow_redis_rules() {
    run(
        |a| async move {
            let mut c = Conn::open(a[0]).await;
            c.call(&format!("CLUSTER MEET 10.0.0.2 7000 {}", id(2))).await;
            assert_eq!(c.call("CLUSTER ADDSLOTS 5061").await, Reply::ok());
            assert_eq!(
                c.call(&format!("CLUSTER REPLICATE {}", id(2))).await,
                Reply::error("ERR To set a master the node must be empty and without assigned slots.")
            );
            assert_eq!(c.call("SET bar v").await, Reply::ok());
            assert_eq!(
                c.call("CLUSTER RESET").await,
                Reply::error("ERR CLUSTER RESET can't be called with master nodes containing keys")
            );
            assert_eq!(c.call("DEL bar").await, Reply::Int(1));
            assert_eq!(c.call("CLUSTER RESET HARD").await, Reply::ok());
            let new_id = c.text("CLUSTER MYID").await;
            assert_ne!(new_id, id(1));
            assert_eq!(
                c.text("CLUSTER NODES").await,
                format!("{new_id} 10.0.0.1:7000@17000 myself,master - 0 0 0 connected\n")
            );
        },
        2,
    );
}

#[test]
fn hello_3_switches_to_resp3_maps() {
    run(
        |a| async move {
            let mut c = Conn::open(a[0]).await;
            c.raw(&encode_request(&[Bytes::from_static(b"HELLO"), Bytes::from_static(b"3")])).await;
            let mut raw = vec![0u8; 2];
            c.0.read_exact(&mut raw).await.unwrap();
            assert_eq!(&raw, b"%7", "HELLO 3 answers with a RESP3 map of 7 fields");
            let mut rest = BytesMut::from(&b"%7"[..]);
            loop {
                let mut chunk = [0u8; 512];
                let n = c.0.read(&mut chunk).await.unwrap();
                rest.extend_from_slice(&chunk[..n]);
                if let Some(Reply::Map(fields)) = take_reply(&mut rest).unwrap() {
                    assert!(fields.contains(&(Reply::bulk_str("proto"), Reply::Int(3))));
                    break;
                }
            }
            assert_eq!(c.call("HELLO 4").await, Reply::error("NOPROTO unsupported protocol version"));
            let info = c.call("CLUSTER INFO").await;
            assert!(matches!(info, Reply::Verbatim(_)), "RESP3 sends CLUSTER INFO as a verbatim string: {info:?}");
        },
        1,
    );
}

#[test]
fn a_malformed_frame_closes_only_its_connection() {
    run(
        |a| async move {
            let mut good = Conn::open(a[0]).await;
            assert_eq!(good.call("CLUSTER ADDSLOTS 7").await, Reply::ok());
            for garbage in [&b"*1\r\n$-5\r\n"[..], b"*abc\r\n", b"PING\r\n", b"*99999999\r\n", b"*1\r\n$2\r\nabc\r\n"] {
                let mut bad = Conn::open(a[0]).await;
                bad.raw(garbage).await;
                let reply = bad.read_reply().await.expect("an error reply before closing");
                assert!(matches!(&reply, Reply::Error(e) if e.starts_with("ERR Protocol error")), "{reply:?}");
                assert_eq!(bad.read_reply().await, None, "then the connection is closed");
            }
            assert_eq!(good.call("PING").await, Reply::Simple("PONG".into()));
            assert!(good.text("CLUSTER NODES").await.ends_with("connected 7\n"), "state untouched");
        },
        1,
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    run(
        |a| async move {
            let mut c = Conn::open(a[0]).await;
            let mut wire = Vec::new();
            for line in ["PING", "ECHO hi", "CLUSTER KEYSLOT foo"] {
                let args: Vec<Bytes> = line.split(' ').map(|s| Bytes::copy_from_slice(s.as_bytes())).collect();
                wire.extend(encode_request(&args));
            }
            c.raw(&wire).await;
            assert_eq!(c.read_reply().await.unwrap(), Reply::Simple("PONG".into()));
            assert_eq!(c.read_reply().await.unwrap(), Reply::bulk_str("hi"));
            assert_eq!(c.read_reply().await.unwrap(), Reply::Int(12182));
        },
        1,
    );
}

/// AiKv's cluster_init.sh step 3 with purely local tables gives the historical counts 6,6,5,4,3,2.
#[test]
fn local_only_aikv_meet_pattern_gives_the_historical_counts() {
    run(
        |a| async move {
            let ip = |i: usize| a[i].ip().to_string();
            let mut conns = Vec::new();
            for addr in &a {
                conns.push(Conn::open(*addr).await);
            }
            let ids: Vec<String> = {
                let mut v = Vec::new();
                for c in conns.iter_mut() {
                    v.push(c.text("CLUSTER MYID").await);
                }
                v
            };
            for n in 1..6 {
                assert_eq!(conns[0].call(&format!("CLUSTER MEET {} 7000 {}", ip(n), ids[n])).await, Reply::ok());
                assert_eq!(conns[n].call(&format!("CLUSTER MEET {} 7000 {}", ip(0), ids[0])).await, Reply::ok());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            for (i, conn) in conns.iter_mut().enumerate() {
                for (j, id) in ids.iter().enumerate().skip(i + 1) {
                    conn.call(&format!("CLUSTER MEET {} 7000 {}", ip(j), id)).await;
                }
            }
            let mut counts = Vec::new();
            for c in conns.iter_mut() {
                counts.push(c.text("CLUSTER NODES").await.lines().filter(|l| l.len() >= 40).count());
            }
            assert_eq!(counts, vec![6, 6, 5, 4, 3, 2]);
        },
        6,
    );
}

#[test]
fn only_local_only_keeps_its_table_out_of_raft() {
    for strategy in Strategy::ALL {
        assert_eq!(strategy.behaviour().uses_raft, strategy != Strategy::LocalOnly, "{strategy}");
    }
}

#[test]
fn strategies_answer_writes_and_guard_reads_as_documented() {
    let facts = |s: Strategy| (s.behaviour().write_timing, s.behaviour().read_guard, s.behaviour().write_deadline_ms);
    assert_eq!(facts(Strategy::LocalOnly), (WriteTiming::AfterCommit, ReadGuard::LocalState, 12_000));
    assert_eq!(facts(Strategy::FireAndForget), (WriteTiming::BeforeCommit, ReadGuard::LocalState, 12_000));
    assert_eq!(
        facts(Strategy::CommitThenSleep),
        (WriteTiming::AfterCommitThenSleep { settle_ms: 200 }, ReadGuard::LocalState, 5_000)
    );
    assert_eq!(facts(Strategy::ReadIndex), (WriteTiming::AfterCommit, ReadGuard::ReadIndexBarrier, 12_000));
}

#[test]
fn node_config_bus_port_defaults_to_port_plus_10000() {
    let config = NodeConfig::new(NodeId::from_u64(1), "10.0.0.1", 7000);
    assert_eq!((config.port, config.bus_port), (7000, 17000));
    let explicit = NodeConfig::with_bus_port(NodeId::from_u64(1), "10.0.0.1", 60000, 5000);
    assert_eq!((explicit.port, explicit.bus_port), (60000, 5000));
}

#[test]
#[should_panic(expected = "port 60000 leaves no room for the default bus port")]
fn node_config_refuses_a_port_with_no_room_for_the_default_bus_port() {
    NodeConfig::new(NodeId::from_u64(1), "10.0.0.1", 60000);
}

#[test]
fn readonly_readwrite_and_asking_answer_ok() {
    run(
        |a| async move {
            let mut c = Conn::open(a[0]).await;
            for line in ["READONLY", "READWRITE", "ASKING", "READONLY"] {
                assert_eq!(c.call(line).await, Reply::ok(), "{line}");
            }
            assert_eq!(
                c.call("READONLY x").await,
                Reply::error("ERR wrong number of arguments for 'readonly' command")
            );
        },
        1,
    );
}

mod migration;
mod raft;

mod properties {
    use super::*;
    use proptest::prelude::{any, prop, prop_oneof, proptest, ProptestConfig, Strategy as _};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Arbitrary argument vectors through the full dispatch: never a panic, always one well-formed reply,
        /// and the node keeps answering afterwards.
        #[test]
        fn arbitrary_commands_get_well_formed_replies(argvs in prop::collection::vec(prop::collection::vec(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..6).prop_map(Bytes::from),
            prop::sample::select(vec!["CLUSTER", "MEET", "ADDSLOTS", "ADDSLOTSRANGE", "DELSLOTS", "FORGET", "RESET",
                "REPLICATE", "NODES", "SHARDS", "SLOTS", "INFO", "GET", "SET", "DEL", "HELLO", "3", "0", "16383",
                "10.0.0.1", "7000", "0000000000000000000000000000000000000001"])
                .prop_map(|s: &str| Bytes::copy_from_slice(s.as_bytes())),
        ], 1..7), 1..12)) {
            run(move |a| async move {
                let mut c = Conn::open(a[0]).await;
                for argv in argvs {
                    c.raw(&encode_request(&argv)).await;
                    let reply = c.read_reply().await;
                    assert!(reply.is_some(), "no reply to {argv:?}");
                    if matches!(argv[0].to_ascii_uppercase().as_slice(), b"QUIT") {
                        return;
                    }
                }
                assert_eq!(c.call("PING").await, Reply::Simple("PONG".into()));
            }, 1);
        }
    }
}
