//! The chat bots' Home Assistant intents, over `POST /v1/query` and gRPC
//! `ai.v1.AIService/Query`: friendly names resolved to the allowed
//! entity, a question back when a name fits several, brightness and
//! colour temperature checked against what the light supports, switches
//! and fans, and "what can I control?" by domain and area — against a
//! fake Home Assistant that answers as its REST API reference says
//! (`/api/states`, `/api/services/<domain>/<service>`, `/api/template`
//! for administrators only, bearer tokens) and a scripted model.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use hwc_ai_assistant::grpc::proto::ai_service_client::AiServiceClient;
use hwc_ai_assistant::grpc::proto::QueryRequest;
use hwc_ai_runtime::Shutdown;
use hwc_ai_test_support::{free_addr, Embedded};
use serde_json::{json, Value};

/// Home Assistant: entity states it keeps, the service calls it was sent,
/// the areas its template API knows.
#[derive(Clone)]
struct Ha {
    states: Arc<Mutex<Vec<Value>>>,
    calls: Arc<Mutex<Vec<(String, Value)>>>,
}

const ADMIN: &str = "ha-admin-token";
const USER: &str = "ha-user-token";

fn light(id: &str, name: &str, modes: &[&str], kelvin: Option<(u32, u32)>) -> Value {
    let mut attributes =
        json!({"friendly_name": name, "supported_color_modes": modes, "supported_features": 40});
    if let Some((low, high)) = kelvin {
        attributes["min_color_temp_kelvin"] = json!(low);
        attributes["max_color_temp_kelvin"] = json!(high);
    }
    json!({"entity_id": id, "state": "off", "attributes": attributes,
           "last_changed": "2026-11-22T08:00:00+00:00", "last_updated": "2026-11-22T08:00:00+00:00",
           "context": {"id": "01J0000000000000000000000", "parent_id": null, "user_id": null}})
}

fn area_of(entity: &str) -> &'static str {
    match entity {
        "light.kitchen_ceiling" | "light.kitchen_counter" | "sensor.kitchen_temperature" => {
            "kitchen"
        }
        "switch.bathroom_fan" => "bathroom",
        _ => "hall",
    }
}

async fn start_ha() -> (Ha, String) {
    let ha = Ha {
        states: Arc::new(Mutex::new(vec![
            light(
                "light.kitchen_ceiling",
                "Kitchen ceiling",
                &["color_temp", "xy"],
                Some((2000, 6535)),
            ),
            light("light.kitchen_counter", "Kitchen counter", &["onoff"], None),
            light("light.hall", "Hall", &["color_temp"], Some((2200, 6500))),
            light("light.porch", "Porch", &["brightness"], None),
            json!({"entity_id": "switch.bathroom_fan", "state": "on", "attributes": {"friendly_name": "Bathroom fan"},
                   "last_changed": "2026-11-22T07:00:00+00:00", "last_updated": "2026-11-22T07:00:00+00:00", "context": {"id": "01J1"}}),
            json!({"entity_id": "sensor.kitchen_temperature", "state": "21.5", "attributes": {"friendly_name": "Kitchen temperature", "unit_of_measurement": "°C"},
                   "last_changed": "2026-11-22T09:00:00+00:00", "last_updated": "2026-11-22T09:00:00+00:00", "context": {"id": "01J2"}}),
        ])),
        calls: Arc::default(),
    };
    let token = |headers: &HeaderMap| {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|t| *t == ADMIN || *t == USER)
            .map(str::to_owned)
    };
    let unauthorized = || (StatusCode::UNAUTHORIZED, "401: Unauthorized").into_response();
    let app = axum::Router::new()
        .route(
            "/api/states",
            axum::routing::get(move |State(ha): State<Ha>, headers: HeaderMap| async move {
                if token(&headers).is_none() {
                    return unauthorized();
                }
                Json(ha.states.lock().unwrap().clone()).into_response()
            }),
        )
        // POST /api/template: the assistant's one template, rendered as
        // Home Assistant would render `area_entities(area) | tojson`;
        // administrators only (`@require_admin`).
        .route(
            "/api/template",
            axum::routing::post(
                move |State(ha): State<Ha>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    match token(&headers) {
                        Some(t) if t == ADMIN => {}
                        _ => return unauthorized(),
                    }
                    if body["template"] != "{{ area_entities(area) | tojson }}" {
                        return (StatusCode::BAD_REQUEST, Json(json!({"message": "Error rendering template: unexpected template"}))).into_response();
                    }
                    let area = body["variables"]["area"].as_str().unwrap_or_default().to_lowercase();
                    let ids: Vec<String> = ha.states.lock().unwrap().iter()
                        .filter_map(|s| s["entity_id"].as_str())
                        .filter(|id| area_of(id) == area)
                        .map(str::to_owned)
                        .collect();
                    (StatusCode::OK, serde_json::to_string(&ids).unwrap()).into_response()
                },
            ),
        )
        // POST /api/services/<domain>/<service>: the states that changed.
        .route(
            "/api/services/{domain}/{service}",
            axum::routing::post(
                move |State(ha): State<Ha>,
                      Path((domain, service)): Path<(String, String)>,
                      headers: HeaderMap,
                      Json(body): Json<Value>| async move {
                    if token(&headers).is_none() {
                        return unauthorized();
                    }
                    if !matches!(service.as_str(), "turn_on" | "turn_off") {
                        return (StatusCode::BAD_REQUEST, Json(json!({"message": format!("Service {domain}.{service} not found.")}))).into_response();
                    }
                    ha.calls.lock().unwrap().push((format!("{domain}.{service}"), body.clone()));
                    let id = body["entity_id"].as_str().unwrap_or_default();
                    let mut states = ha.states.lock().unwrap();
                    let changed: Vec<Value> = states
                        .iter_mut()
                        .filter(|s| s["entity_id"] == id && id.starts_with(&format!("{domain}.")))
                        .map(|s| {
                            s["state"] = json!(if service == "turn_on" { "on" } else { "off" });
                            s.clone()
                        })
                        .collect();
                    Json(changed).into_response()
                },
            ),
        )
        .with_state(ha.clone());
    (ha, serve(app).await)
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A model that classifies each message with the next scripted answer,
/// keeping the prompts it was sent.
async fn start_model(replies: Vec<Value>) -> (Arc<Mutex<Vec<Value>>>, String) {
    let replies = Arc::new(Mutex::new(replies));
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |Json(body): Json<Value>| {
            let replies = replies.clone();
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                let mut r = replies.lock().unwrap();
                let text = if r.is_empty() {
                    "(nothing)".to_owned()
                } else {
                    r.remove(0).to_string()
                };
                Json(json!({"choices": [{"message": {"role": "assistant", "content": text}}]}))
            }
        }),
    );
    (kept, serve(app).await)
}

struct Assistant {
    url: String,
    grpc: String,
    state: tempfile::TempDir,
    shutdown: Shutdown,
}

impl Drop for Assistant {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

const ALLOWED: [&str; 4] = [
    "light.kitchen_ceiling",
    "light.kitchen_counter",
    "light.hall",
    "switch.bathroom_fan",
];

async fn start(model: &str, ha_url: &str, token: &str) -> Assistant {
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("ha.token"), format!("{token}\n")).unwrap();
    let grpc = free_addr().to_string();
    let doc = json!({
        "stateDirectory": state.path().join("state"),
        "router": {"url": model},
        "rateLimit": {"requestsPerMinute": 1000, "burst": 100},
        "tools": ["ha_entities", "ha_light_on", "ha_light_off"],
        "grpc": {"listen": grpc},
        "homeAssistant": {
            "url": ha_url,
            "token": {"file": state.path().join("ha.token")},
            "actions": {"enable": true, "entities": ALLOWED}
        }
    });
    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(&doc.to_string()).unwrap();
    let Embedded { url, shutdown, .. } = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&grpc).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Assistant {
        url,
        grpc: format!("http://{grpc}"),
        state,
        shutdown,
    }
}

impl Assistant {
    /// `POST /v1/query`: (reply, intent, action_taken).
    async fn http(&self, text: &str) -> (String, String, bool) {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/query", self.url))
            .json(&json!({"text": text, "source": "matrix"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        (
            body["reply"].as_str().unwrap().to_owned(),
            body["intent"].as_str().unwrap().to_owned(),
            body["action_taken"].as_bool().unwrap(),
        )
    }

    /// `ai.v1.AIService/Query`: (reply, intent, action_taken).
    async fn grpc(&self, text: &str) -> (String, String, bool) {
        let mut client = AiServiceClient::connect(self.grpc.clone()).await.unwrap();
        let answer = client
            .query(QueryRequest {
                text: text.into(),
                source: "discord".into(),
            })
            .await
            .unwrap()
            .into_inner();
        (answer.reply, answer.intent, answer.action_taken)
    }
}

fn said(reply: &(String, String, bool)) -> (&str, &str, bool) {
    (reply.0.as_str(), reply.1.as_str(), reply.2)
}

#[tokio::test]
async fn friendly_names_brightness_and_colour_temperature_reach_home_assistant() {
    let (ha, ha_url) = start_ha().await;
    let (prompts, model) = start_model(vec![
        json!({"intent": "turn_on", "target": "the hall light", "domain": "light", "brightness_pct": 40, "color_temp_kelvin": 2700}),
        json!({"intent": "turn_off", "target": "bathroom fan", "domain": null}),
        json!({"intent": "turn_on", "target": "Kitchen ceiling"}),
    ])
    .await;
    let a = start(&model, &ha_url, USER).await;

    let on = a.http("set the hall light to 40% warm white").await;
    assert_eq!(
        said(&on),
        (
            "Turned on light.hall at 40% brightness and 2700 K.",
            "light_on",
            true
        )
    );
    let off = a.grpc("turn off the bathroom fan").await;
    assert_eq!(
        said(&off),
        ("Turned off switch.bathroom_fan.", "turn_off", true)
    );
    let ceiling = a.grpc("kitchen ceiling on please").await;
    assert!(said(&ceiling).2, "{ceiling:?}");
    assert_eq!(
        *ha.calls.lock().unwrap(),
        vec![
            (
                "light.turn_on".to_owned(),
                json!({"entity_id": "light.hall", "brightness_pct": 40, "color_temp_kelvin": 2700})
            ),
            (
                "switch.turn_off".to_owned(),
                json!({"entity_id": "switch.bathroom_fan"})
            ),
            (
                "light.turn_on".to_owned(),
                json!({"entity_id": "light.kitchen_ceiling"})
            ),
        ]
    );
    // The model was told which entities may be switched.
    let prompt = prompts.lock().unwrap()[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(prompt.contains(&ALLOWED.join(", ")), "{prompt}");

    // Each switch audited as a tool call with its arguments.
    let rows =
        hwc_ai_assistant::audit::tail_file(&a.state.path().join("state/audit.db"), 20).unwrap();
    let tools: Vec<(String, String)> = rows
        .iter()
        .filter_map(|r| Some((r.entry.tool.clone()?, r.entry.arguments.clone()?)))
        .collect();
    assert_eq!(tools[0].0, "ha_light_on");
    assert!(tools[0].1.contains("\"brightness_pct\":40"), "{tools:?}");
    assert_eq!(
        tools[1],
        (
            "ha_light_off".into(),
            r#"{"entity":"switch.bathroom_fan"}"#.into()
        )
    );
}

#[tokio::test]
async fn a_name_that_fits_several_lights_gets_a_question_not_a_guess() {
    let (ha, ha_url) = start_ha().await;
    let (_, model) = start_model(vec![
        json!({"intent": "turn_on", "target": "kitchen lights", "domain": "light"}),
        json!({"intent": "turn_on", "target": "kitchen lights", "domain": "light"}),
    ])
    .await;
    let a = start(&model, &ha_url, USER).await;
    let expected = (
        "Which one do you mean: Kitchen ceiling (light.kitchen_ceiling) or Kitchen counter (light.kitchen_counter)?",
        "clarify",
        false,
    );
    assert_eq!(said(&a.http("turn on the kitchen lights").await), expected);
    assert_eq!(said(&a.grpc("turn on the kitchen lights").await), expected);
    assert!(ha.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn settings_a_light_cannot_take_are_refused_before_anything_is_sent() {
    let (ha, ha_url) = start_ha().await;
    let (_, model) = start_model(vec![
        json!({"intent": "turn_on", "target": "hall", "color_temp_kelvin": 9000}),
        json!({"intent": "turn_on", "target": "hall", "brightness_pct": 150}),
        json!({"intent": "turn_on", "target": "kitchen counter", "brightness_pct": 30}),
        json!({"intent": "turn_on", "target": "kitchen counter", "color_temp_kelvin": 3000}),
        json!({"intent": "turn_on", "target": "bathroom fan", "brightness_pct": 30}),
    ])
    .await;
    let a = start(&model, &ha_url, USER).await;
    let replies = [
        a.http("make the hall light 9000 kelvin").await,
        a.grpc("hall light to 150%").await,
        a.http("dim the kitchen counter light to 30%").await,
        a.grpc("kitchen counter light at 3000 K").await,
        a.http("set the bathroom fan to 30%").await,
    ];
    let texts: Vec<&str> = replies.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        texts,
        [
            "I can't do that: Hall's colour temperature goes from 2200 K to 6500 K, not 9000 K.",
            "I can't do that: brightness must be 0 to 100 percent, not 150.",
            "I can't do that: Kitchen counter cannot be dimmed (it is on/off only).",
            "I can't do that: Kitchen counter has no colour temperature.",
            "I can't do that: brightness and colour temperature are for turning a light on.",
        ]
    );
    assert!(replies.iter().all(|r| !r.2));
    assert!(ha.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn only_allowed_entities_are_switched_and_unknown_names_are_said() {
    let (ha, ha_url) = start_ha().await;
    let (_, model) = start_model(vec![
        json!({"intent": "turn_on", "target": "porch light"}),
        json!({"intent": "light_on", "entity": "light.porch"}),
        json!({"intent": "turn_on", "target": "garage light"}),
        json!({"intent": "turn_on", "target": "kitchen temperature"}),
    ])
    .await;
    let a = start(&model, &ha_url, USER).await;
    let not_allowed = "I can't switch `light.porch`: it is not one of the lights I may control.";
    assert_eq!(
        said(&a.http("turn on the porch light").await),
        (not_allowed, "light_on", false)
    );
    assert_eq!(
        said(&a.grpc("turn on the porch light").await),
        (not_allowed, "light_on", false)
    );
    assert_eq!(
        a.http("garage light on").await.0,
        "I don't know a device called \"garage light\"."
    );
    // A sensor is nothing to switch, whatever its name.
    assert!(!a.grpc("switch on the kitchen temperature").await.2);
    // Switching what is neither a light nor an allowed device's name is
    // refused before any model is asked.
    assert_eq!(a.http("turn on the garage door").await.1, "refused");
    assert!(ha.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn what_can_i_control_by_domain_and_area() {
    let (_, ha_url) = start_ha().await;
    let script = || {
        vec![
            json!({"intent": "list_entities", "domain": null, "area": null}),
            json!({"intent": "list_entities", "domain": "light", "area": "Kitchen"}),
            json!({"intent": "list_entities", "domain": "switch", "area": null}),
        ]
    };
    let (_, model) = start_model(script()).await;
    let a = start(&model, &ha_url, ADMIN).await;
    assert_eq!(
        said(&a.http("what can I control?").await),
        (
            "I can control: Kitchen ceiling (light.kitchen_ceiling, off), Kitchen counter (light.kitchen_counter, off), Hall (light.hall, off), Bathroom fan (switch.bathroom_fan, on).",
            "list_entities",
            false
        )
    );
    assert_eq!(
        a.grpc("which lights are in the kitchen?").await.0,
        "I can control in Kitchen: Kitchen ceiling (light.kitchen_ceiling, off), Kitchen counter (light.kitchen_counter, off)."
    );
    assert_eq!(
        a.http("which switches do I have?").await.0,
        "I can control: Bathroom fan (switch.bathroom_fan, on)."
    );

    // Home Assistant renders templates (areas) for administrators only.
    let (_, model) = start_model(script().split_off(1)).await;
    let b = start(&model, &ha_url, USER).await;
    let reply = b.http("which lights are in the kitchen?").await.0;
    assert!(
        reply.starts_with("I can't look up areas: Home Assistant answered 401")
            && reply.contains("administrator's token"),
        "{reply}"
    );
}

#[tokio::test]
async fn home_assistant_down_is_said_over_both_transports() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (_, model) = start_model(vec![
        json!({"intent": "turn_on", "target": "hall light"}),
        json!({"intent": "list_entities"}),
    ])
    .await;
    let a = start(&model, &closed, USER).await;
    let down = "I couldn't reach Home Assistant right now.";
    assert_eq!(
        said(&a.http("turn on the hall light").await),
        (down, "light_on", false)
    );
    assert_eq!(
        said(&a.grpc("what can I control?").await),
        (down, "list_entities", false)
    );
}

#[test]
fn an_allowed_entity_that_cannot_be_switched_is_a_config_error_naming_it() {
    let doc = json!({
        "stateDirectory": "/var/lib/hwc-ai-assistant",
        "homeAssistant": {
            "url": "http://127.0.0.1:8123",
            "token": {"credential": "ha-token"},
            "actions": {"enable": true, "entities": ["light.hall", "lock.front_door"]}
        }
    });
    let err = hwc_ai_runtime::config::parse::<hwc_ai_assistant::Config>(&doc.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("homeAssistant.actions.entities[1]")
            && err
                .contains("`lock.front_door` is not an entity id of a domain that can be switched"),
        "{err}"
    );
}

/// The daemon as the unit runs it, logging JSON at debug level: one
/// query's whole path (the intent, the model call, the entity, the Home
/// Assistant call, the answer) is in lines that carry its request id,
/// inside the spans it passed; the caller gets the id back.
#[tokio::test]
async fn every_line_of_a_query_carries_its_request_id_and_spans() {
    let (ha, ha_url) = start_ha().await;
    let (_, model) = start_model(vec![
        json!({"intent": "turn_on", "target": "hall light", "brightness_pct": 40}),
        json!({"intent": "list_entities"}),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ha.token"), format!("{USER}\n")).unwrap();
    let free = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let (listen, grpc) = (free(), free());
    let config = json!({
        "listen": listen,
        "log": {"level": "debug", "format": "json"},
        "stateDirectory": dir.path().join("state"),
        "router": {"url": model},
        "grpc": {"listen": grpc},
        "homeAssistant": {
            "url": ha_url,
            "token": {"file": dir.path().join("ha.token")},
            "actions": {"enable": true, "entities": ALLOWED}
        }
    });
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let log = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hwc-ai-assistant"))
        .arg("--config")
        .arg(dir.path().join("config.json"))
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http
            .get(format!("http://{listen}/health"))
            .send()
            .await
            .is_ok()
            && tokio::net::TcpStream::connect(&grpc).await.is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let response = http
        .post(format!("http://{listen}/v1/query"))
        .header("x-request-id", "bot-7f3a")
        .json(&json!({"text": "set the hall light to 40%", "source": "matrix"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap()),
        Some("bot-7f3a"),
        "{}",
        std::fs::read_to_string(dir.path().join("stderr")).unwrap()
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["action_taken"], true, "{body}");
    assert_eq!(ha.calls.lock().unwrap().len(), 1);

    // Without one, the caller is given a new id (gRPC: response metadata).
    let mut client = AiServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    let answer = client
        .query(QueryRequest {
            text: "what can I control?".into(),
            source: "discord".into(),
        })
        .await
        .unwrap();
    let given = answer
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(given.starts_with("q-"), "{given}");

    child.kill().await.unwrap();
    let text = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let of = |id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["spans"][0]["request_id"] == id || l["request_id"] == id)
            .collect()
    };
    let path: Vec<(String, String)> = of("bot-7f3a")
        .iter()
        .filter(|l| l["message"] != "" && l["level"] != "TRACE")
        .filter(|l| {
            let m = l["message"].as_str().unwrap_or_default();
            [
                "model answered",
                "intent parsed",
                "home assistant",
                "entity resolved",
                "tool done",
                "query",
            ]
            .contains(&m)
        })
        .map(|l| {
            let spans: Vec<&str> = l["spans"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["name"].as_str())
                .collect();
            (spans.join(">"), l["message"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("query>classify", "model answered"),
        ("query", "intent parsed"),
        ("query", "home assistant"),
        ("query", "entity resolved"),
        ("query>tool", "home assistant"),
        ("query>tool", "home assistant"),
        ("query", "tool done"),
        ("query", "query"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(path, expected, "{text}");
    let service = of("bot-7f3a")
        .into_iter()
        .find(|l| l["call"] == "POST /api/services/light/turn_on")
        .unwrap_or_else(|| panic!("no Home Assistant call line: {text}"));
    assert_eq!(service["spans"][1]["entity"], "light.hall");
    assert_eq!(service["status"], 200);
    let last = of(&given).into_iter().last().unwrap().clone();
    assert_eq!(
        (
            last["message"].as_str(),
            last["intent"].as_str(),
            last["transport"].as_str()
        ),
        (Some("query"), Some("list_entities"), Some("grpc"))
    );
    // Neither the user's words nor the token are in any line.
    assert!(
        !text.contains("hall light to 40") && !text.contains(USER),
        "{text}"
    );
}

/// The agent path (`/v1/chat/completions`): the model's own calls of
/// `ha_light_on` are held to the same ranges, by the schema (0-100 %)
/// and by the light's state (its colour temperature range), and each
/// refusal goes back to the model as the tool's error.
#[tokio::test]
async fn the_models_light_calls_are_held_to_the_lights_ranges() {
    let (ha, ha_url) = start_ha().await;
    let call = |args: Value| {
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "ha_light_on", "arguments": args.to_string()}}
        ]})
    };
    let script = Arc::new(Mutex::new(vec![
        call(json!({"entity": "light.hall", "brightness_pct": 120})),
        call(json!({"entity": "light.hall", "color_temp_kelvin": 9000})),
        call(json!({"entity": "light.hall", "brightness_pct": 50, "color_temp_kelvin": 3000})),
        json!({"role": "assistant", "content": "The hall light is on at half brightness."}),
    ]));
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let (kept_script, kept_errors) = (script.clone(), errors.clone());
    let model = serve(axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |Json(body): Json<Value>| {
            let (script, errors) = (kept_script.clone(), kept_errors.clone());
            async move {
                if let Some(last) = body["messages"].as_array().unwrap().last() {
                    if last["role"] == "tool" {
                        errors
                            .lock()
                            .unwrap()
                            .push(last["content"].as_str().unwrap().to_owned());
                    }
                }
                let message = script.lock().unwrap().remove(0);
                Json(
                    json!({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}),
                )
            }
        }),
    ))
    .await;
    let a = start(&model, &ha_url, USER).await;
    let body: Value = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", a.url))
        .json(&json!({"model": "hwc-ai-assistant", "messages": [
            {"role": "user", "content": "turn on the hall light, not too bright"}
        ]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "The hall light is on at half brightness."
    );
    let errors = errors.lock().unwrap().clone();
    assert!(
        errors[0].contains("/brightness_pct") && errors[0].contains("120"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("Hall's colour temperature goes from 2200 K to 6500 K, not 9000 K"),
        "{errors:?}"
    );
    assert!(errors[2].contains("\"done\":\"turn_on\""), "{errors:?}");
    assert_eq!(
        *ha.calls.lock().unwrap(),
        vec![(
            "light.turn_on".to_owned(),
            json!({"entity_id": "light.hall", "brightness_pct": 50, "color_temp_kelvin": 3000})
        )]
    );
}
