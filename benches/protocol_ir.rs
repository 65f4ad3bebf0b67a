//! Instructions per request through protocol.h (gungraun, i.e. callgrind):
//! parse + execute + compose for `get` hit, `set` 100 B, `mg <key> v f t c`
//! and a 100-key `get` (and `mn`, the floor under them: framing, dispatch,
//! the seam), over slab, for every protocol this binary
//! registers: gungraun numbers the cases in molt_protocol_names() order,
//! so `slab_0` is "c" and `slab_1` is "rust" once the mixed binary
//! registers it (the registry lists "c" first). Each benchmark
//! is 1,000 requests, one per process call, on a preloaded engine (setup,
//! not counted): instructions / 1,000 are per request.
//!
//! `make bench-ir` (needs valgrind and gungraun-runner 0.17.2).

use gungraun::{library_benchmark, library_benchmark_group, main};

#[path = "support/protocol_ops.rs"]
mod protocol_ops;

use protocol_ops::{Fixture, Op};

fn get_hit(protocol: String) -> Fixture {
    Fixture::new(&protocol, Op::GetHit)
}

fn set_100b(protocol: String) -> Fixture {
    Fixture::new(&protocol, Op::Set100)
}

fn mg_flags(protocol: String) -> Fixture {
    Fixture::new(&protocol, Op::MgFlags)
}

fn multi_get_100(protocol: String) -> Fixture {
    Fixture::new(&protocol, Op::MultiGet100)
}

fn meta_noop(protocol: String) -> Fixture {
    Fixture::new(&protocol, Op::MetaNoop)
}

/// Not counted: the fixture is dropped after the measurement.
fn done(f: Fixture) {
    drop(f);
}

#[library_benchmark(teardown = done)]
#[benches::slab(iter = molt::protocols(), setup = get_hit)]
fn proto_get_hit(mut f: Fixture) -> Fixture {
    f.run();
    f
}

#[library_benchmark(teardown = done)]
#[benches::slab(iter = molt::protocols(), setup = set_100b)]
fn proto_set_100b(mut f: Fixture) -> Fixture {
    f.run();
    f
}

#[library_benchmark(teardown = done)]
#[benches::slab(iter = molt::protocols(), setup = mg_flags)]
fn proto_mg_v_f_t_c(mut f: Fixture) -> Fixture {
    f.run();
    f
}

#[library_benchmark(teardown = done)]
#[benches::slab(iter = molt::protocols(), setup = multi_get_100)]
fn proto_get_100_keys(mut f: Fixture) -> Fixture {
    f.run();
    f
}

#[library_benchmark(teardown = done)]
#[benches::slab(iter = molt::protocols(), setup = meta_noop)]
fn proto_mn(mut f: Fixture) -> Fixture {
    f.run();
    f
}

library_benchmark_group!(
    name = protocol;
    benchmarks = proto_get_hit, proto_set_100b, proto_mg_v_f_t_c, proto_get_100_keys, proto_mn
);

main!(library_benchmark_groups = protocol);
