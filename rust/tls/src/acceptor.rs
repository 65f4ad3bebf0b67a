//! The reloadable, shareable server-side entry point and its counters.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rustls::ServerConnection;

use crate::config::TlsServerConfig;
use crate::error::TlsError;
use crate::session::TlsSession;

/// Counters shared by an acceptor and all sessions it created.
///
/// Updated with relaxed atomics; read them with [`TlsStats::snapshot`].
#[derive(Debug, Default)]
pub struct TlsStats {
    handshakes: AtomicU64,
    handshake_errors: AtomicU64,
    resumed: AtomicU64,
    reloads: AtomicU64,
    reload_errors: AtomicU64,
}

/// A point-in-time copy of [`TlsStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsStatsSnapshot {
    /// Handshakes that completed (full or resumed).
    pub handshakes: u64,
    /// Handshakes that failed (bad client hello, plaintext client, rejected
    /// client certificate, socket error or peer close mid-handshake). A peer
    /// that closes before sending a single byte is not counted.
    pub handshake_errors: u64,
    /// Completed handshakes that resumed an earlier session.
    pub resumed: u64,
    /// Successful [`TlsAcceptor::reload`] / [`TlsAcceptor::set_config`] calls.
    pub reloads: u64,
    /// Failed [`TlsAcceptor::reload`] calls (the old configuration stayed).
    pub reload_errors: u64,
}

impl TlsStats {
    /// Read all counters.
    pub fn snapshot(&self) -> TlsStatsSnapshot {
        TlsStatsSnapshot {
            handshakes: self.handshakes.load(Ordering::Relaxed),
            handshake_errors: self.handshake_errors.load(Ordering::Relaxed),
            resumed: self.resumed.load(Ordering::Relaxed),
            reloads: self.reloads.load(Ordering::Relaxed),
            reload_errors: self.reload_errors.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn handshake_done(&self, resumed: bool) {
        self.handshakes.fetch_add(1, Ordering::Relaxed);
        if resumed {
            self.resumed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn handshake_failed(&self) {
        self.handshake_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a handshake the caller abandoned (it took too long), as a
    /// handshake error.
    pub fn note_handshake_timeout(&self) {
        self.handshake_failed();
    }
}

/// Creates [`TlsSession`]s from the current configuration; shareable across
/// worker threads (`Send + Sync`).
///
/// [`TlsAcceptor::reload`] swaps the configuration for sessions created
/// afterwards only: a session keeps the configuration it was created with
/// for its whole life. Resumption state (ticket key, session cache) belongs
/// to a configuration, so sessions from before a reload cannot be resumed
/// after it; this is also what keeps a changed client CA from being
/// bypassed by resumption.
#[derive(Debug)]
pub struct TlsAcceptor {
    current: RwLock<TlsServerConfig>,
    stats: Arc<TlsStats>,
}

impl TlsAcceptor {
    /// An acceptor serving `config`.
    pub fn new(config: TlsServerConfig) -> Self {
        Self {
            current: RwLock::new(config),
            stats: Arc::new(TlsStats::default()),
        }
    }

    /// Shorthand for [`TlsServerConfig::load`] followed by [`TlsAcceptor::new`].
    pub fn load(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
        client_ca_path: Option<impl AsRef<Path>>,
    ) -> Result<Self, TlsError> {
        TlsServerConfig::load(cert_path, key_path, client_ca_path).map(Self::new)
    }

    /// Load new files and use them for new sessions (with the current
    /// configuration's crypto provider). On failure the current
    /// configuration stays in place and the error is returned.
    pub fn reload(
        &self,
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
        client_ca_path: Option<impl AsRef<Path>>,
    ) -> Result<(), TlsError> {
        let provider = self.config().provider();
        match TlsServerConfig::load_with(provider, cert_path, key_path, client_ca_path) {
            Ok(cfg) => {
                self.set_config(cfg);
                Ok(())
            }
            Err(e) => {
                self.stats.reload_errors.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Use `config` for sessions created from now on.
    pub fn set_config(&self, config: TlsServerConfig) {
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        *cur = config;
        self.stats.reloads.fetch_add(1, Ordering::Relaxed);
    }

    /// The configuration new sessions get.
    pub fn config(&self) -> TlsServerConfig {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Start a server session for a newly accepted connection. The session
    /// does no I/O until its first call.
    pub fn accept(&self) -> Result<TlsSession, TlsError> {
        let cfg = self.config();
        let conn = ServerConnection::new(cfg.rustls_config().clone())
            .map_err(|e| TlsError::Config(format!("tls: cannot start session: {e}")))?;
        Ok(TlsSession::new(conn, self.stats.clone()))
    }

    /// The counters of this acceptor and its sessions.
    pub fn stats(&self) -> &Arc<TlsStats> {
        &self.stats
    }
}
