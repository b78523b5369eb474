//! The in-process store: a map plus an intrusive LRU list over a slab, bounded by total bytes.
//! `get` and `put` are O(1) (amortised for evictions); expiry is checked on read, and an expired
//! entry is dropped then. One mutex: critical sections are a hash lookup and a few index writes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::Stored;
use super::key::Key;

const NIL: usize = usize::MAX;

pub struct Lru {
    inner: Mutex<Inner>,
}

struct Inner {
    map: HashMap<Key, usize>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Most recently used.
    head: usize,
    /// Least recently used: evicted first.
    tail: usize,
    bytes: usize,
    max_bytes: usize,
}

struct Slot {
    key: Key,
    value: Option<Stored>,
    size: usize,
    expires: Instant,
    prev: usize,
    next: usize,
}

impl Lru {
    pub fn new(max_bytes: usize) -> Self {
        Lru {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                slots: Vec::new(),
                free: Vec::new(),
                head: NIL,
                tail: NIL,
                bytes: 0,
                max_bytes,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the list half-linked in a way that matters
        // more than losing the cache; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &Key, now: Instant) -> Option<Stored> {
        let mut g = self.lock();
        let i = *g.map.get(key)?;
        if g.slots[i].expires <= now {
            g.remove(i);
            return None;
        }
        g.unlink(i);
        g.push_front(i);
        g.slots[i].value.clone()
    }

    /// Stores `value` (of `size` bytes) until `expires`, evicting the least recently used entries
    /// to make room. An entry larger than the whole store is not kept.
    pub fn put(&self, key: Key, value: Stored, size: usize, expires: Instant) {
        let mut g = self.lock();
        if let Some(&old) = g.map.get(&key) {
            g.remove(old);
        }
        if size > g.max_bytes {
            return;
        }
        while g.bytes + size > g.max_bytes && g.tail != NIL {
            let t = g.tail;
            g.remove(t);
        }
        let slot = Slot {
            key,
            value: Some(value),
            size,
            expires,
            prev: NIL,
            next: NIL,
        };
        let i = match g.free.pop() {
            Some(i) => {
                g.slots[i] = slot;
                i
            }
            None => {
                g.slots.push(slot);
                g.slots.len() - 1
            }
        };
        g.push_front(i);
        g.map.insert(key, i);
        g.bytes += size;
    }

    #[cfg(test)]
    fn bytes(&self) -> (usize, usize) {
        let g = self.lock();
        (g.bytes, g.map.len())
    }
}

impl Inner {
    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.slots[i].prev, self.slots[i].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next].prev = prev;
        }
        self.slots[i].prev = NIL;
        self.slots[i].next = NIL;
    }

    fn push_front(&mut self, i: usize) {
        self.slots[i].next = self.head;
        self.slots[i].prev = NIL;
        if self.head != NIL {
            self.slots[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }

    fn remove(&mut self, i: usize) {
        self.unlink(i);
        let key = self.slots[i].key;
        self.map.remove(&key);
        self.bytes -= self.slots[i].size;
        self.slots[i].value = None;
        self.free.push(i);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::Duration;

    use bytes::Bytes;
    use proptest::prelude::*;

    use super::super::Answer;
    use super::*;

    fn v(n: u8) -> Stored {
        Stored {
            route: "p/m".into(),
            answer: Answer::Unary(Bytes::from(vec![n])),
        }
    }

    fn body(s: Option<Stored>) -> Option<u8> {
        match s?.answer {
            Answer::Unary(b) => b.first().copied(),
            Answer::Stream(_) => None,
        }
    }

    fn k(n: u8) -> Key {
        [n; 32]
    }

    #[test]
    fn evicts_the_least_recently_used_to_stay_within_bytes() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let lru = Lru::new(300);
        lru.put(k(1), v(1), 100, later);
        lru.put(k(2), v(2), 100, later);
        lru.put(k(3), v(3), 100, later);
        assert_eq!(
            body(lru.get(&k(1), now)),
            Some(1),
            "1 is now the most recent"
        );
        lru.put(k(4), v(4), 100, later);
        assert_eq!(body(lru.get(&k(2), now)), None, "2 was the least recent");
        assert_eq!(body(lru.get(&k(3), now)), Some(3));
        assert_eq!(body(lru.get(&k(1), now)), Some(1));
        assert_eq!(lru.bytes(), (300, 3));
        lru.put(k(5), v(5), 301, later);
        assert_eq!(body(lru.get(&k(5), now)), None, "larger than the store");
        lru.put(k(6), v(6), 250, later);
        assert_eq!(lru.bytes(), (250, 1), "one big entry evicts several");
    }

    #[test]
    fn expired_entries_are_dropped_on_read_and_replacing_keeps_the_count() {
        let now = Instant::now();
        let lru = Lru::new(1000);
        lru.put(k(1), v(1), 10, now + Duration::from_secs(1));
        assert_eq!(body(lru.get(&k(1), now)), Some(1));
        assert_eq!(body(lru.get(&k(1), now + Duration::from_secs(1))), None);
        assert_eq!(lru.bytes(), (0, 0));
        lru.put(k(2), v(2), 10, now + Duration::from_secs(9));
        lru.put(k(2), v(3), 20, now + Duration::from_secs(9));
        assert_eq!(body(lru.get(&k(2), now)), Some(3));
        assert_eq!(lru.bytes(), (20, 1));
    }

    proptest! {
        /// Against a model: the bound always holds, and every entry still present holds the
        /// value last put under its key.
        #[test]
        fn behaves_like_a_bounded_map(ops in proptest::collection::vec((0u8..8, 1usize..120, any::<bool>()), 1..200)) {
            let now = Instant::now();
            let later = now + Duration::from_secs(60);
            let lru = Lru::new(300);
            let mut last = std::collections::HashMap::new();
            for (n, size, put) in ops {
                if put {
                    lru.put(k(n), v(size as u8), size, later);
                    last.insert(n, size as u8);
                } else if let Some(got) = body(lru.get(&k(n), now)) {
                    prop_assert_eq!(Some(&got), last.get(&n));
                }
                let (bytes, _) = lru.bytes();
                prop_assert!(bytes <= 300);
            }
        }
    }
}
