//! TLS client (rustls 0.23, the crypto provider rust/tls uses: aws-lc-rs by
//! default, ring with `--no-default-features --features ring`).
//!
//! A [`TlsStream`] drives a `ClientConnection` over a blocking (or, while
//! a large batch is written, non-blocking) socket with explicit buffers:
//! ciphertext read from the socket is fed to rustls only as far as rustls
//! wants it, and ciphertext to send is collected in `out` and written by the
//! caller's thread. Only write paths put bytes on the socket (a pending
//! post-handshake message, e.g. a KeyUpdate answer, goes out with the next
//! write), so in the open loop a writer and a reader thread can share one
//! connection: the session state sits behind a mutex that is never held
//! across socket I/O, and only the writer thread writes.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, HandshakeKind, RootCertStore,
    SignatureScheme,
};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

/// Name of the crypto provider compiled in.
#[cfg(feature = "aws-lc-rs")]
pub const CRYPTO_PROVIDER: &str = "aws-lc-rs";
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
pub const CRYPTO_PROVIDER: &str = "ring";

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!("molt-bench needs a crypto provider: enable feature `aws-lc-rs` or `ring`");

/// The rustls crypto provider (the same choice as rust/tls makes).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let p = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let p = rustls::crypto::ring::default_provider();
    Arc::new(p)
}

/// Most plaintext encrypted per non-blocking write call (bounds `out`).
const WRITE_CHUNK: usize = 16 * 1024;
/// Ciphertext read from the socket per read call.
const RAW_READ: usize = 64 * 1024;

/// The TLS options of the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub ca: Option<String>,
    pub insecure: bool,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub server_name: String,
    pub resume: bool,
}

/// A validated client configuration, shared by every connection of the
/// process (so is its session cache: tickets are cached per process).
#[derive(Debug, Clone)]
pub struct TlsPlan {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
    pub resume: bool,
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificates from {path}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot parse certificates in {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("no certificate (PEM) in {path}"));
    }
    Ok(certs)
}

fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("cannot read a private key (PEM) from {path}: {e}"))
}

impl TlsPlan {
    pub fn new(o: &Options) -> Result<TlsPlan, String> {
        let provider = crypto_provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?;
        let builder =
            match (&o.ca, o.insecure) {
                (Some(_), true) => return Err("--tls-ca and --tls-insecure contradict".into()),
                (None, false) => return Err(
                    "--tls needs --tls-ca FILE to verify the server, or an explicit --tls-insecure"
                        .into(),
                ),
                (Some(ca), false) => {
                    let mut roots = RootCertStore::empty();
                    for c in load_certs(ca)? {
                        roots
                            .add(c)
                            .map_err(|e| format!("unusable CA certificate in {ca}: {e}"))?;
                    }
                    builder.with_root_certificates(roots)
                }
                (None, true) => builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(NoVerification(provider))),
            };
        let mut config = match (&o.cert, &o.key) {
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
                .map_err(|e| format!("client certificate {cert} / key {key}: {e}"))?,
            (None, None) => builder.with_no_client_auth(),
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        if !o.resume {
            config.resumption = Resumption::disabled();
        }
        let server_name = ServerName::try_from(o.server_name.clone())
            .map_err(|e| format!("--tls-server-name {:?}: {e}", o.server_name))?;
        Ok(TlsPlan {
            config: Arc::new(config),
            server_name,
            resume: o.resume,
        })
    }
}

/// `--tls-insecure`: accepts any certificate, but still checks that the
/// handshake is signed by the key of the certificate presented.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn bad_data(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// One TLS connection (or, after [`TlsStream::split_writer`], its writing half).
#[derive(Debug)]
pub struct TlsStream {
    sock: TcpStream,
    tls: Arc<Mutex<ClientConnection>>,
    /// Ciphertext read from the socket, `raw_start..raw_end` not yet given to rustls.
    raw: Vec<u8>,
    raw_start: usize,
    raw_end: usize,
    /// Ciphertext to send, `out_start..` not yet written.
    out: Vec<u8>,
    out_start: usize,
    /// Ciphertext bytes written so far (progress while `write` says WouldBlock).
    sent: u64,
}

impl TlsStream {
    /// Runs the handshake on a connected blocking socket (its timeouts
    /// apply); returns the stream and whether the session was resumed.
    pub fn handshake(sock: TcpStream, plan: &TlsPlan) -> io::Result<(TlsStream, HandshakeKind)> {
        let mut c = ClientConnection::new(plan.config.clone(), plan.server_name.clone())
            .map_err(bad_data)?;
        c.set_buffer_limit(None);
        let mut s = &sock;
        while c.is_handshaking() {
            c.complete_io(&mut s)?;
        }
        while c.wants_write() {
            c.write_tls(&mut s)?;
        }
        let kind = c.handshake_kind().unwrap_or(HandshakeKind::Full);
        Ok((
            TlsStream {
                sock,
                tls: Arc::new(Mutex::new(c)),
                raw: vec![0; RAW_READ],
                raw_start: 0,
                raw_end: 0,
                out: Vec::new(),
                out_start: 0,
                sent: 0,
            },
            kind,
        ))
    }

    fn lock(&self) -> MutexGuard<'_, ClientConnection> {
        self.tls.lock().expect("TLS session lock")
    }

    /// A second handle on the same session for a writer thread (the open
    /// loop); this one must then only read, the other only write.
    pub fn split_writer(&self) -> io::Result<TlsStream> {
        Ok(TlsStream {
            sock: self.sock.try_clone()?,
            tls: self.tls.clone(),
            raw: Vec::new(),
            raw_start: 0,
            raw_end: 0,
            out: Vec::new(),
            out_start: 0,
            sent: 0,
        })
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.sock.set_nonblocking(on)
    }

    pub fn shutdown(&self) -> io::Result<()> {
        self.sock.shutdown(Shutdown::Both)
    }

    /// Ciphertext bytes written to the socket so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Ciphertext is waiting to be written.
    pub fn pending_output(&self) -> bool {
        self.out_start < self.out.len()
    }

    /// Encrypts `buf` (all of it: the buffer limit is off) into `out`.
    fn encrypt(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut t = self.tls.lock().expect("TLS session lock");
        if !buf.is_empty() {
            t.writer().write_all(buf)?;
        }
        while t.wants_write() {
            t.write_tls(&mut self.out)?;
        }
        Ok(())
    }

    /// Writes pending ciphertext; on a non-blocking socket Err(WouldBlock)
    /// when some is left.
    pub fn flush_output(&mut self) -> io::Result<()> {
        while self.out_start < self.out.len() {
            match (&self.sock).write(&self.out[self.out_start..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out_start += n;
                    self.sent += n as u64;
                }
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_start = 0;
        Ok(())
    }

    /// Sends close_notify (best effort).
    pub fn close(&mut self) {
        self.lock().send_close_notify();
        if self.encrypt(&[]).is_ok() {
            let _ = self.flush_output();
        }
    }
}

impl Read for TlsStream {
    /// Plaintext; Ok(0) at the end of the stream (close_notify or not).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut t = self.tls.lock().expect("TLS session lock");
                while self.raw_start < self.raw_end && t.wants_read() {
                    let n = t.read_tls(&mut &self.raw[self.raw_start..self.raw_end])?;
                    self.raw_start += n;
                    t.process_new_packets().map_err(bad_data)?;
                }
                match t.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
                if self.raw_start < self.raw_end {
                    return Err(io::Error::other(
                        "TLS: records left that rustls will not take",
                    ));
                }
            }
            self.raw_start = 0;
            self.raw_end = 0;
            let n = (&self.sock).read(&mut self.raw)?;
            if n == 0 {
                return Ok(0);
            }
            self.raw_end = n;
        }
    }
}

impl Write for TlsStream {
    /// Non-blocking use: flushes earlier ciphertext first (Err(WouldBlock)
    /// if it cannot), then encrypts at most 16 KiB and tries to send it.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush_output()?;
        let n = buf.len().min(WRITE_CHUNK);
        self.encrypt(&buf[..n])?;
        match self.flush_output() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    /// Blocking use: encrypts everything, writes everything.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.encrypt(buf)?;
        self.flush_output()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_output()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            server_name: "localhost".into(),
            resume: true,
            ..Default::default()
        }
    }

    #[test]
    fn verification_must_be_chosen() {
        let e = TlsPlan::new(&opts()).unwrap_err();
        assert!(e.contains("--tls-insecure"), "{e}");
        let o = Options {
            insecure: true,
            ..opts()
        };
        let p = TlsPlan::new(&o).unwrap();
        assert!(p.resume);
        let o = Options {
            insecure: true,
            ca: Some("/nonexistent".into()),
            ..opts()
        };
        assert!(TlsPlan::new(&o).is_err());
    }

    #[test]
    fn bad_files_and_names_are_refused() {
        let o = Options {
            ca: Some("/nonexistent/ca.pem".into()),
            ..opts()
        };
        assert!(TlsPlan::new(&o)
            .unwrap_err()
            .contains("/nonexistent/ca.pem"));
        let o = Options {
            insecure: true,
            cert: Some("/nonexistent/c.pem".into()),
            ..opts()
        };
        assert!(TlsPlan::new(&o).unwrap_err().contains("go together"));
        let o = Options {
            insecure: true,
            server_name: "not a name!".into(),
            ..opts()
        };
        assert!(TlsPlan::new(&o).unwrap_err().contains("--tls-server-name"));
    }

    #[test]
    fn resumption_can_be_disabled() {
        let o = Options {
            insecure: true,
            resume: false,
            ..opts()
        };
        let p = TlsPlan::new(&o).unwrap();
        assert!(!p.resume);
        assert_eq!(CRYPTO_PROVIDER, {
            #[cfg(feature = "aws-lc-rs")]
            {
                "aws-lc-rs"
            }
            #[cfg(not(feature = "aws-lc-rs"))]
            {
                "ring"
            }
        });
    }
}
