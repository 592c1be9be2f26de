//! Redaction of anything that can carry a secret, for what leaves the
//! router about an upstream: provider error bodies passed to clients, and
//! the debug log of a request.
//!
//! Three rules, applied together: every configured key is replaced
//! wherever it appears; a JSON string under a name that holds credentials
//! (`api_key`, `authorization`, `x-api-key`, `token`, `access_token`,
//! `password`, `secret`, `cookie`, ...) is replaced; and text that looks
//! like a credential (`Bearer <token>`, `sk-...`) is replaced.

use serde_json::Value;

pub const REDACTED: &str = "<redacted>";

/// Whether a JSON field or header of this name holds a credential. Only
/// string values are redacted, so counts such as `max_tokens` are kept.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    name == "token"
        || name == "key"
        || name == "bearer"
        || [
            "api_key",
            "apikey",
            "secret",
            "password",
            "authorization",
            "cookie",
            "credential",
            "credentials",
            "_token",
            "_key",
        ]
        .iter()
        .any(|end| name.ends_with(end))
}

/// `value` with every secret replaced, in place.
pub fn json(value: &mut Value, secrets: &[&str]) {
    match value {
        Value::String(s) => *s = text(s, secrets),
        Value::Array(items) => items.iter_mut().for_each(|v| json(v, secrets)),
        Value::Object(fields) => {
            for (name, v) in fields.iter_mut() {
                if v.is_string() && is_secret_name(name) {
                    *v = Value::String(REDACTED.to_owned());
                } else {
                    json(v, secrets);
                }
            }
        }
        _ => {}
    }
}

/// `text` with the configured secrets and anything that looks like a
/// credential replaced.
pub fn text(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(secret) {
            out = out.replace(secret, REDACTED);
        }
    }
    looks_like_credentials(&out)
}

/// A body as bytes: JSON is redacted field by field and re-serialised;
/// other text by the text rules; bytes that are not UTF-8 only lose the
/// configured secrets.
pub fn body(bytes: &[u8], secrets: &[&str]) -> Vec<u8> {
    if let Ok(mut value) = serde_json::from_slice::<Value>(bytes) {
        let before = value.clone();
        json(&mut value, secrets);
        if value == before {
            return bytes.to_vec();
        }
        return serde_json::to_vec(&value).expect("a JSON value serialises");
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => text(s, secrets).into_bytes(),
        Err(_) => {
            let mut out = bytes.to_vec();
            for secret in secrets
                .iter()
                .map(|s| s.as_bytes())
                .filter(|s| !s.is_empty())
            {
                out = replace_bytes(&out, secret, REDACTED.as_bytes());
            }
            out
        }
    }
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Replaces the word after `Bearer ` / `Basic ` and words shaped like
/// provider keys (`sk-...`, `sk_...`, at least 12 characters).
fn looks_like_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_scheme = false;
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String, after_scheme: &mut bool| {
        if word.is_empty() {
            return;
        }
        let keyish = (word.starts_with("sk-") || word.starts_with("sk_")) && word.len() >= 12;
        if *after_scheme || keyish {
            out.push_str(REDACTED);
        } else {
            out.push_str(word);
        }
        *after_scheme = word.eq_ignore_ascii_case("bearer") || word.eq_ignore_ascii_case("basic");
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=') {
            word.push(c);
        } else {
            flush(&mut word, &mut out, &mut after_scheme);
            if !c.is_whitespace() {
                after_scheme = false;
            }
            out.push(c);
        }
    }
    flush(&mut word, &mut out, &mut after_scheme);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configured_secrets_go_everywhere() {
        assert_eq!(
            text("bad key canary-123 (canary-123)", &["canary-123"]),
            "bad key <redacted> (<redacted>)"
        );
    }

    #[test]
    fn credential_shaped_text_goes() {
        assert_eq!(
            text("Authorization: Bearer abc.def-1 was refused", &[]),
            "Authorization: Bearer <redacted> was refused"
        );
        assert_eq!(
            text("Incorrect API key provided: sk-proj-AbCdEf123456.", &[]),
            "Incorrect API key provided: <redacted>"
        );
        assert_eq!(text("use sk-1 or a bearer", &[]), "use sk-1 or a bearer");
    }

    #[test]
    fn secret_fields_go_and_counts_stay() {
        let mut value = json!({"headers": {"x-api-key": "k1", "Authorization": "Bearer k2",
                                           "content-type": "application/json"},
                               "api_key": "k3", "access_token": "k4", "max_tokens": 512,
                               "usage": {"prompt_tokens": 3}, "note": "key k5 here"});
        json(&mut value, &["k5"]);
        assert_eq!(value["headers"]["x-api-key"], REDACTED);
        assert_eq!(value["headers"]["Authorization"], REDACTED);
        assert_eq!(value["headers"]["content-type"], "application/json");
        assert_eq!(value["api_key"], REDACTED);
        assert_eq!(value["access_token"], REDACTED);
        assert_eq!(value["max_tokens"], 512);
        assert_eq!(value["usage"]["prompt_tokens"], 3);
        assert_eq!(value["note"], "key <redacted> here");
    }

    #[test]
    fn bodies_keep_their_bytes_when_nothing_is_secret() {
        let raw = br#"{"error":   {"message": "model not found"}}"#;
        assert_eq!(body(raw, &["k"]), raw.to_vec());
        let raw = br#"{"error": {"message": "bad key sk-live-0123456789"}}"#;
        assert_eq!(
            String::from_utf8(body(raw, &[])).unwrap(),
            r#"{"error":{"message":"bad key <redacted>"}}"#
        );
        assert_eq!(
            body(b"\xff canary \xff", &["canary"]),
            b"\xff <redacted> \xff".to_vec()
        );
    }
}
