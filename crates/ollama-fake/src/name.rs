//! Model names, parsed and shown the way Ollama does.
//!
//! A name is `[host/][namespace/]model[:tag]`. Missing parts take Ollama's
//! defaults (`registry.ollama.ai`, `library`, `latest`), so `llama3.2`,
//! `llama3.2:latest` and `registry.ollama.ai/library/llama3.2:latest` are
//! the same model. Names compare case-insensitively. Clients see the
//! shortest form: `llama3.2:latest`, `user/model:tag`, `host/ns/model:tag`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The registry a bare name refers to.
pub const DEFAULT_HOST: &str = "registry.ollama.ai";
/// The namespace a name without one lives in.
pub const DEFAULT_NAMESPACE: &str = "library";
/// The tag a name without one gets.
pub const DEFAULT_TAG: &str = "latest";

/// Why a string is not a model name. Shown to clients as Ollama's
/// `invalid model name`; the detail goes to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid model name {input:?}: bad {part}")]
pub struct NameError {
    /// The string as given.
    pub input: String,
    /// Which part is malformed: `host`, `namespace`, `model` or `tag`.
    pub part: &'static str,
}

/// A fully qualified model name.
#[derive(Debug, Clone)]
pub struct ModelName {
    host: String,
    namespace: String,
    model: String,
    tag: String,
}

impl ModelName {
    /// Parses `[host/][namespace/]model[:tag]`, filling Ollama's defaults.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let err = |part| NameError {
            input: input.to_owned(),
            part,
        };
        // A digest suffix (`model@sha256:...`) names a blob, not a tag.
        let s = input.split_once('@').map_or(input, |(name, _)| name);
        // "/" cannot appear in a tag, so a ":" after the last "/" starts it.
        let (rest, tag) = match (s.rfind(':'), s.rfind('/')) {
            (Some(colon), slash) if slash.is_none_or(|slash| colon > slash) => {
                (&s[..colon], Some(&s[colon + 1..]))
            }
            _ => (s, None),
        };
        let mut parts = rest.rsplitn(3, '/');
        let model = parts.next().unwrap_or_default();
        let namespace = parts.next();
        let host = parts.next();
        // Ollama keeps a scheme on the host only to pick http(s); drop it.
        let host = host.map(|h| h.split_once("://").map_or(h, |(_, h)| h));

        let name = ModelName {
            host: host.unwrap_or(DEFAULT_HOST).to_owned(),
            namespace: namespace.unwrap_or(DEFAULT_NAMESPACE).to_owned(),
            model: model.to_owned(),
            tag: tag.unwrap_or(DEFAULT_TAG).to_owned(),
        };
        if !valid_part(Part::Host, &name.host) {
            return Err(err("host"));
        }
        if !valid_part(Part::Namespace, &name.namespace) {
            return Err(err("namespace"));
        }
        if !valid_part(Part::Model, &name.model) {
            return Err(err("model"));
        }
        if !valid_part(Part::Tag, &name.tag) {
            return Err(err("tag"));
        }
        Ok(name)
    }

    /// The registry host, `registry.ollama.ai` unless given.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The namespace, `library` unless given. `/v1/models` reports it as
    /// `owned_by`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The model part, e.g. `llama3.2`.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The tag, `latest` unless given.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The form clients see in `/api/tags`: default host and namespace
    /// left out, tag always present.
    pub fn shortest(&self) -> String {
        let mut out = String::new();
        if !self.host.eq_ignore_ascii_case(DEFAULT_HOST) {
            out.push_str(&self.host);
            out.push('/');
            out.push_str(&self.namespace);
            out.push('/');
        } else if !self.namespace.eq_ignore_ascii_case(DEFAULT_NAMESPACE) {
            out.push_str(&self.namespace);
            out.push('/');
        }
        out.push_str(&self.model);
        out.push(':');
        out.push_str(&self.tag);
        out
    }

    /// `host/namespace/model:tag`, as Ollama names a model in capability
    /// errors.
    pub fn fully_qualified(&self) -> String {
        format!(
            "{}/{}/{}:{}",
            self.host, self.namespace, self.model, self.tag
        )
    }

    /// The identity used to compare names: fully qualified, lower case.
    pub fn key(&self) -> String {
        self.fully_qualified().to_ascii_lowercase()
    }
}

impl PartialEq for ModelName {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ModelName {}

impl std::hash::Hash for ModelName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shortest())
    }
}

impl FromStr for ModelName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ModelName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.shortest())
    }
}

impl<'de> Deserialize<'de> for ModelName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Host,
    Namespace,
    Model,
    Tag,
}

/// Ollama's rules: 1 to 80 characters (350 for a host), starting with a
/// letter, digit or `_`, then also `-`; `.` except in a namespace; `:` only
/// in a host (for a port).
fn valid_part(part: Part, s: &str) -> bool {
    let max = if part == Part::Host { 350 } else { 80 };
    if s.is_empty() || s.len() > max {
        return false;
    }
    s.bytes().enumerate().all(|(i, c)| {
        let word = c.is_ascii_alphanumeric() || c == b'_';
        if i == 0 {
            return word;
        }
        match c {
            b'-' => true,
            b'.' => part != Part::Namespace,
            b':' => part == Part::Host,
            _ => word,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in() {
        let n = ModelName::parse("llama3.2").unwrap();
        assert_eq!(n.shortest(), "llama3.2:latest");
        assert_eq!(
            n.fully_qualified(),
            "registry.ollama.ai/library/llama3.2:latest"
        );
    }

    #[test]
    fn namespaced_and_hosted_forms() {
        assert_eq!(
            ModelName::parse("user/model:q4").unwrap().shortest(),
            "user/model:q4"
        );
        assert_eq!(
            ModelName::parse("hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M")
                .unwrap()
                .shortest(),
            "hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M"
        );
        assert_eq!(
            ModelName::parse("localhost:5000/ns/m").unwrap().shortest(),
            "localhost:5000/ns/m:latest"
        );
        assert_eq!(
            ModelName::parse("registry.ollama.ai/library/llama3.2:3b")
                .unwrap()
                .shortest(),
            "llama3.2:3b"
        );
    }

    #[test]
    fn names_compare_without_case() {
        assert_eq!(
            ModelName::parse("Llama3.2").unwrap(),
            ModelName::parse("llama3.2:latest").unwrap()
        );
    }

    #[test]
    fn malformed_names_are_rejected() {
        for bad in [
            "",
            ":",
            "model:",
            "-model",
            "a/b/c/d",
            "model:ta/g",
            "name space",
            "ns.x/model",
            "model:tag:x",
            &"m".repeat(81),
        ] {
            assert!(ModelName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
