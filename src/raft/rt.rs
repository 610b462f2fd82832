//! The runtime seam: openraft's `AsyncRuntime`, written once against madsim-tokio's `tokio::` API, plus the
//! node's source of randomness. This file is the only place in the node crate with `cfg(madsim)`.
//!
//! `tokio` is `madsim-tokio`: in the simulation build `tokio::spawn`, `tokio::time` are madsim's (seeded
//! scheduler, virtual clock); in the real build they are tokio's. openraft cannot see that rename (it is a
//! third-party crate), so it is pointed at this runtime through its type config.
//!
//! | item             | implementation                           | deterministic under madsim because          |
//! |------------------|------------------------------------------|---------------------------------------------|
//! | spawn/JoinHandle | `tokio::spawn`                           | madsim's seeded scheduler                   |
//! | sleep/timeout    | `tokio::time::{sleep, sleep_until}`      | virtual clock                               |
//! | Instant          | `std::time::Instant`                     | madsim interposes `clock_gettime`           |
//! | thread_rng       | [`SeamRng`] → [`fill_random`]            | madsim's seeded global RNG (cfg below)      |
//! | spawn_blocking   | runs the closure inline                  | no OS thread (madsim forbids them)          |
//! | Mpsc/Oneshot/Mutex | `tokio::sync` newtypes                 | no RNG inside (FIFO semaphores)             |
//! | Watch            | [`DetWatch`] (own, FIFO wakeups)         | tokio's watch draws from a process-global RNG |
//! | select2/3/4      | trait default (biased, argument order)   | no RNG                                      |

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use openraft_rt::{AsyncRuntime, OptionalSend};

use super::channels::{TokioMpsc, TokioMutex, TokioOneshot};
use super::watch::DetWatch;
use crate::meta::NodeId;

/// Fills `dst` with random bytes: madsim's seeded RNG in the simulation (every draw is part of the seed's
/// schedule and checked by `Runtime::check_determinism`), the OS-seeded thread RNG in the real build.
///
/// Never call `rand::thread_rng()` in node code: under madsim it is a per-OS-thread cached generator, so two
/// simulations in one process (same seed) would draw different ids.
pub fn fill_random(dst: &mut [u8]) {
    #[cfg(madsim)]
    {
        use madsim::rand::RngCore;
        madsim::rand::thread_rng().fill_bytes(dst);
    }
    #[cfg(not(madsim))]
    {
        use rand::RngCore;
        rand::thread_rng().fill_bytes(dst);
    }
}

/// A fresh node id (CLUSTER RESET HARD, the binary without `--node-id`).
pub fn random_node_id() -> NodeId {
    let mut bytes = [0u8; 20];
    fill_random(&mut bytes);
    NodeId::from_bytes(bytes)
}

/// A random 64-bit number from the seam's source (Raft group tags).
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    fill_random(&mut bytes);
    u64::from_be_bytes(bytes)
}

/// BUGGIFY (FoundationDB): whether the injection point `point` (a `buggify.*` probe of `crate::probe::ALL`)
/// fires now. Always false in the real build, and in a simulation unless the run enabled it ([`set_buggify`]).
/// Enabled, each point is first activated or not for the whole run (one draw, 25%), then an active point fires
/// with probability `chance` each time it is reached — both drawn from madsim's seeded RNG, so the seed decides
/// where it fires and runs stay reproducible. Each firing is one trace line (`buggify: <point>`) and a probe hit.
///
/// madsim's own `buggify::enable` is not used: it also switches on madsim's network buggify (10% of all sends
/// delayed 1–5 s), a network fault outside the node that the profiles already model.
pub fn buggify(point: &'static str, chance: f64) -> bool {
    #[cfg(madsim)]
    {
        use madsim::rand::Rng;
        let fires = BUGGIFY.with(|b| {
            let mut b = b.borrow_mut();
            let active = b.as_mut()?;
            let on = *active.entry(point).or_insert_with(|| madsim::rand::thread_rng().gen_bool(0.25));
            Some(on && madsim::rand::thread_rng().gen_bool(chance))
        });
        if fires == Some(true) {
            tracing::info!(target: "clustersim::buggify", "buggify: {point}");
            crate::probe::hit(point);
            return true;
        }
        false
    }
    #[cfg(not(madsim))]
    {
        let _ = (point, chance);
        false
    }
}

/// Enables (or disables) BUGGIFY for the simulation running on this thread, forgetting which points were
/// active. A simulation runs on the thread that started it; the harness calls this at the start of each run.
pub fn set_buggify(enabled: bool) {
    #[cfg(madsim)]
    BUGGIFY.with(|b| *b.borrow_mut() = enabled.then(std::collections::BTreeMap::new));
    #[cfg(not(madsim))]
    let _ = enabled;
}

#[cfg(madsim)]
thread_local! {
    /// `None`: BUGGIFY off. `Some`: on, with each point reached so far and whether it is active this run.
    static BUGGIFY: std::cell::RefCell<Option<std::collections::BTreeMap<&'static str, bool>>> =
        const { std::cell::RefCell::new(None) };
}

/// The RNG handed to openraft (election timeouts, tick phase): rand 0.10's API over [`fill_random`].
pub struct SeamRng;

impl rand010::TryRng for SeamRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        fill_random(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        fill_random(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        fill_random(dst);
        Ok(())
    }
}

/// A deadline passed (openraft's `AsyncRuntime::TimeoutError`; tokio's `Elapsed` cannot be built outside tokio).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed")]
pub struct Elapsed;

pin_project_lite::pin_project! {
    /// A nameable timeout future (madsim's `timeout()` returns an opaque type). Polls the inner future first.
    pub struct Timeout<T> {
        #[pin]
        future: T,
        #[pin]
        sleep: tokio::time::Sleep,
    }
}

impl<T: Future> Future for Timeout<T> {
    type Output = Result<T::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// openraft's runtime for this node (see the module table).
pub struct Rt {
    /// Only for `AsyncRuntime::new/block_on` (openraft's conformance suite); openraft itself never calls them.
    #[cfg(madsim)]
    runtime: madsim::runtime::Runtime,
    #[cfg(not(madsim))]
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Rt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rt")
    }
}

#[allow(clippy::useless_conversion)] // `Instant::into()` is the identity under madsim, tokio's From in real mode
fn to_tokio_instant(deadline: std::time::Instant) -> tokio::time::Instant {
    deadline.into()
}

/// A spawned task's future behind a pointer and a vtable (see [`spawn_boxed`]).
pub type BoxedTask<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// `tokio::spawn` of the future moved into a box first, its type erased. Run time: madsim's spawn path hands
/// the future through several layers, each moving it whole: a client connection's future is ~85 KB, a bus
/// connection's ~10 KB, openraft's core ~7 KB, and those copies were a tenth of a seed's instructions; boxed,
/// each layer moves a pointer. Build time: the executor's task machinery (async-task's `RawTask`, ~1,500 lines
/// of LLVM IR) is compiled once per spawned future *type*; erased, once per output type (in clustersim's lib
/// test, 220 instantiations were a fifth of its IR: `cargo llvm-lines`, 2026-12-05).
pub fn spawn_boxed<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task: BoxedTask<F::Output> = Box::pin(future);
    tokio::spawn(task)
}

impl AsyncRuntime for Rt {
    type JoinError = tokio::task::JoinError;
    type JoinHandle<T: OptionalSend + 'static> = tokio::task::JoinHandle<T>;
    type Sleep = tokio::time::Sleep;
    type Instant = std::time::Instant;
    type TimeoutError = Elapsed;
    type Timeout<R, T: Future<Output = R> + OptionalSend> = Timeout<T>;
    type ThreadLocalRng = SeamRng;

    fn spawn<T>(future: T) -> Self::JoinHandle<T::Output>
    where
        T: Future + OptionalSend + 'static,
        T::Output: OptionalSend + 'static,
    {
        // On the current (simulated) host, so killing the host kills openraft's tasks too.
        spawn_boxed(future)
    }

    fn sleep(duration: Duration) -> Self::Sleep {
        tokio::time::sleep(duration)
    }

    fn sleep_until(deadline: Self::Instant) -> Self::Sleep {
        tokio::time::sleep_until(to_tokio_instant(deadline))
    }

    fn timeout<R, F: Future<Output = R> + OptionalSend>(duration: Duration, future: F) -> Self::Timeout<R, F> {
        Timeout { future, sleep: tokio::time::sleep(duration) }
    }

    fn timeout_at<R, F: Future<Output = R> + OptionalSend>(deadline: Self::Instant, future: F) -> Self::Timeout<R, F> {
        Timeout { future, sleep: tokio::time::sleep_until(to_tokio_instant(deadline)) }
    }

    fn is_panic(join_error: &Self::JoinError) -> bool {
        // madsim never reports a panic here: a panicking task aborts the whole simulation.
        join_error.is_panic()
    }

    fn thread_rng() -> Self::ThreadLocalRng {
        SeamRng
    }

    type Mpsc = TokioMpsc;
    type Watch = DetWatch;
    type Oneshot = TokioOneshot;
    type Mutex<T: OptionalSend + 'static> = TokioMutex<T>;

    fn new(threads: usize) -> Self {
        #[cfg(madsim)]
        {
            let _ = threads;
            let seed = std::env::var("MADSIM_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
            Rt { runtime: madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default()) }
        }
        #[cfg(not(madsim))]
        {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads.max(1))
                .enable_all()
                .build()
                .expect("a tokio runtime for openraft's conformance suite");
            Rt { runtime }
        }
    }

    fn block_on<F, T>(&mut self, future: F) -> T
    where
        F: Future<Output = T>,
    {
        self.runtime.block_on(future)
    }

    /// The trait default starts an OS thread; madsim forbids those (and they would break determinism).
    #[allow(clippy::manual_async_fn)] // the trait spells the `Send` bound out
    fn spawn_blocking<F, T>(f: F) -> impl Future<Output = Result<T, io::Error>> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        async move { Ok(f()) }
    }
}

#[cfg(test)]
mod tests {
    use super::{random_node_id, Rt};

    /// openraft-rt's own conformance suite (spawn, sleep, timeout, mpsc, oneshot, mutex, watch) against the seam,
    /// in whichever flavour the tests are built.
    #[test]
    fn the_runtime_seam_passes_openraft_rt_conformance_suite() {
        openraft_rt::testing::Suite::<Rt>::test_all();
    }

    #[test]
    fn random_node_ids_differ() {
        #[cfg(madsim)]
        let (a, b) = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default())
            .block_on(async { (random_node_id(), random_node_id()) });
        #[cfg(not(madsim))]
        let (a, b) = (random_node_id(), random_node_id());
        assert_ne!(a, b);
    }

    /// Same seed, same ids, even twice in one thread (the reason node code must not use `rand::thread_rng()`).
    #[cfg(madsim)]
    #[test]
    fn random_node_ids_follow_the_seed() {
        let draw = |seed| {
            madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default())
                .block_on(async { (random_node_id(), random_node_id()) })
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }
}
