//! The executor: runs a scenario's steps with one client, judging `expect`, `settle` and `wait-consistent` as it
//! goes, and hands fault steps to a [`Control`]. The same in simulation (`faults::Faults`) and in real mode
//! (`real::Processes`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clustersim::resp::Reply;

use crate::check::views::NodeView;
use crate::check::{Settled, Violation};
use crate::client::{show_reply, Client};
use crate::history::CallRecord;
use crate::hosts::{expand_all, known_node_count, normalize, resolve_one, show_command, Host};
use crate::outcome::RawOutcome;
use crate::scenario::{Check, Fault, ReadOp, Scenario, Step, Target, Word, Workload, WriteOp};
use crate::trace::{now, TraceSink};
use crate::verdict::FaultWindow;

/// What carries out the scenario's fault steps: madsim's hosts and network in simulation (`faults::Faults`),
/// real processes in real mode (`real::Processes`).
pub(crate) trait Control: Send + Sync {
    /// Carries out one fault step.
    fn apply(&self, fault: &Fault);
    /// The liveness phase begins (`settle`): every fault is undone.
    fn stop_all(&self);
    /// How many times `node`'s process was killed or restarted (the client reconnects when it changes).
    fn generation(&self, node: usize) -> u64;
    /// The fault windows so far (a window still open ends now): the intervals during which any fault was active.
    fn windows(&self) -> Vec<FaultWindow>;
}

/// How often `settle` and `wait-consistent` poll the nodes.
pub const POLL_INTERVAL_MS: u64 = 100;

/// One run's executor state: the client, its history, and what was judged so far.
struct Executor<'a> {
    hosts: &'a [Host],
    sink: TraceSink,
    faults: Arc<dyn Control>,
    client: Client,
    violations: Vec<Violation>,
    settled: Vec<Settled>,
    /// The background workloads running now (`workload reads …`).
    workloads: Vec<Running>,
}

/// One background workload client: its task, and the calls it has finished (a call in flight when the workload
/// stops is abandoned and never recorded).
struct Running {
    /// Reads or writes: a new workload of one kind replaces the running one of that kind.
    writes: bool,
    task: tokio::task::JoinHandle<()>,
    /// The client's call in flight (recorded as abandoned when the workload stops).
    in_flight: Arc<std::sync::Mutex<Option<CallRecord>>>,
    done: Arc<std::sync::Mutex<Vec<CallRecord>>>,
}

/// Executes the scenario's steps, then reads every node's final CLUSTER NODES.
pub(crate) async fn execute(
    scenario: &Scenario,
    hosts: &[Host],
    sink: TraceSink,
    faults: Arc<dyn Control>,
) -> RawOutcome {
    let mut client = Client::new(hosts, sink.clone());
    let restarts = faults.clone();
    client.follow_restarts(move |node| restarts.generation(node));
    let mut run =
        Executor { hosts, sink, faults, client, violations: Vec::new(), settled: Vec::new(), workloads: Vec::new() };
    for (index, step) in scenario.steps.iter().enumerate() {
        run.step(step, scenario.line_of(index)).await;
    }
    run.stop_workloads(|_| true).await;
    // Workload calls ran alongside the steps: the history is in order of the calls' start (stable for ties).
    run.client.history.sort_by_key(|c| c.start);
    let end = now();
    let mut final_nodes = Vec::new();
    for node in 1..=hosts.len() {
        let args = [Bytes::from_static(b"CLUSTER"), Bytes::from_static(b"NODES")];
        let reply = run.client.call(node, &args, "CLUSTER NODES", 0).await;
        final_nodes.push(normalize(&reply_text(&reply).unwrap_or_else(|| show_reply(&reply)), hosts));
    }
    RawOutcome {
        history: run.client.history,
        violations: run.violations,
        final_nodes,
        virtual_time: end,
        settled: run.settled,
        windows: run.faults.windows(),
        strict: scenario.header.strict,
    }
}

impl Executor<'_> {
    async fn step(&mut self, step: &Step, line: usize) {
        match step {
            Step::Comment(_) => {}
            Step::Sleep { ms } => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Step::Fault(fault) => self.faults.apply(fault),
            Step::WaitConsistent { within_ms } => self.wait_consistent(line, *within_ms).await,
            Step::Settle { within_ms } => self.settle(line, *within_ms).await,
            Step::Call { target, command } => self.calls(*target, command, line, None).await,
            Step::Expect { target, command, check } => self.calls(*target, command, line, Some(check)).await,
            Step::Workload(workload) => self.workload(workload, line).await,
        }
    }

    /// Starts a read or write workload (replacing the running one of its kind) or stops every workload.
    async fn workload(&mut self, workload: &Workload, line: usize) {
        let (every_ms, on, writes) = match workload {
            Workload::Stop => return self.stop_workloads(|_| true).await,
            Workload::Reads { every_ms, on, .. } => (*every_ms, *on, false),
            Workload::Writes { every_ms, on, .. } => (*every_ms, *on, true),
        };
        self.stop_workloads(|r| r.writes == writes).await;
        let nodes = targets(on, self.hosts.len());
        let every = Duration::from_millis(every_ms);
        for (k, &node) in nodes.iter().enumerate() {
            let done = Arc::new(std::sync::Mutex::new(Vec::new()));
            let mut client = Client::for_workload(self.hosts, self.sink.clone());
            let restarts = self.faults.clone();
            client.follow_restarts(move |node| restarts.generation(node));
            let in_flight = client.in_flight();
            // The clients start spread over one period, so they do not all call at the same instant.
            let offset = Duration::from_millis(every_ms * k as u64 / nodes.len() as u64);
            let task = match workload {
                Workload::Reads { ops, .. } => {
                    let reads = ReadLoop { client, node, line, every, ops: ops.clone() };
                    tokio::spawn(reads.run(offset, done.clone()))
                }
                Workload::Writes { ops, slots, .. } => {
                    let hosts = self.hosts.to_vec();
                    let loop_ = WriteLoop { client, hosts, node, k, line, every, ops: ops.clone(), slots: *slots };
                    tokio::spawn(loop_.run(offset, done.clone()))
                }
                Workload::Stop => unreachable!("returned above"),
            };
            self.workloads.push(Running { writes, task, done, in_flight });
        }
        self.sink.push("client", &format!("workload started: {workload} ({} clients)", nodes.len()));
    }

    /// Stops the running workloads `which` selects and adds the calls they finished to the history.
    async fn stop_workloads(&mut self, which: impl Fn(&Running) -> bool) {
        let (stopping, running): (Vec<Running>, Vec<Running>) =
            std::mem::take(&mut self.workloads).into_iter().partition(|r| which(r));
        self.workloads = running;
        if stopping.is_empty() {
            return;
        }
        let (mut calls, mut abandoned) = (0, 0);
        for running in stopping {
            running.task.abort();
            let _ = running.task.await;
            let done = std::mem::take(&mut *running.done.lock().expect("workload history lock"));
            calls += done.len();
            self.client.history.extend(done);
            // A write sent and not answered may still take effect: it stays in the history, outcome unknown. A
            // read without a reply says nothing.
            if let Some(call) = Client::abandoned(&running.in_flight).filter(|c| c.op.is_write()) {
                abandoned += 1;
                self.client.history.push(call);
            }
        }
        let abandoned = match abandoned {
            0 => String::new(),
            n => format!(", {n} write{} abandoned in flight", if n == 1 { "" } else { "s" }),
        };
        self.sink.push("client", &format!("workload stopped ({calls} calls recorded{abandoned})"));
    }

    /// Sends `command` to every target node in turn, judging each reply against `check` (an `expect`) as it
    /// comes.
    async fn calls(&mut self, target: Target, command: &[Word], line: usize, check: Option<&Check>) {
        let args = expand_all(command, self.hosts);
        let shown = show_command(command, self.hosts);
        for node in targets(target, self.hosts.len()) {
            let reply = self.client.call(node, &args, &shown, line).await;
            if let Some(v) = check.and_then(|check| judge(check, &reply, node, line, self.hosts)) {
                self.violation(v);
            }
        }
    }

    fn violation(&mut self, v: Violation) {
        self.sink.push("check", &format!("VIOLATION {v}"));
        self.violations.push(v);
    }

    /// redis-cli's wait for the cluster to join: polls until every node answers and the config signatures agree,
    /// or the bound passes.
    async fn wait_consistent(&mut self, line: usize, within_ms: u64) {
        let start = now();
        let deadline = start + Duration::from_millis(within_ms);
        let mut last = None;
        loop {
            let round = self.poll_views(line, false, deadline).await;
            if let Some(views) = round {
                let unreachable = views.iter().find_map(|v| v.nodes.as_ref().err().map(|e| (v.node, e.clone())));
                let differ = crate::check::agreement::first_difference(&views, line);
                if unreachable.is_none() && differ.is_none() {
                    let waited = (now() - start).as_millis();
                    self.sink.push("check", &format!("wait-consistent: config signatures agree after {waited}ms"));
                    return;
                }
                last = Some(unreachable.map_or_else(
                    || differ.expect("checked above"),
                    |(node, error)| Violation::Unavailable { line, node, error },
                ));
            }
            if now() >= deadline {
                let cause = last.unwrap_or_else(|| unpolled(line, within_ms));
                let v = Violation::NeverConsistent { line, within_ms, cause: Box::new(cause) };
                self.violation(v.normalized(self.hosts));
                return;
            }
            tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
        }
    }

    /// The liveness phase: every fault stops, then the nodes are polled until converged and agreeing, or the
    /// bound passes. No poll outlives the bound: a round cut short by it is not judged, the last whole round is.
    async fn settle(&mut self, line: usize, within_ms: u64) {
        self.faults.stop_all();
        // Writes keep the tables changing: a cluster cannot be seen to converge while a write workload runs.
        self.stop_workloads(|r| r.writes).await;
        let start = now();
        let deadline = start + Duration::from_millis(within_ms);
        // A stopped workload's calls were appended in a block: the expected membership reads MEETs and FORGETs
        // in the order they were sent (a stable sort: the run's final sort gives the same order).
        self.client.history.sort_by_key(|c| c.start);
        let expected = crate::check::convergence::expected_members(&self.client.history, self.hosts);
        let mut last = None;
        loop {
            if let Some(views) = self.poll_views(line, true, deadline).await {
                if crate::check::liveness::settled(&views, &expected, self.hosts) {
                    let waited = (now() - start).as_millis();
                    self.sink.push("check", &format!("settle: converged and agreeing after {waited}ms"));
                    self.settled.push(Settled { start, views });
                    return;
                }
                last = Some(views);
            }
            crate::coverage::note("sim.settle_polled_again", now());
            if now() >= deadline {
                let verdict = match &last {
                    Some(views) => crate::check::liveness::verdict(views, &expected, self.hosts, line, within_ms),
                    None => Some(Violation::NotSettled { line, within_ms, cause: Box::new(unpolled(line, within_ms)) }),
                };
                if let Some(v) = verdict {
                    self.violation(v.normalized(self.hosts));
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
        }
    }

    /// One poll round: every node's CLUSTER NODES (and CLUSTER SLOTS if `with_slots`), recorded quietly. `None`
    /// when `deadline` passed before the round was whole (a call still unanswered at the deadline is given up).
    async fn poll_views(&mut self, line: usize, with_slots: bool, deadline: Duration) -> Option<Vec<NodeView>> {
        let mut views = Vec::with_capacity(self.hosts.len());
        for node in 1..=self.hosts.len() {
            let nodes = self.poll(node, "NODES", line, deadline).await?;
            let slots = if with_slots { Some(self.poll(node, "SLOTS", line, deadline).await?) } else { None };
            views.push(NodeView { node, nodes, slots });
        }
        Some(views)
    }

    /// One poll: the reply's text or error; `None` when the deadline passed first.
    async fn poll(
        &mut self,
        node: usize,
        sub: &'static str,
        line: usize,
        deadline: Duration,
    ) -> Option<Result<String, String>> {
        let budget = deadline.checked_sub(now()).filter(|b| !b.is_zero())?;
        let args = [Bytes::from_static(b"CLUSTER"), Bytes::from(sub)];
        let shown = format!("CLUSTER {sub}");
        let reply = self.client.call_quiet_within(node, &args, &shown, line, budget).await;
        match reply {
            Reply::Error(_) if now() >= deadline => None,
            Reply::Error(e) => Some(Err(e)),
            other => Some(Ok(reply_text(&other).unwrap_or_else(|| show_reply(&other)))),
        }
    }
}

/// One client of a read workload: reads `node` over and over, one op of `ops` after another, `every` apart.
struct ReadLoop {
    client: Client,
    node: usize,
    line: usize,
    every: Duration,
    ops: Vec<ReadOp>,
}

impl ReadLoop {
    async fn run(mut self, offset: Duration, done: Arc<std::sync::Mutex<Vec<CallRecord>>>) {
        tokio::time::sleep(offset).await;
        for op in self.ops.iter().cycle() {
            let args = [Bytes::from_static(b"CLUSTER"), Bytes::from_static(op.subcommand().as_bytes())];
            let shown = format!("CLUSTER {}", op.subcommand());
            self.client.call(self.node, &args, &shown, self.line).await;
            done.lock().expect("workload history lock").append(&mut self.client.history);
            tokio::time::sleep(self.every).await;
        }
    }
}

/// One client of a write workload: writes through `node`, one op of `ops` after another, `every` apart. It is
/// client `k` of its workload (which slots it claims when: see [`Workload::Writes`]).
struct WriteLoop {
    client: Client,
    hosts: Vec<Host>,
    node: usize,
    k: usize,
    line: usize,
    every: Duration,
    ops: Vec<WriteOp>,
    slots: (u16, u16),
}

impl WriteLoop {
    async fn run(mut self, offset: Duration, done: Arc<std::sync::Mutex<Vec<CallRecord>>>) {
        tokio::time::sleep(offset).await;
        let span = u64::from(self.slots.1 - self.slots.0) + 1;
        let others: Vec<usize> = (1..=self.hosts.len()).filter(|n| *n != self.node).collect();
        for round in 0u64.. {
            for op in self.ops.clone() {
                match op {
                    WriteOp::Slots => {
                        let slot = self.slots.0 + ((self.k as u64 + round) % span) as u16;
                        let claimed = self.cluster(&["ADDSLOTS", &slot.to_string()], &done).await;
                        tokio::time::sleep(self.every).await;
                        if claimed {
                            self.cluster(&["DELSLOTS", &slot.to_string()], &done).await;
                            tokio::time::sleep(self.every).await;
                        }
                    }
                    WriteOp::Meet if others.is_empty() => tokio::time::sleep(self.every).await,
                    WriteOp::Meet => {
                        let other = &self.hosts[others[(self.k + round as usize) % others.len()] - 1];
                        let (ip, port) = (other.ip.to_string(), other.port.to_string());
                        self.cluster(&["MEET", &ip, &port], &done).await;
                        tokio::time::sleep(self.every).await;
                    }
                }
            }
        }
    }

    /// Sends `CLUSTER <args>` to the client's node, records the call; whether the node answered `+OK`.
    async fn cluster(&mut self, args: &[&str], done: &std::sync::Mutex<Vec<CallRecord>>) -> bool {
        let mut full = vec![Bytes::from_static(b"CLUSTER")];
        full.extend(args.iter().map(|a| Bytes::from(a.to_string())));
        let shown = format!("CLUSTER {}", args.join(" "));
        let reply = self.client.call(self.node, &full, &shown, self.line).await;
        done.lock().expect("workload history lock").append(&mut self.client.history);
        matches!(&reply, Reply::Simple(s) if s == "OK")
    }
}

/// The cause when not one poll round was whole before the bound.
fn unpolled(line: usize, within_ms: u64) -> Violation {
    Violation::Unavailable { line, node: 0, error: format!("(harness) no whole poll round within {within_ms} ms") }
}

fn targets(target: Target, nodes: usize) -> Vec<usize> {
    match target {
        Target::Node(i) => vec![i],
        Target::All => (1..=nodes).collect(),
    }
}

fn reply_text(reply: &Reply) -> Option<String> {
    reply.as_text().map(|t| t.into_owned())
}
fn judge(check: &Check, reply: &Reply, node: usize, line: usize, hosts: &[Host]) -> Option<Violation> {
    let error = match reply {
        Reply::Error(e) => Some(e.clone()),
        _ => None,
    };
    let text = reply_text(reply).unwrap_or_default();
    if let (Some(error), Check::KnownNodes(_) | Check::Knows(_) | Check::Contains(_)) = (&error, check) {
        return Some(Violation::Unavailable { line, node, error: error.clone() });
    }
    match check {
        Check::KnownNodes(expected) => {
            let known = if error.is_some() { 0 } else { known_node_count(&text) };
            (error.is_some() || known != *expected).then_some(Violation::KnownNodes {
                line,
                node,
                expected: *expected,
                known,
                error,
            })
        }
        Check::Knows(word) => {
            let id = resolve_one(word, hosts);
            let listed = error.is_none() && text.lines().any(|l| l.starts_with(&id));
            (!listed).then(|| Violation::MissingNode { line, node, missing: normalize(&id, hosts), error })
        }
        Check::Reply(word) => {
            let expected = resolve_one(word, hosts);
            let matches = match reply {
                Reply::Simple(s) | Reply::Error(s) | Reply::Verbatim(s) => *s == expected,
                Reply::Bulk(b) => **b == *expected.as_bytes(),
                Reply::Int(i) => i.to_string() == expected,
                _ => false,
            };
            (!matches).then(|| Violation::UnexpectedReply {
                line,
                node,
                expected: normalize(&expected, hosts),
                got: normalize(&show_reply(reply), hosts),
            })
        }
        Check::Contains(word) => {
            let expected = resolve_one(word, hosts);
            let shown = show_reply(reply);
            let found = text.contains(&expected) || shown.contains(&expected);
            (!found).then(|| Violation::MissingText {
                line,
                node,
                expected: normalize(&expected, hosts),
                got: normalize(&shown, hosts),
            })
        }
    }
}
