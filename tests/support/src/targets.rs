//! Which servers the suites run against: the molt binaries and
//! configurations (`targets!()`), the memcached reference, and the
//! `MOLT_TARGETS` selection for suites that loop over targets.

use std::fs;
use std::path::{Path, PathBuf};

use crate::pki::tls_files;
use crate::temp::path_str;
use crate::tls_config::{tls_client_config, TlsClient, ALL_VERSIONS};

/// Every molt binary x configuration the suites must pass on, for the
/// calling test crate. A macro because only an integration test of the
/// molt package sees `CARGO_BIN_EXE_molt` (the binary cargo built for it).
#[macro_export]
macro_rules! targets {
    () => {
        $crate::targets::all(::std::path::Path::new(env!("CARGO_BIN_EXE_molt")))
    };
}

/// A server binary plus the arguments that select its configuration.
/// The test harness adds `-l 127.0.0.1 -p <port>` and any per-test arguments.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Some for a TLS listener: how clients must connect to it.
    pub tls: Option<TlsClient>,
}

impl Target {
    pub fn new(name: &'static str, program: impl Into<PathBuf>, args: &[&str]) -> Target {
        Target {
            name,
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            tls: None,
        }
    }

    /// `molt` with `--storage <storage>` behind TLS, using the per-process
    /// test certificates (tls_files()), and `extra` arguments before the
    /// storage flag, which stays last so `args.last()` still names the
    /// engine.
    fn molt_tls(name: &'static str, molt: &Path, extra: &[&str], storage: &str) -> Target {
        let f = tls_files();
        let mut args = vec![
            "--tls-cert",
            path_str(&f.server_cert),
            "--tls-key",
            path_str(&f.server_key),
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--storage", storage]);
        let mut t = Target::new(name, molt, &args);
        t.tls = Some(TlsClient::new(tls_client_config(
            std::slice::from_ref(&f.ca_der),
            None,
            ALL_VERSIONS,
        )));
        t
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether the target answers with the Rust protocol (molt-rs always,
    /// molt with `--protocol rust`): the one that speaks binary too.
    pub fn speaks_rust_protocol(&self) -> bool {
        self.program.file_name().is_some_and(|f| f == "molt-rs")
            || self
                .args
                .windows(2)
                .any(|a| a[0] == "--protocol" && a[1] == "rust")
    }
}

/// Every target for the molt binary at `molt` (see `targets!()`;
/// `MOLT_BIN` overrides it, e.g. a copy a long run keeps while cargo
/// rebuilds target/release). Adding a target is one line here. The `-rs`
/// targets answer with the Rust protocol (`--protocol rust`), the others
/// with the C one. `molt-rs` is the all-Rust server (rust/server), built by
/// cargo beside `molt` but in its own package, so `cargo test` does not
/// build it: `cargo build --release --workspace` does.
pub fn all(molt: &Path) -> Vec<Target> {
    const RUST: &[&str] = &["--protocol", "rust"];
    let molt_bin = std::env::var_os("MOLT_BIN").filter(|p| !p.is_empty());
    let molt = molt_bin.as_deref().map_or(molt, Path::new);
    let molt_rs = molt_rs_program(molt);
    vec![
        Target::new("molt-c", molt_c_program(), &[]),
        Target::new("molt-slab", molt, &["--storage", "slab"]),
        Target::new("molt-seg", molt, &["--storage", "seg"]),
        Target::molt_tls("molt-slab-tls", molt, &[], "slab"),
        Target::molt_tls("molt-seg-tls", molt, &[], "seg"),
        Target::new(
            "molt-slab-rs",
            molt,
            &[RUST, &["--storage", "slab"]].concat(),
        ),
        Target::new("molt-seg-rs", molt, &[RUST, &["--storage", "seg"]].concat()),
        Target::molt_tls("molt-seg-rs-tls", molt, RUST, "seg"),
        Target::new("molt-rs", &molt_rs, &["--storage", "seg"]),
        Target::molt_tls("molt-rs-tls", &molt_rs, &[], "seg"),
    ]
}

/// The all-Rust server: the sibling of the molt binary in use
/// (`MOLT_RS_BIN` overrides it).
fn molt_rs_program(molt: &Path) -> PathBuf {
    match std::env::var_os("MOLT_RS_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => molt.with_file_name("molt-rs"),
    }
}

/// `MOLT_TARGETS=name[,name]` keeps only those of `targets` (for suites
/// whose tests loop over every target; conformance names the target in
/// each trial, so a test filter selects there). Unset or empty: all.
pub fn selected_by_env(targets: Vec<Target>) -> Vec<Target> {
    let only: Option<Vec<String>> = std::env::var("MOLT_TARGETS")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    targets
        .into_iter()
        .filter(|t| only.as_ref().is_none_or(|o| o.iter().any(|n| n == t.name)))
        .collect()
}

/// The repository root (this crate lives in tests/support/).
fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(Path::parent)
        .expect("tests/support has a grandparent")
        .to_path_buf()
}

/// The C-only baseline binary: `make c-only` puts it in target/c-only/;
/// `MOLT_C_BIN` overrides the location.
fn molt_c_program() -> PathBuf {
    match std::env::var_os("MOLT_C_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_root().join("target/c-only/molt-c"),
    }
}

/// The name of the memcached reference target.
pub const MEMCACHED: &str = "memcached";

/// Real memcached 1.6, used to check that the transcripts themselves encode
/// memcached's behaviour. `MEMCACHED_BIN` overrides /usr/bin/memcached.
/// None when it is not installed.
pub fn reference_memcached() -> Option<Target> {
    let program = match std::env::var_os("MEMCACHED_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/usr/bin/memcached"),
    };
    if !program.is_file() {
        return None;
    }
    let mut args: Vec<String> = vec!["-U".into(), "0".into()];
    if running_as_root() {
        // memcached refuses to start as root without -u.
        args.push("-u".into());
        args.push("root".into());
    }
    Some(Target {
        name: MEMCACHED,
        program,
        args,
        tls: None,
    })
}

fn running_as_root() -> bool {
    // std has no geteuid(); /proc/self/status has "Uid: real effective ...".
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Panics (with a hint to build) unless the target's binary exists.
pub fn require_built(target: &Target) {
    if !target.program.is_file() && target.name.starts_with("molt-rs") {
        panic!(
            "target {}: binary {} does not exist; build it with \
             `cargo build --release --workspace` (cargo test builds only the \
             molt package's binaries)",
            target.name,
            target.program.display()
        );
    }
    if !target.program.is_file() {
        panic!(
            "target {}: binary {} does not exist; run `make build` first \
             (the conformance suite does not skip missing targets)",
            target.name,
            target.program.display()
        );
    }
}
