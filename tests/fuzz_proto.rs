//! Protocol fuzzing over real sockets, against every target: random and
//! mutated protocol input (seeds: the committed corpus fuzz/corpus/proto/,
//! built from the conformance transcripts by
//! scripts/hardening/make-corpus.py) is written to a live server, in one
//! write or in random pieces, while a reader drains the replies. After each
//! input the server must close the connection once the client half-closes
//! (no hang), and every few inputs a fresh, well-behaved client must still
//! get correct answers (version, set, get). The server must never exit.
//!
//! Budget: FUZZ_SECONDS per target (default 3 s in `make test`; `make fuzz`
//! runs longer), FUZZ_SEED for a different stream, MOLT_TARGETS=name[,name]
//! for a subset, MOLT_C_BIN for another molt-c (e.g. the ASan build). A
//! failing input is written to $TMPDIR/molt-fuzz-proto-*.bin (replay with
//! FUZZ_REPLAY=path) and becomes a regression input under
//! fuzz/regressions/proto/, which every run replays first.

use molt_test_support::mutate::{corpus_dir, load_dir, mutate};
use molt_test_support::{escape_bytes, io_error_name, targets, Client, Rng, Server, Target};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn regressions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/proto")
}

/// Writes `input` (in one write or in pieces) while a thread drains the
/// replies; then half-closes and requires the server to close within a
/// few seconds. Err(description) on a hang or a refused connection.
fn feed(server: &Server, input: &[u8], r: &mut Rng) -> Result<usize, String> {
    // Client::try_connect speaks TLS to a TLS target, so the fuzz input
    // reaches the protocol parser there too.
    let mut client = Client::try_connect(server.addr()).map_err(|e| format!("connect: {e}"))?;
    let mut w = client.try_clone_stream().map_err(|e| e.to_string())?;
    let drain = std::thread::spawn(move || -> Result<usize, String> {
        let mut reader = client.stream();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => total += n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(total),
                Err(e) => {
                    return Err(format!(
                        "no close after the client's EOF ({} after {total} reply bytes)",
                        io_error_name(&e)
                    ))
                }
            }
        }
    });
    let mut pos = 0;
    let pieces = r.chance(30);
    while pos < input.len() {
        let n = if pieces {
            (1 + r.below(64)).min(input.len() - pos)
        } else {
            input.len() - pos
        };
        if w.write_all(&input[pos..pos + n]).is_err() {
            break; // the server closed (quit, line too long, ...): fine
        }
        pos += n;
        if pieces && r.chance(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let _ = w.shutdown(Shutdown::Write);
    drain
        .join()
        .map_err(|_| "drain thread panicked".to_string())?
}

/// A well-behaved client still gets correct answers.
fn probe(server: &Server, n: u64) -> Result<(), String> {
    let mut c = Client::try_connect(server.addr()).map_err(|e| format!("connect: {e}"))?;
    let v = c.request("version").map_err(|e| format!("version: {e}"))?;
    if !v.starts_with("VERSION ") {
        return Err(format!("version answered {v:?}"));
    }
    let value = format!("probe-{n}");
    // A delayed flush_all from a fuzz input may take effect between set and
    // get; one retry covers that.
    for attempt in 0..2 {
        c.send_line(&format!("set fuzz:probe 7 0 {}\r\n{value}", value.len()))
            .map_err(|e| format!("set: {e}"))?;
        let st = c.read_line().map_err(|e| format!("set reply: {e}"))?;
        if st != "STORED" {
            return Err(format!("set answered {st:?}"));
        }
        c.send_line("get fuzz:probe")
            .map_err(|e| format!("get: {e}"))?;
        let l = c.read_line().map_err(|e| format!("get reply: {e}"))?;
        if l == "END" && attempt == 0 {
            continue;
        }
        let want = format!("VALUE fuzz:probe 7 {}", value.len());
        if l != want {
            return Err(format!("get answered {l:?}, wanted {want:?}"));
        }
        let data = c.read_exact(value.len() + 2).map_err(|e| e.to_string())?;
        let end = c.read_line().map_err(|e| e.to_string())?;
        if data != format!("{value}\r\n").as_bytes() || end != "END" {
            return Err(format!("get value {:?} then {end:?}", escape_bytes(&data)));
        }
        return Ok(());
    }
    Err("probe key missing twice".into())
}

fn save_failure(target: &str, input: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!(
        "molt-fuzz-proto-{}-{}-{}.bin",
        target,
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let mut f = std::fs::File::create(&p).expect("create failure file");
    // Same format as the corpus: a mode byte (0: all at once) first.
    f.write_all(&[0]).unwrap();
    f.write_all(input).unwrap();
    p
}

fn fail(server: &mut Server, target: &Target, input: &[u8], why: String) -> ! {
    let path = save_failure(target.name, input);
    let status = server.exit_status();
    panic!(
        "target {}: {why}\nserver exit status: {status:?}\nstderr:\n{}\ninput ({} bytes) saved to {} \
         (replay: FUZZ_REPLAY={} cargo test --release --test fuzz_proto; copy it to \
         fuzz/regressions/proto/ to keep it):\n{}",
        target.name,
        server.stderr_text(),
        input.len(),
        path.display(),
        path.display(),
        escape_bytes(input)
    );
}

fn budget() -> Duration {
    let secs = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

fn selected() -> Vec<Target> {
    targets::selected_by_env(targets!())
}

fn fuzz_target(target: &Target, seeds: &[Vec<u8>], regressions: &[Vec<u8>], seed: u64) {
    let mut server = Server::start(target, &["-m", "32", "-t", "2"]);
    let mut r = Rng(seed ^ 0x5eed);
    let started = Instant::now();
    let deadline = started + budget();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    if let Ok(p) = std::env::var("FUZZ_REPLAY") {
        let b = std::fs::read(&p).unwrap_or_else(|e| panic!("FUZZ_REPLAY {p}: {e}"));
        inputs.push(b[1.min(b.len())..].to_vec());
    }
    // Regression inputs and the unmutated seeds first.
    inputs.extend(regressions.iter().cloned());
    inputs.extend(seeds.iter().cloned());
    let (mut n, mut bytes) = (0u64, 0usize);
    loop {
        let input = if (n as usize) < inputs.len() {
            inputs[n as usize].clone()
        } else if Instant::now() < deadline {
            mutate(&mut r, seeds)
        } else {
            break;
        };
        bytes += input.len();
        if let Err(why) = feed(&server, &input, &mut r) {
            fail(&mut server, target, &input, why);
        }
        n += 1;
        if n % 16 == 0 || server.exit_status().is_some() {
            if let Err(why) = probe(&server, n) {
                fail(
                    &mut server,
                    target,
                    &input,
                    format!("after this input: {why}"),
                );
            }
        }
    }
    if let Err(why) = probe(&server, n) {
        fail(&mut server, target, b"", format!("at the end: {why}"));
    }
    assert!(
        server.exit_status().is_none(),
        "target {}: server exited",
        target.name
    );
    eprintln!(
        "fuzz_proto[{}]: {n} inputs ({} KiB) in {:.1?}, server alive and correct",
        target.name,
        bytes / 1024,
        started.elapsed()
    );
}

#[test]
fn random_and_mutated_protocol_input_never_breaks_the_server() {
    let seeds = load_dir(&corpus_dir());
    assert!(
        seeds.len() >= 20,
        "seed corpus missing: {} (scripts/hardening/make-corpus.py)",
        corpus_dir().display()
    );
    let regressions = load_dir(&regressions_dir());
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let all = selected();
    std::thread::scope(|s| {
        for t in &all {
            let (seeds, regressions) = (&seeds, &regressions);
            s.spawn(move || fuzz_target(t, seeds, regressions, seed));
        }
    });
}
