//! Server-side cost of TLS handshakes and bulk records over in-memory
//! sockets. Only time spent inside `TlsAcceptor::accept` and `TlsSession`
//! calls is measured, as the calling thread's CPU time (the sockets never
//! block, so on an idle machine this equals wall time; on a shared one it
//! is far less noisy). The rustls client's own work is outside the clock.
//!
//! Run: `cargo bench --manifest-path rust/tls/Cargo.toml` (add
//! `--no-default-features --features ring` for the ring provider).

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use cpu_time::ThreadTime;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use molt_tls::rustls::ClientConfig;
use molt_tls::{IoOutcome, Progress, TlsAcceptor, TlsServerConfig, TlsSession};

struct Setup {
    acc: TlsAcceptor,
    pki: Pki,
}

fn setup() -> Setup {
    let pki = Pki::new("bench ca");
    let cfg =
        TlsServerConfig::from_pem(pki.server.cert.as_bytes(), pki.server.key.as_bytes(), None)
            .unwrap();
    Setup {
        acc: TlsAcceptor::new(cfg),
        pki,
    }
}

/// One handshake; returns the time spent in the server's calls.
fn timed_handshake(
    acc: &TlsAcceptor,
    ccfg: &Arc<ClientConfig>,
) -> (Duration, TlsSession, End, Client) {
    let (mut sio, cio) = pair();
    let mut client = Client::new(ccfg, cio);
    let mut spent = Duration::ZERO;
    let t = ThreadTime::now();
    let mut server = acc.accept().unwrap();
    spent += t.elapsed();
    loop {
        client.pump();
        let t = ThreadTime::now();
        let p = server.handshake(&mut sio);
        spent += t.elapsed();
        client.pump();
        match p {
            Progress::Done if !client.conn.is_handshaking() => break,
            Progress::Done | Progress::WantRead | Progress::WantWrite => {}
            other => panic!("{other:?}"),
        }
    }
    (spent, server, sio, client)
}

fn handshakes(c: &mut Criterion) {
    let s = setup();
    let mut g = c.benchmark_group(format!("handshake/{}", molt_tls::CRYPTO_PROVIDER));
    g.measurement_time(Duration::from_secs(4));
    for (name, versions) in [("tls13", Versions::Tls13), ("tls12", Versions::Tls12)] {
        // Full: a client without session cache.
        let mut full = (*client_config(&s.pki.ca_der, versions, None)).clone();
        full.resumption = molt_tls::rustls::client::Resumption::disabled();
        let full = Arc::new(full);
        g.bench_function(BenchmarkId::new("full", name), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| black_box(timed_handshake(&s.acc, &full)).0)
                    .sum()
            })
        });
        // Resumed: a client that keeps tickets / session ids.
        let resuming = client_config(&s.pki.ca_der, versions, None);
        timed_handshake(&s.acc, &resuming);
        g.bench_function(BenchmarkId::new("resumed", name), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let (d, server, ..) = timed_handshake(&s.acc, &resuming);
                        assert!(server.was_resumed());
                        d
                    })
                    .sum()
            })
        });
    }
    g.finish();
}

fn bulk(c: &mut Criterion) {
    let s = setup();
    let mut g = c.benchmark_group(format!("bulk/{}", molt_tls::CRYPTO_PROVIDER));
    g.measurement_time(Duration::from_secs(4));
    let ccfg = client_config(&s.pki.ca_der, Versions::Tls13, None);
    for size in [16 * 1024usize, 1024 * 1024] {
        let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
        g.throughput(Throughput::Bytes(size as u64));

        // Server -> client: encrypt and send (socket never blocks).
        g.bench_function(BenchmarkId::new("write", size), |b| {
            let (_, mut server, mut sio, mut client) = timed_handshake(&s.acc, &ccfg);
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let t = ThreadTime::now();
                    let mut off = 0;
                    while off < size {
                        match server.write(&mut sio, &data[off..]).unwrap() {
                            IoOutcome::Bytes(n) => off += n,
                            other => panic!("{other:?}"),
                        }
                    }
                    assert_eq!(server.flush(&mut sio), Progress::Done);
                    spent += t.elapsed();
                    // Keep the client in step (untimed), then drop it.
                    let got = client.recv_all();
                    assert_eq!(got.len(), size);
                }
                spent
            })
        });

        // Client -> server: receive and decrypt.
        g.bench_function(BenchmarkId::new("read", size), |b| {
            let (_, mut server, mut sio, mut client) = timed_handshake(&s.acc, &ccfg);
            let mut buf = vec![0u8; 64 * 1024];
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    client.send(&data);
                    client.pump();
                    let t = ThreadTime::now();
                    let mut got = 0;
                    while got < size {
                        match server.read(&mut sio, &mut buf).unwrap() {
                            IoOutcome::Bytes(n) => got += n,
                            other => panic!("{other:?} after {got}"),
                        }
                    }
                    spent += t.elapsed();
                }
                spent
            })
        });
    }
    g.finish();
}

criterion_group!(benches, handshakes, bulk);
criterion_main!(benches);
