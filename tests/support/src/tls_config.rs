//! TLS client settings: rustls configurations, protocol version sets, and
//! which ports of this process are TLS servers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::pki::Pem;

/// How a client reaches a TLS server: a rustls configuration (roots,
/// optional client certificate, versions) and the name to verify.
#[derive(Clone, Debug)]
pub struct TlsClient {
    pub config: Arc<ClientConfig>,
    pub server_name: String,
}

impl TlsClient {
    pub fn new(config: Arc<ClientConfig>) -> TlsClient {
        TlsClient {
            config,
            server_name: "localhost".to_string(),
        }
    }
}

pub const ALL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
pub const TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
pub const TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// A rustls client configuration (the aws-lc-rs provider, as rust/tls)
/// trusting `roots`, presenting `client_cert` if given. Each call has its
/// own session cache, so resumption only happens between clients that
/// share one configuration.
pub fn tls_client_config(
    roots: &[CertificateDer<'static>],
    client_cert: Option<&Pem>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).expect("add root certificate");
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("protocol versions")
    .with_root_certificates(store);
    let cfg = match client_cert {
        None => builder.with_no_client_auth(),
        Some(p) => builder
            .with_client_auth_cert(vec![p.cert_der.clone()], p.key_der())
            .expect("client certificate"),
    };
    Arc::new(cfg)
}

/// The port -> TLS settings of running TLS servers, so that
/// `Client::connect(addr)` speaks TLS to them.
fn tls_registry() -> &'static Mutex<HashMap<u16, TlsClient>> {
    static R: OnceLock<Mutex<HashMap<u16, TlsClient>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A TLS `Server` of this process now listens on `port`.
pub(crate) fn register_tls_port(port: u16, tls: TlsClient) {
    tls_registry().lock().unwrap().insert(port, tls);
}

/// The TLS `Server` on `port` is gone; a poisoned lock (a test panicked
/// while holding it) is left alone, as the server is being dropped.
pub(crate) fn unregister_tls_port(port: u16) {
    if let Ok(mut m) = tls_registry().lock() {
        m.remove(&port);
    }
}

/// How to reach the TLS `Server` of this process on `port`, if any.
pub(crate) fn tls_port_client(port: u16) -> Option<TlsClient> {
    tls_registry().lock().unwrap().get(&port).cloned()
}
