//! Shared test/bench support: certificates made with rcgen at run time, an
//! in-memory non-blocking socket pair, and a rustls client driver.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use molt_tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use molt_tls::rustls::{self, ClientConfig, ClientConnection, RootCertStore};
use molt_tls::{Progress, TlsSession};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

// ---------------------------------------------------------------- PKI

/// A PEM certificate with its PEM (PKCS#8) key.
#[derive(Clone)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

/// A CA plus certificates it issued.
pub struct Pki {
    pub ca_pem: String,
    pub ca_der: CertificateDer<'static>,
    pub server: Pem,
    pub client: Pem,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

impl Pki {
    /// A CA named `name`, a server cert for "localhost" and a client cert.
    pub fn new(name: &str) -> Self {
        let issuer = ca(name);
        let server = issue(&issuer, "localhost", true, KeyPair::generate().unwrap());
        let client = issue(&issuer, "client", false, KeyPair::generate().unwrap());
        Pki {
            ca_pem: issuer.pem(),
            ca_der: issuer.der().clone(),
            server,
            client,
            issuer,
        }
    }

    /// Another server certificate from this CA, with `key`.
    pub fn server_with_key(&self, cn: &str, key: KeyPair) -> Pem {
        issue(&self.issuer, cn, true, key)
    }
}

fn issue(issuer: &CertifiedIssuer<'static, KeyPair>, cn: &str, server: bool, key: KeyPair) -> Pem {
    let mut p = CertificateParams::new(vec![cn.to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let cert = p.signed_by(&key, issuer).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// The DER of the first CERTIFICATE in a PEM string.
pub fn cert_der(pem: &str) -> CertificateDer<'static> {
    use molt_tls::rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

// ------------------------------------------------- DER / PEM helpers

/// Split one DER TLV: (tag, contents, rest).
fn tlv(d: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = d[0];
    let (len, hdr) = if d[1] & 0x80 == 0 {
        (d[1] as usize, 2)
    } else {
        let n = (d[1] & 0x7f) as usize;
        let mut l = 0usize;
        for b in &d[2..2 + n] {
            l = (l << 8) | *b as usize;
        }
        (l, 2 + n)
    };
    (tag, &d[hdr..hdr + len], &d[hdr + len..])
}

/// The inner key of a PKCS#8 PrivateKeyInfo: RSAPrivateKey (PKCS#1) for
/// RSA, ECPrivateKey (SEC1) for EC.
pub fn pkcs8_inner(pkcs8: &[u8]) -> Vec<u8> {
    let (tag, body, _) = tlv(pkcs8);
    assert_eq!(tag, 0x30);
    let (t, _, rest) = tlv(body); // version
    assert_eq!(t, 0x02);
    let (t, _, rest) = tlv(rest); // algorithm
    assert_eq!(t, 0x30);
    let (t, key, _) = tlv(rest);
    assert_eq!(t, 0x04);
    key.to_vec()
}

pub fn pem_encode(label: &str, der: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for c in der.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                b64.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

// ------------------------------------------------------- temp files

static DIR_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!(
            "molt-tls-test-{}-{}",
            std::process::id(),
            DIR_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn write_pki(dir: &TempDir, pem: &Pem, prefix: &str) -> (PathBuf, PathBuf) {
    (
        dir.file(&format!("{prefix}cert.pem"), pem.cert.as_bytes()),
        dir.file(&format!("{prefix}key.pem"), pem.key.as_bytes()),
    )
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

// ------------------------------------------------- in-memory sockets

#[derive(Default)]
struct Pipe {
    buf: VecDeque<u8>,
    closed: bool,
}

/// One end of an in-memory, non-blocking socket pair. `Read` returns
/// WouldBlock when empty (Ok(0) after the other end closed); `Write`
/// accepts at most `write_chunk` bytes per call and WouldBlock once
/// `write_cap` bytes wait unread.
#[derive(Clone)]
pub struct End {
    rx: Rc<RefCell<Pipe>>,
    tx: Rc<RefCell<Pipe>>,
    pub write_chunk: usize,
    pub write_cap: usize,
}

pub fn pair() -> (End, End) {
    let a = Rc::new(RefCell::new(Pipe::default()));
    let b = Rc::new(RefCell::new(Pipe::default()));
    (
        End {
            rx: a.clone(),
            tx: b.clone(),
            write_chunk: usize::MAX,
            write_cap: usize::MAX,
        },
        End {
            rx: b,
            tx: a,
            write_chunk: usize::MAX,
            write_cap: usize::MAX,
        },
    )
}

impl End {
    /// Half-close: the peer's reads see EOF once drained.
    pub fn close_write(&self) {
        self.tx.borrow_mut().closed = true;
    }
    /// Bytes waiting to be read at this end.
    pub fn readable(&self) -> usize {
        self.rx.borrow().buf.len()
    }
    /// Take all bytes waiting at this end (raw, e.g. TLS records).
    pub fn take_all(&self) -> Vec<u8> {
        self.rx.borrow_mut().buf.drain(..).collect()
    }
    /// Inject raw bytes towards the peer.
    pub fn inject(&self, bytes: &[u8]) {
        self.tx.borrow_mut().buf.extend(bytes);
    }
}

impl Read for End {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut p = self.rx.borrow_mut();
        if p.buf.is_empty() {
            return if p.closed {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        p.buf.read(buf)
    }
}

impl Write for End {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut p = self.tx.borrow_mut();
        if p.closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let room = self.write_cap.saturating_sub(p.buf.len());
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(room).min(self.write_chunk);
        p.buf.extend(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------- client

#[derive(Clone, Copy, Debug)]
pub enum Versions {
    Tls12,
    Tls13,
    Both,
}

pub fn client_config(
    ca: &CertificateDer<'static>,
    versions: Versions,
    client_auth: Option<&Pem>,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let vs: &[&'static rustls::SupportedProtocolVersion] = match versions {
        Versions::Tls12 => &[&rustls::version::TLS12],
        Versions::Tls13 => &[&rustls::version::TLS13],
        Versions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let b = ClientConfig::builder_with_provider(molt_tls::crypto_provider())
        .with_protocol_versions(vs)
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match client_auth {
        None => b.with_no_client_auth(),
        Some(pem) => {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                KeyPair::from_pem(&pem.key).unwrap().serialize_der(),
            ));
            b.with_client_auth_cert(vec![cert_der(&pem.cert)], key)
                .unwrap()
        }
    };
    Arc::new(cfg)
}

/// A rustls client on one end of a pipe.
pub struct Client {
    pub conn: ClientConnection,
    pub io: End,
    pub error: Option<rustls::Error>,
}

impl Client {
    pub fn new(cfg: &Arc<ClientConfig>, io: End) -> Self {
        let conn = ClientConnection::new(cfg.clone(), "localhost".try_into().unwrap()).unwrap();
        Client {
            conn,
            io,
            error: None,
        }
    }

    /// Move bytes both ways as far as possible; records TLS errors.
    pub fn pump(&mut self) {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.io) {
                Ok(_) => {}
                Err(_) => break,
            }
        }
        loop {
            match self.conn.read_tls(&mut self.io) {
                Ok(0) => break,
                Ok(_) => {
                    if let Err(e) = self.conn.process_new_packets() {
                        self.error.get_or_insert(e);
                        while self.conn.wants_write() {
                            if self.conn.write_tls(&mut self.io).is_err() {
                                break;
                            }
                        }
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.io).is_err() {
                break;
            }
        }
    }

    /// Queue plaintext (unbounded buffer on the client side).
    pub fn send(&mut self, data: &[u8]) {
        self.conn.set_buffer_limit(None);
        self.conn.writer().write_all(data).unwrap();
    }

    /// Pump and take plaintext until nothing more arrives (rustls caps
    /// its received-plaintext buffer, so one pump may not take it all).
    pub fn recv_all(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            self.pump();
            let got = self.recv();
            if got.is_empty() && self.io.readable() == 0 {
                return out;
            }
            out.extend(got);
        }
    }

    /// Take the plaintext the client has decrypted so far.
    pub fn recv(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            match self.conn.reader().read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        out
    }
}

/// Run the handshake between `server` and `client` to completion or error.
pub fn handshake(server: &mut TlsSession, sio: &mut End, client: &mut Client) -> Progress {
    for _ in 0..100 {
        client.pump();
        let p = server.handshake(sio);
        client.pump();
        match p {
            Progress::Done if !client.conn.is_handshaking() => return Progress::Done,
            Progress::Done | Progress::WantRead | Progress::WantWrite => {}
            other => return other,
        }
        if client.error.is_some() {
            // Let the server see the client's alert.
            return server.handshake(sio);
        }
    }
    panic!("handshake did not finish in 100 rounds");
}
