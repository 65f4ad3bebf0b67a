//! A connection's byte buffer (c-core/src/util/buf.c): bytes
//! `data[start..end]` are queued; consuming moves `start`, room is made by
//! moving the rest to the front before growing (doubling, up to a limit);
//! an idle buffer that grew large shrinks back. The storage stays
//! initialised, so reads go straight into it with no zeroing per read.

use protocol::Output;

pub struct Buf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// Most bytes it may hold (the output limit; the largest request).
    limit: usize,
}

impl Buf {
    pub fn new(initial: usize, limit: usize) -> Buf {
        Buf {
            data: vec![0; initial],
            start: 0,
            end: 0,
            limit,
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Make room for `want` more bytes after the end; false when the limit
    /// forbids it (molt_buf_reserve). Inlined: every reply asks, and there
    /// is nearly always room already.
    #[inline]
    pub fn reserve(&mut self, want: usize) -> bool {
        self.data.len() - self.end >= want || self.make_room(want)
    }

    /// [`Buf::reserve`] when the room after the end is short: move the
    /// queued bytes to the front, else grow.
    #[cold]
    #[inline(never)]
    fn make_room(&mut self, want: usize) -> bool {
        let used = self.len();
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = used;
            if self.data.len() - self.end >= want {
                return true;
            }
        }
        let need = used + want;
        if need > self.limit {
            return false;
        }
        let mut cap = self.data.len().max(1024);
        while cap < need {
            cap *= 2;
        }
        self.data.resize(cap.min(self.limit), 0);
        true
    }

    /// The room after the end, to read into; [`Buf::filled`] then counts
    /// what was written there.
    pub fn room(&mut self) -> &mut [u8] {
        &mut self.data[self.end..]
    }

    pub fn filled(&mut self, n: usize) {
        self.end += n;
    }

    /// Drop `n` leading bytes.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Empty and larger than `keep`: back to `initial` bytes.
    pub fn trim(&mut self, initial: usize, keep: usize) {
        if self.is_empty() && self.data.len() > keep {
            self.data = vec![0; initial];
            self.start = 0;
            self.end = 0;
        }
    }
}

impl Output for Buf {
    #[inline]
    fn queued(&self) -> usize {
        self.len()
    }

    #[inline]
    fn append(&mut self, parts: &[&[u8]]) -> bool {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        if !self.reserve(n) {
            return false;
        }
        for p in parts {
            self.data[self.end..self.end + p.len()].copy_from_slice(p);
            self.end += p.len();
        }
        true
    }

    fn truncate(&mut self, queued: usize) {
        self.end = self.end.min(self.start + queued);
    }

    /// The binary protocol's stats re-send the text report queued here.
    fn queued_since(&self, from: usize) -> Option<&[u8]> {
        self.bytes().get(from..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_limit_moves_then_shrinks() {
        let mut b = Buf::new(4, 32);
        assert!(b.append(&[b"abcdef"]));
        assert_eq!(b.bytes(), b"abcdef");
        b.consume(4);
        assert!(b.append(&[b"0123456789", b"0123456789"]));
        assert_eq!(b.bytes(), b"ef01234567890123456789");
        assert!(!b.append(&[&[0u8; 11]]), "over the limit");
        assert_eq!(b.len(), 22);
        b.truncate(2);
        assert_eq!(b.bytes(), b"ef");
        b.consume(2);
        b.trim(4, 8);
        assert_eq!(b.capacity(), 4);
    }
}
