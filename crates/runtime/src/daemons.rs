//! The daemons of hwc-ai, one row each: the name every other table uses
//! (the CLI's, `hwc-ai up`'s, the NixOS module's `modules/lib/daemons.nix`)
//! and the loopback port it listens on by default. A port is written here
//! and nowhere else in Rust; the Nix table is checked against this one.

/// One daemon's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaemonInfo {
    /// Short name: config section, `check-config` argument, metric prefix.
    pub name: &'static str,
    /// Binary and systemd unit.
    pub unit: &'static str,
    pub port: u16,
    /// `127.0.0.1:PORT`, the default `listen`.
    pub listen: &'static str,
    /// `http://127.0.0.1:PORT`, where clients look by default.
    pub url: &'static str,
}

macro_rules! daemon {
    ($const:ident, $name:literal, $port:literal, $what:literal) => {
        #[doc = $what]
        pub const $const: DaemonInfo = DaemonInfo {
            name: $name,
            unit: concat!("hwc-ai-", $name),
            port: $port,
            listen: concat!("127.0.0.1:", $port),
            url: concat!("http://127.0.0.1:", $port),
        };
    };
}

// One block of consecutive ports, unused by a stock NixOS: one range to
// open or forward.
daemon!(PROBER, "prober", 9430, "The health prober.");
daemon!(PULLER, "puller", 9431, "The model puller.");
daemon!(ROUTER, "router", 9432, "The OpenAI-compatible router.");
daemon!(MCP, "mcp", 9433, "The MCP gateway.");
daemon!(ASSISTANT, "assistant", 9434, "The operations assistant.");

/// Every daemon, in the order they start and are listed.
pub const ALL: [DaemonInfo; 5] = [PROBER, PULLER, ROUTER, MCP, ASSISTANT];

/// A daemon by its short name or unit name.
pub fn find(name: &str) -> Option<DaemonInfo> {
    ALL.into_iter().find(|d| d.name == name || d.unit == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_agree_with_themselves() {
        for d in ALL {
            assert_eq!(d.listen, format!("127.0.0.1:{}", d.port));
            assert_eq!(d.url, format!("http://{}", d.listen));
            assert_eq!(d.unit, format!("hwc-ai-{}", d.name));
            assert_eq!(find(d.unit), Some(d));
        }
        let mut ports: Vec<u16> = ALL.iter().map(|d| d.port).collect();
        ports.dedup();
        assert_eq!(ports.len(), ALL.len(), "ports are distinct");
    }
}
