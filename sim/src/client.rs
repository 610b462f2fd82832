//! A RESP client over the simulated network that records every call and reply with its virtual times (the
//! history checkers read) and writes them to the trace.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use clustersim::resp::{encode_request, take_reply, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::history::{CallRecord, Op};
use crate::hosts::Host;
use crate::trace::{now, TraceSink};

/// Bound on one call: connect, send, and read the reply. Longer than the node's own write deadline (12 s), so a
/// write riding out an election answers (OK or an error) before the client gives up on it.
pub const CALL_TIMEOUT_MS: u64 = 15_000;

pub struct Client {
    hosts: Vec<Host>,
    /// Open connections, with the generation of the node's process each was made to.
    conns: BTreeMap<usize, (TcpStream, BytesMut, u64)>,
    /// The current generation of each node's process (see `Faults::generation`).
    generation: Option<Box<dyn Fn(usize) -> u64 + Send>>,
    sink: TraceSink,
    /// A background workload's client: its calls are traced in a short form and marked in the history.
    workload: bool,
    /// A workload client's call in flight, as it will be recorded if the workload stops before the reply
    /// ([`Client::abandoned`]).
    in_flight: Arc<Mutex<Option<CallRecord>>>,
    pub history: Vec<CallRecord>,
}

/// The reply recorded for a workload call still in flight when its workload stopped: an unknown outcome (the
/// node may yet apply it), as Jepsen records an `:info` operation.
pub const ABANDONED: &str = "(client) abandoned: the workload stopped before the reply";

impl Client {
    pub fn new(hosts: &[Host], sink: TraceSink) -> Self {
        Client {
            hosts: hosts.to_vec(),
            conns: BTreeMap::new(),
            generation: None,
            sink,
            workload: false,
            in_flight: Arc::new(Mutex::new(None)),
            history: Vec::new(),
        }
    }

    /// Where a workload client keeps its call in flight: [`Client::abandoned`] reads it after the task stopped.
    pub fn in_flight(&self) -> Arc<Mutex<Option<CallRecord>>> {
        self.in_flight.clone()
    }

    /// The call that was in flight in `slot` when its client stopped, recorded as sent at its start and
    /// abandoned now with the [`ABANDONED`] error (every write sent is in the history: the node may apply it).
    pub fn abandoned(slot: &Mutex<Option<CallRecord>>) -> Option<CallRecord> {
        let mut call = slot.lock().expect("in-flight lock").take()?;
        call.end = now();
        Some(call)
    }

    /// A background workload's client (`workload reads …`): each call is traced as `w-> nK CLUSTER NODES` and
    /// its reply as a one-line summary (`<- 6 lines`, or the error), and marked as a workload call.
    pub fn for_workload(hosts: &[Host], sink: TraceSink) -> Self {
        Client { workload: true, ..Client::new(hosts, sink) }
    }

    /// Lets the client notice restarts: a connection made to an earlier process of a node is dropped before the
    /// next call (that process and its sockets are gone; a real client would find out by a reset).
    pub fn follow_restarts(&mut self, generation: impl Fn(usize) -> u64 + Send + 'static) {
        self.generation = Some(Box::new(generation));
    }

    /// Sends `args` to node `node` (1-based) and records the exchange. Transport failures become error replies
    /// starting with `(client)`, so they are visible in the history like any other answer.
    pub async fn call(&mut self, node: usize, args: &[Bytes], shown: &str, line: usize) -> Reply {
        self.call_with(node, args, shown, line, None).await
    }

    /// A harness poll: like [`Client::call`], recorded in the history but kept out of the trace, and given up
    /// after `budget` if that is shorter than [`CALL_TIMEOUT_MS`] (a poll never outlives its step's bound).
    pub async fn call_quiet_within(
        &mut self,
        node: usize,
        args: &[Bytes],
        shown: &str,
        line: usize,
        budget: Duration,
    ) -> Reply {
        self.call_with(node, args, shown, line, Some(budget)).await
    }

    /// `budget`: `None` for a scenario call (traced, [`CALL_TIMEOUT_MS`]); `Some` for a quiet poll.
    async fn call_with(
        &mut self,
        node: usize,
        args: &[Bytes],
        shown: &str,
        line: usize,
        budget: Option<Duration>,
    ) -> Reply {
        let quiet = budget.is_some();
        let timeout_ms = budget.map_or(CALL_TIMEOUT_MS, |b| (b.as_millis() as u64).min(CALL_TIMEOUT_MS));
        let start = now();
        if !quiet {
            let arrow = if self.workload { "w->" } else { "->" };
            self.sink.push("client", &format!("{arrow} n{node} {shown}"));
        }
        let op = Op::of(args, &self.hosts);
        if self.workload {
            let pending = CallRecord {
                node,
                command: shown.to_string(),
                op: op.clone(),
                line,
                start,
                end: start,
                reply: Reply::Error(ABANDONED.to_string()),
                quiet,
                workload: true,
            };
            *self.in_flight.lock().expect("in-flight lock") = Some(pending);
        }
        let reply = match tokio::time::timeout(Duration::from_millis(timeout_ms), self.exchange(node, args)).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                self.conns.remove(&node);
                Reply::Error(format!("(client) {e}"))
            }
            Err(_) => {
                self.conns.remove(&node);
                Reply::Error(format!("(client) no reply within {timeout_ms} ms"))
            }
        };
        let end = now();
        self.in_flight.lock().expect("in-flight lock").take();
        if !quiet {
            let shown = if self.workload { summary(&reply) } else { show_reply(&reply) };
            self.sink.push(&format!("n{node}"), &format!("<- {shown}"));
        }
        self.history.push(CallRecord {
            node,
            command: shown.to_string(),
            op,
            line,
            start,
            end,
            reply: reply.clone(),
            quiet,
            workload: self.workload,
        });
        reply
    }

    async fn exchange(&mut self, node: usize, args: &[Bytes]) -> std::io::Result<Reply> {
        let generation = self.generation.as_ref().map_or(0, |g| g(node));
        if self.conns.get(&node).is_some_and(|(_, _, g)| *g != generation) {
            self.conns.remove(&node);
        }
        if !self.conns.contains_key(&node) {
            // A refused connection is retried with backoff (bounded by the call's timeout), as a TCP stack
            // retries a lost SYN; any other error ends the call.
            let mut pause = 10;
            let stream = loop {
                match TcpStream::connect(SocketAddr::new(self.hosts[node - 1].ip, self.hosts[node - 1].port)).await {
                    Ok(stream) => break stream,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                        pause = (pause * 2).min(500);
                    }
                    Err(e) => return Err(e),
                }
            };
            self.conns.insert(node, (stream, BytesMut::with_capacity(4096), generation));
        }
        let (stream, buf, _) = self.conns.get_mut(&node).expect("connected above");
        stream.write_all(&encode_request(args)).await?;
        stream.flush().await?;
        loop {
            if let Some(reply) = take_reply(buf).map_err(std::io::Error::other)? {
                return Ok(reply);
            }
            if stream.read_buf(buf).await? == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed by the node"));
            }
        }
    }
}

/// A workload reply in the trace: an error or a simple string (`+OK`) in full, a text reply as its line count, anything else as an array
/// length (`[3 items]`) or as [`show_reply`] shows it.
fn summary(reply: &Reply) -> String {
    match reply {
        Reply::Error(_) | Reply::Simple(_) => show_reply(reply),
        Reply::Array(items) => format!("[{} items]", items.len()),
        other => match other.as_text() {
            Some(text) => format!("{} lines", text.lines().count()),
            None => show_reply(other),
        },
    }
}

/// One-line rendering of a reply for traces: `+OK`, `-ERR ...`, `:5`, `"text\n..."`, `(nil)`, `[..]`, `{k: v}`.
pub fn show_reply(reply: &Reply) -> String {
    match reply {
        Reply::Simple(s) => format!("+{s}"),
        Reply::Error(e) => format!("-{e}"),
        Reply::Int(i) => format!(":{i}"),
        Reply::Bulk(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Reply::Verbatim(t) => format!("{t:?}"),
        Reply::Null => "(nil)".to_string(),
        Reply::Array(items) => format!("[{}]", items.iter().map(show_reply).collect::<Vec<_>>().join(", ")),
        Reply::Map(pairs) => format!(
            "{{{}}}",
            pairs.iter().map(|(k, v)| format!("{}: {}", show_reply(k), show_reply(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}
