//! Graceful shutdown (mini-redis style): a `watch` flag tells every task to stop, and every
//! task holds a clone of an `mpsc::Sender` so the server can wait until all have dropped it.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::metrics::Metrics;

/// Cloned into every task; resolves once shutdown has begun.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
}

impl ShutdownSignal {
    /// Completes when shutdown starts (immediately if it already has).
    pub async fn recv(&mut self) {
        // An Err means the sender is gone, which also means "stop".
        let _ = self.rx.wait_for(|stop| *stop).await;
    }
}

/// Held by a task for its whole life. Dropping it tells the coordinator the task is done and
/// keeps the `pop3_bridge_session_tasks` gauge honest (the leak test reads it).
#[derive(Debug)]
pub struct TaskGuard {
    _done: mpsc::Sender<()>,
    /// Session tasks are counted in the gauge; plain HTTP connection tasks are not.
    counted: Option<Arc<Metrics>>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if let Some(m) = &self.counted {
            m.tasks_alive.fetch_sub(1, Relaxed);
        }
    }
}

/// Hands out guards and signals; cloned into the shared state. Once every clone (and every
/// guard) is dropped, [`Trigger::shutdown`] knows all tasks are done.
#[derive(Debug, Clone)]
pub struct Tracker {
    stop_rx: watch::Receiver<bool>,
    done_tx: mpsc::Sender<()>,
    metrics: Arc<Metrics>,
}

/// Kept by the server loop only.
#[derive(Debug)]
pub struct Trigger {
    stop_tx: watch::Sender<bool>,
    done_rx: mpsc::Receiver<()>,
}

pub fn channel(metrics: Arc<Metrics>) -> (Trigger, Tracker) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = mpsc::channel(1);
    (
        Trigger { stop_tx, done_rx },
        Tracker {
            stop_rx,
            done_tx,
            metrics,
        },
    )
}

impl Tracker {
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            rx: self.stop_rx.clone(),
        }
    }

    /// A guard for a WebSocket session task (counted in `pop3_bridge_session_tasks`).
    pub fn session_guard(&self) -> TaskGuard {
        self.metrics.tasks_alive.fetch_add(1, Relaxed);
        TaskGuard {
            _done: self.done_tx.clone(),
            counted: Some(self.metrics.clone()),
        }
    }

    /// A guard for an HTTP connection task.
    pub fn guard(&self) -> TaskGuard {
        TaskGuard {
            _done: self.done_tx.clone(),
            counted: None,
        }
    }
}

impl Trigger {
    /// Tell all tasks to stop and wait up to `grace` for every guard and tracker to drop.
    /// Returns false on timeout.
    pub async fn shutdown(mut self, grace: Duration) -> bool {
        let _ = self.stop_tx.send(true);
        tokio::time::timeout(grace, self.done_rx.recv())
            .await
            .is_ok()
    }
}
