//! `stats` replies: reading them from a client and looking values up.

use std::collections::HashMap;

use crate::client::Client;

/// A `stats` reply: STAT name -> value.
#[derive(Debug, Clone)]
pub struct Stats(pub HashMap<String, String>);

impl Stats {
    /// The value of STAT `name`, as text.
    pub fn text(&self, name: &str) -> &str {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("no STAT {name} in {:?}", self.0))
    }

    /// The value of STAT `name`, as a number.
    pub fn num(&self, name: &str) -> u64 {
        let v = self.text(name);
        v.parse()
            .unwrap_or_else(|_| panic!("STAT {name} {v:?} is not a number"))
    }
}

impl Client {
    /// Sends `cmd` (e.g. `stats settings`) and returns its lines up to
    /// END, in order, END not included.
    pub fn stats_lines(&mut self, cmd: &str) -> Vec<String> {
        self.send_line(cmd).expect("send stats");
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().expect("stats line");
            if line == "END" {
                return lines;
            }
            lines.push(line);
        }
    }

    /// Sends `stats` and reads every STAT line up to END.
    pub fn stats(&mut self) -> Stats {
        self.send_line("stats").expect("send stats");
        let mut m = HashMap::new();
        loop {
            let line = self.read_line().expect("stats line");
            if line == "END" {
                return Stats(m);
            }
            let mut it = line.splitn(3, ' ');
            assert_eq!(it.next(), Some("STAT"), "stats line {line:?}");
            let k = it.next().unwrap_or_default().to_string();
            m.insert(k, it.next().unwrap_or_default().to_string());
        }
    }
}
