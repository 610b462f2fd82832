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
    async fn send(&self, msg: T) -> Result<(), SendError<T>> {
        self.0.send(msg).await.map_err(|e| SendError(e.0))
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
