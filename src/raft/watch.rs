//! Deterministic watch channel implementing `openraft_rt::Watch`.
//!
//! Why this exists: `tokio::sync::watch` parks receivers in one of 8 `Notify`
//! slots chosen with `tokio::runtime::context::thread_rng_n(8)`. That RNG is a
//! per-thread `FastRand` seeded from `RandomState` + a process-global counter,
//! NOT from the madsim seed. The slot choice changes the order in which
//! waiting tasks are woken, and madsim's scheduler order follows wake order,
//! so two runs with the same madsim seed in one process diverge.
//!
//! This channel keeps one FIFO list of waiters and wakes them in registration
//! order. There is no randomness and no dependency on a tokio runtime, so the
//! real build uses it too (one code path).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::ops::Deref;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::RwLock;
use std::sync::RwLockReadGuard;
use std::task::Poll;
use std::task::Waker;

use openraft_rt::watch::RecvError;
use openraft_rt::watch::SendError;
use openraft_rt::OptionalSend;
use openraft_rt::OptionalSync;
use openraft_rt::Watch;
use openraft_rt::WatchReceiver;
use openraft_rt::WatchSender;

/// Marker type plugged into `AsyncRuntime::Watch`.
pub struct DetWatch;

struct Shared<T> {
    value: RwLock<T>,
    state: Mutex<State>,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    next_receiver_id: AtomicU64,
}

struct State {
    /// Bumped on every modification.
    version: u64,
    /// All senders dropped.
    closed: bool,
    /// FIFO list of (receiver id, waker). One entry per receiver at most.
    waiters: VecDeque<(u64, Waker)>,
}

impl<T> Shared<T> {
    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_value(&self) -> RwLockReadGuard<'_, T> {
        self.value.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Bump the version and take the waiters. Call while holding the value
    /// write lock (lock order: value -> state); wake the result after
    /// releasing it.
    fn bump(&self) -> VecDeque<(u64, Waker)> {
        let mut st = self.lock_state();
        st.version += 1;
        std::mem::take(&mut st.waiters)
    }
}

/// Wake in FIFO (registration) order: this is the whole point of the type.
fn wake_all(waiters: VecDeque<(u64, Waker)>) {
    for (_, w) in waiters {
        w.wake();
    }
}

pub struct DetWatchSender<T> {
    shared: Arc<Shared<T>>,
}

pub struct DetWatchReceiver<T> {
    shared: Arc<Shared<T>>,
    id: u64,
    seen_version: u64,
}

/// Read guard returned by `borrow_watched`.
pub struct DetWatchRef<'a, T> {
    guard: RwLockReadGuard<'a, T>,
}

impl<T> Deref for DetWatchRef<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl Watch for DetWatch {
    type Sender<T: OptionalSend + OptionalSync> = DetWatchSender<T>;
    type Receiver<T: OptionalSend + OptionalSync> = DetWatchReceiver<T>;
    type Ref<'a, T: OptionalSend + 'a> = DetWatchRef<'a, T>;

    fn channel<T: OptionalSend + OptionalSync>(init: T) -> (Self::Sender<T>, Self::Receiver<T>) {
        let shared = Arc::new(Shared {
            value: RwLock::new(init),
            state: Mutex::new(State { version: 0, closed: false, waiters: VecDeque::new() }),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            next_receiver_id: AtomicU64::new(1),
        });
        let rx = DetWatchReceiver { shared: shared.clone(), id: 0, seen_version: 0 };
        (DetWatchSender { shared }, rx)
    }
}

impl<T> Clone for DetWatchSender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Self { shared: self.shared.clone() }
    }
}

impl<T> Drop for DetWatchSender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            let waiters = {
                let mut st = self.shared.lock_state();
                st.closed = true;
                std::mem::take(&mut st.waiters)
            };
            wake_all(waiters);
        }
    }
}

impl<T> Clone for DetWatchReceiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: self.shared.clone(),
            id: self.shared.next_receiver_id.fetch_add(1, Ordering::Relaxed),
            seen_version: self.seen_version,
        }
    }
}

impl<T> Drop for DetWatchReceiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.fetch_sub(1, Ordering::AcqRel);
        // Remove a possibly stale waker registration.
        let mut st = self.shared.lock_state();
        st.waiters.retain(|(id, _)| *id != self.id);
    }
}

impl<T> WatchSender<DetWatch, T> for DetWatchSender<T>
where
    T: OptionalSend + OptionalSync,
{
    fn send(&self, value: T) -> Result<(), SendError<T>> {
        // tokio semantics: fails (and does not store) when there is no receiver.
        if self.shared.receivers.load(Ordering::Acquire) == 0 {
            return Err(SendError(value));
        }
        let waiters = {
            let mut v = self.shared.value.write().unwrap_or_else(|e| e.into_inner());
            *v = value;
            self.shared.bump()
        };
        wake_all(waiters);
        Ok(())
    }

    fn send_if_modified<F>(&self, modify: F) -> bool
    where
        F: FnOnce(&mut T) -> bool,
    {
        let waiters = {
            let mut v = self.shared.value.write().unwrap_or_else(|e| e.into_inner());
            if !modify(&mut v) {
                return false;
            }
            self.shared.bump()
        };
        wake_all(waiters);
        true
    }

    fn borrow_watched(&self) -> DetWatchRef<'_, T> {
        DetWatchRef { guard: self.shared.read_value() }
    }

    fn subscribe(&self) -> DetWatchReceiver<T> {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        let version = self.shared.lock_state().version;
        DetWatchReceiver {
            shared: self.shared.clone(),
            id: self.shared.next_receiver_id.fetch_add(1, Ordering::Relaxed),
            seen_version: version,
        }
    }
}

impl<T> WatchReceiver<DetWatch, T> for DetWatchReceiver<T>
where
    T: OptionalSend + OptionalSync,
{
    async fn changed(&mut self) -> Result<(), RecvError> {
        let shared = self.shared.clone();
        let id = self.id;
        let seen = &mut self.seen_version;
        poll_fn(move |cx| {
            let mut st = shared.lock_state();
            if st.version != *seen {
                *seen = st.version;
                return Poll::Ready(Ok(()));
            }
            if st.closed {
                return Poll::Ready(Err(RecvError(())));
            }
            // Register (or refresh, keeping the FIFO position) this receiver's waker.
            if let Some(slot) = st.waiters.iter_mut().find(|(wid, _)| *wid == id) {
                slot.1.clone_from(cx.waker());
            } else {
                st.waiters.push_back((id, cx.waker().clone()));
            }
            Poll::Pending
        })
        .await
    }

    fn borrow_watched(&self) -> DetWatchRef<'_, T> {
        DetWatchRef { guard: self.shared.read_value() }
    }

    fn borrow_and_update(&mut self) -> DetWatchRef<'_, T> {
        // Take the value lock first so no send can slip between reading the
        // version and reading the value.
        let guard = self.shared.read_value();
        self.seen_version = self.shared.lock_state().version;
        DetWatchRef { guard }
    }
}
