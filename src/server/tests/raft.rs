//! The three Raft strategies over madsim: MEET merges, forwarded writes, FORGET, RESET, leader loss, the read
//! barrier, and determinism of the whole thing.

use std::future::Future;

use super::*;

const RAFT_STRATEGIES: [Strategy; 3] = [Strategy::FireAndForget, Strategy::CommitThenSleep, Strategy::ReadIndex];

/// For `read_until` on what no strategy guards (INFO's Raft role and leader are this node's own view): poll.
const POLL: Strategy = Strategy::FireAndForget;

/// Runs `f` (given the strategy and the nodes' addresses) on a client host under seed `seed` (or
/// `MADSIM_TEST_SEED`), once the nodes have founded their clusters of one.
pub(super) fn run_raft<F, Fut>(seed: u64, strategy: Strategy, nodes: u8, f: F)
where
    F: FnOnce(Strategy, Vec<SocketAddr>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_raft_erased(seed, strategy, nodes, Box::new(move |(strategy, addrs)| Box::pin(f(strategy, addrs))))
}

fn run_raft_erased(seed: u64, strategy: Strategy, nodes: u8, f: TestBody<(Strategy, Vec<SocketAddr>)>) {
    // `MADSIM_TEST_SEED=n` replays (or sweeps) these tests under another seed.
    let seed = std::env::var("MADSIM_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(seed);
    let rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
    rt.block_on(async move {
        let addrs = start_nodes_with(nodes, strategy);
        let client = Handle::current().create_node().name("client").ip(host_ip(100)).build();
        client
            .spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                f((strategy, addrs)).await
            })
            .await
            .unwrap();
    });
}

fn ip(a: &SocketAddr) -> String {
    a.ip().to_string()
}

/// The ids in a CLUSTER NODES text, in line order.
fn ids_in(nodes: &str) -> Vec<String> {
    nodes.lines().filter_map(|l| l.split(' ').next()).map(str::to_string).collect()
}

/// Reads `line` on `addr` until `done` holds (every 100 ms, at most 10 s of virtual time); returns the last text.
/// Under read-index the first read must already satisfy it: a read after an OK never shows older state.
async fn read_until(strategy: Strategy, addr: SocketAddr, line: &str, done: impl Fn(&str) -> bool) -> String {
    let mut c = Conn::open(addr).await;
    let mut last = String::new();
    for attempt in 0..100 {
        let r = c.call(line).await;
        last = match r.as_text() {
            Some(t) => t.into_owned(),
            None => format!("{r:?}"),
        };
        if done(&last) {
            return last;
        }
        assert!(strategy != Strategy::ReadIndex, "read-index: {line} on {addr} (attempt {attempt}) gave {last:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{line} on {addr} never satisfied the condition; last: {last}");
}

fn info_field(info: &str, key: &str) -> String {
    info.lines().find_map(|l| l.strip_prefix(&format!("{key}:"))).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// MEETs `a[1..]` into a[0]'s group one by one (each MEET sent to a[0]) and waits until a[0] sees them all.
pub(super) async fn merge_all(strategy: Strategy, a: &[SocketAddr]) {
    let mut c = Conn::open(a[0]).await;
    for addr in &a[1..] {
        assert_eq!(c.call(&format!("CLUSTER MEET {} 7000", ip(addr))).await, Reply::ok(), "MEET {addr}");
        if strategy == Strategy::FireAndForget {
            // The merge runs in the background; the next MEET would race it (documented).
            let n = a.iter().position(|x| x == addr).unwrap() + 1;
            read_until(strategy, a[0], "CLUSTER NODES", |t| t.lines().count() == n).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[test]
fn meet_merges_clusters_of_one_into_one_group_seen_by_every_node() {
    for strategy in RAFT_STRATEGIES {
        run_raft(11, strategy, 4, |strategy, a| async move {
            let mut c1 = Conn::open(a[0]).await;
            // Both clusters of one: the target joins the receiver's group.
            assert_eq!(c1.call("CLUSTER MEET 10.0.0.2 7000").await, Reply::ok());
            read_until(strategy, a[1], "CLUSTER NODES", |t| ids_in(t) == vec![id(1), id(2)]).await;
            // A cluster of one as the target joins the receiver's group; AiKv's form with the id.
            assert_eq!(c1.call(&format!("CLUSTER MEET 10.0.0.3 7000 {}", id(3))).await, Reply::ok());
            read_until(strategy, a[2], "CLUSTER NODES", |t| t.lines().count() == 3).await;
            // MEET sent to the cluster of one (n4), naming a member of the group: n4 joins that group.
            let mut c4 = Conn::open(a[3]).await;
            assert_eq!(c4.call("CLUSTER MEET 10.0.0.1 7000").await, Reply::ok());
            // Same group: a no-op.
            let mut c2 = Conn::open(a[1]).await;
            if strategy == Strategy::FireAndForget {
                read_until(strategy, a[1], "CLUSTER NODES", |t| t.lines().count() == 4).await;
            }
            assert_eq!(c2.call("CLUSTER MEET 10.0.0.3 7000").await, Reply::ok());
            for (i, addr) in a.iter().enumerate() {
                let nodes = read_until(strategy, *addr, "CLUSTER NODES", |t| t.lines().count() == 4).await;
                assert_eq!(ids_in(&nodes), vec![id(1), id(2), id(3), id(4)], "{strategy} n{}", i + 1);
                assert_eq!(nodes.matches("myself").count(), 1, "{nodes}");
                let mine = nodes.lines().find(|l| l.contains("myself")).unwrap();
                assert!(
                    mine.starts_with(&format!("{} 10.0.0.{}:7000@17000 myself,master", id(i as u64 + 1), i + 1)),
                    "{mine}"
                );
                let info = read_until(strategy, *addr, "CLUSTER INFO", |t| t.contains("cluster_known_nodes:4")).await;
                assert!(info.contains("cluster_known_nodes:4"), "{info}");
            }
            // One group, one leader: everybody names the same one.
            let mut leaders = Vec::new();
            for addr in &a {
                let info =
                    read_until(POLL, *addr, "INFO", |t| !info_field(t, "clustersim_raft_leader").starts_with('-'))
                        .await;
                leaders.push(info_field(&info, "clustersim_raft_leader"));
            }
            leaders.dedup();
            assert_eq!(leaders.len(), 1, "{strategy}: {leaders:?}");
        });
    }
}

#[test]
fn two_multi_node_clusters_merge_into_one_keeping_slots_replicas_and_distinct_epochs() {
    for strategy in RAFT_STRATEGIES {
        run_raft(12, strategy, 5, |strategy, a| async move {
            merge_all(strategy, &a[0..2]).await;
            merge_all(strategy, &a[2..5]).await;
            let mut c1 = Conn::open(a[0]).await;
            let mut c3 = Conn::open(a[2]).await;
            assert_eq!(c1.call("CLUSTER ADDSLOTSRANGE 0 99").await, Reply::ok());
            assert_eq!(c3.call("CLUSTER ADDSLOTSRANGE 200 299").await, Reply::ok());
            assert_eq!(Conn::open(a[3]).await.call(&format!("CLUSTER REPLICATE {}", id(3))).await, Reply::ok());
            read_until(strategy, a[4], "CLUSTER NODES", |t| t.contains("slave") && t.contains("200-299")).await;
            read_until(strategy, a[1], "CLUSTER NODES", |t| t.contains("0-99")).await;
            // n1's cluster of 2 meets n3's cluster of 3: the smaller one (n1's) is absorbed whole.
            assert_eq!(c1.call("CLUSTER MEET 10.0.0.3 7000").await, Reply::ok(), "{strategy}");
            for (i, addr) in a.iter().enumerate() {
                let nodes = read_until(strategy, *addr, "CLUSTER NODES", |t| t.lines().count() == 5).await;
                assert_eq!(ids_in(&nodes), (1..=5).map(id).collect::<Vec<_>>(), "{strategy} n{}", i + 1);
                let line = |n: u64| nodes.lines().find(|l| l.starts_with(&id(n).to_string())).unwrap().to_string();
                assert!(line(1).ends_with("connected 0-99"), "{strategy}: {nodes}");
                assert!(line(3).ends_with("connected 200-299"), "{strategy}: {nodes}");
                assert!(line(4).contains(&format!("slave {}", id(3))), "{strategy}: {nodes}");
                let mut epochs: Vec<String> =
                    [1, 2, 3, 5].map(|n| line(n).split(' ').nth(6).unwrap().to_string()).into();
                epochs.sort();
                epochs.dedup();
                assert_eq!(epochs.len(), 4, "{strategy}: masters keep distinct epochs: {nodes}");
            }
            // One group: a write anywhere is seen everywhere.
            assert_eq!(Conn::open(a[4]).await.call("CLUSTER ADDSLOTS 500").await, Reply::ok());
            read_until(strategy, a[1], "CLUSTER NODES", |t| t.contains("connected 500")).await;
        });
    }
}

#[test]
fn a_merge_of_two_clusters_with_a_slot_conflict_fails_and_unseals_the_smaller_one() {
    for strategy in [Strategy::CommitThenSleep, Strategy::ReadIndex] {
        run_raft(14, strategy, 4, |strategy, a| async move {
            merge_all(strategy, &a[0..2]).await;
            merge_all(strategy, &a[2..4]).await;
            let mut c1 = Conn::open(a[0]).await;
            let mut c3 = Conn::open(a[2]).await;
            assert_eq!(c1.call("CLUSTER ADDSLOTSRANGE 0 99").await, Reply::ok());
            assert_eq!(c3.call("CLUSTER ADDSLOTSRANGE 50 60").await, Reply::ok());
            assert_eq!(
                c1.call("CLUSTER MEET 10.0.0.3 7000").await,
                Reply::error(format!(
                    "ERR Can't meet node {}: it serves slot 50, which {} already serves",
                    id(3),
                    id(1)
                ))
            );
            // Both clusters as they were, and n3's (sealed for the attempt) takes writes again.
            for (i, want) in [(0, [1, 2]), (1, [1, 2]), (2, [3, 4]), (3, [3, 4])] {
                let nodes = Conn::open(a[i]).await.text("CLUSTER NODES").await;
                assert_eq!(ids_in(&nodes), vec![id(want[0]), id(want[1])], "{strategy} n{}", i + 1);
            }
            assert_eq!(c3.call("CLUSTER ADDSLOTS 500").await, Reply::ok());
        });
    }
}

#[test]
fn a_merge_with_a_slot_conflict_fails_and_changes_nothing() {
    for strategy in RAFT_STRATEGIES {
        run_raft(13, strategy, 2, |strategy, a| async move {
            let mut c1 = Conn::open(a[0]).await;
            let mut c2 = Conn::open(a[1]).await;
            assert_eq!(c1.call("CLUSTER ADDSLOTSRANGE 0 100").await, Reply::ok());
            assert_eq!(c2.call("CLUSTER ADDSLOTSRANGE 50 60").await, Reply::ok());
            read_until(strategy, a[0], "CLUSTER NODES", |t| t.ends_with("connected 0-100\n")).await;
            read_until(strategy, a[1], "CLUSTER NODES", |t| t.ends_with("connected 50-60\n")).await;
            let r = c1.call("CLUSTER MEET 10.0.0.2 7000").await;
            if strategy == Strategy::FireAndForget {
                assert_eq!(r, Reply::ok(), "fire-and-forget answers before the merge is tried");
            } else {
                assert_eq!(
                    r,
                    Reply::error(format!(
                        "ERR Can't meet node {}: it serves slot 50, which {} already serves",
                        id(2),
                        id(1)
                    ))
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let n1 = c1.text("CLUSTER NODES").await;
            let n2 = c2.text("CLUSTER NODES").await;
            assert_eq!(n1, format!("{} :7000@17000 myself,master - 0 0 0 connected 0-100\n", id(1)), "{strategy}");
            assert_eq!(n2, format!("{} :7000@17000 myself,master - 0 0 0 connected 50-60\n", id(2)), "{strategy}");
            // n2 still runs its own group.
            assert_eq!(c2.call("CLUSTER ADDSLOTS 200").await, Reply::ok());
            read_until(strategy, a[1], "CLUSTER NODES", |t| t.ends_with("connected 50-60 200\n")).await;
        });
    }
}

#[test]
fn writes_on_followers_are_forwarded_to_the_leader() {
    for strategy in RAFT_STRATEGIES {
        run_raft(14, strategy, 3, |strategy, a| async move {
            merge_all(strategy, &a).await;
            let info = read_until(POLL, a[1], "INFO", |t| info_field(t, "clustersim_raft_role") == "follower").await;
            assert_eq!(info_field(&info, "clustersim_raft_leader"), id(1), "the founder leads");
            let mut c2 = Conn::open(a[1]).await;
            assert_eq!(c2.call("CLUSTER ADDSLOTSRANGE 0 100").await, Reply::ok());
            let mut c3 = Conn::open(a[2]).await;
            if strategy == Strategy::FireAndForget {
                read_until(strategy, a[2], "CLUSTER NODES", |t| t.contains("connected 0-100")).await;
            }
            assert_eq!(c3.call(&format!("CLUSTER REPLICATE {}", id(2))).await, Reply::ok());
            for addr in &a {
                let nodes =
                    read_until(strategy, *addr, "CLUSTER NODES", |t| t.contains(&format!("slave {}", id(2)))).await;
                assert!(nodes.contains(&format!("{} 10.0.0.2:7000@17000", id(2))), "{nodes}");
                assert!(nodes.contains("connected 0-100\n"), "{strategy}: {nodes}");
                assert!(
                    nodes.contains(&format!("{} 10.0.0.3:7000@17000", id(3)))
                        && nodes.contains(&format!("slave {}", id(2))),
                    "{nodes}"
                );
            }
        });
    }
}

#[test]
fn forget_removes_the_node_from_the_group_and_it_becomes_a_cluster_of_one() {
    for strategy in RAFT_STRATEGIES {
        run_raft(15, strategy, 3, |strategy, a| async move {
            merge_all(strategy, &a).await;
            read_until(strategy, a[2], "CLUSTER NODES", |t| t.lines().count() == 3).await;
            let mut c2 = Conn::open(a[1]).await;
            assert_eq!(c2.call(&format!("CLUSTER FORGET {}", id(3))).await, Reply::ok());
            for addr in &a[0..2] {
                let nodes = read_until(strategy, *addr, "CLUSTER NODES", |t| t.lines().count() == 2).await;
                assert_eq!(ids_in(&nodes), vec![id(1), id(2)]);
            }
            let alone = read_until(Strategy::FireAndForget, a[2], "CLUSTER NODES", |t| t.lines().count() == 1).await;
            assert!(alone.starts_with(&format!("{} 10.0.0.3:7000@17000 myself,master", id(3))), "{alone}");
            // The forgotten node runs its own group again: it takes writes, the others do not see them.
            let mut c3 = Conn::open(a[2]).await;
            assert_eq!(c3.call("CLUSTER ADDSLOTS 7").await, Reply::ok());
            read_until(strategy, a[2], "CLUSTER NODES", |t| t.ends_with("connected 7\n")).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(!Conn::open(a[0]).await.text("CLUSTER NODES").await.contains("connected 7"));
            // And it can be met again.
            if strategy != Strategy::FireAndForget {
                assert_eq!(Conn::open(a[0]).await.call("CLUSTER MEET 10.0.0.3 7000").await, Reply::ok());
                read_until(strategy, a[1], "CLUSTER NODES", |t| t.lines().count() == 3).await;
            }
        });
    }
}

#[test]
fn reset_hard_leaves_the_group_under_a_new_id() {
    for strategy in RAFT_STRATEGIES {
        run_raft(16, strategy, 3, |strategy, a| async move {
            merge_all(strategy, &a).await;
            read_until(strategy, a[1], "CLUSTER NODES", |t| t.lines().count() == 3).await;
            let mut c2 = Conn::open(a[1]).await;
            assert_eq!(c2.call("CLUSTER RESET HARD").await, Reply::ok());
            let new_id = c2.text("CLUSTER MYID").await;
            assert_ne!(new_id, id(2));
            let alone = read_until(strategy, a[1], "CLUSTER NODES", |t| t.lines().count() == 1).await;
            assert_eq!(alone, format!("{new_id} 10.0.0.2:7000@17000 myself,master - 0 0 0 connected\n"));
            for addr in [a[0], a[2]] {
                let nodes = read_until(strategy, addr, "CLUSTER NODES", |t| t.lines().count() == 2).await;
                assert_eq!(ids_in(&nodes), vec![id(1), id(3)]);
            }
        });
    }
}

#[test]
fn writes_still_succeed_after_the_leader_is_killed() {
    for strategy in RAFT_STRATEGIES {
        run_raft(17, strategy, 3, |strategy, a| async move {
            merge_all(strategy, &a).await;
            let info = read_until(POLL, a[2], "INFO", |t| info_field(t, "clustersim_raft_role") == "follower").await;
            assert_eq!(info_field(&info, "clustersim_raft_leader"), id(1));
            Handle::current().kill("n1");
            let mut c2 = Conn::open(a[1]).await;
            // Forwarded with retries until a new leader is elected among n2 and n3 (a majority of 3). Under
            // commit-then-sleep the write gives up after the seed's 5 s, which an election (2.5–5 s timeout) can
            // outlast: the client then retries, and a retry that finds the slots taken means the first landed.
            let mut reply = c2.call("CLUSTER ADDSLOTSRANGE 0 10").await;
            for _ in 0..2 {
                let timed_out =
                    matches!(&reply, Reply::Error(e) if e.starts_with("CLUSTERDOWN metadata write failed: "));
                if strategy != Strategy::CommitThenSleep || !timed_out {
                    break;
                }
                reply = match c2.call("CLUSTER ADDSLOTSRANGE 0 10").await {
                    Reply::Error(e) if e == "ERR Slot 0 is already busy" => Reply::ok(),
                    other => other,
                };
            }
            assert_eq!(reply, Reply::ok());
            let nodes = read_until(strategy, a[2], "CLUSTER NODES", |t| t.contains("connected 0-10\n")).await;
            assert!(nodes.contains(&format!("{} 10.0.0.2:7000@17000 master - 0 0", id(2))), "{nodes}");
            let info = read_until(POLL, a[2], "INFO", |t| info_field(t, "clustersim_raft_leader") != id(1)).await;
            assert!([id(2), id(3)].contains(&info_field(&info, "clustersim_raft_leader")), "{info}");
        });
    }
}

#[test]
fn read_index_refuses_to_answer_without_a_majority() {
    run_raft(18, Strategy::ReadIndex, 3, |strategy, a| async move {
        merge_all(strategy, &a).await;
        let mut c1 = Conn::open(a[0]).await;
        assert_eq!(c1.text("CLUSTER NODES").await.lines().count(), 3);
        Handle::current().kill("n2");
        Handle::current().kill("n3");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let r = c1.call("CLUSTER NODES").await;
        assert!(matches!(&r, Reply::Error(e) if e.starts_with("CLUSTERDOWN metadata read barrier failed: ")), "{r:?}");
        let r = c1.call("CLUSTER INFO").await;
        assert!(matches!(&r, Reply::Error(e) if e.starts_with("CLUSTERDOWN metadata read barrier failed: ")), "{r:?}");
    });
}

thread_local! {
    /// The trace being captured on this thread (the simulation runs on one thread), with its virtual start.
    static CAPTURE: std::cell::RefCell<Option<(std::time::Instant, Vec<u8>)>> = const { std::cell::RefCell::new(None) };
}

/// Writes into this thread's capture, if any.
struct CaptureWriter;

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some((_, out)) = c.borrow_mut().as_mut() {
                out.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Virtual time since the capture started.
struct VirtualUptime;

impl tracing_subscriber::fmt::time::FormatTime for VirtualUptime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let start = CAPTURE.with(|c| c.borrow().as_ref().map(|(s, _)| *s));
        let elapsed = start.map_or(Duration::ZERO, |s| s.elapsed());
        write!(w, "{:>12.6}s", elapsed.as_secs_f64())
    }
}

/// Captures the node's trace events (targets `clustersim*`, info and up) on this thread while `f` runs.
///
/// One process-wide subscriber, installed once: tracing caches each callsite's interest globally, so swapping
/// scoped subscribers while other test threads log would drop events at random.
async fn captured<F: Future>(f: F) -> (F::Output, String) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("clustersim=info"))
            .with_writer(|| CaptureWriter)
            .with_ansi(false)
            .with_timer(VirtualUptime)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in these tests");
    });
    CAPTURE.with(|c| *c.borrow_mut() = Some((std::time::Instant::now(), Vec::new())));
    let out = f.await;
    let trace = CAPTURE.with(|c| c.borrow_mut().take()).map(|(_, t)| t).unwrap_or_default();
    (out, String::from_utf8_lossy(&trace).into_owned())
}

/// A Raft MEET scenario; returns its trace and every reply, as text.
async fn meet_scenario() -> String {
    let (replies, trace) = captured(async {
        let addrs = start_nodes_with(3, Strategy::ReadIndex);
        let client = Handle::current().create_node().name("client").ip(host_ip(100)).build();
        client
            .spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let mut out = Vec::new();
                let mut c1 = Conn::open(addrs[0]).await;
                let mut c3 = Conn::open(addrs[2]).await;
                out.push(format!("{:?}", c1.call("CLUSTER MEET 10.0.0.2 7000").await));
                out.push(format!("{:?}", c3.call("CLUSTER MEET 10.0.0.1 7000").await));
                out.push(format!("{:?}", c3.call("CLUSTER ADDSLOTSRANGE 0 5000").await));
                out.push(format!("{:?}", c3.call("CLUSTER RESET HARD").await));
                out.push(c3.text("CLUSTER MYID").await);
                out.push(c1.text("CLUSTER NODES").await);
                out
            })
            .await
            .unwrap()
    })
    .await;
    format!("{trace}\n--- replies\n{}", replies.join("\n"))
}

/// The first line where two traces differ, with both versions.
fn first_difference(a: &str, b: &str) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let i = la.iter().zip(&lb).position(|(x, y)| x != y).unwrap_or(la.len().min(lb.len()));
    format!("line {i}:\n  {}\n  {}", la.get(i).unwrap_or(&"<end>"), lb.get(i).unwrap_or(&"<end>"))
}

#[test]
fn a_raft_meet_scenario_is_deterministic_for_a_seed() {
    let run = |seed| Runtime::with_seed_and_config(seed, madsim::Config::default()).block_on(meet_scenario());
    let first = run(21);
    let second = run(21);
    assert!(first.contains("meet: ") && first.contains("raft: role=Leader") && first.contains("bus: recv"), "{first}");
    let ok = format!("{:?}", Reply::ok());
    assert!(first.contains(&format!("--- replies\n{ok}\n{ok}\n{ok}\n{ok}\n")), "{first}");
    assert!(first == second, "same seed, same process: the traces differ at\n{}", first_difference(&first, &second));
    let other = run(22);
    assert_ne!(first, other, "another seed gives another schedule");
    // madsim's own check: the same seed twice, comparing every random draw and its virtual time.
    Runtime::check_determinism(23, madsim::Config::default(), meet_scenario);
}

/// A node's table with its own `myself,` flag removed, lines sorted: the same text on every node that agrees.
fn table(nodes: &str) -> Vec<String> {
    let mut lines: Vec<String> = nodes.lines().map(|l| l.replace("myself,", "")).collect();
    lines.sort();
    lines
}

#[test]
fn nodes_restarted_from_their_data_files_come_back_with_their_ids_and_tables() {
    let root = std::env::temp_dir().join(format!("clustersim-durable-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.clone();
    Runtime::with_seed_and_config(21, madsim::Config::default()).block_on(async move {
        let a = start_nodes_on(3, Strategy::ReadIndex, Some(&dir));
        let client = Handle::current().create_node().name("client").ip(host_ip(100)).build();
        client
            .spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                merge_all(Strategy::ReadIndex, &a).await;
                assert_eq!(Conn::open(a[1]).await.call("CLUSTER ADDSLOTSRANGE 0 100").await, Reply::ok());
                let before = table(&Conn::open(a[1]).await.text("CLUSTER NODES").await);
                assert_eq!(before.len(), 3, "{before:?}");
                // A follower, then the leader (n1 sent the MEETs and leads), each killed and started again.
                for (name, addr) in [("n3", a[2]), ("n1", a[0])] {
                    Handle::current().kill(name);
                    Handle::current().restart(name);
                    let after = read_until(POLL, addr, "CLUSTER NODES", |t| table(t) == before).await;
                    assert_eq!(table(&after), before, "{name} after its restart");
                    assert_eq!(Conn::open(addr).await.text("CLUSTER MYID").await, id(name[1..].parse().unwrap()));
                }
                // The reopened group takes writes (n3 assigns itself slots) and replicates them to every member.
                assert_eq!(Conn::open(a[2]).await.call("CLUSTER ADDSLOTSRANGE 200 300").await, Reply::ok());
                let n3 = format!("{} 10.0.0.3:7000@17000", id(3));
                for addr in &a {
                    read_until(POLL, *addr, "CLUSTER NODES", |t| {
                        t.lines().any(|l| l.contains(&n3) && l.ends_with("connected 200-300"))
                    })
                    .await;
                }
            })
            .await
            .unwrap();
    });
    let _ = std::fs::remove_dir_all(&root);
}
