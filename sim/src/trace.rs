//! The run's trace: every client call and reply, and every event the nodes log under a `clustersim` target,
//! stamped with virtual time and the host that produced it.
//!
//! Each run installs a subscriber of its own, scoped to the thread that runs it (a simulation runs entirely on
//! the thread that started it, so parallel sweep jobs never mix), which collects node events into that run's
//! sink. The host is the name of the madsim `node` span every task of that host runs in (madsim creates it; node
//! code needs no instrumentation). Only `clustersim*` targets at INFO or above are kept (openraft's own
//! logs are not part of the trace). The trace hash is FNV-1a 64 over the lines: stable across processes and Rust
//! versions, unlike `std`'s hashers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The lines of one run, shared by the tracing layer and the client.
#[derive(Clone, Default)]
pub struct TraceSink {
    lines: Arc<Mutex<Vec<String>>>,
    /// The nodes' Raft events (kept apart from the lines: they are judged, not traced).
    pub raft: crate::raft_events::RaftEvents,
}

impl TraceSink {
    /// Appends `[time] who: text`, with the current virtual time.
    pub fn push(&self, who: &str, text: &str) {
        // By hand, not `format!`: every traced event and call comes here.
        let mut line = String::with_capacity(18 + who.len().max(7) + text.len());
        push_stamp(&mut line, now());
        line.push(' ');
        line.push_str(who);
        line.extend(std::iter::repeat_n(' ', 7usize.saturating_sub(who.chars().count())));
        line.push(' ');
        line.push_str(text);
        self.lines.lock().expect("trace lock").push(line);
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().expect("trace lock"))
    }
}

/// Virtual time since the simulation started (zero outside a simulation).
#[cfg(madsim)]
pub fn now() -> Duration {
    madsim::time::TimeHandle::try_current().map_or(Duration::ZERO, |t| t.elapsed())
}

/// Real mode: wall time since this thread's run started ([`start_wall_clock`]; zero before). Real runs are not
/// deterministic, and their traces say so by carrying wall times.
#[cfg(not(madsim))]
pub fn now() -> Duration {
    WALL_START.with(|s| s.get().map_or(Duration::ZERO, |t| t.elapsed()))
}

#[cfg(not(madsim))]
thread_local! {
    static WALL_START: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// Real mode: the run on this thread starts now.
#[cfg(not(madsim))]
pub fn start_wall_clock() {
    WALL_START.with(|s| s.set(Some(std::time::Instant::now())));
}

/// `  12.345s`: seconds with millisecond precision, right-aligned.
pub fn stamp(t: Duration) -> String {
    let mut out = String::with_capacity(10);
    push_stamp(&mut out, t);
    out
}

/// Appends [`stamp`]'s text: `format!("{:>4}.{:03}s", secs, millis)`.
fn push_stamp(out: &mut String, t: Duration) {
    let mut number = itoa::Buffer::new();
    let secs = number.format(t.as_secs());
    out.extend(std::iter::repeat_n(' ', 4usize.saturating_sub(secs.len())));
    out.push_str(secs);
    out.push('.');
    let millis = t.subsec_millis();
    out.push(char::from(b'0' + (millis / 100) as u8));
    out.push(char::from(b'0' + (millis / 10 % 10) as u8));
    out.push(char::from(b'0' + (millis % 10) as u8));
    out.push('s');
}

/// FNV-1a 64 over the lines, each followed by `\n`.
pub fn hash_lines(lines: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for line in lines {
        for b in line.bytes().chain(std::iter::once(b'\n')) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(madsim)]
pub use capture::capture;

/// The node's tracing events of a simulated run, collected into the run's sink (simulation flavour only: in real
/// mode the nodes are other processes).
#[cfg(madsim)]
mod capture {
    use super::*;
    use std::fmt::Write as _;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::subscriber::Interest;
    use tracing::{Event, Level, Metadata, Subscriber};

    thread_local! {
        /// The sink of the run executing on this thread, if any.
        static CURRENT: std::cell::RefCell<Option<TraceSink>> = const { std::cell::RefCell::new(None) };
    }

    /// Routes this thread's `clustersim*` events to `sink` until the guard drops, through a subscriber scoped to this
    /// thread (`tracing::subscriber::set_default`): it takes precedence over any global subscriber the embedding
    /// program installed, so a run's trace (and its hash) never depends on what else the process set up.
    pub fn capture(sink: &TraceSink) -> CaptureGuard {
        CURRENT.with(|c| *c.borrow_mut() = Some(sink.clone()));
        let scoped = tracing::subscriber::set_default(TraceSubscriber::default());
        CaptureGuard(Some(scoped))
    }

    /// Stops routing this thread's events when dropped.
    pub struct CaptureGuard(Option<tracing::subscriber::DefaultGuard>);

    impl Drop for CaptureGuard {
        fn drop(&mut self) {
            self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = None);
        }
    }

    fn wanted(meta: &Metadata<'_>) -> bool {
        meta.target().starts_with("clustersim") && *meta.level() <= Level::INFO
    }

    /// The only spans the trace needs are madsim's `node` and `task` spans (they name the host). Every other span
    /// (openraft instruments most of its functions) is disabled, which keeps it off the hot path entirely.
    fn wanted_span(meta: &Metadata<'_>) -> bool {
        meta.is_span() && meta.target().starts_with("madsim")
    }

    /// The subscriber of one run. It knows only what the trace needs of spans: the host each madsim span belongs
    /// to (a `node` span names it; a `task` span is a child of its node's) and which span is entered. madsim
    /// enters a task's span on every poll: with `tracing-subscriber`'s registry each poll cloned, entered, exited
    /// and closed a span in a shared slab, ~5 % of a read-index seed's time. Here a span is an index into a
    /// list that lives as long as the run (a span id is never reused, so nothing is reference-counted).
    #[derive(Default)]
    struct TraceSubscriber {
        spans: Mutex<Spans>,
    }

    #[derive(Default)]
    struct Spans {
        /// Per span (id − 1): its host's index in `hosts`, if it has one.
        all: Vec<Option<u32>>,
        hosts: Vec<String>,
        /// The entered spans, innermost last.
        entered: Vec<u64>,
    }

    impl Spans {
        /// The host index of span `id`, if it has one.
        fn host_index(&self, id: u64) -> Option<u32> {
            *self.all.get(usize::try_from(id).ok()?.checked_sub(1)?)?
        }

        /// The span a new span or an event belongs to: its explicit parent, else (if contextual) the entered one.
        fn context(&self, parent: Option<&Id>, contextual: bool) -> Option<u64> {
            match parent {
                Some(parent) => Some(parent.into_u64()),
                None if contextual => self.entered.last().copied(),
                None => None,
            }
        }
    }

    impl TraceSubscriber {
        fn spans(&self) -> std::sync::MutexGuard<'_, Spans> {
            self.spans.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    impl Subscriber for TraceSubscriber {
        fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
            if wanted_span(meta) || wanted(meta) {
                Interest::always()
            } else {
                Interest::never()
            }
        }

        fn enabled(&self, meta: &Metadata<'_>) -> bool {
            wanted_span(meta) || wanted(meta)
        }

        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let mut spans = self.spans();
            let host = if attrs.metadata().name() == "node" {
                let mut visitor = Fields::default();
                attrs.record(&mut visitor);
                visitor.name.map(|name| {
                    spans.hosts.push(name);
                    (spans.hosts.len() - 1) as u32
                })
            } else {
                // A task's span: its node's host (madsim gives the node's span as the explicit parent).
                spans.context(attrs.parent(), attrs.is_contextual()).and_then(|p| spans.host_index(p))
            };
            spans.all.push(host);
            Id::from_u64(spans.all.len() as u64)
        }

        fn record(&self, _span: &Id, _values: &Record<'_>) {}

        fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

        fn event(&self, event: &Event<'_>) {
            if !wanted(event.metadata()) {
                return;
            }
            if crate::coverage::on_event(event, now) {
                return;
            }
            let Some(sink) = CURRENT.with(|c| c.borrow().clone()) else { return };
            let host = {
                let spans = self.spans();
                let host = spans.context(event.parent(), event.is_contextual()).and_then(|id| spans.host_index(id));
                host.map_or("?", |h| spans.hosts[h as usize].as_str()).to_string()
            };
            if event.metadata().target() == clustersim::raft::EVENT_TARGET {
                return sink.raft.record(now(), &host, event);
            }
            let mut visitor = Fields::default();
            event.record(&mut visitor);
            sink.push(&host, &visitor.line());
        }

        fn enter(&self, span: &Id) {
            self.spans().entered.push(span.into_u64());
        }

        fn exit(&self, span: &Id) {
            let mut spans = self.spans();
            let id = span.into_u64();
            if let Some(at) = spans.entered.iter().rposition(|&e| e == id) {
                spans.entered.remove(at);
            }
        }
    }

    /// Renders an event as `message key=value ...` in field order (which is the callsite's, hence stable).
    #[derive(Default)]
    struct Fields {
        message: String,
        rest: String,
        name: Option<String>,
    }

    impl Fields {
        fn line(self) -> String {
            if self.rest.is_empty() {
                self.message
            } else {
                format!("{}{}", self.message, self.rest)
            }
        }
    }

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            match field.name() {
                "message" => self.message.push_str(value),
                "name" => self.name = Some(value.to_string()),
                other => {
                    let _ = write!(self.rest, " {other}={value}");
                }
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            match field.name() {
                "message" => {
                    let _ = write!(self.message, "{value:?}");
                }
                "name" => self.name = Some(format!("{value:?}")),
                other => {
                    let _ = write!(self.rest, " {other}={value:?}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_fnv1a_and_line_sensitive() {
        assert_eq!(hash_lines(&[]), 0xcbf2_9ce4_8422_2325);
        let a = hash_lines(&["a".into(), "b".into()]);
        assert_eq!(a, hash_lines(&["a".into(), "b".into()]));
        assert_ne!(a, hash_lines(&["ab".into()]));
        assert_ne!(a, hash_lines(&["b".into(), "a".into()]));
    }

    #[test]
    fn stamps_have_millisecond_precision() {
        assert_eq!(stamp(Duration::from_millis(12_345)), "  12.345s");
        assert_eq!(stamp(Duration::ZERO), "   0.000s");
        for ms in [0, 7, 99, 1_000, 9_999_999, 12_345_678, 123_456_789_012] {
            let t = Duration::from_millis(ms) + Duration::from_micros(999);
            assert_eq!(stamp(t), format!("{:>4}.{:03}s", t.as_secs(), t.subsec_millis()), "{ms}");
        }
    }

    #[test]
    fn a_pushed_line_is_stamp_host_padded_to_seven_then_text() {
        let sink = TraceSink::default();
        for who in ["n1", "client", "checker", "longer-name", "é"] {
            sink.push(who, "text");
        }
        let expected: Vec<String> = ["n1", "client", "checker", "longer-name", "é"]
            .iter()
            .map(|who| format!("{} {who:<7} text", stamp(now())))
            .collect();
        assert_eq!(sink.take(), expected);
    }

    /// Each event is stamped with the host whose task logged it, through nested tasks and across hosts; an
    /// event from the harness's own task carries madsim's main node name; other targets are not traced.
    #[cfg(madsim)]
    #[test]
    fn events_are_stamped_with_the_host_whose_task_logged_them() {
        let sink = TraceSink::default();
        {
            let _capture = capture(&sink);
            let rt = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
            rt.block_on(async {
                let handle = madsim::runtime::Handle::current();
                for (name, ip) in [("n1", "10.0.0.1"), ("n2", "10.0.0.2")] {
                    let node = handle.create_node().name(name).ip(ip.parse().unwrap()).build();
                    node.spawn(async move {
                        tracing::info!(target: "clustersim::test", "outer of {name}");
                        madsim::task::spawn(async move {
                            tracing::info!(target: "clustersim::test", "inner of {name}");
                        })
                        .await
                        .unwrap();
                        tracing::info!(target: "openraft::test", "not traced");
                    })
                    .await
                    .unwrap();
                }
                tracing::info!(target: "clustersim::test", "from the harness");
            });
        }
        let lines: Vec<String> = sink.take().iter().map(|l| l[10..].trim_end().to_string()).collect();
        assert_eq!(
            lines,
            [
                "n1      outer of n1",
                "n1      inner of n1",
                "n2      outer of n2",
                "n2      inner of n2",
                "madsim-main from the harness"
            ]
        );
    }
}
