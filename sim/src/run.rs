//! One simulated run: a scenario, a seed, a strategy → history, trace, verdict.
//!
//! The world: hosts `n1..nN` at 10.0.0.i (`hosts::hosts`), each running the real `clustersim::server::serve`
//! inside a madsim node — so killing a host kills its tasks; the profile's fault schedule on a `network` host;
//! the scenario executed on a separate client host (10.0.1.1). The top of the simulation stack: it builds the
//! world and hands the steps to the executor; the checkers and the verdict run in `outcome::finish`.

use std::net::IpAddr;
use std::time::Duration;

use crate::hosts::{hosts, Host};
use crate::outcome::{finish, Outcome, RawOutcome, RunOptions};
use crate::profile::Profile;
use crate::scenario::Scenario;
use crate::trace::TraceSink;
use crate::verdict::FaultWindow;

/// Runs `scenario` once. Deterministic: the same scenario, seed and strategy give the same outcome, trace and
/// hash, in any process.
pub fn run(scenario: &Scenario, options: &RunOptions) -> Outcome {
    let sink = TraceSink::default();
    let hosts = hosts(scenario);
    let collecting = crate::coverage::collect();
    let mut raw = {
        let _capture = crate::trace::capture(&sink);
        let rt = madsim::runtime::Runtime::with_seed_and_config(options.seed, madsim_config(options));
        rt.block_on(world(scenario.clone(), hosts.clone(), options.clone(), sink.clone()))
    };
    // A BUGGIFY fault (an answer lost, a call failed) is a fault like a kill: an error it causes is availability.
    let faults = collecting.take_faults();
    if !faults.is_empty() {
        for (point, at) in faults {
            raw.windows.push(FaultWindow { start: at, end: at, opened_by: format!("buggify: {point}"), kills: vec![] });
        }
        raw.windows.sort_by_key(|w| (w.start, w.end));
    }
    let mut outcome = finish(raw, sink, hosts, options);
    for (name, at) in collecting.take() {
        crate::coverage::record(&mut outcome.probes, &name, at);
    }
    outcome
}

fn madsim_config(options: &RunOptions) -> madsim::Config {
    madsim::Config { net: options.profile.net_config(options.seed), ..Default::default() }
}

/// The simulated world of one run: the hosts running real nodes, the profile's network driver, and the client
/// host executing the scenario. Runs inside a madsim runtime.
async fn world(scenario: Scenario, hosts: Vec<Host>, options: RunOptions, sink: TraceSink) -> RawOutcome {
    use clustersim::server::{serve, Node, NodeConfig};
    // On the runtime's own thread (also under `check_determinism`, which runs the world on fresh threads).
    clustersim::raft::rt::set_buggify(options.buggify);
    let handle = madsim::runtime::Handle::current();
    let mut node_ids = Vec::new();
    for host in &hosts {
        let mut config = NodeConfig::new(host.id, host.ip.to_string(), host.port);
        config.bus_port = host.bus_port;
        config.strategy = options.strategy;
        let node_number = host.number;
        let percent = scenario.header.drift.iter().find(|(n, _)| *n == node_number).map(|(_, p)| *p);
        let percent = percent.unwrap_or_else(|| options.profile.drift_percent(options.seed, node_number));
        config.clock = clustersim::raft::ClockRate { ppm: percent * 10_000 };
        let node = handle
            .create_node()
            .name(&host.name)
            .ip(host.ip)
            .init(move || {
                let config = config.clone();
                async move {
                    if let Err(e) = serve(Node::new(config)).await {
                        tracing::error!(target: "clustersim::sim", error = %e, "node stopped");
                    }
                }
            })
            .build();
        node_ids.push(node.id());
    }
    let impaired_by = (options.profile != Profile::Lan).then(|| options.profile.to_string());
    let faults = crate::faults::Faults::new(node_ids.clone(), sink.clone(), impaired_by);
    let network = handle.create_node().name("network").build();
    network.spawn(crate::schedule::drive(options.profile, faults.clone()));
    let client_host = handle.create_node().name("client").ip(IpAddr::from([10, 0, 1, 1])).build();
    let outcome = client_host
        .spawn(async move {
            // Let every node bind its listeners before the first call.
            tokio::time::sleep(Duration::from_millis(1)).await;
            crate::executor::execute(&scenario, &hosts, sink, std::sync::Arc::new(faults)).await
        })
        .await
        .expect("the scenario task is never cancelled");
    // Kill every host and let the executor drop their tasks: madsim does not drop pending tasks when a runtime is
    // dropped, and tasks waiting on each other (Raft cores, connections) would otherwise leak, run after run.
    for id in node_ids.into_iter().chain([network.id(), client_host.id()]) {
        handle.kill(id);
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    clustersim::raft::rt::set_buggify(false);
    outcome
}

/// The run `check_determinism` repeats (a `fn` pointer cannot capture it).
static CHECKED_RUN: std::sync::Mutex<Option<(Scenario, RunOptions)>> = std::sync::Mutex::new(None);

/// Runs the scenario twice under madsim's own determinism checker (`Runtime::check_determinism`: every random
/// draw of the second run must match the first, in value and in virtual time), each time on a fresh thread — the
/// check `MADSIM_TEST_CHECK_DETERMINISM` performs for `#[madsim::test]`. Panics on divergence. Returns the
/// outcome of the second run (without the trace: its threads are madsim's, with no sink attached).
pub fn run_checking_determinism(scenario: &Scenario, options: &RunOptions) -> Outcome {
    // One checked run at a time per process: the slot above is shared.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *CHECKED_RUN.lock().expect("checked run lock") = Some((scenario.clone(), options.clone()));
    let raw = madsim::runtime::Runtime::check_determinism(options.seed, madsim_config(options), || async {
        let (scenario, options) = CHECKED_RUN.lock().expect("checked run lock").clone().expect("set above");
        let hosts = hosts(&scenario);
        world(scenario, hosts, options, TraceSink::default()).await
    });
    finish(raw, TraceSink::default(), hosts(scenario), options)
}
