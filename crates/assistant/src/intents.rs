//! The chat bots' Home Assistant intents (`/v1/query`, gRPC `Query`) when
//! the operator enabled actions: what the model's classification says
//! ([`Intent::parse`]), which entity the user's words name
//! ([`resolve`]), and the answer for each case ([`carry_out`]). Only the
//! entities the operator named are ever switched; a name that fits
//! several of them gets a question back, never a guess.

use serde_json::{json, Value};
use tracing::Instrument;

use crate::audit::Entry;
use crate::engine::{AskError, Engine, QueryAnswer};
use crate::tools::home_assistant::{Settings, SWITCHABLE};
use crate::tools::{ToolError, ToolName};

/// What the model says a message wants.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// "What can I control?", optionally of one domain and one area.
    ListEntities {
        domain: Option<String>,
        area: Option<String>,
    },
    /// Switch `target` (an entity id or the user's words for it), a light
    /// possibly at a brightness and colour temperature (`args`, unread).
    Switch {
        on: bool,
        target: String,
        domain: Option<String>,
        args: Value,
    },
    Question,
    /// No intent in the model's answer.
    Unknown,
}

impl Intent {
    /// The first JSON object in the model's answer, read leniently: the
    /// built-in prompt's names (`turn_on`, `target`) and the first
    /// prompt's (`light_on`, `entity`), which operators' own prompts may
    /// still ask for.
    pub fn parse(parsed: Option<&Value>) -> Intent {
        let Some(v) = parsed else {
            return Intent::Unknown;
        };
        let text = |key: &str| {
            v[key]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "null")
                .map(str::to_owned)
        };
        let on = match v["intent"].as_str().unwrap_or_default() {
            "question" => return Intent::Question,
            "list_entities" => {
                return Intent::ListEntities {
                    domain: text("domain"),
                    area: text("area"),
                }
            }
            "turn_on" | "light_on" => true,
            "turn_off" | "light_off" => false,
            _ => return Intent::Unknown,
        };
        Intent::Switch {
            on,
            target: text("target")
                .or_else(|| text("entity"))
                .or_else(|| text("name"))
                .unwrap_or_default(),
            domain: text("domain"),
            args: v.clone(),
        }
    }
}

/// Which allowed entity a name means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    One(String),
    /// Several allowed entities fit: `(entity, friendly name)`.
    Ambiguous(Vec<(String, String)>),
    /// It names an entity, not one the operator allowed.
    NotAllowed(String),
    /// Nothing by that name.
    Unknown,
}

/// Words that say what kind of thing, not which one.
const KIND_WORDS: &[(&str, &str)] = &[
    ("light", "light"),
    ("lights", "light"),
    ("lamp", "light"),
    ("lamps", "light"),
    ("bulb", "light"),
    ("bulbs", "light"),
    ("switch", "switch"),
    ("switches", "switch"),
    ("plug", "switch"),
    ("plugs", "switch"),
    ("socket", "switch"),
    ("fan", "fan"),
    ("fans", "fan"),
];

const FILLER: &[&str] = &[
    "the", "a", "an", "my", "our", "all", "in", "on", "of", "please", "room", "one",
];

/// Lower-case words, a plural `s` dropped (so "lights" meets "light").
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            if ["ches", "shes", "xes"].iter().any(|end| w.ends_with(end)) {
                return w[..w.len() - 2].to_owned();
            }
            match w.strip_suffix('s') {
                Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_owned(),
                _ => w.to_owned(),
            }
        })
        .collect()
}

/// The entity `target` names, among Home Assistant's `states` and within
/// `allowed`. An entity id is taken as it is. Otherwise the words that
/// say which one ("kitchen ceiling" of "the kitchen ceiling lights") must
/// all be in an entity's friendly name or id; a friendly name made only
/// of words the user said wins over ones that merely contain them; a kind
/// word ("lights", "fan") keeps to that domain when something of it
/// fits. Several allowed entities left: ambiguous.
pub fn resolve(
    target: &str,
    domain: Option<&str>,
    states: &[Value],
    allowed: &[String],
) -> Resolved {
    let target = target.trim();
    if is_entity_id(target) {
        return if allowed.iter().any(|a| a == target) {
            Resolved::One(target.to_owned())
        } else {
            Resolved::NotAllowed(target.to_owned())
        };
    }
    // Every switchable entity Home Assistant knows, and the allowed ones
    // it did not list (known by their ids' words).
    let mut known: Vec<(String, String)> = states
        .iter()
        .filter_map(|s| {
            let id = s["entity_id"].as_str()?;
            let domain = id.split('.').next()?;
            SWITCHABLE.contains(&domain).then(|| {
                let name = s["attributes"]["friendly_name"].as_str().unwrap_or(id);
                (id.to_owned(), name.to_owned())
            })
        })
        .collect();
    for id in allowed {
        if !known.iter().any(|(k, _)| k == id) {
            known.push((id.clone(), id.clone()));
        }
    }
    let mut kind = domain.map(str::to_owned);
    let mut wanted = Vec::new();
    for word in words(target) {
        if let Some((_, d)) = KIND_WORDS.iter().find(|(w, _)| *w == word) {
            kind.get_or_insert_with(|| (*d).to_owned());
        } else if !FILLER.contains(&word.as_str()) {
            wanted.push(word);
        }
    }
    let fits = |(id, name): &(String, String)| {
        let object = id.split_once('.').map_or(id.as_str(), |(_, o)| o);
        let mut have = words(name);
        have.extend(words(object));
        wanted.iter().all(|w| have.contains(w))
    };
    let mut candidates: Vec<&(String, String)> = known.iter().filter(|e| fits(e)).collect();
    if let Some(kind) = &kind {
        let of_kind: Vec<_> = candidates
            .iter()
            .copied()
            .filter(|(id, _)| id.starts_with(&format!("{kind}.")))
            .collect();
        if !of_kind.is_empty() {
            candidates = of_kind;
        }
    }
    if candidates.is_empty() {
        return Resolved::Unknown;
    }
    // A friendly name whose every word the user said wins; of several,
    // the one that matches more of the user's words ("hall lamp" is
    // `Hall lamp`, "hall light" is `Hall`).
    let said: Vec<String> = words(target)
        .into_iter()
        .filter(|w| !FILLER.contains(&w.as_str()))
        .collect();
    let complete = |name: &str| {
        let own: Vec<String> = words(name)
            .into_iter()
            .filter(|w| !FILLER.contains(&w.as_str()))
            .collect();
        own.iter()
            .all(|w| said.contains(w))
            .then(|| said.iter().filter(|w| own.contains(w)).count())
    };
    let best = candidates
        .iter()
        .filter_map(|(_, name)| complete(name))
        .max();
    if let Some(best) = best {
        let exact: Vec<_> = candidates
            .iter()
            .copied()
            .filter(|(_, name)| complete(name) == Some(best))
            .collect();
        if exact.len() == 1 {
            candidates = exact;
        }
    }
    let permitted: Vec<_> = candidates
        .iter()
        .filter(|(id, _)| allowed.contains(id))
        .collect();
    match permitted.as_slice() {
        [] => Resolved::NotAllowed(candidates[0].0.clone()),
        [(id, _)] => Resolved::One(id.clone()),
        several => Resolved::Ambiguous(
            several
                .iter()
                .map(|(id, name)| (id.clone(), name.clone()))
                .collect(),
        ),
    }
}

/// Whether `text` speaks of a light, a lamp, or one of the `allowed`
/// entities by a word of its id ("fan" of `switch.bathroom_fan`).
pub fn mentions_device(text: &str, allowed: &[String]) -> bool {
    let said = words(text);
    let kind = said
        .iter()
        .any(|w| KIND_WORDS.iter().any(|(k, d)| k == w && *d == "light"));
    kind || allowed.iter().any(|id| {
        let object = id.split_once('.').map_or(id.as_str(), |(_, o)| o);
        words(object)
            .iter()
            .any(|w| !FILLER.contains(&w.as_str()) && said.contains(w))
    })
}

/// `domain.object_id`, as Home Assistant writes entity ids.
pub fn is_entity_id(text: &str) -> bool {
    text.split_once('.').is_some_and(|(domain, object)| {
        !domain.is_empty()
            && !object.is_empty()
            && domain.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            && object
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

/// The intent name a bot sees for switching `entity` (or, unresolved, a
/// thing of `domain`): `light_on`/`light_off` for lights, as the first
/// intents were named; `turn_on`/`turn_off` for switches and fans.
fn switch_intent(on: bool, domain: Option<&str>) -> &'static str {
    match (domain.unwrap_or("light"), on) {
        ("light", true) => "light_on",
        ("light", false) => "light_off",
        (_, true) => "turn_on",
        (_, false) => "turn_off",
    }
}

fn domain_of(entity: &str) -> Option<&str> {
    entity.split_once('.').map(|(d, _)| d)
}

const HA_DOWN: &str = "I couldn't reach Home Assistant right now.";

/// Answers `intent` (not a question) for `client`, auditing what was
/// done: the Home Assistant call as a tool call, the query's outcome as
/// a request.
pub async fn carry_out(
    engine: &Engine,
    client: &str,
    text: &str,
    intent: Intent,
) -> Result<QueryAnswer, AskError> {
    let allowed = engine.tools.allowed_lights().to_vec();
    let Some(ha) = engine.tools.home_assistant() else {
        return finish(engine, client, text, "unknown", HA_DOWN.into(), false);
    };
    match intent {
        Intent::ListEntities { domain, area } => {
            let states = match ha.states().await {
                Ok(states) => states,
                Err(_) => {
                    return finish(engine, client, text, "list_entities", HA_DOWN.into(), false)
                }
            };
            let in_area = match &area {
                Some(area) => match ha.area_entities(area).await {
                    Ok(ids) => Some(ids),
                    Err(ToolError::Failed(reason)) => {
                        let reply = format!("I can't look up areas: {reason}.");
                        return finish(engine, client, text, "list_entities", reply, false);
                    }
                    Err(_) => {
                        return finish(engine, client, text, "list_entities", HA_DOWN.into(), false)
                    }
                },
                None => None,
            };
            let listed: Vec<String> = allowed
                .iter()
                .filter(|id| domain.as_deref().is_none_or(|d| domain_of(id) == Some(d)))
                .filter(|id| in_area.as_ref().is_none_or(|a| a.contains(id)))
                .map(|id| {
                    let state = states.iter().find(|s| s["entity_id"] == id.as_str());
                    let name = state
                        .and_then(|s| s["attributes"]["friendly_name"].as_str())
                        .unwrap_or(id);
                    let now = state.and_then(|s| s["state"].as_str()).unwrap_or("unknown");
                    format!("{name} ({id}, {now})")
                })
                .collect();
            let place = area.map(|a| format!(" in {a}")).unwrap_or_default();
            let reply = if listed.is_empty() {
                format!("I can't control anything{place}.")
            } else {
                format!("I can control{place}: {}.", listed.join(", "))
            };
            finish(engine, client, text, "list_entities", reply, false)
        }
        Intent::Switch {
            on,
            target,
            domain,
            args,
        } => {
            let settings = match Settings::parse(&args) {
                Ok(settings) => settings,
                Err(reason) => {
                    let name = switch_intent(on, domain.as_deref());
                    return finish(
                        engine,
                        client,
                        text,
                        name,
                        format!("I can't do that: {reason}."),
                        false,
                    );
                }
            };
            let resolved = if target.is_empty() {
                Resolved::Unknown
            } else if is_entity_id(&target) {
                // Taken as it is; Home Assistant's states are not needed.
                resolve(&target, None, &[], &allowed)
            } else {
                match ha.states().await {
                    Ok(states) => resolve(&target, domain.as_deref(), &states, &allowed),
                    Err(_) => {
                        let name = switch_intent(on, domain.as_deref());
                        return finish(engine, client, text, name, HA_DOWN.into(), false);
                    }
                }
            };
            tracing::debug!(target = %target, resolved = ?resolved, "entity resolved");
            let entity = match resolved {
                Resolved::One(entity) => entity,
                Resolved::Ambiguous(candidates) => {
                    let named: Vec<String> = candidates
                        .iter()
                        .map(|(id, name)| format!("{name} ({id})"))
                        .collect();
                    let (last, rest) = named.split_last().expect("several");
                    let reply = format!("Which one do you mean: {} or {last}?", rest.join(", "));
                    return finish(engine, client, text, "clarify", reply, false);
                }
                Resolved::NotAllowed(entity) => {
                    let what = if domain_of(&entity) == Some("light") {
                        "lights"
                    } else {
                        "devices"
                    };
                    let reply = format!(
                        "I can't switch `{entity}`: it is not one of the {what} I may control."
                    );
                    let name = switch_intent(on, domain_of(&entity));
                    let tool = if on {
                        ToolName::HaLightOn
                    } else {
                        ToolName::HaLightOff
                    };
                    engine.record_tool(
                        client,
                        text,
                        tool,
                        &json!({"entity": entity}),
                        &Err(reply.clone()),
                    )?;
                    return finish(engine, client, text, name, reply, false);
                }
                Resolved::Unknown => {
                    let reply = if target.is_empty() {
                        format!(
                            "Which one do you mean? I can switch {}.",
                            allowed.join(", ")
                        )
                    } else {
                        format!("I don't know a device called \"{target}\".")
                    };
                    let name = if target.is_empty() {
                        "clarify"
                    } else {
                        switch_intent(on, domain.as_deref())
                    };
                    return finish(engine, client, text, name, reply, false);
                }
            };
            let name = switch_intent(on, domain_of(&entity));
            let tool = if on {
                ToolName::HaLightOn
            } else {
                ToolName::HaLightOff
            };
            let mut arguments = json!({"entity": entity});
            if let Some(pct) = settings.brightness_pct {
                arguments["brightness_pct"] = json!(pct);
            }
            if let Some(kelvin) = settings.color_temp_kelvin {
                arguments["color_temp_kelvin"] = json!(kelvin);
            }
            let result = engine
                .tools
                .call(tool.as_str(), &arguments)
                .instrument(tracing::debug_span!("tool", name = tool.as_str(), entity = %entity))
                .await;
            tracing::debug!(ok = result.is_ok(), "tool done");
            let (reply, taken) = match &result {
                Ok(_) => {
                    let mut how = Vec::new();
                    if let Some(pct) = settings.brightness_pct {
                        how.push(format!("{pct}% brightness"));
                    }
                    if let Some(kelvin) = settings.color_temp_kelvin {
                        how.push(format!("{kelvin} K"));
                    }
                    let at = if how.is_empty() {
                        String::new()
                    } else {
                        format!(" at {}", how.join(" and "))
                    };
                    let done = if on { "on" } else { "off" };
                    (format!("Turned {done} {entity}{at}."), true)
                }
                Err(ToolError::InvalidArguments(reason) | ToolError::Failed(reason)) => {
                    (format!("I can't do that: {reason}."), false)
                }
                Err(_) => (HA_DOWN.to_owned(), false),
            };
            let result = result.map_err(|e| e.to_string());
            engine.record_tool(client, text, tool, &arguments, &result)?;
            finish(engine, client, text, name, reply, taken)
        }
        Intent::Question | Intent::Unknown => finish(
            engine,
            client,
            text,
            "unknown",
            "I didn't understand that.".into(),
            false,
        ),
    }
}

/// Audits the query's outcome and makes the answer.
fn finish(
    engine: &Engine,
    client: &str,
    text: &str,
    intent: &str,
    reply: String,
    taken: bool,
) -> Result<QueryAnswer, AskError> {
    engine.record(Entry {
        client: client.into(),
        request: text.into(),
        intent: Some(intent.into()),
        result: Some(reply.clone()),
        outcome: if taken {
            "action_taken".into()
        } else {
            "action_not_taken".into()
        },
        ..Entry::default()
    })?;
    Ok(QueryAnswer {
        reply,
        intent: intent.into(),
        action_taken: taken,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states() -> Vec<Value> {
        let e = |id: &str, name: &str| json!({"entity_id": id, "state": "off", "attributes": {"friendly_name": name}});
        vec![
            e("light.kitchen_ceiling", "Kitchen ceiling"),
            e("light.kitchen_counter", "Kitchen counter"),
            e("light.hall", "Hall"),
            e("light.porch", "Porch"),
            e("switch.bathroom_fan", "Bathroom fan"),
            e("sensor.kitchen_temperature", "Kitchen temperature"),
        ]
    }

    fn allowed() -> Vec<String> {
        [
            "light.kitchen_ceiling",
            "light.kitchen_counter",
            "light.hall",
            "switch.bathroom_fan",
        ]
        .map(String::from)
        .to_vec()
    }

    fn at(target: &str) -> Resolved {
        resolve(target, None, &states(), &allowed())
    }

    #[test]
    fn friendly_names_resolve_to_the_allowed_entity() {
        assert_eq!(at("the hall light"), Resolved::One("light.hall".into()));
        assert_eq!(
            at("Kitchen ceiling lights"),
            Resolved::One("light.kitchen_ceiling".into())
        );
        assert_eq!(at("counter"), Resolved::One("light.kitchen_counter".into()));
        assert_eq!(
            at("the bathroom fan"),
            Resolved::One("switch.bathroom_fan".into())
        );
        assert_eq!(at("light.hall"), Resolved::One("light.hall".into()));
    }

    #[test]
    fn a_name_that_fits_several_is_ambiguous_and_lists_them() {
        assert_eq!(
            at("the kitchen lights"),
            Resolved::Ambiguous(vec![
                ("light.kitchen_ceiling".into(), "Kitchen ceiling".into()),
                ("light.kitchen_counter".into(), "Kitchen counter".into()),
            ])
        );
    }

    #[test]
    fn the_name_the_user_said_in_full_wins() {
        let s = vec![
            json!({"entity_id": "light.hall", "attributes": {"friendly_name": "Hall"}}),
            json!({"entity_id": "light.hall_lamp", "attributes": {"friendly_name": "Hall lamp"}}),
        ];
        let a = vec!["light.hall".to_owned(), "light.hall_lamp".to_owned()];
        assert_eq!(
            resolve("the hall light", None, &s, &a),
            Resolved::One("light.hall".into())
        );
        assert_eq!(
            resolve("hall lamp", None, &s, &a),
            Resolved::One("light.hall_lamp".into())
        );
        assert_eq!(
            resolve("hall", None, &s, &a),
            Resolved::One("light.hall".into())
        );
        assert!(matches!(
            resolve("the lamp", None, &s, &a),
            Resolved::Ambiguous(_)
        ));
    }

    #[test]
    fn an_exact_friendly_name_wins_over_names_that_contain_it() {
        let mut s = states();
        s.push(json!({"entity_id": "light.kitchen", "attributes": {"friendly_name": "Kitchen"}}));
        let mut a = allowed();
        a.push("light.kitchen".into());
        assert_eq!(
            resolve("kitchen light", None, &s, &a),
            Resolved::One("light.kitchen".into())
        );
    }

    #[test]
    fn outside_the_allowlist_or_unknown_is_said() {
        assert_eq!(
            at("porch light"),
            Resolved::NotAllowed("light.porch".into())
        );
        assert_eq!(
            at("light.porch"),
            Resolved::NotAllowed("light.porch".into())
        );
        assert_eq!(at("garage door"), Resolved::Unknown);
        // A sensor is not switchable, whatever it is called.
        assert_eq!(at("kitchen temperature"), Resolved::Unknown);
    }

    #[test]
    fn the_first_prompts_names_are_still_read() {
        let v = json!({"intent": "light_on", "entity": "light.hall"});
        assert!(
            matches!(Intent::parse(Some(&v)), Intent::Switch { on: true, ref target, .. } if target == "light.hall")
        );
        let v = json!({"intent": "list_entities", "domain": "light", "area": null});
        assert_eq!(
            Intent::parse(Some(&v)),
            Intent::ListEntities {
                domain: Some("light".into()),
                area: None
            }
        );
        assert_eq!(
            Intent::parse(Some(&json!({"intent": "dance"}))),
            Intent::Unknown
        );
        assert_eq!(Intent::parse(None), Intent::Unknown);
    }
}
