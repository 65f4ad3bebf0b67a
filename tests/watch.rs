//! `watch` (memcached 1.6's log streams) on every target and on the
//! memcached reference: the watcher gets `OK`, then one line per event of
//! the kinds it asked for, in memcached's formats (bare LF; ts, gid and cfd
//! vary, the rest is compared); a watcher that does not read loses lines
//! and is told how many with `skipped=N`; input after `watch` is ignored;
//! evictions are reported by both engines.

use molt_test_support::{reference_memcached, targets, Client, Server, Target};
use std::time::{Duration, Instant};

/// Every target, plus memcached to prove the expected lines are its own.
fn all_targets() -> Vec<Target> {
    let mut all = targets!();
    all.extend(reference_memcached());
    all
}

/// A log line's fields after ts/gid (checked to be numbers), with cfd's
/// value replaced by `N`.
fn fields(line: &str) -> String {
    let mut out = Vec::new();
    for (i, f) in line.split(' ').enumerate() {
        let (name, value) = f
            .split_once('=')
            .unwrap_or_else(|| panic!("field {f:?} in {line:?}"));
        match (i, name) {
            (0, "ts") => {
                let (s, us) = value.split_once('.').expect("ts=s.us");
                assert!(
                    s.parse::<u64>().is_ok() && us.parse::<u32>().is_ok(),
                    "{line}"
                );
            }
            (1, "gid") => assert!(value.parse::<u64>().is_ok(), "{line}"),
            (_, "cfd") => {
                assert!(value.parse::<i32>().is_ok(), "{line}");
                out.push("cfd=N".to_string());
            }
            (0 | 1, _) => panic!("line starts {f:?}: {line:?}"),
            _ => out.push(f.to_string()),
        }
    }
    out.join(" ")
}

/// Starts watching; waits for OK (memcached's logger thread may take up to
/// a second to register the watcher).
fn watcher(server: &Server, kinds: &str) -> Client {
    let mut w = server.client();
    w.send_line(&format!("watch {kinds}")).unwrap();
    assert_eq!(w.read_line().unwrap(), "OK", "{}", server.target_name());
    std::thread::sleep(Duration::from_millis(100));
    w
}

/// Reads log lines until every wanted one was seen (other lines, such as
/// memcached's item_get of a set's lookup, are skipped); panics after 5 s.
fn expect_lines(w: &mut Client, name: &str, wanted: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut at = 0;
    let mut seen = Vec::new();
    while at < wanted.len() {
        assert!(
            Instant::now() < deadline,
            "{name}: waiting for {:?}, saw {seen:#?}",
            wanted[at]
        );
        let raw = w.read_line_raw(4096).unwrap();
        let line = String::from_utf8(raw).unwrap();
        assert!(
            line.ends_with('\n') && !line.ends_with("\r\n"),
            "{name}: {line:?}"
        );
        let got = fields(line.trim_end_matches('\n'));
        if got == wanted[at] {
            at += 1;
        }
        seen.push(got);
    }
}

#[test]
fn fetchers_and_mutations_in_memcached_formats() {
    for target in all_targets() {
        let server = Server::start(&target, &[]);
        let name = target.name;
        let mut w = watcher(&server, "fetchers mutations");
        let mut c = server.client();
        assert_eq!(c.request("set k%x 0 0 1\r\nx").unwrap(), "STORED");
        assert_eq!(c.request("add k%x 0 0 2\r\nyy").unwrap(), "NOT_STORED");
        assert_eq!(c.request("set t 5 100 3\r\nabc").unwrap(), "STORED");
        c.send_line("get k%x nope").unwrap();
        assert_eq!(c.read_line().unwrap(), "VALUE k%x 0 1");
        assert_eq!(c.read_line().unwrap(), "x");
        assert_eq!(c.read_line().unwrap(), "END");
        assert_eq!(c.request("mg t s v").unwrap(), "VA 3 s3");
        assert_eq!(c.read_line().unwrap(), "abc");
        assert_eq!(c.request("cas t 0 0 1 999999\r\nz").unwrap(), "EXISTS");
        expect_lines(
            &mut w,
            name,
            &[
                "type=item_store key=k%25x status=stored cmd=set ttl=0 clsid=1 cfd=N size=1",
                "type=item_store key=k%25x status=not_stored cmd=add ttl=0 clsid=1 cfd=N size=2",
                "type=item_store key=t status=stored cmd=set ttl=100 clsid=1 cfd=N size=3",
                "type=item_get key=k%25x status=found clsid=1 cfd=N size=1",
                "type=item_get key=nope status=not_found clsid=0 cfd=N size=0",
                "type=item_get key=t status=found clsid=1 cfd=N size=3",
                "type=item_store key=t status=exists cmd=cas ttl=0 clsid=1 cfd=N size=1",
            ],
        );
        // Only the kinds asked for: a mutations watcher sees no item_get.
        let mut m = watcher(&server, "mutations");
        assert_eq!(c.request("get k%x").unwrap(), "VALUE k%x 0 1");
        assert_eq!(c.read_line().unwrap(), "x");
        assert_eq!(c.read_line().unwrap(), "END");
        assert_eq!(c.request("set after 0 0 1\r\n1").unwrap(), "STORED");
        let line = String::from_utf8(m.read_line_raw(4096).unwrap()).unwrap();
        assert_eq!(
            fields(line.trim_end()),
            "type=item_store key=after status=stored cmd=set ttl=0 clsid=1 cfd=N size=1",
            "{name}"
        );
        // A watcher's own input is not read as commands.
        m.send_line("version").unwrap();
        assert_eq!(c.request("set again 0 0 1\r\n1").unwrap(), "STORED");
        let line = String::from_utf8(m.read_line_raw(4096).unwrap()).unwrap();
        assert!(line.contains("key=again"), "{name}: {line:?}");
    }
}

#[test]
fn a_watcher_that_does_not_read_is_told_what_it_skipped() {
    for target in targets!() {
        let server = Server::start(&target, &[]);
        let name = target.name;
        let mut w = watcher(&server, "fetchers");
        let mut c = server.client();
        // ~200,000 lines (~18 MB): more than the watcher's buffer (256 KiB)
        // and the socket's.
        let line = format!("get{}\r\n", " miss".repeat(200));
        for _ in 0..1000 {
            c.send(line.as_bytes()).unwrap();
            assert_eq!(c.read_line().unwrap(), "END");
        }
        let mut skipped = 0u64;
        let deadline = Instant::now() + Duration::from_secs(20);
        w.tcp()
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        while skipped == 0 && Instant::now() < deadline {
            let raw = match w.read_line_raw(4096) {
                Ok(r) if !r.is_empty() => r,
                _ => break,
            };
            let l = String::from_utf8(raw).unwrap();
            if let Some(n) = l.strip_prefix("skipped=") {
                skipped = n.trim_end().parse().unwrap();
            } else {
                assert!(l.contains(" type=item_get key=miss "), "{name}: {l:?}");
            }
        }
        // the line after it comes once the buffer has room again: send more
        if skipped == 0 {
            c.send(b"get miss\r\n").unwrap();
            assert_eq!(c.read_line().unwrap(), "END");
            while skipped == 0 && Instant::now() < deadline {
                let l = String::from_utf8(w.read_line_raw(4096).unwrap()).unwrap();
                if let Some(n) = l.strip_prefix("skipped=") {
                    skipped = n.trim_end().parse().unwrap();
                }
            }
        }
        assert!(skipped > 0, "{name}: no skipped= line");
        let stats = c.stats();
        assert!(stats.num("log_watcher_skipped") >= skipped, "{name}");
        assert_eq!(stats.num("log_watchers"), 1, "{name}");
        drop(w);
        // the watcher is gone once its connection closes
        let deadline = Instant::now() + Duration::from_secs(5);
        while c.stats().num("log_watchers") != 0 {
            assert!(Instant::now() < deadline, "{name}: watcher not removed");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn evictions_in_memcached_format() {
    for target in all_targets() {
        let server = Server::start(&target, &["-m", "2"]);
        let name = target.name;
        let mut w = watcher(&server, "evictions");
        let mut c = server.client();
        // 6 MB of values into 2 MB: the oldest keys are evicted
        let value = "v".repeat(1000);
        let mut batch = Vec::new();
        for i in 0..6000 {
            batch.extend_from_slice(
                format!("set key{i} 0 0 1000 noreply\r\n{value}\r\n").as_bytes(),
            );
        }
        c.send(&batch).unwrap();
        assert!(
            c.request("version").unwrap().starts_with("VERSION "),
            "{name}"
        );
        let line = String::from_utf8(w.read_line_raw(4096).unwrap()).unwrap();
        let line = line.strip_suffix('\n').expect("bare LF");
        let f: Vec<(&str, &str)> = line
            .split(' ')
            .map(|f| {
                f.split_once('=')
                    .unwrap_or_else(|| panic!("{name}: {line:?}"))
            })
            .collect();
        let names: Vec<&str> = f.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["ts", "gid", "type", "key", "fetch", "ttl", "la", "clsid", "size"],
            "{name}: {line}"
        );
        assert_eq!(f[2].1, "eviction", "{name}: {line}");
        assert!(f[3].1.starts_with("key"), "{name}: {line}");
        assert_eq!(
            (f[4].1, f[5].1, f[8].1),
            ("no", "-1", "1000"),
            "{name}: {line}"
        );
        assert!(
            f[6].1.parse::<u32>().is_ok() && f[7].1.parse::<u32>().is_ok(),
            "{line}"
        );
        // the keys named are gone
        let key = f[3].1;
        assert_eq!(
            c.request(&format!("get {key}")).unwrap(),
            "END",
            "{name}: {key}"
        );
    }
}
