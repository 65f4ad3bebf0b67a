//! Loading and validating a server configuration from PEM files.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, SectionKind};
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{RootCertStore, ServerConfig};

use crate::error::TlsError;
use crate::provider::Provider;

/// Entries in the server-side session cache (TLS 1.2 session IDs, and TLS
/// 1.3 stateful resumption if tickets were ever off). Each entry is a few
/// hundred bytes.
pub const SESSION_CACHE_SIZE: usize = 4096;

/// A validated, immutable rustls server configuration.
///
/// TLS 1.2 and 1.3 are enabled; session resumption works through stateless
/// tickets (a rotating ticket key held in memory) and a server-side session
/// cache of [`SESSION_CACHE_SIZE`] entries. With a client CA file, clients
/// must present a certificate that chains to one of its CAs (mutual TLS).
///
/// Cloning is cheap (an `Arc`).
#[derive(Clone)]
pub struct TlsServerConfig {
    inner: Arc<ServerConfig>,
    mutual: bool,
    provider: Provider,
}

impl fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerConfig")
            .field("mutual_tls", &self.mutual)
            .finish_non_exhaustive()
    }
}

impl TlsServerConfig {
    /// Load a PEM certificate chain (leaf first), its PEM private key
    /// (PKCS#8, PKCS#1/RSA or SEC1/EC) and, optionally, a PEM bundle of CAs
    /// that client certificates must chain to (this turns on mutual TLS with
    /// client certificates required).
    ///
    /// The key is checked against the leaf certificate. Errors name the file
    /// and the problem, e.g. `tls cert file /x: not found` or
    /// `tls key file /k does not match certificate /c`.
    pub fn load(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
        client_ca_path: Option<impl AsRef<Path>>,
    ) -> Result<Self, TlsError> {
        Self::load_with(Provider::DEFAULT, cert_path, key_path, client_ca_path)
    }

    /// [`TlsServerConfig::load`] with the named crypto provider (an error
    /// when this build does not have it).
    pub fn load_with(
        provider: Provider,
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
        client_ca_path: Option<impl AsRef<Path>>,
    ) -> Result<Self, TlsError> {
        let cert_path = cert_path.as_ref();
        let key_path = key_path.as_ref();
        let cert_label = format!("tls cert file {}", cert_path.display());
        let key_label = format!("tls key file {}", key_path.display());
        let cert_pem = read_file(cert_path, &cert_label)?;
        let key_pem = read_file(key_path, &key_label)?;
        let ca = match client_ca_path {
            Some(p) => {
                let p = p.as_ref();
                let label = format!("tls client CA file {}", p.display());
                let bytes = read_file(p, &label)?;
                Some((bytes, label))
            }
            None => None,
        };
        build(
            provider,
            (&cert_pem, &cert_label),
            (&key_pem, &key_label),
            ca.as_ref().map(|(b, l)| (b.as_slice(), l.as_str())),
        )
    }

    /// Like [`TlsServerConfig::load`] but from PEM bytes already in memory.
    /// Error messages call the inputs "tls cert", "tls key" and
    /// "tls client CA".
    pub fn from_pem(
        cert_pem: &[u8],
        key_pem: &[u8],
        client_ca_pem: Option<&[u8]>,
    ) -> Result<Self, TlsError> {
        Self::from_pem_with(Provider::DEFAULT, cert_pem, key_pem, client_ca_pem)
    }

    /// [`TlsServerConfig::from_pem`] with the named crypto provider (an
    /// error when this build does not have it).
    pub fn from_pem_with(
        provider: Provider,
        cert_pem: &[u8],
        key_pem: &[u8],
        client_ca_pem: Option<&[u8]>,
    ) -> Result<Self, TlsError> {
        build(
            provider,
            (cert_pem, "tls cert"),
            (key_pem, "tls key"),
            client_ca_pem.map(|b| (b, "tls client CA")),
        )
    }

    /// Whether client certificates are required and verified.
    pub fn is_mutual_tls(&self) -> bool {
        self.mutual
    }

    /// The crypto provider it was built with.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The underlying rustls configuration.
    pub fn rustls_config(&self) -> &Arc<ServerConfig> {
        &self.inner
    }
}

fn read_file(path: &Path, label: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ if path.is_dir() => "is a directory".to_string(),
            _ => e.to_string(),
        };
        TlsError::Config(format!("{label}: {why}"))
    })
}

/// What a PEM file held.
#[derive(Default)]
struct PemContents {
    certs: Vec<CertificateDer<'static>>,
    keys: Vec<PrivateKeyDer<'static>>,
    other: usize,
}

fn scan_pem(bytes: &[u8], label: &str) -> Result<PemContents, TlsError> {
    let mut rd = bytes;
    let mut out = PemContents::default();
    loop {
        match pem::from_buf(&mut rd) {
            Ok(None) => break,
            Ok(Some((kind, der))) => match kind {
                SectionKind::Certificate => out.certs.push(CertificateDer::from(der)),
                SectionKind::PrivateKey => out.keys.push(PrivatePkcs8KeyDer::from(der).into()),
                SectionKind::RsaPrivateKey => out.keys.push(PrivatePkcs1KeyDer::from(der).into()),
                SectionKind::EcPrivateKey => out.keys.push(PrivateSec1KeyDer::from(der).into()),
                _ => out.other += 1,
            },
            Err(e) => return Err(TlsError::Config(format!("{label}: invalid PEM: {e}"))),
        }
    }
    Ok(out)
}

/// A hint for a file that held no item of the wanted kind.
fn nothing_found(bytes: &[u8], found: &PemContents, wanted: &str) -> String {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return format!("no {wanted} found: the file is empty");
    }
    if bytes.first() == Some(&0x30) {
        return format!("no {wanted} found: the file looks like DER; PEM is expected");
    }
    if contains(bytes, b"ENCRYPTED PRIVATE KEY") || contains(bytes, b"Proc-Type: 4,ENCRYPTED") {
        return format!("no {wanted} found: encrypted private keys are not supported");
    }
    if wanted != "private key" && !found.keys.is_empty() {
        return format!("no {wanted} found: the file holds a private key (cert and key swapped?)");
    }
    if wanted == "private key" && !found.certs.is_empty() {
        return format!("no {wanted} found: the file holds certificates (cert and key swapped?)");
    }
    if found.other > 0 {
        return format!("no {wanted} found: only other PEM sections");
    }
    format!("no {wanted} found: not a PEM file")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn build(
    which: Provider,
    (cert_pem, cert_label): (&[u8], &str),
    (key_pem, key_label): (&[u8], &str),
    client_ca: Option<(&[u8], &str)>,
) -> Result<TlsServerConfig, TlsError> {
    let provider: Arc<CryptoProvider> = which.crypto().ok_or_else(|| {
        TlsError::Config(format!(
            "tls: crypto provider {} is not in this build",
            which.name()
        ))
    })?;
    let cfg_err = |label: &str, what: String| TlsError::Config(format!("{label}: {what}"));

    // Certificate chain.
    let certs_found = scan_pem(cert_pem, cert_label)?;
    if certs_found.certs.is_empty() {
        return Err(cfg_err(
            cert_label,
            nothing_found(cert_pem, &certs_found, "certificates"),
        ));
    }
    let certs = certs_found.certs;

    // Private key.
    let mut keys_found = scan_pem(key_pem, key_label)?;
    if keys_found.keys.is_empty() {
        return Err(cfg_err(
            key_label,
            nothing_found(key_pem, &keys_found, "private key"),
        ));
    }
    if keys_found.keys.len() > 1 {
        return Err(cfg_err(
            key_label,
            format!("holds {} private keys; expected one", keys_found.keys.len()),
        ));
    }
    let key_der = keys_found.keys.remove(0);
    let signing_key = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| cfg_err(key_label, format!("unusable private key: {e}")))?;

    // The key must belong to the leaf certificate.
    let certified = CertifiedKey::new(certs, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            let cert = match cert_label.strip_prefix("tls cert file ") {
                Some(path) => format!("certificate {path}"),
                None => "the certificate".to_string(),
            };
            return Err(TlsError::Config(format!(
                "{key_label} does not match {cert}"
            )));
        }
        Err(e) => {
            return Err(cfg_err(
                cert_label,
                format!("invalid leaf certificate: {e}"),
            ))
        }
    }

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(format!("tls: unsupported protocol setup: {e}")))?;

    let mutual = client_ca.is_some();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some((ca_pem, ca_label)) => {
            let found = scan_pem(ca_pem, ca_label)?;
            if found.certs.is_empty() {
                return Err(cfg_err(
                    ca_label,
                    nothing_found(ca_pem, &found, "certificates"),
                ));
            }
            let mut roots = RootCertStore::empty();
            for (i, c) in found.certs.into_iter().enumerate() {
                roots
                    .add(c)
                    .map_err(|e| cfg_err(ca_label, format!("certificate #{}: {e}", i + 1)))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| cfg_err(ca_label, format!("unusable client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    config.ticketer = which
        .ticketer()
        .map_err(|e| TlsError::Config(format!("tls: cannot create session ticketer: {e}")))?;
    Ok(TlsServerConfig {
        inner: Arc::new(config),
        mutual,
        provider: which,
    })
}
