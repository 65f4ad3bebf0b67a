//! Settings from the command line and the `--config` TOML file, as molt-c
//! has them (c-core/src/util/options.c): the same flags, keys, defaults,
//! validation and error messages. Each setting is one [`Key`]: a flag and a
//! TOML key reach the same [`apply`], so both are validated alike; a flag
//! beats the file wherever it stands.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::config_file;

/// molt's version (c-core/src/util/version.h).
pub const VERSION: &str = "0.1.0";

/// Longest path molt-c accepts (MOLT_PATH_MAX - 1).
const PATH_MAX: i64 = 4095;

/// The effective settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub port: u16,
    pub listen: String,
    pub memory_mb: u64,
    pub threads: usize,
    pub max_conns: u64,
    pub item_size_max: u32,
    pub growth_factor: f64,
    pub storage: String,
    pub protocol: String,
    pub admin_port: u16,
    pub admin_listen: String,
    pub verbose: u32,
    pub tls_cert: String,
    pub tls_key: String,
    pub tls_ca: String,
    pub tls_requested: bool,
    pub enable_shutdown: bool,
    pub idle_timeout: i64,
    /// -e: warm restart through this file; "" when unset.
    pub memory_file: String,
}

impl Default for Settings {
    /// molt's defaults, except the engine and protocol: molt-rs has only
    /// the Rust ones.
    fn default() -> Settings {
        Settings {
            port: 11211,
            listen: "127.0.0.1".into(),
            memory_mb: 64,
            threads: 4,
            max_conns: 1024,
            item_size_max: 1024 * 1024,
            growth_factor: 1.25,
            storage: "seg".into(),
            protocol: "rust".into(),
            admin_port: 0,
            admin_listen: "127.0.0.1".into(),
            verbose: 0,
            tls_cert: String::new(),
            tls_key: String::new(),
            tls_ca: String::new(),
            tls_requested: false,
            enable_shutdown: false,
            idle_timeout: 0,
            memory_file: String::new(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Action {
    Run(Settings),
    Help,
    Version,
    PrintConfig(Settings),
}

/// One setting (options.c `key_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Port,
    Listen,
    Memory,
    Threads,
    Conns,
    ItemSize,
    Growth,
    Storage,
    Protocol,
    AdminPort,
    AdminListen,
    Verbosity,
    TlsCertFile,
    TlsKeyFile,
    TlsCaFile,
    EnableShutdown,
    IdleTimeout,
    MemoryFile,
}

/// A setting's TOML name, range and the words of its errors
/// (options.c `key_defs`).
pub struct KeyDef {
    pub key: Key,
    /// "" or "tls".
    pub table: &'static str,
    pub name: &'static str,
    /// Integer range; string length range.
    lo: i64,
    hi: i64,
    /// For flag errors: "invalid <what> '<text>'".
    what: &'static str,
    /// "(expected <hint>)".
    hint: &'static str,
    /// The clap id of its flag, "" when it has none of its own.
    flag: &'static str,
}

const fn def(
    key: Key,
    table: &'static str,
    name: &'static str,
    (lo, hi): (i64, i64),
    what: &'static str,
    hint: &'static str,
    flag: &'static str,
) -> KeyDef {
    KeyDef {
        key,
        table,
        name,
        lo,
        hi,
        what,
        hint,
        flag,
    }
}

/// Every setting, in options.c's order.
pub const KEYS: &[KeyDef] = &[
    def(Key::Port, "", "port", (1, 65535), "port", "1-65535", "port"),
    def(
        Key::Listen,
        "",
        "listen",
        (1, 63),
        "listen address",
        "an address",
        "listen",
    ),
    def(
        Key::Memory,
        "",
        "memory_limit_mb",
        (1, 1 << 20),
        "memory limit",
        "megabytes, 1-1048576",
        "memory-limit",
    ),
    def(
        Key::Threads,
        "",
        "threads",
        (1, 256),
        "thread count",
        "1-256",
        "threads",
    ),
    def(
        Key::Conns,
        "",
        "max_connections",
        (1, 1_000_000),
        "connection limit",
        "1-1000000",
        "conn-limit",
    ),
    def(
        Key::ItemSize,
        "",
        "max_item_size",
        (1024, 1 << 30),
        "max item size",
        "bytes or with k/m suffix, 1k-1024m",
        "max-item-size",
    ),
    def(
        Key::Growth,
        "",
        "slab_growth_factor",
        (0, 0),
        "growth factor",
        "greater than 1.0, at most 100",
        "slab-growth-factor",
    ),
    def(
        Key::Storage,
        "",
        "storage",
        (1, 31),
        "storage engine name",
        "a name",
        "storage",
    ),
    def(
        Key::Protocol,
        "",
        "protocol",
        (1, 31),
        "protocol implementation name",
        "c or rust",
        "protocol",
    ),
    def(
        Key::AdminPort,
        "",
        "admin_port",
        (0, 65535),
        "admin port",
        "0-65535, 0 = off",
        "admin-port",
    ),
    def(
        Key::AdminListen,
        "",
        "admin_listen",
        (1, 63),
        "admin listen address",
        "an address",
        "admin-listen",
    ),
    def(
        Key::Verbosity,
        "",
        "verbosity",
        (0, 2),
        "verbosity",
        "0 = warnings, 1 = info, 2 = debug",
        "",
    ),
    def(
        Key::TlsCertFile,
        "tls",
        "cert",
        (1, PATH_MAX),
        "TLS certificate path",
        "a file",
        "tls-cert",
    ),
    def(
        Key::TlsKeyFile,
        "tls",
        "key",
        (1, PATH_MAX),
        "TLS key path",
        "a file",
        "tls-key",
    ),
    def(
        Key::TlsCaFile,
        "tls",
        "ca",
        (1, PATH_MAX),
        "TLS CA path",
        "a file",
        "tls-ca",
    ),
    def(
        Key::EnableShutdown,
        "",
        "enable_shutdown",
        (0, 1),
        "enable shutdown",
        "true or false",
        "enable-shutdown",
    ),
    def(
        Key::IdleTimeout,
        "",
        "idle_timeout",
        (0, i32::MAX as i64),
        "idle timeout",
        "seconds, 0 = off",
        "idle-timeout",
    ),
    def(
        Key::MemoryFile,
        "",
        "memory_file",
        (1, PATH_MAX),
        "memory file path",
        "a file",
        "memory-file",
    ),
];

fn key_def(k: Key) -> &'static KeyDef {
    KEYS.iter()
        .find(|d| d.key == k)
        .expect("every key has a def")
}

/// Where a value comes from: a flag's text, or a typed TOML value.
pub enum Source<'a> {
    Flag(&'a str),
    Toml(&'a toml::Value),
}

/// The usage text (options.c's, with molt-rs's engine and protocol).
pub const USAGE: &str = "\
Usage: molt-rs [options]
  -p, --port=PORT            TCP port to listen on (default: 11211)
  -l, --listen=ADDR          interface to listen on (default: 127.0.0.1)
  -m, --memory-limit=MB      item memory in megabytes (default: 64)
  -t, --threads=N            worker threads (default: 4)
  -c, --conn-limit=N         max simultaneous connections (default: 1024)
  -I, --max-item-size=SIZE   max item size, bytes or with k/m suffix
                             (default: 1m, min: 1k, max: 1024m)
  -f, --slab-growth-factor=F chunk size growth factor (default: 1.25)
      --storage=ENGINE       storage engine: seg (molt-rs has no slab;
                             default: seg)
      --protocol=IMPL        memcache protocol implementation: rust
                             (default: rust)
  -U, --udp-port=0           accepted for compatibility; UDP is off
      --admin-port=PORT      HTTP admin endpoint (/metrics, /health);
                             0 = off (default: 0)
      --admin-listen=ADDR    admin endpoint address (default: 127.0.0.1)
      --tls-cert=FILE        TLS certificate chain (PEM)
      --tls-key=FILE         TLS private key (PEM)
      --tls-ca=FILE          CA bundle for client certificates (PEM)
  -A, --enable-shutdown      allow the shutdown command (as memcached -A)
      --idle-timeout=SECONDS close connections idle longer than this;
                             0 = never (default: 0)
  -o idle_timeout=SECONDS    the same, memcached's spelling
  -e, --memory-file=FILE     warm restart (--storage seg): a graceful stop
                             (SIGTERM, SIGINT, SIGUSR1, shutdown graceful)
                             saves the items to FILE, the next start loads
                             them
      --config=FILE          read settings from a TOML file; flags win
      --print-config         print the effective settings as TOML and exit
  -v, --verbose              log info (-v) or debug (-vv) events to stderr
  -h, --help                 print this help and exit
  -V, --version              print version and exit
";

/// molt's getopt table as clap arguments. Every value flag collects all
/// its occurrences (getopt lets the last win; clap's indices put them in
/// command-line order, so the first bad one is the one reported).
fn command() -> Command {
    let value = |id: &'static str, short: Option<char>| {
        let a = Arg::new(id)
            .long(id)
            .action(ArgAction::Append)
            .num_args(1)
            .allow_hyphen_values(true);
        match short {
            Some(c) => a.short(c),
            None => a,
        }
    };
    let flag = |id: &'static str, short: Option<char>| {
        let a = Arg::new(id).long(id).action(ArgAction::Count);
        match short {
            Some(c) => a.short(c),
            None => a,
        }
    };
    Command::new("molt-rs")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(value("port", Some('p')))
        .arg(value("listen", Some('l')))
        .arg(value("memory-limit", Some('m')))
        .arg(value("threads", Some('t')))
        .arg(value("conn-limit", Some('c')))
        .arg(value("max-item-size", Some('I')))
        .arg(value("slab-growth-factor", Some('f')))
        .arg(value("storage", None))
        .arg(value("protocol", None))
        .arg(value("udp-port", Some('U')))
        .arg(value("admin-port", None))
        .arg(value("admin-listen", None))
        .arg(value("tls-cert", None))
        .arg(value("tls-key", None))
        .arg(value("tls-ca", None))
        .arg(flag("enable-shutdown", Some('A')))
        .arg(value("idle-timeout", None))
        .arg(value("memory-file", Some('e')))
        .arg(value("extended", Some('o')))
        .arg(value("config", None))
        .arg(flag("print-config", None))
        .arg(flag("verbose", Some('v')))
        .arg(flag("help", Some('h')))
        .arg(flag("version", Some('V')))
}

/// clap's refusal in molt's words.
fn clap_error(e: &clap::Error) -> String {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.first().cloned().unwrap_or_default(),
        _ => String::new(),
    };
    // clap names an option with its value placeholder: keep the flag
    let flag = arg.split([' ', '=']).next().unwrap_or("").to_string();
    match e.kind() {
        ErrorKind::UnknownArgument if !arg.starts_with('-') => {
            format!("unexpected argument '{arg}' (see --help)")
        }
        ErrorKind::UnknownArgument => format!("unknown option '{arg}' (see --help)"),
        ErrorKind::InvalidValue | ErrorKind::NoEquals | ErrorKind::WrongNumberOfValues => {
            format!("option '{flag}' requires an argument")
        }
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            format!("{} (see --help)", first.trim_start_matches("error: "))
        }
    }
}

/// Every occurrence of every value flag, in command-line order.
fn occurrences(m: &ArgMatches, id: &str) -> Vec<(usize, String)> {
    match (m.indices_of(id), m.get_many::<String>(id)) {
        (Some(i), Some(v)) => i.zip(v.cloned()).collect(),
        _ => Vec::new(),
    }
}

/// Parse `args` (without the program name) as molt does (options.c
/// `options_parse`); `Err` holds the message after "molt: ".
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Action, String> {
    let argv = std::iter::once("molt-rs".to_string()).chain(args);
    let m = command()
        .try_get_matches_from(argv)
        .map_err(|e| clap_error(&e))?;
    if m.get_count("help") > 0 {
        return Ok(Action::Help);
    }
    if m.get_count("version") > 0 {
        return Ok(Action::Version);
    }
    for (_, udp) in occurrences(&m, "udp-port") {
        if udp != "0" {
            return Err("UDP is not supported: only -U 0 is accepted".into());
        }
    }
    let configs = occurrences(&m, "config");
    if configs.len() > 1 {
        return Err("--config given twice".into());
    }
    let mut s = Settings::default();
    let mut item_size_set = false;
    if let Some((_, path)) = configs.first() {
        if path.is_empty() || path.len() > PATH_MAX as usize {
            return Err(format!("invalid config file name '{path}'"));
        }
        config_file::load(path, &mut |table, key, value| {
            config_entry(&mut s, &mut item_size_set, table, key, value)
        })?;
    }
    // flags, in command-line order, over the file
    let mut flags: Vec<(usize, Option<Key>, String)> = Vec::new();
    for d in KEYS.iter().filter(|d| !d.flag.is_empty()) {
        if d.key == Key::EnableShutdown {
            // a flag without a value: where it stands cannot matter
            if m.get_count(d.flag) > 0 {
                flags.push((0, Some(d.key), "true".into()));
            }
            continue;
        }
        for (i, v) in occurrences(&m, d.flag) {
            flags.push((i, Some(d.key), v));
        }
    }
    for (i, v) in occurrences(&m, "extended") {
        flags.push((i, None, v));
    }
    flags.sort_by_key(|f| f.0);
    for (_, key, text) in &flags {
        match key {
            Some(k) => apply(&mut s, *k, &Source::Flag(text), &mut item_size_set)?,
            None => apply_extended(&mut s, text, &mut item_size_set)?,
        }
    }
    let verbose = m.get_count("verbose");
    if verbose > 0 {
        s.verbose = u32::from(verbose.min(2));
    }
    if item_size_set && u64::from(s.item_size_max) > s.memory_mb * 1024 * 1024 / 2 {
        return Err("cannot set item size limit higher than 1/2 of memory max".into());
    }
    if m.get_count("print-config") > 0 {
        return Ok(Action::PrintConfig(s));
    }
    Ok(Action::Run(s))
}

/// memcached's -o: comma-separated name=value settings; molt knows
/// idle_timeout.
fn apply_extended(s: &mut Settings, list: &str, item_size_set: &mut bool) -> Result<(), String> {
    if list.len() >= 256 {
        return Err("-o argument too long".into());
    }
    for opt in list.split(',').filter(|o| !o.is_empty()) {
        match opt.split_once('=') {
            Some(("idle_timeout", v)) => {
                apply(s, Key::IdleTimeout, &Source::Flag(v), item_size_set)?
            }
            _ => {
                return Err(format!(
                    "unknown -o setting '{opt}' (molt knows idle_timeout=N)"
                ))
            }
        }
    }
    Ok(())
}

/// One `key = value` (or, with `key` None, a `[table]` header) of the
/// config file.
fn config_entry(
    s: &mut Settings,
    item_size_set: &mut bool,
    table: &str,
    key: Option<&str>,
    v: &toml::Value,
) -> Result<(), String> {
    let Some(key) = key else {
        if KEYS.iter().any(|d| !d.table.is_empty() && d.table == table) {
            return Ok(());
        }
        return Err(format!("unknown table [{table}]"));
    };
    match KEYS.iter().find(|d| d.table == table && d.name == key) {
        Some(d) => apply(s, d.key, &Source::Toml(v), item_size_set),
        None => {
            let dot = if table.is_empty() { "" } else { "." };
            Err(format!("unknown key '{table}{dot}{key}'"))
        }
    }
}

fn full_name(d: &KeyDef) -> String {
    if d.table.is_empty() {
        d.name.to_string()
    } else {
        format!("{}.{}", d.table, d.name)
    }
}

/// A TOML value's kind as molt's config errors name it.
fn kind_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

fn wrong_type(d: &KeyDef, expected: &str, v: &toml::Value) -> String {
    format!(
        "'{}' must be {expected}, not {}",
        full_name(d),
        kind_name(v)
    )
}

fn out_of_range(d: &KeyDef, shown: &str) -> String {
    format!(
        "'{}' out of range: {shown} (expected {})",
        full_name(d),
        d.hint
    )
}

/// options.c's parse_u64: 1-20 ASCII digits, no sign, no overflow.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// "1048576", "512k", "1m" (case-insensitive), like memcached's -I.
fn parse_size(s: &str) -> Option<u64> {
    let (digits, mult) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1024),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    parse_u64(digits)?.checked_mul(mult)
}

fn get_int(d: &KeyDef, src: &Source<'_>) -> Result<i64, String> {
    match src {
        Source::Flag(text) => match parse_u64(text) {
            Some(v) if v >= d.lo as u64 && v <= d.hi as u64 => Ok(v as i64),
            _ => Err(format!("invalid {} '{text}' (expected {})", d.what, d.hint)),
        },
        Source::Toml(toml::Value::Integer(i)) => {
            if *i < d.lo || *i > d.hi {
                Err(out_of_range(d, &i.to_string()))
            } else {
                Ok(*i)
            }
        }
        Source::Toml(v) => Err(wrong_type(d, "an integer", v)),
    }
}

fn get_string(d: &KeyDef, src: &Source<'_>) -> Result<String, String> {
    let s = match src {
        Source::Flag(text) => *text,
        Source::Toml(toml::Value::String(s)) => s.as_str(),
        Source::Toml(v) => return Err(wrong_type(d, "a string", v)),
    };
    let n = s.len() as i64;
    if n < d.lo || n > d.hi {
        return Err(match src {
            Source::Flag(_) => format!("invalid {} '{s}'", d.what),
            Source::Toml(_) => format!(
                "'{}' must be a string of 1 to {} characters",
                full_name(d),
                d.hi
            ),
        });
    }
    Ok(s.to_string())
}

fn get_item_size(d: &KeyDef, src: &Source<'_>) -> Result<u32, String> {
    const MAX: u64 = 1 << 30;
    let (v, shown) = match src {
        Source::Flag(text) => {
            let v = parse_size(text).ok_or_else(|| {
                format!("invalid max item size '{text}' (bytes, or with k/m suffix)")
            })?;
            if v < 1024 {
                return Err("item max size cannot be less than 1024 bytes".into());
            }
            if v > MAX {
                return Err("cannot set item size limit higher than 1 gigabyte".into());
            }
            return Ok(v as u32);
        }
        Source::Toml(toml::Value::Integer(i)) => {
            if *i < 0 {
                return Err(out_of_range(d, &i.to_string()));
            }
            (*i as u64, i.to_string())
        }
        Source::Toml(toml::Value::String(s)) => {
            let shown: String = s.chars().take(40).collect();
            let v = parse_size(s).ok_or_else(|| {
                format!(
                    "'max_item_size' must be bytes or a size like \"512k\" or \"1m\", not \"{shown}\""
                )
            })?;
            (v, format!("\"{shown}\""))
        }
        Source::Toml(v) => return Err(wrong_type(d, "an integer or a size string like \"1m\"", v)),
    };
    if !(1024..=MAX).contains(&v) {
        return Err(out_of_range(d, &shown));
    }
    Ok(v as u32)
}

fn get_growth(d: &KeyDef, src: &Source<'_>) -> Result<f64, String> {
    let ok = |f: f64| f > 1.0 && f <= 100.0;
    let f = match src {
        Source::Flag(text) => {
            return match c_strtod(text) {
                Some(f) if ok(f) => Ok(f),
                _ => Err(format!(
                    "invalid growth factor '{text}' (must be greater than 1.0)"
                )),
            }
        }
        Source::Toml(toml::Value::Float(f)) => *f,
        Source::Toml(toml::Value::Integer(i)) => *i as f64,
        Source::Toml(v) => return Err(wrong_type(d, "a number", v)),
    };
    if !ok(f) {
        return Err(out_of_range(d, &format_g(f)));
    }
    Ok(f)
}

/// What strtod accepts whole (no leading space or trailing bytes): Rust's
/// float syntax plus C's hexadecimal floats, which molt-c would also take,
/// are rare enough to refuse.
fn c_strtod(s: &str) -> Option<f64> {
    if s.is_empty() || s.starts_with(char::is_whitespace) {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// printf's %g for the values a growth factor error shows (whole
/// numbers without a fraction; others shortest, which agrees for the
/// values people type).
fn format_g(f: f64) -> String {
    if f == f.trunc() && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn get_bool(d: &KeyDef, src: &Source<'_>) -> Result<bool, String> {
    match src {
        Source::Flag(text) => Ok(*text == "true"),
        Source::Toml(toml::Value::Boolean(b)) => Ok(*b),
        Source::Toml(v) => Err(wrong_type(d, "true or false", v)),
    }
}

/// Validate and store one setting (options.c `apply`).
pub fn apply(
    s: &mut Settings,
    k: Key,
    src: &Source<'_>,
    item_size_set: &mut bool,
) -> Result<(), String> {
    let d = key_def(k);
    match k {
        Key::Port => s.port = get_int(d, src)? as u16,
        Key::Listen => s.listen = get_string(d, src)?,
        Key::Memory => s.memory_mb = get_int(d, src)? as u64,
        Key::Threads => s.threads = get_int(d, src)? as usize,
        Key::Conns => s.max_conns = get_int(d, src)? as u64,
        Key::ItemSize => {
            s.item_size_max = get_item_size(d, src)?;
            *item_size_set = true;
        }
        Key::Growth => s.growth_factor = get_growth(d, src)?,
        Key::Storage => s.storage = get_string(d, src)?,
        Key::Protocol => s.protocol = get_string(d, src)?,
        Key::AdminPort => s.admin_port = get_int(d, src)? as u16,
        Key::AdminListen => s.admin_listen = get_string(d, src)?,
        Key::Verbosity => s.verbose = get_int(d, src)? as u32,
        Key::TlsCertFile => {
            s.tls_requested = true;
            s.tls_cert = get_string(d, src)?;
        }
        Key::TlsKeyFile => {
            s.tls_requested = true;
            s.tls_key = get_string(d, src)?;
        }
        Key::TlsCaFile => {
            s.tls_requested = true;
            s.tls_ca = get_string(d, src)?;
        }
        Key::EnableShutdown => s.enable_shutdown = get_bool(d, src)?,
        Key::IdleTimeout => s.idle_timeout = get_int(d, src)?,
        Key::MemoryFile => s.memory_file = get_string(d, src)?,
    }
    Ok(())
}

/// A TOML basic string.
fn toml_str(key: &str, s: &str) -> String {
    let mut out = format!("{key} = \"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push_str("\"\n");
    out
}

/// `--print-config`: the effective settings as TOML (options.c
/// `options_to_toml`).
pub fn to_toml(s: &Settings) -> String {
    // shortest form that reads back exactly, always with a '.'
    let mut growth = format!("{}", s.growth_factor);
    if !growth.contains(['.', 'e', 'E']) {
        growth.push_str(".0");
    }
    let is = s.item_size_max;
    let item = if is.is_multiple_of(1 << 20) {
        format!("\"{}m\"", is >> 20)
    } else if is.is_multiple_of(1024) {
        format!("\"{}k\"", is >> 10)
    } else {
        is.to_string()
    };
    let mut t = format!("# molt {VERSION}: effective configuration\n");
    t += &format!("port = {}\n", s.port);
    t += &toml_str("listen", &s.listen);
    t += &format!("memory_limit_mb = {}\n", s.memory_mb);
    t += &format!("threads = {}\n", s.threads);
    t += &format!("max_connections = {}\n", s.max_conns);
    t += &format!("max_item_size = {item}\n");
    t += &format!("slab_growth_factor = {growth}\n");
    t += &toml_str("storage", &s.storage);
    t += &toml_str("protocol", &s.protocol);
    t += &format!("admin_port = {}\n", s.admin_port);
    t += &toml_str("admin_listen", &s.admin_listen);
    t += &format!("verbosity = {}\n", s.verbose);
    t += &format!("enable_shutdown = {}\n", s.enable_shutdown);
    t += &format!("idle_timeout = {}\n", s.idle_timeout);
    if !s.memory_file.is_empty() {
        t += &toml_str("memory_file", &s.memory_file);
    }
    if s.tls_requested {
        t += "\n[tls]\n";
        for (k, v) in [
            ("cert", &s.tls_cert),
            ("key", &s.tls_key),
            ("ca", &s.tls_ca),
        ] {
            if !v.is_empty() {
                t += &toml_str(k, v);
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Settings, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Action::Run(s) => Ok(s),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_set_settings_last_wins() {
        let s = run(&[
            "-p",
            "1234",
            "-t2",
            "--port=99",
            "-vv",
            "-A",
            "-o",
            "idle_timeout=3",
        ])
        .unwrap();
        assert_eq!((s.port, s.threads, s.verbose), (99, 2, 2));
        assert!(s.enable_shutdown);
        assert_eq!(s.idle_timeout, 3);
        assert_eq!(run(&["-I", "512k"]).unwrap().item_size_max, 512 * 1024);
    }

    #[test]
    fn errors_are_molts() {
        assert_eq!(
            run(&["-p", "70000"]).unwrap_err(),
            "invalid port '70000' (expected 1-65535)"
        );
        assert_eq!(
            run(&["--bogus"]).unwrap_err(),
            "unknown option '--bogus' (see --help)"
        );
        assert_eq!(
            run(&["-I", "512"]).unwrap_err(),
            "item max size cannot be less than 1024 bytes"
        );
        assert_eq!(
            run(&["-m", "2", "-I", "2m"]).unwrap_err(),
            "cannot set item size limit higher than 1/2 of memory max"
        );
        assert_eq!(
            run(&["-U", "1"]).unwrap_err(),
            "UDP is not supported: only -U 0 is accepted"
        );
        assert_eq!(
            run(&["-o", "x=1"]).unwrap_err(),
            "unknown -o setting 'x=1' (molt knows idle_timeout=N)"
        );
        assert!(run(&["-p"]).unwrap_err().contains("requires an argument"));
        // the first bad flag on the line is the one reported
        assert!(run(&["-t", "0", "-p", "0"])
            .unwrap_err()
            .contains("thread count"));
    }

    #[test]
    fn print_config_reads_back() {
        let s = run(&["-I", "2k", "-f", "1.5"]).unwrap();
        let t = to_toml(&s);
        assert!(t.contains("max_item_size = \"2k\"\n"), "{t}");
        assert!(t.contains("slab_growth_factor = 1.5\n"), "{t}");
        assert!(t.contains("storage = \"seg\"\n"), "{t}");
    }
}
