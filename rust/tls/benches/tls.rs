//! Server-side cost of TLS handshakes and bulk records over in-memory
//! sockets, for every crypto provider in the build side by side (built with
//! both aws-lc-rs and graviola: the bench requires the two features). Each
//! workload runs the providers in turn, ROUNDS times (A B A B), so a change
//! in the machine's load falls on both. Only time spent inside
//! `TlsAcceptor::accept` and `TlsSession` calls is measured, as the calling
//! thread's CPU time (the sockets never block, so on an idle machine this
//! equals wall time; on a shared one it is far less noisy). The rustls
//! client (the default provider) works outside the clock.
//!
//! Run: `cargo bench -p molt-tls --bench tls --features graviola` (add
//! `ring` to the features for a third provider; `-- --quick` for a short
//! run).

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use cpu_time::ThreadTime;

use common::*;
use criterion::{criterion_group, criterion_main, Bencher, Criterion, Throughput};
use molt_tls::rustls::ClientConfig;
use molt_tls::{IoOutcome, Progress, Provider, TlsAcceptor, TlsServerConfig, TlsSession};

/// Runs of every provider per workload, alternating.
const ROUNDS: usize = 2;
const MEASUREMENT: Duration = Duration::from_secs(2);

/// One acceptor per provider in the build, all with the same certificate.
struct Setup {
    pki: Pki,
    acceptors: Vec<(Provider, TlsAcceptor)>,
}

fn setup() -> Setup {
    let pki = Pki::new("bench ca");
    let acceptors = [Provider::AwsLcRs, Provider::Ring, Provider::Graviola]
        .into_iter()
        .filter(|p| p.available())
        .map(|p| {
            let cfg = TlsServerConfig::from_pem_with(
                p,
                pki.server.cert.as_bytes(),
                pki.server.key.as_bytes(),
                None,
            )
            .unwrap();
            (p, TlsAcceptor::new(cfg))
        })
        .collect();
    Setup { pki, acceptors }
}

/// (provider, acceptor) in bench order: every provider once per round.
fn alternating(s: &Setup) -> impl Iterator<Item = (String, &(Provider, TlsAcceptor))> {
    (1..=ROUNDS).flat_map(move |round| {
        s.acceptors
            .iter()
            .map(move |pa| (format!("{}/run{round}", pa.0.name()), pa))
    })
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
    for (name, versions) in [("tls13", Versions::Tls13), ("tls12", Versions::Tls12)] {
        // Full: a client without session cache.
        let mut full = (*client_config(&s.pki.ca_der, versions, None)).clone();
        full.resumption = molt_tls::rustls::client::Resumption::disabled();
        let full = Arc::new(full);
        let mut g = c.benchmark_group(format!("handshake full {name}"));
        g.measurement_time(MEASUREMENT);
        for (id, (_, acc)) in alternating(&s) {
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| black_box(timed_handshake(acc, &full)).0)
                        .sum()
                })
            });
        }
        g.finish();
        // Resumed: a client that keeps tickets / session ids, one per
        // acceptor (a ticket is only good with the acceptor that made it).
        let mut g = c.benchmark_group(format!("handshake resumed {name}"));
        g.measurement_time(MEASUREMENT);
        for (id, (_, acc)) in alternating(&s) {
            let resuming = client_config(&s.pki.ca_der, versions, None);
            timed_handshake(acc, &resuming);
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let (d, server, ..) = timed_handshake(acc, &resuming);
                            assert!(server.was_resumed());
                            d
                        })
                        .sum()
                })
            });
        }
        g.finish();
    }
}

/// Server -> client: encrypt and send `data` (the socket never blocks).
fn encrypt_and_send(b: &mut Bencher, acc: &TlsAcceptor, ccfg: &Arc<ClientConfig>, data: &[u8]) {
    let (_, mut server, mut sio, mut client) = timed_handshake(acc, ccfg);
    b.iter_custom(|iters| {
        let mut spent = Duration::ZERO;
        for _ in 0..iters {
            let t = ThreadTime::now();
            let mut off = 0;
            while off < data.len() {
                match server.write(&mut sio, &data[off..]).unwrap() {
                    IoOutcome::Bytes(n) => off += n,
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(server.flush(&mut sio), Progress::Done);
            spent += t.elapsed();
            // Keep the client in step (untimed), then drop it.
            let got = client.recv_all();
            assert_eq!(got.len(), data.len());
        }
        spent
    })
}

/// Client -> server: receive and decrypt `data`.
fn receive_and_decrypt(b: &mut Bencher, acc: &TlsAcceptor, ccfg: &Arc<ClientConfig>, data: &[u8]) {
    let (_, mut server, mut sio, mut client) = timed_handshake(acc, ccfg);
    let mut buf = vec![0u8; 64 * 1024];
    b.iter_custom(|iters| {
        let mut spent = Duration::ZERO;
        for _ in 0..iters {
            client.send(data);
            client.pump();
            let t = ThreadTime::now();
            let mut got = 0;
            while got < data.len() {
                match server.read(&mut sio, &mut buf).unwrap() {
                    IoOutcome::Bytes(n) => got += n,
                    other => panic!("{other:?} after {got}"),
                }
            }
            spent += t.elapsed();
        }
        spent
    })
}

type Transfer = fn(&mut Bencher, &TlsAcceptor, &Arc<ClientConfig>, &[u8]);

fn bulk(c: &mut Criterion) {
    let s = setup();
    let ccfg = client_config(&s.pki.ca_der, Versions::Tls13, None);
    // 128 B: a small cache reply or request, one record each
    for size in [128usize, 16 * 1024, 1024 * 1024] {
        let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
        for (what, transfer) in [
            ("write", encrypt_and_send as Transfer),
            ("read", receive_and_decrypt),
        ] {
            let mut g = c.benchmark_group(format!("bulk {what} {size}"));
            g.measurement_time(MEASUREMENT);
            g.throughput(Throughput::Bytes(size as u64));
            for (id, (_, acc)) in alternating(&s) {
                g.bench_function(id, |b| transfer(b, acc, &ccfg, &data));
            }
            g.finish();
        }
    }
}

criterion_group!(benches, handshakes, bulk);
criterion_main!(benches);
