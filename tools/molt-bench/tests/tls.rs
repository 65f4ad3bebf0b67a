//! End-to-end runs of the binary over TLS against a small in-process rustls
//! server speaking enough of the memcached text protocol (get, set,
//! flush_all, version), with certificates made at run time by molt's test
//! CA (molt-test-support).

use molt_bench::tls::crypto_provider;
use molt_test_support::{path_str, Pki, TempDir};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;

const BIN: &str = env!("CARGO_BIN_EXE_molt-bench");

/// PEM files of a CA, a server certificate for localhost and a client one:
/// ca.pem, server-cert.pem, server-key.pem, client-cert.pem, client-key.pem.
struct CertFiles {
    dir: TempDir,
}

impl CertFiles {
    fn new(name: &str) -> CertFiles {
        let dir = TempDir::new(&format!("molt-bench-tls-{name}"));
        let pki = Pki::new(name);
        std::fs::write(dir.path("ca.pem"), &pki.ca_pem).unwrap();
        pki.server("localhost").write(&dir.0, "server-");
        pki.client("client").write(&dir.0, "client-");
        CertFiles { dir }
    }

    fn path(&self, f: &str) -> String {
        path_str(&self.dir.path(f)).to_string()
    }
}

type Store = Arc<Mutex<HashMap<Vec<u8>, (String, Vec<u8>)>>>;

fn serve(
    mut s: BufReader<StreamOwned<ServerConnection, TcpStream>>,
    store: Store,
) -> std::io::Result<()> {
    let mut line = String::new();
    while s.read_line(&mut line)? > 0 {
        let t: Vec<&str> = line.split_whitespace().collect();
        let mut out = Vec::new();
        match t.first().copied() {
            Some("get") => {
                let st = store.lock().unwrap();
                for k in &t[1..] {
                    if let Some((flags, v)) = st.get(k.as_bytes()) {
                        out.extend_from_slice(
                            format!("VALUE {k} {flags} {}\r\n", v.len()).as_bytes(),
                        );
                        out.extend_from_slice(v);
                        out.extend_from_slice(b"\r\n");
                    }
                }
                out.extend_from_slice(b"END\r\n");
            }
            Some("set") => {
                let len: usize = t[4].parse().unwrap();
                let mut data = vec![0; len + 2];
                s.read_exact(&mut data)?;
                data.truncate(len);
                store
                    .lock()
                    .unwrap()
                    .insert(t[1].as_bytes().to_vec(), (t[2].to_string(), data));
                out.extend_from_slice(b"STORED\r\n");
            }
            Some("flush_all") => {
                store.lock().unwrap().clear();
                out.extend_from_slice(b"OK\r\n");
            }
            Some("version") => out.extend_from_slice(b"VERSION 1.6.0-fake-tls\r\n"),
            _ => out.extend_from_slice(b"ERROR\r\n"),
        }
        // Answer once the pipelined requests already received are handled.
        let w = s.get_mut();
        w.write_all(&out)?;
        if s.buffer().is_empty() {
            s.get_mut().flush()?;
        }
        line.clear();
    }
    Ok(())
}

/// A TLS server on a free loopback port; `mtls` requires a client
/// certificate from the same CA.
fn tls_server(pki: &CertFiles, mtls: bool) -> u16 {
    let provider = crypto_provider();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(pki.path("server-cert.pem"))
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_file(pki.path("server-key.pem")).unwrap();
    let b = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let b = if mtls {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap())
            .unwrap();
        let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        b.with_client_cert_verifier(v)
    } else {
        b.with_no_client_auth()
    };
    let config = Arc::new(b.with_single_cert(certs, key).unwrap());
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let store = Store::default();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            let (config, store) = (config.clone(), store.clone());
            thread::spawn(move || {
                let conn = ServerConnection::new(config).unwrap();
                let _ = serve(BufReader::new(StreamOwned::new(conn, s)), store);
            });
        }
    });
    port
}

fn bench(port: u16, extra: &[&str]) -> (Output, Option<serde_json::Value>) {
    let out = Command::new(BIN)
        .args(["--port", &port.to_string(), "--json", "-", "--quiet"])
        .args(["--warmup", "0", "--duration", "0.5"])
        .args(extra)
        .output()
        .expect("run molt-bench");
    let json = serde_json::from_slice(&out.stdout).ok();
    (out, json)
}

fn ok(port: u16, extra: &[&str]) -> serde_json::Value {
    let (out, j) = bench(port, extra);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{extra:?}: {stderr}");
    let j = j.unwrap();
    assert_eq!(j["results"]["wrong"], 0, "{j}");
    assert_eq!(j["results"]["errors"], 0, "{j}");
    j
}

#[test]
fn closed_and_open_loop_over_tls_are_verified() {
    let pki = CertFiles::new("ca-loops");
    let port = tls_server(&pki, false);
    let ca = pki.path("ca.pem");
    let tls = ["--tls", "--tls-ca", ca.as_str()];
    // Batches far above 16 KiB: the non-blocking interleaved write path.
    let mut a = tls.to_vec();
    a.extend([
        "-c",
        "2",
        "-d",
        "64",
        "--value-size",
        "1000-3000",
        "--keys",
        "2000",
        "--flush",
        "--preload",
        "--expect-hits",
        "-m",
        "4",
    ]);
    let j = ok(port, &a);
    assert!(j["results"]["ops"].as_u64().unwrap() > 0);
    assert_eq!(j["results"]["misses"], 0);
    assert_eq!(j["config"]["tls"], true);
    // Open loop, depth > 1: a writer and a reader thread share the session.
    let mut a = tls.to_vec();
    a.extend([
        "-c",
        "2",
        "-d",
        "8",
        "--rate",
        "4000",
        "--keys",
        "2000",
        "--preload",
        "--expect-hits",
    ]);
    let j = ok(port, &a);
    assert!(j["results"]["ops"].as_u64().unwrap() > 1000, "{j}");
    // Open loop, depth 1.
    let mut a = tls.to_vec();
    a.extend(["-c", "1", "--rate", "1000"]);
    ok(port, &a);
}

#[test]
fn handshake_bench_full_and_resumed() {
    let pki = CertFiles::new("ca-hs");
    let port = tls_server(&pki, false);
    let ca = pki.path("ca.pem");
    let base = [
        "--tls",
        "--tls-ca",
        ca.as_str(),
        "--handshake-bench",
        "-c",
        "2",
    ];
    let mut a = base.to_vec();
    a.push("--tls-resume=off");
    let j = ok(port, &a);
    let h = &j["results"]["handshakes"];
    assert!(h["count"].as_u64().unwrap() > 10, "{j}");
    assert_eq!(h["full"], h["count"]);
    assert_eq!(h["resumed"], 0);
    assert!(h["latency_us"]["p50"].as_u64().unwrap() > 0);
    assert_eq!(j["config"]["mode"], "handshake");
    let j = ok(port, &base);
    let h = &j["results"]["handshakes"];
    let (count, resumed) = (h["count"].as_u64().unwrap(), h["resumed"].as_u64().unwrap());
    // Only the first connection of each thread can miss a ticket.
    assert!(count > 10 && resumed + 2 >= count, "{j}");
    // Without TLS: TCP connects and `version` round trips.
    let plain = fake_plain_version_server();
    let j = ok(plain, &["--handshake-bench", "-c", "1"]);
    assert!(j["results"]["handshakes"]["count"].as_u64().unwrap() > 10);
    assert_eq!(j["results"]["handshakes"]["resumed"], 0);
}

fn fake_plain_version_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    let reply: &[u8] = if line.starts_with("version") {
                        b"VERSION 1.6.0\r\n"
                    } else {
                        b"ERROR\r\n"
                    };
                    if s.write_all(reply).is_err() {
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    port
}

#[test]
fn server_verification_and_mutual_tls() {
    let pki = CertFiles::new("ca-good");
    let other = CertFiles::new("ca-other");
    let port = tls_server(&pki, false);
    // A certificate from another CA is refused (exit 2, before any load)...
    let (out, _) = bench(port, &["--tls", "--tls-ca", &other.path("ca.pem")]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("invalid peer certificate"), "{e}");
    // ... and so is a name the certificate does not carry.
    let (out, _) = bench(
        port,
        &[
            "--tls",
            "--tls-ca",
            &pki.path("ca.pem"),
            "--tls-server-name",
            "example.org",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    // --tls-insecure must be explicit, then it connects.
    let (out, _) = bench(port, &["--tls"]);
    assert_eq!(out.status.code(), Some(2));
    ok(port, &["--tls", "--tls-insecure", "-c", "1"]);

    let mport = tls_server(&pki, true);
    let (out, j) = bench(
        mport,
        &["--tls", "--tls-ca", &pki.path("ca.pem"), "-c", "1"],
    );
    assert_ne!(out.status.code(), Some(0), "{j:?}");
    ok(
        mport,
        &[
            "--tls",
            "--tls-ca",
            &pki.path("ca.pem"),
            "--tls-cert",
            &pki.path("client-cert.pem"),
            "--tls-key",
            &pki.path("client-key.pem"),
            "-c",
            "1",
        ],
    );
}
