//! What the protocol reaches of the server while it runs one connection's
//! input (c-core/src/server/host.c): stats reports, `stats reset`,
//! verbosity, refresh_certs, shutdown with -A, watch, and the worker's
//! counters.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use protocol::{Certs, Counter, Host, Report, WatchItem};

use crate::buf::Buf;
use crate::log;
use crate::shared::{Shared, WorkerShared, STOP_GRACEFUL, STOP_NOW};
use crate::stats;

/// The host of one process call: the server, the worker and the calling
/// connection.
pub struct ConnHost<'a> {
    pub shared: &'a Shared,
    pub worker: usize,
    pub token: usize,
    pub fd: i32,
    /// Set when the call made the connection a watcher.
    pub became_watcher: bool,
}

/// Wake the workers whose watchers got lines.
pub fn wake_watchers(all: &[Arc<WorkerShared>], which: &[usize]) {
    for &w in which {
        let ws = &all[w];
        ws.watch_wake.store(true, Ordering::Release);
        let _ = ws.waker.wake();
    }
}

impl Host for ConnHost<'_> {
    type Out = Buf;

    fn stats(&mut self, now: i64, out: &mut Buf) -> Report {
        stats::general(self.shared, now, out)
    }

    fn stats_group(&mut self, group: &[u8], now: i64, out: &mut Buf) -> Report {
        stats::group(self.shared, group, now, self.fd, out)
    }

    fn stats_reset(&mut self, now: i64) {
        stats::reset(self.shared, now);
    }

    fn set_verbosity(&mut self, level: u32) {
        log::setup(level.min(2));
    }

    fn refresh_certs(&mut self, err: &mut [u8]) -> Certs {
        if self.shared.tls.is_none() {
            return Certs::NoTls;
        }
        match self.shared.reload_certs() {
            Ok(()) => Certs::Reloaded,
            Err(e) => {
                let n = e.len().min(err.len());
                err[..n].copy_from_slice(&e.as_bytes()[..n]);
                Certs::Failed(n)
            }
        }
    }

    #[inline]
    fn count(&mut self, which: Counter, n: u64) {
        self.shared.workers[self.worker]
            .counters
            .add(which as usize, n);
    }

    fn shutdown_enabled(&mut self) -> bool {
        self.shared.settings.enable_shutdown
    }

    fn shutdown(&mut self, graceful: bool) {
        if self.shared.settings.enable_shutdown {
            self.shared
                .request_stop(if graceful { STOP_GRACEFUL } else { STOP_NOW });
        }
    }

    #[inline]
    fn watching(&self) -> u32 {
        self.shared.watch.events.load(Ordering::Relaxed)
    }

    fn watch(&mut self, events: u32) -> bool {
        let ok = self.shared.watch.add(self.worker, self.token, events);
        self.became_watcher |= ok;
        ok
    }

    fn watch_log(&mut self, event: u32, item: &WatchItem<'_>) {
        let wake = self.shared.watch.log(event, item, self.fd);
        wake_watchers(&self.shared.workers, &wake);
    }
}
