//! The TOML config file (`--config FILE`): flags beat the file wherever
//! they stand, every class of bad input is a start-up error naming the file
//! and line, and `--print-config` prints a file that reads back the same.

use molt_test_support::{require_built, targets, Server, Target};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn temp_config(text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("molt-config-test-{}-{n}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn run(target: &Target, args: &[&str]) -> Output {
    require_built(target);
    Command::new(&target.program)
        .args(&target.args)
        .args(args)
        .output()
        .unwrap()
}

fn print_config(target: &Target, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--print-config");
    let out = run(target, &all);
    assert!(
        out.status.success(),
        "{}: {args:?}: {}",
        target.name,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn value_of<'a>(toml: &'a str, key: &str) -> &'a str {
    toml.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in {toml}"))
}

#[test]
fn flags_beat_the_file_in_either_order() {
    let file = temp_config(
        "# molt\nport = 12000\nthreads = 2\nmemory_limit_mb = 8\nmax_item_size = \"512k\"\n",
    );
    let f = file.to_str().unwrap();
    for target in targets!() {
        let t = target.name;
        // File alone.
        let p = print_config(&target, &["--config", f]);
        assert_eq!(value_of(&p, "port"), "12000", "{t}");
        assert_eq!(value_of(&p, "threads"), "2", "{t}");
        assert_eq!(value_of(&p, "max_item_size"), "\"512k\"", "{t}");
        // Flag after the file, flag before the file.
        for args in [
            &["--config", f, "-p", "13000", "--threads", "3"][..],
            &["-p", "13000", "--threads", "3", "--config", f][..],
            &["--port=13000", "-t3", "--config", f][..],
        ] {
            let p = print_config(&target, args);
            assert_eq!(value_of(&p, "port"), "13000", "{t}: {args:?}");
            assert_eq!(value_of(&p, "threads"), "3", "{t}: {args:?}");
            // Keys no flag named still come from the file.
            assert_eq!(value_of(&p, "memory_limit_mb"), "8", "{t}: {args:?}");
        }
    }
    std::fs::remove_file(file).unwrap();
}

#[test]
fn a_running_server_uses_the_file_and_the_flags() {
    // The harness adds -l and -p after our args: the file's port loses.
    let file =
        temp_config("port = 1\nthreads = 3\nmemory_limit_mb = 8\nmax_connections = 99\n\n[tls]\n");
    for target in targets!() {
        let server = Server::start(&target, &["--config", file.to_str().unwrap(), "-m", "16"]);
        let mut c = server.client();
        let st = c.stats();
        let t = target.name;
        assert_eq!(st.text("threads"), "3", "{t}");
        assert_eq!(st.text("max_connections"), "99", "{t}");
        assert_eq!(st.text("limit_maxbytes"), (16u64 << 20).to_string(), "{t}");
    }
    std::fs::remove_file(file).unwrap();
}

/// (file contents, expected message after "molt: config PATH"): the
/// checks of each key, the same from every binary.
const BAD_VALUES: &[(&str, &str)] = &[
    ("port = 11211\nprot = 1\n", ":2: unknown key 'prot'"),
    (
        "[tls]\ncert = \"a\"\nkeyy = \"b\"\n",
        ":3: unknown key 'tls.keyy'",
    ),
    ("[nosuch]\n", ":1: unknown table [nosuch]"),
    (
        "port = \"11211\"\n",
        ":1: 'port' must be an integer, not a string",
    ),
    (
        "threads = 2.5\n",
        ":1: 'threads' must be an integer, not a float",
    ),
    (
        "listen = 127\n",
        ":1: 'listen' must be a string, not an integer",
    ),
    (
        "max_item_size = true\n",
        ":1: 'max_item_size' must be an integer or a size string like \"1m\", not a boolean",
    ),
    (
        "\n\nport = 70000\n",
        ":3: 'port' out of range: 70000 (expected 1-65535)",
    ),
    (
        "threads = 0\n",
        ":1: 'threads' out of range: 0 (expected 1-256)",
    ),
    (
        "max_item_size = 512\n",
        ":1: 'max_item_size' out of range: 512 (expected bytes or with k/m suffix, 1k-1024m)",
    ),
    (
        "verbosity = 9\n",
        ":1: 'verbosity' out of range: 9 (expected 0 = warnings, 1 = info, 2 = debug)",
    ),
    (
        "idle_timeout = -1\n",
        ":1: 'idle_timeout' out of range: -1 (expected seconds, 0 = off)",
    ),
    (
        "enable_shutdown = 1\n",
        ":1: 'enable_shutdown' must be true or false, not an integer",
    ),
];

/// Files that are not TOML: molt-c's subset parser
/// (c-core/src/util/config.c) words the error, and molt-rs, which reads
/// the file with the toml crate, words it the same (rust/server's
/// config_syntax.rs). The whole message, exactly.
const BAD_SYNTAX: &[(&str, &str)] = &[
    (
        "# comment\nport 11211\n",
        ":2: syntax error: expected '=' after key 'port'",
    ),
    ("port = \n", ":1: syntax error: missing value"),
    ("listen = \"abc\n", ":1: syntax error: unterminated string"),
    (
        "port = 1 2\n",
        ":1: syntax error: unexpected text after the value",
    ),
    ("[tls\n", ":1: syntax error: expected ']' after table name"),
    (
        "[tls] x\n",
        ":1: syntax error: unexpected text after the table header",
    ),
    ("= 1\n", ":1: syntax error: expected a key, found '='"),
    (
        "storage = slab\n",
        ":1: invalid value 'slab' (strings must be quoted)",
    ),
    ("listen = \"a\\qb\"\n", ":1: invalid escape '\\q' in string"),
    ("port = 1\nport = 2\n", ":2: duplicate key 'port'"),
    ("[tls]\n[tls]\n", ":2: table [tls] defined twice"),
    (
        "[tls]\ncert = \"a\"\ncert = \"b\"\n",
        ":3: duplicate key 'tls.cert'",
    ),
    (
        "port = 0123\n",
        ":1: invalid number '0123' (leading zeros are not allowed)",
    ),
    (
        "port = 99999999999999999999\n",
        ":1: integer '99999999999999999999' out of range",
    ),
];

/// TOML that molt-c's subset refuses; molt-rs reads all of TOML (see the
/// README), so these are molt-c's and molt's only.
const SUBSET_ONLY: &[(&str, &str)] = &[
    ("port = [1]\n", ":1: arrays are not supported"),
    (
        "tls = { cert = \"a\" }\n",
        ":1: inline tables are not supported",
    ),
    (
        "tls.cert = \"a\"\n",
        ":1: dotted keys are not supported (use a [table])",
    ),
    (
        "[a.b]\n",
        ":1: dotted keys are not supported (use a [table])",
    ),
    (
        "[[x]]\n",
        ":1: arrays of tables ([[...]]) are not supported",
    ),
];

/// Start-up with `text` as the config file: exit status 64 and exactly
/// "molt: config PATH<want>" on stderr, also when a flag sets the same key.
fn refused(target: &Target, text: &str, want: &str) {
    let file = temp_config(text);
    let f = file.to_str().unwrap();
    let expected = format!("molt: config {f}{want}\n");
    for args in [
        &["--config", f][..],
        &["--config", f, "-p", "11311", "--print-config"],
    ] {
        let out = run(target, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(64),
            "{}: {text:?}: {err}",
            target.name
        );
        assert_eq!(err, expected, "{}: {text:?}", target.name);
    }
    std::fs::remove_file(file).unwrap();
}

#[test]
fn bad_config_files_are_start_up_errors_naming_the_line() {
    for target in targets!() {
        for (text, want) in BAD_VALUES {
            refused(&target, text, want);
        }
        if !target.name.starts_with("molt-rs") {
            for (text, want) in SUBSET_ONLY {
                refused(&target, text, want);
            }
        }
    }
}

#[test]
fn syntax_errors_read_the_same_from_every_binary() {
    for target in targets!() {
        for (text, want) in BAD_SYNTAX {
            refused(&target, text, want);
        }
    }
}

/// Broken TOML that molt-c refuses for its subset first (an unclosed
/// array): molt-c names the construct, molt-rs keeps the shape (file, line,
/// "syntax error: ") with the toml crate's words for what is wrong.
#[test]
fn broken_toml_beyond_the_subset_is_a_syntax_error_naming_the_line() {
    let file = temp_config("# ports\nport = [1,\n");
    let f = file.to_str().unwrap();
    for target in targets!() {
        let out = run(&target, &["--config", f]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{}: {err}", target.name);
        let want = if target.name.starts_with("molt-rs") {
            format!("molt: config {f}:2: syntax error: ")
        } else {
            format!("molt: config {f}:2: arrays are not supported\n")
        };
        assert!(err.starts_with(&want), "{}: {err}", target.name);
        assert_eq!(err.lines().count(), 1, "{}: {err}", target.name);
    }
    std::fs::remove_file(file).unwrap();
}

#[test]
fn missing_or_unreadable_config_file() {
    for target in targets!() {
        let out = run(&target, &["--config", "/nonexistent/molt.toml"]);
        assert_eq!(out.status.code(), Some(64), "{}", target.name);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "molt: config /nonexistent/molt.toml: cannot open: No such file or directory\n",
            "{}",
            target.name
        );
        let dir = std::env::temp_dir();
        let out = run(&target, &["--config", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(64), "{}", target.name);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Is a directory"),
            "{}",
            target.name
        );
        let out = run(&target, &["--config"]);
        assert_eq!(out.status.code(), Some(64), "{}", target.name);
    }
}

#[test]
fn a_file_that_is_not_text_or_too_large() {
    let nul = temp_config("port = 1\0\n");
    let large = temp_config(&"#".repeat(1024 * 1024 + 1));
    for target in targets!() {
        for (file, what) in [
            (&nul, "not a text file (contains NUL bytes)"),
            (&large, "file too large (over 1048576 bytes)"),
        ] {
            let f = file.to_str().unwrap();
            let out = run(&target, &["--config", f]);
            assert_eq!(out.status.code(), Some(64), "{}: {what}", target.name);
            assert_eq!(
                String::from_utf8_lossy(&out.stderr),
                format!("molt: config {f}: {what}\n"),
                "{}",
                target.name
            );
        }
    }
    std::fs::remove_file(nul).unwrap();
    std::fs::remove_file(large).unwrap();
}

#[test]
fn the_accepted_toml_subset() {
    let file = temp_config(concat!(
        "\u{feff}# a comment line\r\n",
        "  port = 1_2345   # trailing comment\r\n",
        "\"listen\" = '127.0.0.1'\n",
        "memory_limit_mb = +32\n",
        "slab_growth_factor = 1.5\n",
        "max_item_size = 2097152\n",
        "storage = \"slab\"\n",
        "admin_port = 0\n",
        "verbosity = 1\n",
        "\n",
        "[tls]\n",
        "cert = \"/tmp/q\\\"uote\\\\back\\u00e9.pem\"\n",
        "key = '/tmp/lit\\eral.pem'\n",
    ));
    let f = file.to_str().unwrap();
    let target = &targets!()[0];
    let p = print_config(target, &["--config", f]);
    assert_eq!(value_of(&p, "port"), "12345");
    assert_eq!(value_of(&p, "listen"), "\"127.0.0.1\"");
    assert_eq!(value_of(&p, "memory_limit_mb"), "32");
    assert_eq!(value_of(&p, "slab_growth_factor"), "1.5");
    assert_eq!(value_of(&p, "max_item_size"), "\"2m\"");
    assert_eq!(value_of(&p, "verbosity"), "1");
    assert_eq!(value_of(&p, "cert"), "\"/tmp/q\\\"uote\\\\back\u{e9}.pem\"");
    assert_eq!(value_of(&p, "key"), "\"/tmp/lit\\\\eral.pem\"");
    std::fs::remove_file(file).unwrap();
}

#[test]
fn print_config_prints_defaults_and_reads_back_the_same() {
    // Not the TLS targets: their arguments set [tls], so nothing is default.
    for target in targets!().into_iter().filter(|t| !t.is_tls()) {
        let p = print_config(&target, &[]);
        let t = target.name;
        for (k, v) in [
            ("port", "11211"),
            ("listen", "\"127.0.0.1\""),
            ("memory_limit_mb", "64"),
            ("threads", "4"),
            ("max_connections", "1024"),
            ("max_item_size", "\"1m\""),
            ("slab_growth_factor", "1.25"),
            ("admin_port", "0"),
            ("admin_listen", "\"127.0.0.1\""),
            ("verbosity", "0"),
            ("enable_shutdown", "false"),
            ("idle_timeout", "0"),
        ] {
            assert_eq!(value_of(&p, k), v, "{t}: {p}");
        }
        assert!(!p.contains("[tls]"), "{t}: {p}");
        // Round trip, with everything changed from the defaults.
        let custom = print_config(
            &target,
            &[
                "-p",
                "1234",
                "-l",
                "0.0.0.0",
                "-m",
                "100",
                "-t",
                "7",
                "-c",
                "55",
                "-I",
                "1000000",
                "-f",
                "1.07",
                "--admin-port",
                "9100",
                "--admin-listen",
                "::1",
                "-vv",
                "-A",
                "-o",
                "idle_timeout=7",
                "--tls-cert",
                "/c \"x\".pem",
                "--tls-key",
                "/k.pem",
            ],
        );
        assert!(custom.contains("\n[tls]\n"), "{t}: {custom}");
        assert_eq!(value_of(&custom, "max_item_size"), "1000000", "{t}");
        assert_eq!(value_of(&custom, "slab_growth_factor"), "1.07", "{t}");
        assert_eq!(value_of(&custom, "verbosity"), "2", "{t}");
        assert_eq!(value_of(&custom, "enable_shutdown"), "true", "{t}");
        assert_eq!(value_of(&custom, "idle_timeout"), "7", "{t}");
        let file = temp_config(&custom);
        let again = print_config(&target, &["--config", file.to_str().unwrap()]);
        assert_eq!(custom, again, "{t}");
        std::fs::remove_file(file).unwrap();
    }
}

#[test]
fn tls_without_tls_support_is_a_clear_start_up_error() {
    // molt-c has no Rust, hence no TLS; the file form must say the same.
    let target = &targets!()[0];
    assert_eq!(target.name, "molt-c");
    let out = run(target, &["--tls-cert", "/c.pem", "--tls-key", "/k.pem"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS") && err.contains("without Rust"), "{err}");
    let file = temp_config("[tls]\ncert = \"/c.pem\"\nkey = \"/k.pem\"\n");
    let out = run(target, &["--config", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS") && err.contains("without Rust"), "{err}");
    std::fs::remove_file(file).unwrap();
}

/// `protocol = "rust"` picks the Rust protocol in the mixed binary (`stats
/// settings` names it); molt-c reads the key but cannot open it.
#[test]
fn the_protocol_key_picks_the_implementation() {
    let file = temp_config("protocol = \"rust\"\n");
    let f = file.to_str().unwrap();
    for target in targets!().into_iter().filter(|t| !t.is_tls()) {
        let t = target.name;
        assert_eq!(
            value_of(&print_config(&target, &["--config", f]), "protocol"),
            "\"rust\"",
            "{t}"
        );
        if t.starts_with("molt-rs") {
            // one protocol, the Rust one: `--protocol c` is refused by name
            let out = run(
                &target,
                &[
                    "--config",
                    f,
                    "--protocol",
                    "c",
                    "-l",
                    "127.0.0.1",
                    "-p",
                    "1",
                ],
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{t}: {err}");
            assert!(
                err.contains("protocol 'c' is written in C and molt-rs is all Rust"),
                "{t}: {err}"
            );
            continue;
        }
        if t == "molt-c" {
            let out = run(&target, &["--config", f, "-l", "127.0.0.1", "-p", "1"]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_ne!(out.status.code(), Some(0), "{t}");
            assert!(
                err.contains(
                    "protocol 'rust' is written in Rust and this binary was built without \
                     Rust (use the mixed binary, molt)"
                ),
                "{t}: {err}"
            );
            continue;
        }
        // a flag still beats the file
        for (args, want) in [
            (&["--config", f][..], "rust"),
            (&["--config", f, "--protocol", "c"][..], "c"),
        ] {
            let server = Server::start(&target, args);
            let mut c = server.client();
            c.send_line("stats settings").unwrap();
            let mut found = None;
            loop {
                let l = c.read_line().unwrap();
                if l == "END" {
                    break;
                }
                if let Some(p) = l.strip_prefix("STAT protocol ") {
                    found = Some(p.to_string());
                }
            }
            assert_eq!(found.as_deref(), Some(want), "{t}: {args:?}");
        }
    }
    std::fs::remove_file(file).unwrap();
}

/// A start without --storage (or `storage` in the file) runs seg in the
/// mixed binary and slab in the C-only one (which has no seg); molt-rs has
/// seg only. `--print-config` and `stats settings` say which.
#[test]
fn the_default_engine_is_seg_where_the_binary_has_it() {
    for target in targets!() {
        let want = match target.name {
            "molt-c" => "slab",
            "molt-slab" | "molt-rs" => "seg",
            _ => continue,
        };
        let bare = Target::new(target.name, target.program.clone(), &[]);
        let p = print_config(&bare, &[]);
        assert_eq!(
            value_of(&p, "storage"),
            format!("\"{want}\""),
            "{}: {p}",
            target.name
        );
        let server = Server::start(&bare, &[]);
        let lines = server.client().stats_lines("stats settings");
        assert!(
            lines.contains(&format!("STAT storage_engine {want}")),
            "{}: {lines:?}",
            target.name
        );
    }
}
