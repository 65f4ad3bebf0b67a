//! Server processes: start a target on a free port, wait until that very
//! process listens, kill it (by its child handle) on drop.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::ports::{free_port, listens_on};
use crate::targets::{require_built, Target};
use crate::temp::unique_temp_path;
use crate::tls_config::{register_tls_port, unregister_tls_port, TlsClient};

/// A running server process on 127.0.0.1:<free port>; killed on drop.
pub struct Server {
    child: Child,
    port: u16,
    target_name: &'static str,
    stderr_path: PathBuf,
    tls: Option<TlsClient>,
}

const START_ATTEMPTS: usize = 5;
const START_TIMEOUT: Duration = Duration::from_secs(10);

impl Server {
    /// Starts `target` with its own args, then `extra_args`, then
    /// `-l 127.0.0.1 -p <port>`; returns once it accepts connections.
    pub fn start(target: &Target, extra_args: &[&str]) -> Server {
        require_built(target);
        let mut last_err = String::new();
        for _ in 0..START_ATTEMPTS {
            match Server::try_start(target, extra_args) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!(
            "target {}: server failed to start after {} attempts: {}",
            target.name, START_ATTEMPTS, last_err
        );
    }

    fn try_start(target: &Target, extra_args: &[&str]) -> Result<Server, String> {
        let port = free_port();
        let stderr_path = unique_temp_path(&format!("{}-{}.stderr", target.name, port));
        let stderr = File::create(&stderr_path)
            .map_err(|e| format!("create {}: {}", stderr_path.display(), e))?;
        let mut cmd = Command::new(&target.program);
        cmd.args(&target.args)
            .args(extra_args)
            .args(["-l", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr));
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {}", target.program.display(), e))?;
        let mut server = Server {
            child,
            port,
            target_name: target.name,
            stderr_path,
            tls: target.tls.clone(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                let err = server.stderr_text();
                // A port taken between free_port() and bind() is retried;
                // anything else is a real failure.
                let msg = format!(
                    "{} {:?} exited during startup ({}); stderr:\n{}",
                    target.program.display(),
                    cmd.get_args().collect::<Vec<_>>(),
                    status,
                    err
                );
                if err.contains("in use") || err.contains("bind") {
                    return Err(msg);
                }
                panic!("target {}: {}", target.name, msg);
            }
            // The port was free a moment ago, but another process may have
            // taken it (then our server fails to bind and exits, above):
            // only a listener that belongs to our child counts.
            if TcpStream::connect_timeout(&server.addr(), Duration::from_millis(200)).is_ok()
                && listens_on(server.child.id(), port)
            {
                if let Some(tls) = &server.tls {
                    register_tls_port(port, tls.clone());
                }
                return Ok(server);
            }
            if Instant::now() > deadline {
                panic!(
                    "target {}: server not accepting connections on port {} after {:?}; stderr:\n{}",
                    target.name,
                    port,
                    START_TIMEOUT,
                    server.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn target_name(&self) -> &'static str {
        self.target_name
    }

    /// Whatever the server wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        fs::read(&self.stderr_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// None while the process is running.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits at most `limit` for the process to exit (after a signal or a
    /// shutdown command); its status. Panics, naming `why`, if it is still
    /// running then.
    pub fn wait_exit(&mut self, limit: Duration, why: &str) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.exit_status() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{}: still running after {why}",
                self.target_name()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A new client connection to this server (TLS for a TLS target; see
    /// `Client::connect` for a failed handshake).
    pub fn client(&self) -> Client {
        match &self.tls {
            None => Client::connect_plain(self.addr()),
            Some(t) => Client::connect_tls_or_failed(self.addr(), t),
        }
    }

    /// How clients connect to this server over TLS; None for plain TCP.
    pub fn tls(&self) -> Option<&TlsClient> {
        self.tls.as_ref()
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.tls.is_some() {
            unregister_tls_port(self.port);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.stderr_path);
    }
}

/// Send `sig` ("-TERM", "-USR1", "-KILL", ...) to process `pid` with
/// kill(1); panics when kill fails.
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} {pid}");
}
