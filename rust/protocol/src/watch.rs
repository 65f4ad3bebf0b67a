//! memcached's `watch [kinds]`: the command, and the events the other
//! commands report to the host while someone watches
//! (c-core/src/protocol/watch.c).

use crate::exec::Exec;
use crate::parse::{tokenize, Request};
use crate::{
    Host, Output, WatchItem, WATCH_EVICTIONS, WATCH_FETCHERS, WATCH_MUTATIONS, WATCH_OTHER,
};
use storage::{item_size, Error, GetOptions, Storage, StoreCommand};

/// memcached's tokenizer splits off at most 23 tokens.
const WATCH_MAX_TOKENS: usize = 23;

/// memcached's smallest slab chunk (its 48-byte item header plus 48
/// bytes) and its most classes.
const MC_FIRST_CHUNK: usize = 96;
const MC_CLASSES_MAX: u32 = 63;

/// memcached's slab class of an item of `item_size` bytes at growth factor
/// `factor` (me's cls=, watch's clsid=).
pub fn mc_class(item_size: usize, factor: f64) -> u32 {
    let mut cls = 1;
    let mut chunk = MC_FIRST_CHUNK;
    while item_size > chunk && cls < MC_CLASSES_MAX {
        chunk = chunk_size_next(chunk, usize::MAX / 2, factor);
        if chunk == 0 {
            break;
        }
        cls += 1;
    }
    cls
}

/// c-core/src/util/chunk_size.c: size * factor rounded up to 8 bytes, at
/// least 8 more; a factor below 1.01 (or NaN) counts as 1.25; 0 past limit.
fn chunk_size_next(size: usize, limit: usize, factor: f64) -> usize {
    let factor = if factor >= 1.01 { factor } else { 1.25 };
    let next = size as f64 * factor;
    // also NaN and infinity
    if next.partial_cmp(&(limit as f64)) != Some(std::cmp::Ordering::Less) && next != limit as f64 {
        return 0;
    }
    let aligned = ((next as usize) + 7) & !7;
    aligned.max(size + 8)
}

fn kind_of(word: &[u8]) -> Option<u32> {
    Some(match word {
        b"fetchers" => WATCH_FETCHERS,
        b"mutations" => WATCH_MUTATIONS,
        b"evictions" => WATCH_EVICTIONS,
        b"rawcmds" | b"sysevents" | b"connevents" | b"proxyreqs" | b"proxyevents"
        | b"proxyuser" => WATCH_OTHER,
        _ => return None,
    })
}

/// memcached's order: noreply, then the pipelining check, then the kinds;
/// so a bad kind is judged when the command runs (events 0).
pub fn parse_watch<'a>(line: &[u8], noreply: &mut bool) -> Request<'a> {
    let mut t: [&[u8]; WATCH_MAX_TOKENS] = [b""; WATCH_MAX_TOKENS];
    let mut n = tokenize(line, &mut t);
    if n > WATCH_MAX_TOKENS {
        return Request::Watch { events: 0 };
    }
    // a last "noreply" silences the reply, OK included
    if n > 1 && t[n - 1] == b"noreply" {
        *noreply = true;
        n -= 1;
    }
    let mut events = if n == 1 { WATCH_FETCHERS } else { 0 };
    for word in &t[1..n] {
        match kind_of(word) {
            Some(e) => events |= e,
            None => return Request::Watch { events: 0 },
        }
    }
    Request::Watch { events }
}

impl<S: Storage, H: Host> Exec<'_, S, H> {
    /// `watch`: the connection becomes a log stream. True when it did.
    pub fn run_watch(&mut self, events: u32) -> bool {
        // memcached refuses when replies of this read are still queued
        if self.out.queued() > 0 {
            self.reply_line("ERROR cannot pipeline other commands before watch");
        } else if events == 0 {
            self.reply_line("ERROR");
        } else if !self.host.watch(events) {
            self.reply_line("WATCHER_TOO_MANY log watchers");
        } else {
            self.reply(&[b"OK\r\n"]);
            return true;
        }
        false
    }

    /// A fetch of `key`: found or not, and on a hit its class and size.
    pub fn watch_fetch(&mut self, key: &[u8], found: Option<(u32, usize)>) {
        let mut it = WatchItem {
            key,
            status: 0,
            cmd: 0,
            exptime: 0,
            clsid: 0,
            size: 0,
        };
        if let Some((flags, value_len)) = found {
            it.status = 1;
            it.size = value_len as u64;
            it.clsid = mc_class(
                item_size(key.len(), flags, value_len),
                self.limits.growth_factor,
            );
        }
        self.host.watch_log(WATCH_FETCHERS, &it);
    }

    /// A get's key: a hit is read again (recency untouched) for its flags
    /// and size, so the get's own path pays nothing for watch.
    pub fn watch_get(&mut self, key: &[u8], found: bool) {
        let g = GetOptions {
            no_bump: true,
            ..GetOptions::default()
        };
        let read = if found {
            self.storage
                .meta_get(key, self.now, &g, |info, value| (info.flags, value.len()))
                .ok()
        } else {
            None
        };
        self.watch_fetch(key, read);
    }

    /// A store's outcome; cas: a compare-and-swap (cas, or ms C on
    /// set/replace).
    #[allow(clippy::too_many_arguments)]
    pub fn watch_store<T>(
        &mut self,
        r: &Result<T, Error>,
        cmd: StoreCommand,
        cas: bool,
        key: &[u8],
        flags: u32,
        exptime: i64,
        value_len: usize,
    ) {
        // memcached's command and store-status numbering
        let status = match r {
            Ok(_) => 1,
            Err(Error::Exists) => 2,
            Err(Error::NotFound) => 3,
            Err(_) => 0,
        };
        let cmd = match cmd {
            _ if cas => 6,
            StoreCommand::Add => 1,
            StoreCommand::Set => 2,
            StoreCommand::Replace => 3,
            StoreCommand::Append => 4,
            StoreCommand::Prepend => 5,
            StoreCommand::Cas(_) => 6,
        };
        let it = WatchItem {
            key,
            status,
            cmd,
            exptime,
            clsid: mc_class(
                item_size(key.len(), flags, value_len),
                self.limits.growth_factor,
            ),
            size: value_len as u64,
        };
        self.host.watch_log(WATCH_MUTATIONS, &it);
    }
}
