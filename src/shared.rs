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
//! [`CHUNK`] entries or one shard (of about [`SHARD`] entries, or
//! [`READ_MOSTLY`] for the name maps), plus the outer array of pointers.

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// Entries per [`ChunkVec`] chunk.
pub const CHUNK: usize = 512;
const SHIFT: u32 = CHUNK.trailing_zeros();

/// Entries a [`ShardMap`] keeps per shard by default, on average, before
/// it doubles its shards.
pub const SHARD: usize = 128;

/// Shard size for maps that are read on every check and written rarely
/// (names): fewer, larger shards keep their headers in cache.
pub const READ_MOSTLY: usize = 2048;

/// A vector stored in shared chunks: `clone` copies one pointer per
/// [`CHUNK`] entries; `make_mut` and `push` copy at most one chunk.
///
/// Full chunks are `Arc<[T]>` (an index is two dependent loads, as in a
/// vector of vectors); the last, partial chunk is a growable tail.
#[derive(Clone)]
pub struct ChunkVec<T> {
    chunks: Vec<Arc<[T]>>,
    tail: Arc<Vec<T>>,
}

impl<T> Default for ChunkVec<T> {
    fn default() -> ChunkVec<T> {
        ChunkVec {
            chunks: Vec::new(),
            tail: Arc::new(Vec::new()),
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
        let tail = Arc::make_mut(&mut self.tail);
        tail.push(value);
        if tail.len() == CHUNK {
            let full = std::mem::take(tail);
            self.chunks.push(full.into());
        }
    }

    /// The entry at `i`, for writing: its chunk is copied first if another
    /// vector shares it.
    ///
    /// # Panics
    /// If `i` is out of bounds, as slice indexing does.
    pub fn make_mut(&mut self, i: usize) -> &mut T {
        let full = self.chunks.len() * CHUNK;
        match self.chunks.get_mut(i >> SHIFT) {
            Some(chunk) => &mut Arc::make_mut(chunk)[i & (CHUNK - 1)],
            None => &mut Arc::make_mut(&mut self.tail)[i - full],
        }
    }
}

impl<T> ChunkVec<T> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.chunks.len() * CHUNK + self.tail.len()
    }

    /// No entries?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry at `i`, if any.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        match self.chunks.get(i >> SHIFT) {
            Some(chunk) => chunk.get(i & (CHUNK - 1)),
            None => self.tail.get(i - self.chunks.len() * CHUNK),
        }
    }

    /// The first entry, if any.
    pub fn first(&self) -> Option<&T> {
        self.get(0)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks
            .iter()
            .flat_map(|c| c.iter())
            .chain(self.tail.iter())
    }
}

impl<T> std::ops::Index<usize> for ChunkVec<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        match self.chunks.get(i >> SHIFT) {
            Some(chunk) => &chunk[i & (CHUNK - 1)],
            None => &self.tail[i - self.chunks.len() * CHUNK],
        }
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
/// double as the map grows, so the cost of a write stays flat. A key is
/// hashed once: some bits pick the shard, and the shard's table uses the
/// same hash.
///
/// `S` is the average shard size: a write copies about `S` entries.
#[derive(Clone)]
pub struct ShardMap<K, V, const S: usize = SHARD> {
    shards: Vec<Arc<HashTable<(K, V)>>>,
    len: usize,
}

impl<K, V, const S: usize> Default for ShardMap<K, V, S> {
    fn default() -> ShardMap<K, V, S> {
        ShardMap {
            shards: Vec::new(),
            len: 0,
        }
    }
}

fn hash<Q: Hash + ?Sized>(key: &Q) -> u64 {
    FxBuildHasher.hash_one(key)
}

/// Which of `count` (a power of two) shards a hash falls in: bits in the
/// middle of the hash, since a shard's table uses the lowest and the highest.
fn shard_of(hash: u64, count: usize) -> usize {
    (hash >> 24) as usize & (count - 1)
}

impl<K: Hash + Eq, V, const S: usize> ShardMap<K, V, S> {
    fn find<Q>(&self, key: &Q) -> Option<(usize, u64)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.shards.is_empty() {
            return None;
        }
        let h = hash(key);
        Some((shard_of(h, self.shards.len()), h))
    }

    /// The value for `key`.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (i, h) = self.find(key)?;
        self.shards[i]
            .find(h, |(k, _)| k.borrow() == key)
            .map(|(_, v)| v)
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
        self.shards
            .iter()
            .flat_map(|s| s.iter().map(|(k, v)| (k, v)))
    }

    /// Every key, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }
}

impl<K: Hash + Eq + Clone, V: Clone, const S: usize> ShardMap<K, V, S> {
    /// Inserts, returning the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if self.len >= self.shards.len() * S * 2 {
            self.reshard((self.len / S + 1).next_power_of_two());
        }
        let h = hash(&key);
        let i = shard_of(h, self.shards.len());
        let shard = Arc::make_mut(&mut self.shards[i]);
        if let Some((_, v)) = shard.find_mut(h, |(k, _)| *k == key) {
            return Some(std::mem::replace(v, value));
        }
        shard.insert_unique(h, (key, value), |(k, _)| hash(k));
        self.len += 1;
        None
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (i, h) = self.find(key)?;
        self.shards[i].find(h, |(k, _)| k.borrow() == key)?;
        let shard = Arc::make_mut(&mut self.shards[i]);
        let entry = shard.find_entry(h, |(k, _)| k.borrow() == key).ok()?;
        self.len -= 1;
        Some(entry.remove().0 .1)
    }

    /// The value for `key`, for writing (its shard is copied first if
    /// another map shares it), inserted with `default` if missing.
    pub fn entry_or(&mut self, key: K, default: impl FnOnce() -> V) -> &mut V {
        if !self.contains_key(&key) {
            self.insert(key.clone(), default());
        }
        self.get_mut(&key).expect("inserted above")
    }

    /// The value for `key`, for writing, if present.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (i, h) = self.find(key)?;
        self.shards[i].find(h, |(k, _)| k.borrow() == key)?;
        Arc::make_mut(&mut self.shards[i])
            .find_mut(h, |(k, _)| k.borrow() == key)
            .map(|(_, v)| v)
    }

    fn reshard(&mut self, count: usize) {
        let entries: Vec<(K, V)> = self.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        *self = ShardMap::build(entries, count);
    }

    fn build(entries: Vec<(K, V)>, count: usize) -> ShardMap<K, V, S> {
        let mut shards: Vec<HashTable<(K, V)>> = (0..count).map(|_| HashTable::new()).collect();
        let mut len = 0;
        for (k, v) in entries {
            let h = hash(&k);
            let shard = &mut shards[shard_of(h, count)];
            match shard.find_mut(h, |(x, _)| *x == k) {
                Some(slot) => slot.1 = v,
                None => {
                    shard.insert_unique(h, (k, v), |(k, _)| hash(k));
                    len += 1;
                }
            }
        }
        ShardMap {
            shards: shards.into_iter().map(Arc::new).collect(),
            len,
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone, const S: usize> FromIterator<(K, V)> for ShardMap<K, V, S> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> ShardMap<K, V, S> {
        let entries: Vec<(K, V)> = iter.into_iter().collect();
        let count = (entries.len() / S + 1).next_power_of_two();
        ShardMap::build(entries, count)
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug, const S: usize> std::fmt::Debug for ShardMap<K, V, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.shards
                    .iter()
                    .flat_map(|s| s.iter().map(|(k, v)| (k, v))),
            )
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
