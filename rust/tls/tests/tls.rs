//! Behaviour tests for molt-tls over in-memory non-blocking sockets, with a
//! rustls client and certificates generated at test time.

mod common;

use std::sync::Arc;

use common::*;
use molt_tls::rustls::client::{Resumption, Tls12Resumption};
use molt_tls::rustls::ClientConfig;
use molt_tls::{
    IoOutcome, Progress, Provider, TlsAcceptor, TlsError, TlsServerConfig, TlsSession, TlsVersion,
    SEND_BUFFER_LIMIT,
};
use rcgen::KeyPair;

fn acceptor(pki: &Pki, mutual: bool) -> TlsAcceptor {
    let cfg = TlsServerConfig::from_pem(
        pki.server.cert.as_bytes(),
        pki.server.key.as_bytes(),
        mutual.then_some(pki.ca_pem.as_bytes()),
    )
    .unwrap();
    TlsAcceptor::new(cfg)
}

struct Conn {
    server: TlsSession,
    sio: End,
    client: Client,
}

fn connect(acc: &TlsAcceptor, ccfg: &Arc<ClientConfig>) -> (Conn, Progress) {
    let (mut sio, cio) = pair();
    let mut server = acc.accept().unwrap();
    let mut client = Client::new(ccfg, cio);
    let p = handshake(&mut server, &mut sio, &mut client);
    (
        Conn {
            server,
            sio,
            client,
        },
        p,
    )
}

fn connect_ok(acc: &TlsAcceptor, ccfg: &Arc<ClientConfig>) -> Conn {
    let (c, p) = connect(acc, ccfg);
    assert_eq!(p, Progress::Done, "client error: {:?}", c.client.error);
    c
}

impl Conn {
    /// Server reads everything available (buffer of `chunk` bytes).
    fn server_read_all(&mut self, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            match self.server.read(&mut self.sio, &mut buf).unwrap() {
                IoOutcome::Bytes(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if n < buf.len() {
                        // conn.c's contract: a short read with nothing
                        // pending means the socket is drained.
                        assert_eq!(self.server.pending_plaintext(), 0);
                        assert_eq!(self.sio.readable(), 0);
                    }
                }
                IoOutcome::WantRead => return out,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Server writes all of `data`, pumping the client whenever blocked;
    /// returns what the client received.
    fn server_write_all(&mut self, data: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut off = 0;
        let mut spins = 0;
        while off < data.len() {
            match self.server.write(&mut self.sio, &data[off..]).unwrap() {
                IoOutcome::Bytes(n) => {
                    assert!(n > 0);
                    off += n;
                    // Bounded buffering: accepted-but-unsent plaintext
                    // never exceeds the limit (plus one record of slack).
                    let on_wire_or_delivered = got.len() + self.sio_unread_plain_upper();
                    assert!(
                        off <= on_wire_or_delivered + SEND_BUFFER_LIMIT + 16 * 1024 + 64,
                        "buffered too much: accepted {off}, delivered {}",
                        got.len()
                    );
                }
                IoOutcome::WantWrite => {
                    got.extend(self.client.recv_all());
                    spins += 1;
                    assert!(spins < 1_000_000);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        loop {
            let p = self.server.flush(&mut self.sio);
            got.extend(self.client.recv_all());
            if p == Progress::Done {
                break;
            }
            assert_eq!(p, Progress::WantWrite);
        }
        got.extend(self.client.recv_all());
        got
    }

    /// Ciphertext bytes in flight towards the client (an upper bound on the
    /// plaintext they carry).
    fn sio_unread_plain_upper(&self) -> usize {
        self.client.io.readable()
    }

    fn echo(&mut self, msg: &[u8]) {
        self.client.send(msg);
        self.client.pump();
        let got = self.server_read_all(4096);
        assert_eq!(got, msg);
        let back = self.server_write_all(&got);
        assert_eq!(back, msg);
    }
}

// ------------------------------------------------ handshake and echo

fn handshake_and_echo(versions: Versions, want: TlsVersion) {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let ccfg = client_config(&pki.ca_der, versions, None);
    let mut c = connect_ok(&acc, &ccfg);
    assert!(c.server.is_established());
    assert_eq!(c.server.protocol_version(), Some(want));
    assert!(c.server.cipher_suite().is_some());
    assert!(!c.server.was_resumed());
    assert!(!c.server.has_peer_certificate());
    assert_eq!(c.server.server_name(), Some("localhost"));
    assert_eq!(c.server.handshake(&mut c.sio), Progress::Done);
    c.echo(b"set k 0 0 5\r\nhello\r\n");
    c.echo(b"get k\r\n");
    let s = acc.stats().snapshot();
    assert_eq!((s.handshakes, s.handshake_errors, s.resumed), (1, 0, 0));
}

#[test]
fn tls13_handshake_and_echo() {
    handshake_and_echo(Versions::Tls13, TlsVersion::Tls13);
}

#[test]
fn tls12_handshake_and_echo() {
    handshake_and_echo(Versions::Tls12, TlsVersion::Tls12);
}

/// A configuration serves with the provider it names; one this build does
/// not have is refused by name.
#[test]
fn each_provider_in_the_build_serves_and_the_others_are_refused() {
    let pki = Pki::new("ca");
    let (cert, key) = (pki.server.cert.as_bytes(), pki.server.key.as_bytes());
    for p in [Provider::AwsLcRs, Provider::Ring, Provider::Graviola] {
        match TlsServerConfig::from_pem_with(p, cert, key, None) {
            Ok(cfg) => {
                assert!(p.available(), "{p:?}");
                assert_eq!(cfg.provider(), p);
                let acc = TlsAcceptor::new(cfg);
                let ccfg = client_config(&pki.ca_der, Versions::Both, None);
                let mut c = connect_ok(&acc, &ccfg);
                c.echo(b"get k\r\n");
                assert_eq!(acc.config().provider(), p);
            }
            Err(e) => {
                assert!(!p.available(), "{p:?}: {e}");
                assert_eq!(
                    e.reason(),
                    format!("tls: crypto provider {} is not in this build", p.name())
                );
            }
        }
    }
}

#[test]
fn default_client_negotiates_tls13() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let c = connect_ok(&acc, &client_config(&pki.ca_der, Versions::Both, None));
    assert_eq!(c.server.protocol_version(), Some(TlsVersion::Tls13));
}

#[test]
fn handshake_survives_a_socket_that_takes_few_bytes() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    for versions in [Versions::Tls12, Versions::Tls13] {
        let (mut sio, cio) = pair();
        sio.write_chunk = 100;
        sio.write_cap = 300;
        let mut server = acc.accept().unwrap();
        let mut client = Client::new(&client_config(&pki.ca_der, versions, None), cio);
        let mut saw_want_write = false;
        let mut done = false;
        for _ in 0..500 {
            client.pump();
            match server.handshake(&mut sio) {
                Progress::WantWrite => saw_want_write = true,
                Progress::WantRead => {}
                Progress::Done => {
                    client.pump();
                    if !client.conn.is_handshaking() {
                        done = true;
                        break;
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(done && saw_want_write);
        let mut c = Conn {
            server,
            sio,
            client,
        };
        c.echo(b"version\r\n");
    }
}

#[test]
fn read_and_write_drive_an_unfinished_handshake() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let (mut sio, cio) = pair();
    let mut server = acc.accept().unwrap();
    let mut client = Client::new(&client_config(&pki.ca_der, Versions::Tls13, None), cio);
    client.send(b"stats\r\n");
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    for _ in 0..20 {
        client.pump();
        match server.read(&mut sio, &mut buf).unwrap() {
            IoOutcome::Bytes(n) => got.extend_from_slice(&buf[..n]),
            IoOutcome::WantRead | IoOutcome::WantWrite => {}
            IoOutcome::Eof => panic!("eof"),
        }
        if got.len() == 7 {
            break;
        }
    }
    assert_eq!(got, b"stats\r\n");
}

// ------------------------------------------------------- resumption

fn resumption(versions: Versions, tls12: Tls12Resumption, want: TlsVersion) {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let mut ccfg = (*client_config(&pki.ca_der, versions, None)).clone();
    ccfg.resumption = Resumption::in_memory_sessions(32).tls12_resumption(tls12);
    let ccfg = Arc::new(ccfg);
    let mut first = connect_ok(&acc, &ccfg);
    // TLS 1.3 tickets travel after the handshake: let the client take them.
    first.echo(b"noop\r\n");
    assert!(!first.server.was_resumed());
    let mut second = connect_ok(&acc, &ccfg);
    assert!(second.server.was_resumed(), "second connection not resumed");
    assert_eq!(second.server.protocol_version(), Some(want));
    second.echo(b"get k\r\n");
    let s = acc.stats().snapshot();
    assert_eq!((s.handshakes, s.resumed, s.handshake_errors), (2, 1, 0));
}

#[test]
fn tls13_session_resumption_by_ticket() {
    resumption(
        Versions::Tls13,
        Tls12Resumption::SessionIdOrTickets,
        TlsVersion::Tls13,
    );
}

#[test]
fn tls12_session_resumption_by_ticket() {
    resumption(
        Versions::Tls12,
        Tls12Resumption::SessionIdOrTickets,
        TlsVersion::Tls12,
    );
}

#[test]
fn tls12_session_resumption_by_server_cache() {
    resumption(
        Versions::Tls12,
        Tls12Resumption::SessionIdOnly,
        TlsVersion::Tls12,
    );
}

// -------------------------------------------------------- mutual TLS

#[test]
fn mutual_tls_accepts_client_certificate_from_the_ca() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, true);
    assert!(acc.config().is_mutual_tls());
    for v in [Versions::Tls12, Versions::Tls13] {
        let ccfg = client_config(&pki.ca_der, v, Some(&pki.client));
        let mut c = connect_ok(&acc, &ccfg);
        assert!(c.server.has_peer_certificate());
        assert_eq!(
            c.server.peer_certificate().unwrap(),
            cert_der(&pki.client.cert).as_ref()
        );
        c.echo(b"get a\r\n");
    }
}

#[test]
fn mutual_tls_rejects_missing_client_certificate() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, true);
    for v in [Versions::Tls12, Versions::Tls13] {
        let ccfg = client_config(&pki.ca_der, v, None);
        let (mut c, p) = connect(&acc, &ccfg);
        let Progress::Error(e) = p else {
            panic!("accepted without client cert: {p:?}")
        };
        assert!(matches!(e, TlsError::Handshake(_)), "{e:?}");
        assert!(e.reason().contains("certificate"), "{e}");
        // Sticky.
        let mut buf = [0u8; 8];
        assert_eq!(c.server.read(&mut c.sio, &mut buf), Err(e.clone()));
        assert_eq!(c.server.handshake(&mut c.sio), Progress::Error(e));
    }
    let s = acc.stats().snapshot();
    assert_eq!((s.handshakes, s.handshake_errors), (0, 2));
}

#[test]
fn mutual_tls_rejects_client_certificate_from_another_ca() {
    let pki = Pki::new("ca");
    let other = Pki::new("other ca");
    let acc = acceptor(&pki, true);
    for v in [Versions::Tls12, Versions::Tls13] {
        let ccfg = client_config(&pki.ca_der, v, Some(&other.client));
        let (_c, p) = connect(&acc, &ccfg);
        let Progress::Error(e) = p else {
            panic!("accepted a foreign client cert: {p:?}")
        };
        assert!(e.reason().to_lowercase().contains("certificate"), "{e}");
    }
    assert_eq!(acc.stats().snapshot().handshake_errors, 2);
}

// --------------------------------------------------- configuration

fn config_err(r: Result<TlsServerConfig, TlsError>) -> String {
    match r {
        Ok(_) => panic!("expected a configuration error"),
        Err(TlsError::Config(m)) => m,
        Err(e) => panic!("wrong error class: {e:?}"),
    }
}

#[test]
fn load_from_files_with_and_without_client_ca() {
    let pki = Pki::new("ca");
    let dir = TempDir::new();
    let (cert, key) = write_pki(&dir, &pki.server, "");
    let ca = dir.file("ca.pem", pki.ca_pem.as_bytes());
    let plain = TlsServerConfig::load(&cert, &key, None::<&str>).unwrap();
    assert!(!plain.is_mutual_tls());
    let mutual = TlsServerConfig::load(&cert, &key, Some(&ca)).unwrap();
    assert!(mutual.is_mutual_tls());
    let acc = TlsAcceptor::load(&cert, &key, Some(&ca)).unwrap();
    connect_ok(
        &acc,
        &client_config(&pki.ca_der, Versions::Both, Some(&pki.client)),
    );
}

#[test]
fn key_that_does_not_match_the_certificate_is_rejected() {
    let pki = Pki::new("ca");
    let dir = TempDir::new();
    let (cert, _) = write_pki(&dir, &pki.server, "");
    let wrong = dir.file(
        "wrong.pem",
        KeyPair::generate().unwrap().serialize_pem().as_bytes(),
    );
    let m = config_err(TlsServerConfig::load(&cert, &wrong, None::<&str>));
    assert_eq!(
        m,
        format!(
            "tls key file {} does not match certificate {}",
            wrong.display(),
            cert.display()
        )
    );
    // In memory too.
    let m = config_err(TlsServerConfig::from_pem(
        pki.server.cert.as_bytes(),
        pki.client.key.as_bytes(),
        None,
    ));
    assert!(m.contains("does not match"), "{m}");
}

#[test]
fn missing_files_are_named() {
    let pki = Pki::new("ca");
    let dir = TempDir::new();
    let (cert, key) = write_pki(&dir, &pki.server, "");
    let nope = dir.path("nope.pem");
    assert!(!exists(&nope));
    let m = config_err(TlsServerConfig::load(&nope, &key, None::<&str>));
    assert_eq!(m, format!("tls cert file {}: not found", nope.display()));
    let m = config_err(TlsServerConfig::load(&cert, &nope, None::<&str>));
    assert_eq!(m, format!("tls key file {}: not found", nope.display()));
    let m = config_err(TlsServerConfig::load(&cert, &key, Some(&nope)));
    assert_eq!(
        m,
        format!("tls client CA file {}: not found", nope.display())
    );
    let m = config_err(TlsServerConfig::load(&dir.0, &key, None::<&str>));
    assert!(
        m.starts_with(&format!("tls cert file {}: ", dir.0.display())),
        "{m}"
    );
}

#[test]
fn garbage_and_wrong_content_are_explained() {
    let pki = Pki::new("ca");
    let dir = TempDir::new();
    let (cert, key) = write_pki(&dir, &pki.server, "");
    let garbage = dir.file("garbage.pem", b"this is not a certificate\n");
    let empty = dir.file("empty.pem", b"");
    let der = dir.file("cert.der", cert_der(&pki.server.cert).as_ref());
    let broken = dir.file(
        "broken.pem",
        b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let encrypted = dir.file(
        "enc.pem",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let cases: Vec<(
        std::path::PathBuf,
        std::path::PathBuf,
        Option<&std::path::PathBuf>,
        String,
    )> = vec![
        (
            garbage.clone(),
            key.clone(),
            None,
            format!("tls cert file {}: no certificates found", garbage.display()),
        ),
        (
            empty.clone(),
            key.clone(),
            None,
            format!(
                "tls cert file {}: no certificates found: the file is empty",
                empty.display()
            ),
        ),
        (der.clone(), key.clone(), None, "looks like DER".into()),
        (
            broken.clone(),
            key.clone(),
            None,
            format!("tls cert file {}: invalid PEM", broken.display()),
        ),
        (key.clone(), cert.clone(), None, "swapped".into()),
        (
            cert.clone(),
            garbage.clone(),
            None,
            format!("tls key file {}: no private key found", garbage.display()),
        ),
        (
            cert.clone(),
            encrypted.clone(),
            None,
            "encrypted private keys are not supported".into(),
        ),
        (
            cert.clone(),
            key.clone(),
            Some(&garbage),
            format!(
                "tls client CA file {}: no certificates found",
                garbage.display()
            ),
        ),
    ];
    for (c, k, ca, want) in cases {
        let m = config_err(TlsServerConfig::load(&c, &k, ca));
        assert!(m.contains(&want), "{m:?} lacks {want:?}");
    }
    // A key that is not a key.
    let bogus_key = dir.file(
        "bogus.pem",
        pem_encode("PRIVATE KEY", b"\x30\x03\x02\x01\x00").as_bytes(),
    );
    let m = config_err(TlsServerConfig::load(&cert, &bogus_key, None::<&str>));
    assert!(
        m.starts_with(&format!(
            "tls key file {}: unusable private key",
            bogus_key.display()
        )),
        "{m}"
    );
}

#[test]
fn key_formats_pkcs8_pkcs1_and_sec1() {
    let pki = Pki::new("ca");
    let ec = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ec_pem = pki.server_with_key("localhost", ec);
    let rsa = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let rsa_pem = pki.server_with_key("localhost", rsa);
    let inner = |p: &Pem| pkcs8_inner(&KeyPair::from_pem(&p.key).unwrap().serialize_der());
    let variants = [
        ("ec pkcs8", ec_pem.cert.clone(), ec_pem.key.clone()),
        (
            "ec sec1",
            ec_pem.cert.clone(),
            pem_encode("EC PRIVATE KEY", &inner(&ec_pem)),
        ),
        ("rsa pkcs8", rsa_pem.cert.clone(), rsa_pem.key.clone()),
        (
            "rsa pkcs1",
            rsa_pem.cert.clone(),
            pem_encode("RSA PRIVATE KEY", &inner(&rsa_pem)),
        ),
    ];
    let dir = TempDir::new();
    for (name, cert, key) in variants {
        let c = dir.file("c.pem", cert.as_bytes());
        let k = dir.file("k.pem", key.as_bytes());
        let acc = TlsAcceptor::load(&c, &k, None::<&str>).unwrap_or_else(|e| panic!("{name}: {e}"));
        for v in [Versions::Tls12, Versions::Tls13] {
            let mut conn = connect_ok(&acc, &client_config(&pki.ca_der, v, None));
            conn.echo(name.as_bytes());
        }
    }
}

// --------------------------------------------------- hostile peers

#[test]
fn plaintext_client_gets_an_error() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let (mut sio, cio) = pair();
    let mut server = acc.accept().unwrap();
    cio.inject(b"get foo\r\n");
    let p = server.handshake(&mut sio);
    let Progress::Error(e) = p else {
        panic!("plaintext accepted: {p:?}")
    };
    assert!(e.reason().contains("plaintext"), "{e}");
    assert_eq!(acc.stats().snapshot().handshake_errors, 1);
    // Something (an alert) went back, and the error is sticky.
    let mut buf = [0u8; 4];
    assert!(server.read(&mut sio, &mut buf).is_err());
    assert!(server.write(&mut sio, b"x").is_err());
}

#[test]
fn garbage_client_gets_an_error() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let inputs: [&[u8]; 4] = [
        &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5],
        &[0x16, 0x03, 0x01, 0xff, 0xff],
        &[0x80, 0x2e, 0x01, 0x00, 0x02],
        &[0x00; 64],
    ];
    for input in inputs {
        let (mut sio, cio) = pair();
        let mut server = acc.accept().unwrap();
        cio.inject(input);
        // Either an error now, or (length claims more data) waiting; then
        // EOF must end it with an error, never a hang or a panic.
        let p = match server.handshake(&mut sio) {
            Progress::WantRead => {
                cio.close_write();
                server.handshake(&mut sio)
            }
            p => p,
        };
        assert!(
            matches!(p, Progress::Error(TlsError::Handshake(_))),
            "{input:?}: {p:?}"
        );
    }
}

#[test]
fn peer_leaving_before_a_byte_is_eof_not_an_error() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let (mut sio, cio) = pair();
    let mut server = acc.accept().unwrap();
    assert_eq!(server.handshake(&mut sio), Progress::WantRead);
    cio.close_write();
    assert_eq!(server.handshake(&mut sio), Progress::Eof);
    assert_eq!(server.handshake(&mut sio), Progress::Eof);
    let mut buf = [0u8; 8];
    assert_eq!(server.read(&mut sio, &mut buf), Ok(IoOutcome::Eof));
    assert_eq!(acc.stats().snapshot().handshake_errors, 0);
}

#[test]
fn truncated_client_hello_is_an_error() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let (mut sio, cio) = pair();
    let mut server = acc.accept().unwrap();
    let mut client = Client::new(
        &client_config(&pki.ca_der, Versions::Both, None),
        cio.clone(),
    );
    client.pump();
    let hello = sio.take_all();
    cio.inject(&hello[..hello.len() / 2]);
    assert_eq!(server.handshake(&mut sio), Progress::WantRead);
    cio.close_write();
    let p = server.handshake(&mut sio);
    assert!(matches!(p, Progress::Error(_)), "{p:?}");
    assert_eq!(acc.stats().snapshot().handshake_errors, 1);
}

#[test]
fn truncated_record_after_handshake_is_eof_or_error() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    for v in [Versions::Tls12, Versions::Tls13] {
        let mut c = connect_ok(&acc, &client_config(&pki.ca_der, v, None));
        c.client.send(b"set k 0 0 100\r\n");
        c.client.pump();
        let record = c.sio.take_all();
        c.client.io.inject(&record[..record.len() - 7]);
        let mut buf = [0u8; 256];
        assert_eq!(c.server.read(&mut c.sio, &mut buf), Ok(IoOutcome::WantRead));
        c.client.io.close_write();
        for _ in 0..3 {
            match c.server.read(&mut c.sio, &mut buf) {
                Ok(IoOutcome::Eof) | Err(_) => {}
                other => panic!("truncated record gave {other:?}"),
            }
        }
    }
}

#[test]
fn corrupted_record_is_a_protocol_error() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let mut c = connect_ok(&acc, &client_config(&pki.ca_der, Versions::Tls13, None));
    c.client.send(b"get k\r\n");
    c.client.pump();
    let mut record = c.sio.take_all();
    let last = record.len() - 1;
    record[last] ^= 0x55;
    c.client.io.inject(&record);
    let mut buf = [0u8; 64];
    let r = c.server.read(&mut c.sio, &mut buf);
    assert!(matches!(r, Err(TlsError::Protocol(_))), "{r:?}");
    // The alert reached the client.
    c.client.pump();
    assert!(c.client.error.is_some());
    // Not a handshake error.
    assert_eq!(acc.stats().snapshot().handshake_errors, 0);
}

#[test]
fn abrupt_tcp_close_after_handshake_is_eof() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let mut c = connect_ok(&acc, &client_config(&pki.ca_der, Versions::Tls13, None));
    c.client.send(b"quit\r\n");
    c.client.pump();
    c.client.io.close_write();
    let mut buf = [0u8; 64];
    // Data sent before the close arrives first, then EOF.
    assert_eq!(c.server.read(&mut c.sio, &mut buf), Ok(IoOutcome::Bytes(6)));
    assert_eq!(c.server.read(&mut c.sio, &mut buf), Ok(IoOutcome::Eof));
    assert_eq!(c.server.read(&mut c.sio, &mut buf), Ok(IoOutcome::Eof));
}

// ------------------------------------------------------------ close

#[test]
fn close_notify_both_ways() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let ccfg = client_config(&pki.ca_der, Versions::Both, None);

    // Client closes: server reads the data, then Eof.
    let mut c = connect_ok(&acc, &ccfg);
    c.client.send(b"bye");
    c.client.conn.send_close_notify();
    c.client.pump();
    let mut buf = [0u8; 64];
    assert!(!c.server.eof_pending());
    assert_eq!(c.server.read(&mut c.sio, &mut buf), Ok(IoOutcome::Bytes(3)));
    // The TCP connection stays open: nothing will wake the loop, so the
    // session says an EOF is waiting.
    assert!(c.server.eof_pending());
    assert_eq!(c.server.read(&mut c.sio, &mut buf), Ok(IoOutcome::Eof));
    assert!(!c.server.eof_pending());

    // Server closes: the client sees a clean close.
    let mut c = connect_ok(&acc, &ccfg);
    assert_eq!(
        c.server.write(&mut c.sio, b"END\r\n"),
        Ok(IoOutcome::Bytes(5))
    );
    assert_eq!(c.server.close(&mut c.sio), Progress::Done);
    assert_eq!(c.server.close(&mut c.sio), Progress::Done);
    assert!(c.server.write(&mut c.sio, b"more").is_err());
    c.client.pump();
    let mut got = [0u8; 16];
    use std::io::Read;
    assert_eq!(c.client.conn.reader().read(&mut got).unwrap(), 5);
    assert_eq!(c.client.conn.reader().read(&mut got).unwrap(), 0);
}

#[test]
fn close_waits_for_a_blocked_socket() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let mut c = connect_ok(&acc, &client_config(&pki.ca_der, Versions::Tls13, None));
    c.sio.write_cap = c.client.io.readable();
    assert_eq!(c.server.write(&mut c.sio, b"x"), Ok(IoOutcome::Bytes(1)));
    assert!(c.server.wants_write());
    assert_eq!(c.server.flush(&mut c.sio), Progress::WantWrite);
    assert_eq!(c.server.close(&mut c.sio), Progress::WantWrite);
    c.sio.write_cap = usize::MAX;
    assert_eq!(c.server.close(&mut c.sio), Progress::Done);
    assert!(!c.server.wants_write());
}

// ----------------------------------------------------------- volume

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + i / 251) as u8).collect()
}

#[test]
fn one_mib_write_through_a_slow_socket() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    for v in [Versions::Tls12, Versions::Tls13] {
        let mut c = connect_ok(&acc, &client_config(&pki.ca_der, v, None));
        c.sio.write_chunk = 3000;
        c.sio.write_cap = 5000;
        let data = pattern(1 << 20);
        let got = c.server_write_all(&data);
        assert_eq!(got.len(), data.len());
        assert!(got == data);
        assert!(!c.server.wants_write());
    }
}

#[test]
fn write_accepts_at_most_the_buffer_limit_when_blocked() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let mut c = connect_ok(&acc, &client_config(&pki.ca_der, Versions::Tls13, None));
    c.sio.write_cap = c.client.io.readable(); // socket full
    let data = pattern(1 << 20);
    let mut accepted = 0;
    loop {
        match c.server.write(&mut c.sio, &data[accepted..]).unwrap() {
            IoOutcome::Bytes(n) => accepted += n,
            IoOutcome::WantWrite => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(accepted > 0 && accepted <= SEND_BUFFER_LIMIT, "{accepted}");
    c.sio.write_cap = usize::MAX;
    assert_eq!(c.server.flush(&mut c.sio), Progress::Done);
    let got = c.client.recv_all();
    assert!(got == data[..accepted], "{} of {accepted} bytes", got.len());
}

#[test]
fn one_mib_read_with_small_buffers() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let mut c = connect_ok(&acc, &client_config(&pki.ca_der, Versions::Tls13, None));
    let data = pattern(1 << 20);
    c.client.send(&data);
    let mut got = Vec::new();
    while got.len() < data.len() {
        // The client trickles ciphertext in ~5 KB at a time.
        c.client.io.write_chunk = 5000;
        c.client.io.write_cap = 5000;
        c.client.pump();
        got.extend(c.server_read_all(1000));
    }
    assert!(got == data);
}

#[test]
fn pipelined_small_messages() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let mut c = connect_ok(&acc, &client_config(&pki.ca_der, Versions::Tls12, None));
    let mut want = Vec::new();
    for i in 0..2000 {
        let m = format!("get key:{i}\r\n");
        // One record per message.
        c.client.send(m.as_bytes());
        want.extend_from_slice(m.as_bytes());
    }
    c.client.pump();
    // Read with a buffer smaller than one burst: plaintext stays pending.
    let mut got = Vec::new();
    let mut buf = [0u8; 100];
    let mut saw_pending = false;
    loop {
        match c.server.read(&mut c.sio, &mut buf).unwrap() {
            IoOutcome::Bytes(n) => {
                got.extend_from_slice(&buf[..n]);
                saw_pending |= c.server.pending_plaintext() > 0;
                if n < buf.len() {
                    assert_eq!(c.server.pending_plaintext(), 0);
                }
            }
            IoOutcome::WantRead => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(saw_pending);
    assert!(got == want, "{} of {} bytes", got.len(), want.len());
    // Pipelined replies, many small writes, one flush.
    let mut replies = Vec::new();
    for i in 0..2000 {
        let r = format!("VALUE key:{i} 0 1\r\nx\r\nEND\r\n");
        assert_eq!(
            c.server.write(&mut c.sio, r.as_bytes()),
            Ok(IoOutcome::Bytes(r.len()))
        );
        replies.extend_from_slice(r.as_bytes());
    }
    assert_eq!(c.server.flush(&mut c.sio), Progress::Done);
    let got = c.client.recv_all();
    assert!(got == replies, "{} of {} bytes", got.len(), replies.len());
}

#[test]
fn key_update_from_client_is_handled() {
    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let mut c = connect_ok(&acc, &client_config(&pki.ca_der, Versions::Tls13, None));
    c.echo(b"before\r\n");
    c.client.conn.refresh_traffic_keys().unwrap();
    c.echo(b"after\r\n");
    c.echo(b"again\r\n");
}

// ----------------------------------------------------------- reload

#[test]
fn reload_affects_only_new_sessions() {
    let old = Pki::new("old ca");
    let new = Pki::new("new ca");
    let dir = TempDir::new();
    let (oc, ok) = write_pki(&dir, &old.server, "old-");
    let (nc, nk) = write_pki(&dir, &new.server, "new-");
    let acc = TlsAcceptor::load(&oc, &ok, None::<&str>).unwrap();
    let old_client = client_config(&old.ca_der, Versions::Both, None);
    let new_client = client_config(&new.ca_der, Versions::Both, None);

    let mut live = connect_ok(&acc, &old_client);
    let created_before = acc.accept().unwrap();

    acc.reload(&nc, &nk, None::<&str>).unwrap();

    // Established and merely-created sessions keep the old certificate.
    live.echo(b"still here\r\n");
    let (mut sio, cio) = pair();
    let mut s = created_before;
    let mut cl = Client::new(&old_client, cio);
    assert_eq!(handshake(&mut s, &mut sio, &mut cl), Progress::Done);

    // New sessions get the new one.
    connect_ok(&acc, &new_client).echo(b"new\r\n");
    let (c, p) = connect(&acc, &old_client);
    assert!(
        c.client.error.is_some() || p != Progress::Done,
        "old CA still trusted new cert"
    );

    // A failed reload keeps the current (new) configuration.
    let missing = dir.path("missing.pem");
    let e = acc.reload(&nc, &missing, None::<&str>).unwrap_err();
    assert_eq!(
        e.reason(),
        format!("tls key file {}: not found", missing.display())
    );
    let e = acc.reload(&nc, &ok, None::<&str>).unwrap_err();
    assert!(e.reason().contains("does not match"));
    connect_ok(&acc, &new_client);

    let s = acc.stats().snapshot();
    assert_eq!((s.reloads, s.reload_errors), (1, 2));
}

#[test]
fn reload_can_turn_on_mutual_tls() {
    let pki = Pki::new("ca");
    let dir = TempDir::new();
    let (cert, key) = write_pki(&dir, &pki.server, "");
    let ca = dir.file("ca.pem", pki.ca_pem.as_bytes());
    let acc = TlsAcceptor::load(&cert, &key, None::<&str>).unwrap();
    let anon = client_config(&pki.ca_der, Versions::Both, None);
    connect_ok(&acc, &anon);
    acc.reload(&cert, &key, Some(&ca)).unwrap();
    let (_, p) = connect(&acc, &anon);
    assert!(matches!(p, Progress::Error(_)));
    connect_ok(
        &acc,
        &client_config(&pki.ca_der, Versions::Both, Some(&pki.client)),
    );
}

// ----------------------------------------------------------- types

#[test]
fn thread_safety_of_public_types() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<TlsAcceptor>();
    send_sync::<TlsServerConfig>();
    send_sync::<TlsError>();
    send::<TlsSession>();
}

#[test]
fn acceptor_is_shared_across_threads() {
    let pki = Pki::new("ca");
    let acc = Arc::new(acceptor(&pki, false));
    let ca = pki.ca_der.clone();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let acc = acc.clone();
            let ca = ca.clone();
            std::thread::spawn(move || {
                let ccfg = client_config(&ca, Versions::Both, None);
                for _ in 0..5 {
                    connect_ok(&acc, &ccfg).echo(b"ping\r\n");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(acc.stats().snapshot().handshakes, 10);
}

// ------------------------------------------------ a real TCP socket

/// The same calls over a non-blocking 127.0.0.1 TCP socket (what the ffi
/// layer will hand in), against a blocking rustls client in a thread.
#[test]
fn loopback_tcp_echo_with_a_nonblocking_socket() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    let pki = Pki::new("ca");
    let acc = acceptor(&pki, false);
    let ccfg = client_config(&pki.ca_der, Versions::Both, None);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let msg: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let want = msg.clone();
    let client = std::thread::spawn(move || {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let conn =
            molt_tls::rustls::ClientConnection::new(ccfg, "localhost".try_into().unwrap()).unwrap();
        let mut tls = molt_tls::rustls::StreamOwned::new(conn, sock);
        tls.write_all(&msg).unwrap();
        let mut back = vec![0u8; msg.len()];
        tls.read_exact(&mut back).unwrap();
        tls.conn.send_close_notify();
        tls.flush().unwrap();
        back
    });
    let (mut sock, _) = listener.accept().unwrap();
    sock.set_nonblocking(true).unwrap();
    let mut server = acc.accept().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let tick = || {
        assert!(Instant::now() < deadline, "loopback test timed out");
        std::thread::sleep(Duration::from_micros(200));
    };
    loop {
        match server.handshake(&mut sock) {
            Progress::Done => break,
            Progress::WantRead | Progress::WantWrite => tick(),
            other => panic!("{other:?}"),
        }
    }
    // Echo as data arrives, like the event loop would.
    let mut buf = vec![0u8; 16 * 1024];
    let mut out: Vec<u8> = Vec::new();
    let (mut received, mut sent) = (0usize, 0usize);
    let mut eof = false;
    while !eof {
        let mut progressed = false;
        match server.read(&mut sock, &mut buf).unwrap() {
            IoOutcome::Bytes(n) => {
                out.extend_from_slice(&buf[..n]);
                received += n;
                progressed = true;
            }
            IoOutcome::Eof => eof = true,
            IoOutcome::WantRead | IoOutcome::WantWrite => {}
        }
        while sent < out.len() {
            match server.write(&mut sock, &out[sent..]).unwrap() {
                IoOutcome::Bytes(n) => {
                    sent += n;
                    progressed = true;
                }
                _ => break,
            }
        }
        let _ = server.flush(&mut sock);
        if !progressed && !eof {
            tick();
        }
    }
    while server.flush(&mut sock) != Progress::Done {
        tick();
    }
    assert_eq!(received, want.len());
    let back = client.join().unwrap();
    assert!(back == want);
    let _ = server.close(&mut sock);
}
