//! Sticky conversations: a chat's later turns go to the backend that
//! answered its first, where the model still holds the conversation's
//! prefix in its KV cache.
//!
//! A conversation is known by a hash of its messages up to and including
//! the first user message (the system prompt and the opening question):
//! every later request of the same chat repeats them unchanged. The table
//! is bounded: [`SHARDS`] mutexes, each holding at most its share of
//! `defaults.stickyConversations`, the least recently used entry evicted
//! first. A request locks one shard, chosen by its hash, so requests do
//! not all contend on one lock; and only routes with a tier of several
//! backends look here at all.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use serde_json::Value;

const SHARDS: usize = 16;

pub struct Sticky {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

#[derive(Default)]
struct Shard {
    /// Conversation → (backend index, last use).
    entries: HashMap<u64, (usize, u64)>,
    clock: u64,
}

impl Sticky {
    /// Room for about `size` conversations; `0` remembers none.
    pub fn new(size: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: size.div_ceil(SHARDS),
        }
    }

    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[(key % SHARDS as u64) as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The backend this conversation last went to.
    pub fn get(&self, key: u64) -> Option<usize> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = self.shard(key);
        shard.clock += 1;
        let now = shard.clock;
        shard.entries.get_mut(&key).map(|entry| {
            entry.1 = now;
            entry.0
        })
    }

    /// This conversation was answered by `backend`.
    pub fn put(&self, key: u64, backend: usize) {
        if self.per_shard == 0 {
            return;
        }
        let per_shard = self.per_shard;
        let mut shard = self.shard(key);
        shard.clock += 1;
        let now = shard.clock;
        if !shard.entries.contains_key(&key) && shard.entries.len() >= per_shard {
            // A scan of one shard (a few hundred entries) only when a new
            // conversation meets a full shard.
            if let Some(oldest) = shard
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            {
                shard.entries.remove(&oldest);
            }
        }
        shard.entries.insert(key, (backend, now));
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).entries.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The conversation a chat request belongs to: a hash of its messages up
/// to and including the first from the user; `None` without one.
pub fn conversation(body: &Value) -> Option<u64> {
    let messages = body.get("messages")?.as_array()?;
    let first_user = messages
        .iter()
        .position(|m| m.get("role").and_then(Value::as_str) == Some("user"))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for message in &messages[..=first_user] {
        hash_value(message, &mut hasher);
    }
    Some(hasher.finish())
}

fn hash_value(value: &Value, hasher: &mut impl Hasher) {
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => (1u8, b).hash(hasher),
        Value::Number(n) => (2u8, n.to_string()).hash(hasher),
        Value::String(s) => (3u8, s).hash(hasher),
        Value::Array(items) => {
            (4u8, items.len()).hash(hasher);
            items.iter().for_each(|v| hash_value(v, hasher));
        }
        Value::Object(fields) => {
            (5u8, fields.len()).hash(hasher);
            for (k, v) in fields {
                k.hash(hasher);
                hash_value(v, hasher);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn later_turns_are_the_same_conversation() {
        let first = json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"}]});
        let later = json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "more"}]});
        let other = json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "bye"}]});
        assert_eq!(conversation(&first), conversation(&later));
        assert_ne!(conversation(&first), conversation(&other));
        assert_eq!(conversation(&json!({"input": "x"})), None);
        assert_eq!(
            conversation(&json!({"messages": [{"role": "system", "content": "s"}]})),
            None
        );
    }

    #[test]
    fn the_table_is_bounded_and_forgets_the_least_recently_used() {
        let sticky = Sticky::new(SHARDS * 2);
        // Three conversations in one shard of room two.
        let (a, b, c) = (0u64, SHARDS as u64, 2 * SHARDS as u64);
        sticky.put(a, 1);
        sticky.put(b, 2);
        assert_eq!(sticky.get(a), Some(1));
        sticky.put(c, 3);
        assert_eq!(sticky.get(b), None, "b was used least recently");
        assert_eq!((sticky.get(a), sticky.get(c)), (Some(1), Some(3)));
        for k in 0..10_000u64 {
            sticky.put(k, 0);
        }
        assert_eq!(sticky.len(), SHARDS * 2);
        let off = Sticky::new(0);
        off.put(a, 1);
        assert_eq!(off.get(a), None);
    }
}
