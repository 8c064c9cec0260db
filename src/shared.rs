//! Collections that snapshots share: copying one costs a pointer per chunk
//! or shard, and changing one entry copies only its chunk or shard.
//!
//! A live update builds a new snapshot while readers keep the old one, so
//! the big per-entity tables (nodes, principals, memberships, names, decision
//! tables) must be copied cheaply and changed in a few places. Persistent
//! trees (HAMTs, RRB vectors) do that, but a read walks several levels: on
//! a million entries, a name lookup in one took 212 ns against 80 ns in a
//! flat hash map, and an index 64 ns against 6 ns. The checks of a service
//! read far more than it updates, so these keep reads one indirection away
//! from a flat table and pay on writes instead: a write copies one chunk of
//! [`CHUNK`] entries or one shard of about [`SHARD`] entries, plus the
//! outer array of pointers.

use rustc_hash::{FxBuildHasher, FxHashMap};
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// Entries per [`ChunkVec`] chunk.
pub const CHUNK: usize = 512;
const SHIFT: u32 = CHUNK.trailing_zeros();

/// Entries a [`ShardMap`] keeps per shard, on average, before it doubles
/// its shards.
pub const SHARD: usize = 128;

/// A vector stored in shared chunks: `clone` copies one pointer per
/// [`CHUNK`] entries; `make_mut` and `push` copy at most one chunk.
#[derive(Clone)]
pub struct ChunkVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for ChunkVec<T> {
    fn default() -> ChunkVec<T> {
        ChunkVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> ChunkVec<T> {
    /// An empty vector.
    pub fn new() -> ChunkVec<T> {
        ChunkVec::default()
    }

    /// Appends `value`.
    pub fn push(&mut self, value: T) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last).push(value);
            self.len += 1;
        }
    }

    /// The entry at `i`, for writing: its chunk is copied first if another
    /// vector shares it.
    ///
    /// # Panics
    /// If `i` is out of bounds, as slice indexing does.
    pub fn make_mut(&mut self, i: usize) -> &mut T {
        &mut Arc::make_mut(&mut self.chunks[i >> SHIFT])[i & (CHUNK - 1)]
    }
}

impl<T> ChunkVec<T> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No entries?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry at `i`, if any.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i >> SHIFT)?.get(i & (CHUNK - 1))
    }

    /// The entries in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }
}

impl<T> std::ops::Index<usize> for ChunkVec<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> SHIFT][i & (CHUNK - 1)]
    }
}

/// Writing through an index copies the entry's chunk first if another
/// vector shares it.
impl<T: Clone> std::ops::IndexMut<usize> for ChunkVec<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.make_mut(i)
    }
}

impl<T: Clone> FromIterator<T> for ChunkVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> ChunkVec<T> {
        let mut v = ChunkVec::new();
        for x in iter {
            v.push(x);
        }
        v
    }
}

impl<T: Clone> Extend<T> for ChunkVec<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for x in iter {
            self.push(x);
        }
    }
}

impl<'a, T> IntoIterator for &'a ChunkVec<T> {
    type Item = &'a T;
    type IntoIter = Box<dyn Iterator<Item = &'a T> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ChunkVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A hash map split into shared shards: `clone` copies one pointer per
/// shard; a write copies one shard of about [`SHARD`] entries. Shards
/// double as the map grows, so the cost of a write stays flat.
#[derive(Clone)]
pub struct ShardMap<K, V> {
    shards: Vec<Arc<FxHashMap<K, V>>>,
    len: usize,
}

impl<K, V> Default for ShardMap<K, V> {
    fn default() -> ShardMap<K, V> {
        ShardMap {
            shards: Vec::new(),
            len: 0,
        }
    }
}

/// Which of `count` (a power of two) shards a hash falls in. Bits in the
/// middle of the hash: the shard's own table uses the lowest and the highest.
fn shard_of(hash: u64, count: usize) -> usize {
    (hash >> 24) as usize & (count - 1)
}

impl<K: Hash + Eq, V> ShardMap<K, V> {
    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        shard_of(FxBuildHasher.hash_one(key), self.shards.len())
    }

    /// The value for `key`.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.shards.is_empty() {
            return None;
        }
        self.shards[self.shard(key)].get(key)
    }

    /// Is `key` in the map?
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No entries?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.shards.iter().flat_map(|s| s.iter())
    }

    /// Every key, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Every value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

impl<K: Hash + Eq + Clone, V: Clone> ShardMap<K, V> {
    /// Inserts, returning the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if self.len >= self.shards.len() * SHARD * 2 {
            self.reshard((self.len / SHARD + 1).next_power_of_two());
        }
        let i = self.shard(&key);
        let old = Arc::make_mut(&mut self.shards[i]).insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.shards.is_empty() {
            return None;
        }
        let i = self.shard(key);
        if !self.shards[i].contains_key(key) {
            return None;
        }
        let old = Arc::make_mut(&mut self.shards[i]).remove(key);
        self.len -= usize::from(old.is_some());
        old
    }

    /// The value for `key`, for writing (its shard is copied first if
    /// another map shares it), inserted with `default` if missing.
    pub fn entry_or(&mut self, key: K, default: impl FnOnce() -> V) -> &mut V {
        if !self.contains_key(&key) {
            self.insert(key.clone(), default());
        }
        let i = self.shard(&key);
        Arc::make_mut(&mut self.shards[i])
            .get_mut(&key)
            .expect("inserted above")
    }

    /// The value for `key`, for writing, if present.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.contains_key(key) {
            return None;
        }
        let i = self.shard(key);
        Arc::make_mut(&mut self.shards[i]).get_mut(key)
    }

    fn reshard(&mut self, count: usize) {
        let mut shards: Vec<FxHashMap<K, V>> = (0..count).map(|_| FxHashMap::default()).collect();
        for (k, v) in self.iter() {
            shards[shard_of(FxBuildHasher.hash_one(k), count)].insert(k.clone(), v.clone());
        }
        self.shards = shards.into_iter().map(Arc::new).collect();
    }
}

impl<K: Hash + Eq + Clone, V: Clone> FromIterator<(K, V)> for ShardMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> ShardMap<K, V> {
        let entries: Vec<(K, V)> = iter.into_iter().collect();
        let count = (entries.len() / SHARD + 1).next_power_of_two();
        let mut shards: Vec<FxHashMap<K, V>> = (0..count).map(|_| FxHashMap::default()).collect();
        let mut len = 0;
        for (k, v) in entries {
            let shard = &mut shards[shard_of(FxBuildHasher.hash_one(&k), count)];
            len += usize::from(shard.insert(k, v).is_none());
        }
        ShardMap {
            shards: shards.into_iter().map(Arc::new).collect(),
            len,
        }
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for ShardMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.shards.iter().flat_map(|s| s.iter()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_is_unchanged_by_writes_to_the_original() {
        let mut v: ChunkVec<u32> = (0..2000).collect();
        let before = v.clone();
        *v.make_mut(1500) = 7;
        v.push(9);
        assert_eq!(before.len(), 2000);
        assert_eq!(before[1500], 1500);
        assert_eq!((v[1500], v[2000], v.len()), (7, 9, 2001));
        assert_eq!(v.iter().count(), 2001);

        let mut m: ShardMap<String, u32> = (0..5000).map(|i| (i.to_string(), i)).collect();
        let before = m.clone();
        m.insert("x".into(), 1);
        m.remove("17");
        *m.get_mut("18").unwrap() = 0;
        for i in 0..20_000 {
            m.insert(format!("n{i}"), i);
        }
        assert_eq!(before.len(), 5000);
        assert_eq!(before.get("17"), Some(&17));
        assert_eq!(before.get("18"), Some(&18));
        assert_eq!(before.get("x"), None);
        assert_eq!(m.len(), 25_000);
        assert_eq!(
            (m.get("17"), m.get("18"), m.get("n19999")),
            (None, Some(&0), Some(&19999))
        );
        assert_eq!(m.iter().count(), 25_000);
    }
}
