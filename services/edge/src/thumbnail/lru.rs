//! A least-recently-used map bounded by the bytes of its values.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use bytes::Bytes;

/// Values by key; past `max_bytes` the least recently used go first.
pub(crate) struct Lru<K, V> {
    max_bytes: usize,
    bytes: usize,
    tick: u64,
    entries: HashMap<K, Entry<V>>,
    /// Keys by last use, oldest first.
    order: BTreeMap<u64, K>,
}

struct Entry<V> {
    value: V,
    size: usize,
    used: u64,
}

/// What the cache counts as a value's size.
pub(crate) trait Weight {
    /// Bytes held.
    fn weight(&self) -> usize;
}

impl Weight for Bytes {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl<K: Clone + Eq + Hash, V: Clone + Weight> Lru<K, V> {
    /// An empty cache of at most `max_bytes`.
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            bytes: 0,
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    /// The value of `key`, now the most recently used.
    pub(crate) fn get(&mut self, key: &K) -> Option<V> {
        self.tick += 1;
        let entry = self.entries.get_mut(key)?;
        self.order.remove(&entry.used);
        entry.used = self.tick;
        self.order.insert(self.tick, key.clone());
        Some(entry.value.clone())
    }

    /// Keeps `value` under `key` (a value larger than the whole cache is not kept), then
    /// evicts the least recently used until the cache fits.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        let size = value.weight();
        if size > self.max_bytes {
            return;
        }
        self.tick += 1;
        let entry = Entry {
            value,
            size,
            used: self.tick,
        };
        if let Some(old) = self.entries.insert(key.clone(), entry) {
            self.order.remove(&old.used);
            self.bytes -= old.size;
        }
        self.order.insert(self.tick, key);
        self.bytes += size;
        while self.bytes > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(evicted) = self.entries.remove(&oldest) {
                self.bytes -= evicted.size;
            }
        }
    }

    /// Bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(len: usize) -> Bytes {
        Bytes::from(vec![0; len])
    }

    #[test]
    fn the_least_recently_used_goes_first() {
        let mut lru = Lru::new(30);
        lru.insert("a", value(10));
        lru.insert("b", value(10));
        lru.insert("c", value(10));
        assert!(lru.get(&"a").is_some());
        lru.insert("d", value(10));
        assert!(lru.get(&"b").is_none(), "b was the least recently used");
        assert!(lru.get(&"a").is_some() && lru.get(&"c").is_some());
        assert_eq!(lru.bytes(), 30);
    }

    #[test]
    fn a_value_over_the_budget_is_not_kept_and_a_replacement_is_counted_once() {
        let mut lru = Lru::new(30);
        lru.insert("big", value(31));
        assert!(lru.get(&"big").is_none());
        lru.insert("a", value(10));
        lru.insert("a", value(20));
        assert_eq!(lru.bytes(), 20);
        assert_eq!(lru.get(&"a").map(|v| v.len()), Some(20));
    }
}
