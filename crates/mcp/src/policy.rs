//! Which of a server's tools the gateway shows and lets clients call:
//! `tools.allow`, `tools.deny` and `readOnly`, applied the same way to
//! `/servers`, `tools/list`, `tools/call` and the OpenAPI bridge.

use rmcp::model::Tool;

use crate::config::ServerConfig;

#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow: Vec<String>,
    deny: Vec<String>,
    read_only: bool,
}

impl Policy {
    pub fn new(server: &ServerConfig) -> Self {
        Self {
            allow: server.tools.allow.clone(),
            deny: server.tools.deny.clone(),
            read_only: server.read_only,
        }
    }

    /// Why `tool` is hidden, or `None` when it is shown.
    pub fn hides(&self, tool: &Tool) -> Option<&'static str> {
        let name = tool.name.as_ref();
        if self.deny.iter().any(|p| glob(p, name)) {
            return Some("denied by tools.deny");
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| glob(p, name)) {
            return Some("not in tools.allow");
        }
        if self.read_only && !is_read_only(tool) {
            return Some("may change state (readOnly)");
        }
        None
    }

    /// A tool known by name only, without annotations.
    pub fn unlisted(name: &str) -> Tool {
        Tool::new(name.to_owned(), String::new(), serde_json::Map::new())
    }

    /// The tools shown, and how many were hidden.
    pub fn filter(&self, tools: Vec<Tool>) -> (Vec<Tool>, usize) {
        let total = tools.len();
        let shown: Vec<Tool> = tools
            .into_iter()
            .filter(|t| self.hides(t).is_none())
            .collect();
        let hidden = total - shown.len();
        (shown, hidden)
    }
}

/// A tool a read-only server may show: one that says it does not modify
/// its environment, or says its updates are not destructive. The spec's
/// defaults are `readOnlyHint: false` and `destructiveHint: true`, so a
/// tool without annotations is hidden: unknown is not safe.
fn is_read_only(tool: &Tool) -> bool {
    let Some(a) = &tool.annotations else {
        return false;
    };
    a.read_only_hint == Some(true) || a.destructive_hint == Some(false)
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, annotations: serde_json::Value) -> Tool {
        serde_json::from_value(json!({
            "name": name, "inputSchema": {"type": "object"}, "annotations": annotations
        }))
        .unwrap()
    }

    fn policy(doc: serde_json::Value) -> Policy {
        let mut server = json!({"name": "s", "command": "x"});
        server
            .as_object_mut()
            .unwrap()
            .extend(doc.as_object().unwrap().clone());
        Policy::new(&serde_json::from_value(server).unwrap())
    }

    #[test]
    fn globs() {
        assert!(glob("get_*", "get_time"));
        assert!(glob("*", ""));
        assert!(glob("*_time", "get_time"));
        assert!(glob("a*b*c", "abc"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "acb"));
        assert!(!glob("get_*", "set_time"));
        assert!(!glob("echo", "echo2"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn deny_wins_over_allow() {
        let p = policy(json!({"tools": {"allow": ["get_*", "echo"], "deny": ["get_secret"]}}));
        let shown = |n: &str| p.hides(&tool(n, json!({}))).is_none();
        assert!(shown("get_time"));
        assert!(shown("echo"));
        assert!(!shown("get_secret"));
        assert!(!shown("delete_all"));
    }

    #[test]
    fn a_tool_known_by_name_only_is_judged_by_name_and_as_unannotated() {
        let allow = policy(json!({"tools": {"allow": ["get_*"]}}));
        assert!(allow.hides(&Policy::unlisted("delete_all")).is_some());
        assert!(allow.hides(&Policy::unlisted("get_time")).is_none());
        let read_only = policy(json!({"readOnly": true}));
        assert!(read_only.hides(&Policy::unlisted("get_time")).is_some());
    }

    #[test]
    fn read_only_hides_all_but_declared_safe_tools() {
        let p = policy(json!({"readOnly": true}));
        assert!(p
            .hides(&tool("read", json!({"readOnlyHint": true})))
            .is_none());
        assert!(p
            .hides(&tool("append", json!({"destructiveHint": false})))
            .is_none());
        assert!(p
            .hides(&tool("rm", json!({"destructiveHint": true})))
            .is_some());
        assert!(p.hides(&tool("unknown", json!({}))).is_some());
        let (shown, hidden) = p.filter(vec![
            tool("read", json!({"readOnlyHint": true})),
            tool("rm", json!({"destructiveHint": true})),
        ]);
        assert_eq!((shown.len(), hidden), (1, 1));
    }
}
