//! Criterion: time per request through protocol.h for `get` hit, `set`
//! 100 B, `mg <key> v f t c` and a 100-key `get`, over slab, one group per
//! operation with every registered protocol side by side ("c"; "rust" when
//! the mixed binary registers it). Instruction counts, which decide on
//! this shared machine, are in benches/protocol_ir.rs (`make bench-ir`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "support/protocol_ops.rs"]
mod protocol_ops;

use protocol_ops::{Fixture, OPS, OPS_ALL};

fn protocols(c: &mut Criterion) {
    for op in OPS_ALL {
        let mut g = c.benchmark_group(format!("protocol/{}", op.name()));
        g.throughput(Throughput::Elements(OPS as u64));
        for name in molt::protocols() {
            let mut f = Fixture::new(&name, op);
            g.bench_function(format!("{name}/slab"), |b| b.iter(|| f.run()));
        }
        g.finish();
    }
}

criterion_group!(benches, protocols);
criterion_main!(benches);
