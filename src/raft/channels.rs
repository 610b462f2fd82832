//! Thin newtypes over `tokio::sync::{mpsc, oneshot, Mutex}` (the real tokio
//! sync primitives re-exported by madsim-tokio). Newtypes are needed because
//! of the orphan rule. None of these primitives consult tokio's internal RNG:
//! bounded mpsc and Mutex use a FIFO batch semaphore, oneshot is a single
//! slot. (Only `tokio::sync::watch` and unbiased `tokio::select!` do.)
//! They also do not need a tokio runtime; tokio's coop budget is
//! "unconstrained" when no tokio runtime is entered, which is the case inside
//! madsim. In the real build they are simply tokio's.

use std::future::Future;

use openraft_rt::mpsc::SendError;
use openraft_rt::mpsc::TryRecvError;
use openraft_rt::Mpsc;
use openraft_rt::MpscReceiver;
use openraft_rt::MpscSender;
use openraft_rt::MpscWeakSender;
use openraft_rt::Mutex;
use openraft_rt::Oneshot;
use openraft_rt::OneshotSender;
use openraft_rt::OptionalSend;
use tokio::sync::mpsc;
use tokio::sync::oneshot;

// ---------------------------------------------------------------- mpsc

pub struct TokioMpsc;

pub struct TokioMpscSender<T>(mpsc::Sender<T>);
pub struct TokioMpscReceiver<T>(mpsc::Receiver<T>);
pub struct TokioMpscWeakSender<T>(mpsc::WeakSender<T>);

impl<T> Clone for TokioMpscSender<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Clone for TokioMpscWeakSender<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl Mpsc for TokioMpsc {
    type Sender<T: OptionalSend> = TokioMpscSender<T>;
    type Receiver<T: OptionalSend> = TokioMpscReceiver<T>;
    type WeakSender<T: OptionalSend> = TokioMpscWeakSender<T>;

    fn channel<T: OptionalSend>(buffer: usize) -> (Self::Sender<T>, Self::Receiver<T>) {
        let (tx, rx) = mpsc::channel(buffer);
        (TokioMpscSender(tx), TokioMpscReceiver(rx))
    }
}

impl<T: OptionalSend> MpscSender<TokioMpsc, T> for TokioMpscSender<T> {
    /// `Sender::send`, with its common case first: when the channel has room, `send`'s first poll takes a permit
    /// and returns (a permit is free only when no sender waits: a released one goes to the first waiter), which
    /// is `try_send`. Only a full channel awaits tokio's `send`, boxed, so this future holds the message about
    /// twice (496 bytes for openraft's state-machine command), not also tokio's send future with its own copy
    /// and semaphore waiter (864): openraft moves the futures that hold this one by value on every command it
    /// runs (read-index seed of the init script: 70.6 M -> 69.7 M instructions).
    async fn send(&self, msg: T) -> Result<(), SendError<T>> {
        match self.0.try_send(msg) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(msg)) => Err(SendError(msg)),
            Err(mpsc::error::TrySendError::Full(msg)) => Box::pin(self.0.send(msg)).await.map_err(|e| SendError(e.0)),
        }
    }

    fn downgrade(&self) -> TokioMpscWeakSender<T> {
        TokioMpscWeakSender(self.0.downgrade())
    }
}

impl<T: OptionalSend> MpscReceiver<T> for TokioMpscReceiver<T> {
    async fn recv(&mut self) -> Option<T> {
        self.0.recv().await
    }

    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.0.try_recv().map_err(|e| match e {
            mpsc::error::TryRecvError::Empty => TryRecvError::Empty,
            mpsc::error::TryRecvError::Disconnected => TryRecvError::Disconnected,
        })
    }
}

impl<T: OptionalSend> MpscWeakSender<TokioMpsc, T> for TokioMpscWeakSender<T> {
    fn upgrade(&self) -> Option<TokioMpscSender<T>> {
        self.0.upgrade().map(TokioMpscSender)
    }
}

// ---------------------------------------------------------------- oneshot

pub struct TokioOneshot;

pub struct TokioOneshotSender<T>(oneshot::Sender<T>);

impl Oneshot for TokioOneshot {
    type Sender<T: OptionalSend> = TokioOneshotSender<T>;
    type Receiver<T: OptionalSend> = oneshot::Receiver<T>;
    type ReceiverError = oneshot::error::RecvError;

    fn channel<T: OptionalSend>() -> (Self::Sender<T>, Self::Receiver<T>) {
        let (tx, rx) = oneshot::channel();
        (TokioOneshotSender(tx), rx)
    }
}

impl<T: OptionalSend> OneshotSender<T> for TokioOneshotSender<T> {
    fn send(self, t: T) -> Result<(), T> {
        self.0.send(t)
    }
}

// ---------------------------------------------------------------- mutex

pub struct TokioMutex<T>(tokio::sync::Mutex<T>);

impl<T: OptionalSend + 'static> Mutex<T> for TokioMutex<T> {
    type Guard<'a> = tokio::sync::MutexGuard<'a, T>;

    fn new(value: T) -> Self {
        Self(tokio::sync::Mutex::new(value))
    }

    fn lock(&self) -> impl Future<Output = Self::Guard<'_>> + OptionalSend {
        self.0.lock()
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// Polls `f` once, with a waker that does nothing.
    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_send_with_room_completes_at_once_and_a_full_channel_serves_waiters_first_come_first_served() {
        let (tx, mut rx) = TokioMpsc::channel::<u32>(1);
        assert!(matches!(poll_once(pin!(tx.send(1))), Poll::Ready(Ok(()))));
        let mut second = pin!(tx.send(2));
        let mut third = pin!(tx.send(3));
        assert!(poll_once(second.as_mut()).is_pending(), "full");
        assert!(poll_once(third.as_mut()).is_pending(), "full");
        assert_eq!(rx.try_recv(), Ok(1));
        // The room freed went to the first waiter: neither a later waiter nor a new send takes it.
        assert!(poll_once(third.as_mut()).is_pending());
        assert!(poll_once(pin!(tx.send(9))).is_pending());
        assert!(matches!(poll_once(second.as_mut()), Poll::Ready(Ok(()))));
        assert_eq!(rx.try_recv(), Ok(2));
        assert!(matches!(poll_once(third.as_mut()), Poll::Ready(Ok(()))));
        assert_eq!(rx.try_recv(), Ok(3));
        drop(rx);
        assert!(matches!(poll_once(pin!(tx.send(4))), Poll::Ready(Err(SendError(4)))), "closed");
    }
}
