//! Interop: the Rust `redis` crate's cluster client (a client nobody here wrote) against six real
//! `clustersim-node` processes under read-index: three masters with one replica each, formed with plain
//! CLUSTER commands, then 1,000 keys written and read back through `ClusterClient`, which follows the
//! table the nodes publish (CLUSTER SLOTS) and their MOVED redirections; then the same client keeps writing and
//! reading keys while their slots move to another master the way `redis-cli --cluster reshard` moves them
//! (SETSLOT IMPORTING / MIGRATING, MIGRATE, SETSLOT NODE), following ASK and MOVED with no error reaching it.
//!
//! Real flavour only (`RUSTFLAGS= cargo test -p clustersim`): the simulation flavour has no real sockets.
#![cfg(not(madsim))]

use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use redis::cluster::ClusterClient;
use redis::{Commands, Connection, RedisResult};

const BASE: u16 = 7300;

/// The processes of the test, killed and reaped by pid when it ends (passing or not).
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn connect(port: u16) -> Connection {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("a valid address");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answered = client.get_connection().and_then(|mut c| redis::cmd("PING").query::<String>(&mut c).map(|_| c));
        match answered {
            Ok(c) => return c,
            Err(_) if Instant::now() < deadline => sleep(Duration::from_millis(50)),
            Err(e) => panic!("node on port {port} never answered PING: {e}"),
        }
    }
}

fn cluster(c: &mut Connection, args: &[&str]) -> RedisResult<String> {
    redis::cmd("CLUSTER").arg(args).query(c)
}

/// Polls until `check` holds, for up to 15 s; panics with the last value otherwise.
fn eventually<T: std::fmt::Debug>(what: &str, mut probe: impl FnMut() -> T, check: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let value = probe();
        if check(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: still {value:?} after 15 s");
        sleep(Duration::from_millis(100));
    }
}

/// Six read-index nodes on `base`..`base + 5`: three masters (0-5460, 5461-10922, 10923-16383), each with a
/// replica, every table showing all six. Returns the processes, a connection to each, and their ids.
fn start_cluster(base: u16) -> (Nodes, Vec<Connection>, Vec<String>, Vec<u16>) {
    let ports: Vec<u16> = (0..6).map(|i| base + i).collect();
    let nodes = Nodes(
        ports
            .iter()
            .map(|p| {
                Command::new(env!("CARGO_BIN_EXE_clustersim-node"))
                    .args(["--port", &p.to_string(), "--strategy", "read-index"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("clustersim-node starts")
            })
            .collect(),
    );
    let mut conns: Vec<Connection> = ports.iter().map(|p| connect(*p)).collect();
    let ranges = [("0", "5460"), ("5461", "10922"), ("10923", "16383")];
    for (c, (a, b)) in conns.iter_mut().zip(ranges) {
        assert_eq!(cluster(c, &["ADDSLOTSRANGE", a, b]).unwrap(), "OK");
    }
    for p in &ports[1..] {
        assert_eq!(cluster(&mut conns[0], &["MEET", "127.0.0.1", &p.to_string()]).unwrap(), "OK");
    }
    let ids: Vec<String> = conns.iter_mut().map(|c| cluster(c, &["MYID"]).unwrap()).collect();
    for replica in 3..6 {
        let master = ids[replica - 3].clone();
        assert_eq!(cluster(&mut conns[replica], &["REPLICATE", &master]).unwrap(), "OK");
    }
    for (i, c) in conns.iter_mut().enumerate() {
        eventually(
            &format!("node {}'s table: 6 nodes, 3 replicas", ports[i]),
            || cluster(c, &["NODES"]).unwrap_or_default(),
            |t| t.lines().count() == 6 && t.lines().filter(|l| l.contains("slave")).count() == 3,
        );
    }
    (nodes, conns, ids, ports)
}

#[test]
fn the_redis_crate_cluster_client_writes_and_reads_back_1000_keys_across_three_masters() {
    let (_nodes, mut conns, _ids, ports) = start_cluster(BASE);
    let client = ClusterClient::new(vec![format!("redis://127.0.0.1:{}/", ports[3])]).expect("a valid seed list");
    let mut cc = client.get_connection().expect("the cluster client reads the slot table");
    for i in 0..1000 {
        let () = cc.set(format!("key:{i}"), format!("value:{i}")).unwrap_or_else(|e| panic!("SET key:{i}: {e}"));
    }
    for i in 0..1000 {
        let got: String = cc.get(format!("key:{i}")).unwrap_or_else(|e| panic!("GET key:{i}: {e}"));
        assert_eq!(got, format!("value:{i}"));
    }
    // The keys really are spread over the three masters, each holding only its own slots' keys.
    let sizes: Vec<usize> = conns[..3].iter_mut().map(|c| redis::cmd("DBSIZE").query(c).unwrap()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 1000, "sizes {sizes:?}");
    assert!(sizes.iter().all(|n| *n > 250), "every master holds about a third: {sizes:?}");
}

/// Moves `slots` from master `from` to master `to` in redis-cli 7.0's order (clusterManagerMoveSlot): IMPORTING on
/// the target, MIGRATING on the source, the keys by MIGRATE ... KEYS in batches, then SETSLOT NODE on the target,
/// the source and the other master.
fn move_slots(ports: &[u16], ids: &[String], from: usize, to: usize, slots: std::ops::Range<u16>) {
    let mut c: Vec<Connection> = ports[..3].iter().map(|p| connect(*p)).collect();
    for slot in slots {
        let slot = slot.to_string();
        assert_eq!(cluster(&mut c[to], &["SETSLOT", &slot, "IMPORTING", &ids[from]]).unwrap(), "OK");
        assert_eq!(cluster(&mut c[from], &["SETSLOT", &slot, "MIGRATING", &ids[to]]).unwrap(), "OK");
        loop {
            let keys: Vec<String> =
                redis::cmd("CLUSTER").arg(&["GETKEYSINSLOT", &slot, "10"]).query(&mut c[from]).unwrap();
            if keys.is_empty() {
                break;
            }
            let reply: String = redis::cmd("MIGRATE")
                .arg(&["127.0.0.1", &ports[to].to_string(), "", "0", "5000", "KEYS"])
                .arg(&keys)
                .query(&mut c[from])
                .unwrap_or_else(|e| panic!("MIGRATE of slot {slot}: {e}"));
            assert_eq!(reply, "OK");
        }
        for node in [to, from, 3 - from - to] {
            assert_eq!(cluster(&mut c[node], &["SETSLOT", &slot, "NODE", &ids[to]]).unwrap(), "OK", "slot {slot}");
        }
    }
}

#[test]
fn the_redis_crate_cluster_client_keeps_reading_and_writing_keys_whose_slots_are_moving() {
    let (_nodes, mut conns, ids, ports) = start_cluster(BASE + 10);
    // 200 keys in slots 0..100 (master 0's first slots), found with the node's own hash function.
    let keys: Vec<String> = (0..)
        .map(|i| format!("moving:{i}"))
        .filter(|k| clustersim::cluster::key_slot(k.as_bytes()) < 100)
        .take(200)
        .collect();
    let client = ClusterClient::new(vec![format!("redis://127.0.0.1:{}/", ports[0])]).expect("a valid seed list");
    let mut cc = client.get_connection().expect("the cluster client reads the slot table");
    for k in &keys {
        let () = cc.set(k, "round:0").unwrap_or_else(|e| panic!("SET {k}: {e}"));
    }
    let mover = {
        let (ports, ids) = (ports.clone(), ids.clone());
        std::thread::spawn(move || move_slots(&ports, &ids, 0, 1, 0..100))
    };
    let mut rounds = 0;
    while !mover.is_finished() || rounds == 0 {
        rounds += 1;
        for k in &keys {
            let value = format!("round:{rounds}");
            let () = cc.set(k, &value).unwrap_or_else(|e| panic!("SET {k} in round {rounds}: {e}"));
            let got: String = cc.get(k).unwrap_or_else(|e| panic!("GET {k} in round {rounds}: {e}"));
            assert_eq!(got, value, "{k} in round {rounds}");
        }
    }
    mover.join().expect("the slots moved");
    // Every key ended on the new owner with its last value; the old owner kept none of them.
    for k in &keys {
        let got: String = cc.get(k).unwrap();
        assert_eq!(got, format!("round:{rounds}"));
    }
    let sizes: Vec<usize> = conns[..2].iter_mut().map(|c| redis::cmd("DBSIZE").query(c).unwrap()).collect();
    assert_eq!(sizes, vec![0, 200], "keys on masters 0 and 1 after the move ({rounds} rounds during it)");
}
