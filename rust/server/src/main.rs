//! molt-rs: the all-Rust molt server. The same flags, config keys, stats
//! and replies as molt-c and molt, over a mio event loop (a listener and
//! -t workers, each with its own Poll), the Rust protocol (rust/protocol)
//! and segment storage (rust/seg) called directly. No C code and no C
//! compiler: every dependency is Rust.
#![forbid(unsafe_code)]

mod admin;
mod buf;
mod config_file;
mod config_syntax;
mod conn;
mod host;
mod latency;
mod log;
mod metrics;
mod options;
mod server;
mod shared;
mod signals;
mod stats;
mod transport;
mod watch;
mod worker;

use options::Action;

fn main() {
    let code = match options::parse(
        std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned()),
    ) {
        Ok(Action::Help) => {
            print!("{}", options::USAGE);
            0
        }
        Ok(Action::Version) => {
            println!(
                "molt {} (memcached {} protocol)",
                options::VERSION,
                protocol::VERSION_REPLY
            );
            0
        }
        Ok(Action::PrintConfig(s)) => {
            print!("{}", options::to_toml(&s));
            0
        }
        Ok(Action::Run(s)) => server::run(s),
        Err(e) => {
            eprintln!("molt: {e}");
            64
        }
    };
    std::process::exit(code);
}
