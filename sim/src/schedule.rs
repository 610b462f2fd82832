//! The network profiles' fault schedules (`Profile` is plain data in profile.rs; this is what drives it): a
//! task on the harness's own host that pauses, clogs, kills and partitions through the fault injector until the
//! scenario's `settle` stops it. Every draw comes from madsim's seeded RNG.

use std::time::Duration;

use madsim::rand::Rng;

use crate::faults::Faults;
use crate::profile::Profile;

/// Runs `profile`'s fault schedule until `faults` is stopped (a no-op for static profiles).
pub async fn drive(profile: Profile, faults: Faults) {
    let nodes = faults.node_count();
    match profile {
        Profile::SlowFollower if nodes >= 2 => slow_follower(&faults).await,
        Profile::Flaky if nodes >= 2 => flaky(&faults, nodes).await,
        Profile::Swarm => {
            while !faults.profile_stopped() {
                swarm_fault(&faults, nodes).await;
            }
        }
        _ => {}
    }
}

/// Host n2 paused 250 ms out of every 300 ms.
async fn slow_follower(faults: &Faults) {
    while !faults.profile_stopped() {
        faults.profile_pause(2, true);
        tokio::time::sleep(Duration::from_millis(250)).await;
        faults.profile_pause(2, false);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A random link between two cluster hosts clogged for 50–800 ms after a 100–1500 ms pause, again and again.
async fn flaky(faults: &Faults, nodes: usize) {
    while !faults.profile_stopped() {
        let (a, b, pause, hold) = {
            let mut rng = madsim::rand::thread_rng();
            let a = rng.gen_range(0..nodes);
            let mut b = rng.gen_range(0..nodes - 1);
            if b >= a {
                b += 1;
            }
            (a + 1, b + 1, rng.gen_range(100..1500u64), rng.gen_range(50..800u64))
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        faults.profile_clog(a, b, true);
        tokio::time::sleep(Duration::from_millis(hold)).await;
        faults.profile_clog(a, b, false);
    }
}

/// One swarm fault after a 0.3–3 s gap: a kill and restart, a pause, a partition or a one-way clog of a random
/// host or link, held 100 ms–4 s.
async fn swarm_fault(faults: &Faults, nodes: usize) {
    let (gap, hold, action, a, b, cut) = {
        let mut rng = madsim::rand::thread_rng();
        let a = rng.gen_range(1..=nodes);
        let mut b = rng.gen_range(1..nodes.max(2));
        if b >= a {
            b += 1;
        }
        (
            rng.gen_range(300..3000u64),
            rng.gen_range(100..4000u64),
            rng.gen_range(0..4u8),
            a,
            b,
            rng.gen_range(1..nodes.max(2)),
        )
    };
    tokio::time::sleep(Duration::from_millis(gap)).await;
    let hold = Duration::from_millis(hold);
    match action {
        0 if faults.profile_kill(a) => {
            tokio::time::sleep(hold).await;
            faults.profile_restart(a);
        }
        0 => {}
        1 => {
            faults.trace(&format!("swarm: pause n{a} for {}ms", hold.as_millis()));
            faults.profile_pause(a, true);
            tokio::time::sleep(hold).await;
            faults.profile_pause(a, false);
        }
        2 if nodes >= 2 => swarm_partition(faults, nodes, a, cut, hold).await,
        _ if nodes >= 2 => {
            faults.trace(&format!("swarm: clog n{a}->n{b} for {}ms", hold.as_millis()));
            faults.profile_clog_one_way(a, b, true);
            tokio::time::sleep(hold).await;
            faults.profile_clog_one_way(a, b, false);
        }
        _ => {}
    }
}

/// Nodes split in two sides of `cut` nodes and the rest (a seeded rotation by `a`), every link between the sides
/// clogged both ways for `hold`.
async fn swarm_partition(faults: &Faults, nodes: usize, a: usize, cut: usize, hold: Duration) {
    let side = |n: usize| (n + a) % nodes < cut;
    faults.trace(&format!("swarm: partition for {}ms", hold.as_millis()));
    let links: Vec<(usize, usize)> = (1..=nodes)
        .flat_map(|x| (1..=nodes).map(move |y| (x, y)))
        .filter(|&(x, y)| x != y && side(x) != side(y))
        .collect();
    for &(x, y) in &links {
        faults.profile_clog_one_way(x, y, true);
    }
    tokio::time::sleep(hold).await;
    for &(x, y) in &links {
        faults.profile_clog_one_way(x, y, false);
    }
}
