//! Inbound client keys: named bearer keys, compared in constant time.

use std::net::IpAddr;

use hwc_ai_runtime::Secret;

/// The name logs show for a request admitted without a key.
pub const LOOPBACK: &str = "loopback";

pub struct Clients {
    keys: Vec<(String, Secret)>,
    allow_loopback: bool,
}

impl Clients {
    pub fn new(keys: Vec<(String, Secret)>, allow_loopback: bool) -> Self {
        Self {
            keys,
            allow_loopback,
        }
    }

    /// The keys' values, for redaction.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(_, key)| key.expose())
    }

    /// The name of the client, or `None` when it must be refused.
    ///
    /// A key that matches names the client. Otherwise a loopback peer is
    /// admitted as [`LOOPBACK`] when allowed, whatever it sent: OpenAI SDKs
    /// always send some key, often a placeholder.
    pub fn admit(&self, authorization: Option<&[u8]>, peer: IpAddr) -> Option<&str> {
        if let Some(token) = authorization.and_then(|v| v.strip_prefix(b"Bearer ")) {
            // Every key is compared, so the time taken does not say which
            // (or whether one) matched.
            let mut found = None;
            for (name, key) in &self.keys {
                if constant_time_eq(token, key.expose().as_bytes()) {
                    found = Some(name.as_str());
                }
            }
            if found.is_some() {
                return found;
            }
        }
        (self.allow_loopback && peer.to_canonical().is_loopback()).then_some(LOOPBACK)
    }
}

/// Compares without an early exit: the time depends on the lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_loopback() {
        let clients = Clients::new(vec![("bot".into(), Secret::new("k-123"))], true);
        let lan: IpAddr = "192.168.1.5".parse().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(clients.admit(Some(b"Bearer k-123"), lan), Some("bot"));
        assert_eq!(clients.admit(Some(b"Bearer k-12"), lan), None);
        assert_eq!(clients.admit(None, lan), None);
        assert_eq!(clients.admit(Some(b"Bearer sk-dummy"), lo), Some(LOOPBACK));
        assert_eq!(clients.admit(None, mapped), Some(LOOPBACK));
        let strict = Clients::new(vec![], false);
        assert_eq!(strict.admit(None, lo), None);
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
