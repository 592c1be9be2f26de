//! Profiles: named request defaults over an ordered list of targets.
//!
//! The merge is field by field and the request wins: a field the request
//! sets (to anything but `null`) is kept; a field it leaves out is taken
//! from the profile. `max_tokens` counts as set when the request has
//! `max_tokens` or `max_completion_tokens`. `params` are added the same
//! way, key by key.

use serde_json::{Map, Value};

use crate::table::Profile;

/// Fills `body` (a chat completions request) with the profile's defaults
/// where the request left them out.
pub fn apply(profile: &Profile, body: &mut Map<String, Value>) {
    let unset = |body: &Map<String, Value>, key: &str| body.get(key).is_none_or(Value::is_null);
    if let Some(t) = profile.temperature {
        if unset(body, "temperature") {
            body.insert("temperature".into(), t.into());
        }
    }
    if let Some(n) = profile.max_tokens {
        if unset(body, "max_tokens") && unset(body, "max_completion_tokens") {
            body.insert("max_tokens".into(), n.into());
        }
    }
    if let Some(effort) = profile.reasoning_effort {
        if unset(body, "reasoning_effort") {
            body.insert("reasoning_effort".into(), effort.as_str().into());
        }
    }
    for (key, value) in &profile.params {
        if unset(body, key) {
            body.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReasoningEffort;
    use serde_json::json;

    fn profile() -> Profile {
        Profile {
            temperature: Some(0.2),
            max_tokens: Some(512),
            reasoning_effort: Some(ReasoningEffort::Low),
            max_depth: Some(3),
            params: json!({"top_p": 0.9, "seed": 7})
                .as_object()
                .unwrap()
                .clone(),
            strict_schema: false,
        }
    }

    fn merged(request: Value) -> Value {
        let mut body = request.as_object().unwrap().clone();
        apply(&profile(), &mut body);
        Value::Object(body)
    }

    #[test]
    fn the_profile_fills_what_the_request_leaves_out() {
        let body = merged(json!({"model": "p", "messages": []}));
        assert_eq!(body["temperature"], 0.2);
        assert_eq!(body["max_tokens"], 512);
        assert_eq!(body["reasoning_effort"], "low");
        assert_eq!(body["top_p"], 0.9);
        assert_eq!(body["seed"], 7);
    }

    #[test]
    fn the_request_wins_field_by_field() {
        let body = merged(json!({"model": "p", "messages": [], "temperature": 0,
                                 "max_completion_tokens": 64, "seed": 1,
                                 "reasoning_effort": null}));
        assert_eq!(body["temperature"], 0, "a zero is a value, not absence");
        assert_eq!(body["max_completion_tokens"], 64);
        assert!(
            body.get("max_tokens").is_none(),
            "either limit counts as set"
        );
        assert_eq!(body["seed"], 1);
        assert_eq!(
            body["top_p"], 0.9,
            "params the request left out still apply"
        );
        assert_eq!(body["reasoning_effort"], "low", "null is absence");
    }
}
