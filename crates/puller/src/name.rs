//! Model names as Ollama reads them, so a typo fails `--check-config`
//! instead of a pull at 3 a.m.
//!
//! A name is `[host/][namespace/]model[:tag]`; missing parts take Ollama's
//! defaults (`registry.ollama.ai`, `library`, `latest`). `llama3.2`,
//! `llama3.2:latest` and `registry.ollama.ai/library/llama3.2:latest` are
//! one model, and names compare without case, as Ollama's store does.

use std::fmt;

const DEFAULT_HOST: &str = "registry.ollama.ai";
const DEFAULT_NAMESPACE: &str = "library";
const DEFAULT_TAG: &str = "latest";

/// A parsed model name.
#[derive(Debug, Clone)]
pub struct ModelName {
    host: String,
    namespace: String,
    model: String,
    tag: String,
}

impl ModelName {
    /// Parses `[host/][namespace/]model[:tag]`; the error says which part
    /// is wrong and what that part may hold.
    pub fn parse(input: &str) -> Result<Self, String> {
        // "/" cannot appear in a tag, so a ":" after the last "/" starts it
        // (a ":" before it is a registry port).
        let (rest, tag) = match (input.rfind(':'), input.rfind('/')) {
            (Some(colon), slash) if slash.is_none_or(|slash| colon > slash) => {
                (&input[..colon], Some(&input[colon + 1..]))
            }
            _ => (input, None),
        };
        let mut parts = rest.rsplitn(3, '/');
        let model = parts.next().unwrap_or_default();
        let namespace = parts.next();
        let host = parts.next();
        let name = ModelName {
            host: host.unwrap_or(DEFAULT_HOST).to_owned(),
            namespace: namespace.unwrap_or(DEFAULT_NAMESPACE).to_owned(),
            model: model.to_owned(),
            tag: tag.unwrap_or(DEFAULT_TAG).to_owned(),
        };
        for (part, value) in [
            (Part::Host, &name.host),
            (Part::Namespace, &name.namespace),
            (Part::Model, &name.model),
            (Part::Tag, &name.tag),
        ] {
            if !part.accepts(value) {
                return Err(format!(
                    "`{input}` is not a model name: bad {} `{value}` ({}); \
                     expected name[:tag], namespace/name:tag or host/namespace/name:tag",
                    part.as_str(),
                    part.rule()
                ));
            }
        }
        Ok(name)
    }

    /// The form `/api/tags` lists: default host and namespace left out, tag
    /// always present (`llama3.2:latest`, `user/model:q4`).
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

    /// The identity two names are compared by: fully qualified, lower case.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}:{}",
            self.host, self.namespace, self.model, self.tag
        )
        .to_ascii_lowercase()
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shortest())
    }
}

/// The comparison key of any name string; a string that does not parse is
/// its own key (it cannot match a declared name, which always parses).
pub fn key(name: &str) -> String {
    ModelName::parse(name).map_or_else(|_| name.to_ascii_lowercase(), |n| n.key())
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Host,
    Namespace,
    Model,
    Tag,
}

impl Part {
    fn as_str(self) -> &'static str {
        match self {
            Part::Host => "host",
            Part::Namespace => "namespace",
            Part::Model => "model",
            Part::Tag => "tag",
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Part::Host => "1-350 of A-Z a-z 0-9 _ - . and : for a port",
            Part::Namespace => "1-80 of A-Z a-z 0-9 _ -",
            Part::Model | Part::Tag => "1-80 of A-Z a-z 0-9 _ - .",
        }
    }

    /// Ollama's rules: starts with a letter, digit or `_`; then also `-`;
    /// `.` except in a namespace; `:` only in a host (its port).
    fn accepts(self, s: &str) -> bool {
        let max = if self == Part::Host { 350 } else { 80 };
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
                b'.' => self != Part::Namespace,
                b':' => self == Part::Host,
                _ => word,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms_and_their_shortest_names() {
        for (input, shortest) in [
            ("llama3.2", "llama3.2:latest"),
            ("llama3.2:3b", "llama3.2:3b"),
            ("someone/model:q4", "someone/model:q4"),
            ("registry.ollama.ai/library/llama3.2:3b", "llama3.2:3b"),
            (
                "hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M",
                "hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M",
            ),
            ("localhost:5000/ns/m", "localhost:5000/ns/m:latest"),
        ] {
            assert_eq!(ModelName::parse(input).unwrap().shortest(), shortest);
        }
    }

    #[test]
    fn names_compare_without_case_and_defaults() {
        assert_eq!(
            key("Llama3.2"),
            key("registry.ollama.ai/library/llama3.2:latest")
        );
        assert_ne!(key("llama3.2:1b"), key("llama3.2:3b"));
    }

    #[test]
    fn malformed_names_say_which_part() {
        for (bad, part) in [
            ("", "model"),
            ("model:", "tag"),
            ("-model", "model"),
            ("a/b/c/d", "host"),
            ("name space", "model"),
            ("ns.x/model", "namespace"),
            ("model:tag:x", "model"),
        ] {
            let err = ModelName::parse(bad).unwrap_err();
            assert!(err.contains(&format!("bad {part}")), "{bad:?}: {err}");
        }
    }
}
