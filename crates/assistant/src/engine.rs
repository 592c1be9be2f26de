//! One request, start to end: refused if it asks for a change; otherwise
//! answered by the model through hwc-ai-router with the tools (several
//! per round, run together; a bounded number of rounds; one time budget);
//! when the model cannot be reached, answered directly from the tools if
//! it is one of the everyday questions. Every tool call and every request
//! is written to the audit log before the answer leaves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::Instrument;

use crate::audit::{Audit, Entry};
use crate::config::{AgentConfig, RouterConfig};
use crate::direct;
use crate::intents;
use crate::metrics::Metrics;
use crate::prompts::Prompts;
use crate::refusal;
use crate::tools::{ToolName, Tools};

/// The model's instructions.
pub const SYSTEM_PROMPT: &str =
    "You are hwc-ai-assistant, the read-only operations assistant of this \
homelab machine. Answer questions about the machine's state from the tools' results only: call \
the tools to get real data, and never guess. You cannot change anything (no restarts, no \
commands, no edits) and must never say that you did. Be brief and concrete: name the units, \
containers, filesystems and numbers. When a tool fails, say what could not be read.";

/// A turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub reply: String,
    /// `refused`, a recognised everyday question (`disk`, ...), or
    /// `question`.
    pub intent: String,
    /// `model`, `direct` (from the tools, the model unavailable) or
    /// `refusal`.
    pub source: &'static str,
    /// The tools called, in order.
    pub tools: Vec<String>,
}

/// `/v1/query`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct QueryAnswer {
    pub reply: String,
    pub intent: String,
    pub action_taken: bool,
}

impl From<Answer> for QueryAnswer {
    fn from(answer: Answer) -> Self {
        Self {
            reply: answer.reply,
            intent: answer.intent,
            action_taken: false,
        }
    }
}

/// The first `{...}` in `text` that parses as a JSON object (models wrap
/// JSON in prose or code fences).
fn first_json_object(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let mut depth = 0usize;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return serde_json::from_str(&text[start..=start + i])
                        .ok()
                        .filter(Value::is_object);
                }
            }
            _ => {}
        }
    }
    None
}

#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The model could not be reached and the question needs it.
    #[error("the model is not available ({0}) and this question needs it")]
    ModelUnavailable(String),
    /// The audit log could not be written: nothing is answered unaudited.
    #[error("{0}")]
    Audit(String),
}

/// Who answers an agent run, with which instructions, tools and time.
pub struct AgentRun<'a> {
    /// A model or router profile.
    pub model: &'a str,
    pub system: &'a str,
    /// The tools offered; every enabled one when `None`.
    pub tools: Option<&'a [ToolName]>,
    pub budget: Duration,
}

pub struct Engine {
    pub tools: Arc<Tools>,
    pub audit: Arc<Audit>,
    router: RouterConfig,
    router_key: Option<hwc_ai_runtime::Secret>,
    agent: AgentConfig,
    http: reqwest::Client,
    pub metrics: Arc<Metrics>,
    prompts: Prompts,
}

impl Engine {
    pub fn new(
        tools: Arc<Tools>,
        audit: Arc<Audit>,
        router: RouterConfig,
        router_key: Option<hwc_ai_runtime::Secret>,
        agent: AgentConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, hwc_ai_runtime::ConfigError> {
        Ok(Self {
            tools,
            audit,
            router,
            router_key,
            agent,
            http: hwc_ai_runtime::client::build(
                hwc_ai_runtime::client::builder("assistant"),
                "router",
            )?,
            metrics,
            prompts: Prompts::default(),
        })
    }

    /// The operator's prompts instead of the built-in ones.
    pub fn with_prompts(mut self, prompts: Prompts) -> Self {
        self.prompts = prompts;
        self
    }

    /// The refusal for `text`, unless it asks to switch or set a device
    /// and the operator lets the assistant switch some: then the text is
    /// classified, and only the entities the operator named can be acted
    /// on (`intents.rs`).
    fn refusal(&self, text: &str) -> Option<refusal::Refusal> {
        let refusal = refusal::check(text)?;
        let switching = matches!(
            refusal.action.as_str(),
            "turn on" | "turn off" | "switch on" | "switch off" | "set" | "change" | "make"
        );
        let allowed = self.tools.allowed_lights();
        if switching && !allowed.is_empty() && intents::mentions_device(text, allowed) {
            return None;
        }
        if self.tools.drafts_enabled() && crate::tools::forge::asks_for_draft(text, &refusal.action)
        {
            return None;
        }
        Some(refusal)
    }

    /// Answers `text` from `client`, after the earlier `history`.
    pub async fn ask(
        &self,
        client: &str,
        text: &str,
        history: &[Turn],
    ) -> Result<Answer, AskError> {
        if let Some(refusal) = self.refusal(text) {
            tracing::debug!(action = %refusal.action, "refused");
            self.record(Entry {
                client: client.into(),
                request: text.into(),
                intent: Some("refused".into()),
                result: Some(refusal.message.clone()),
                outcome: "refused".into(),
                refusal: Some(format!("asks to {}", refusal.action)),
                ..Entry::default()
            })?;
            self.metrics.request("refusal");
            return Ok(Answer {
                reply: refusal.message,
                intent: "refused".into(),
                source: "refusal",
                tools: Vec::new(),
            });
        }
        let question = direct::recognise(text);
        let intent = question.map_or("question", |q| q.intent()).to_owned();
        let mut used = Vec::new();
        let outcome = self
            .agent_loop(client, text, history, &mut used, &self.default_agent())
            .await;
        let answer = match outcome {
            Ok(reply) => Answer {
                reply,
                intent,
                source: "model",
                tools: used,
            },
            Err(reason) => match question {
                Some(question) => {
                    tracing::warn!(
                        "model unavailable ({reason}); answering from the tools directly"
                    );
                    let (reply, results) = direct::answer(&self.tools, question).await;
                    for (tool, result) in &results {
                        self.record_tool(client, text, *tool, &json!({}), result)?;
                        used.push(tool.as_str().to_owned());
                    }
                    Answer {
                        reply,
                        intent,
                        source: "direct",
                        tools: used,
                    }
                }
                None => {
                    self.record(Entry {
                        client: client.into(),
                        request: text.into(),
                        intent: Some(intent),
                        result: Some(reason.clone()),
                        outcome: "model_unavailable".into(),
                        ..Entry::default()
                    })?;
                    self.metrics.request("model_unavailable");
                    return Err(AskError::ModelUnavailable(reason));
                }
            },
        };
        self.record(Entry {
            client: client.into(),
            request: text.into(),
            intent: Some(answer.intent.clone()),
            tool: None,
            arguments: None,
            result: Some(answer.reply.clone()),
            outcome: format!("answered ({})", answer.source),
            refusal: None,
        })?;
        self.metrics.request(answer.source);
        Ok(answer)
    }

    /// For chat bots (`/v1/query`). Without Home Assistant actions this is
    /// [`Engine::ask`]. With them, the model first says what the text
    /// wants as JSON (switch a device on or off, list what can be
    /// controlled, or a `question`), and `intents.rs` carries it out: only
    /// the entities the operator named are switched, a name that fits
    /// several gets a question back. Text the model's answer does not make
    /// sense of gets "I didn't understand that"; a Home Assistant failure
    /// is said, not raised.
    pub async fn query(&self, client: &str, text: &str) -> Result<QueryAnswer, AskError> {
        let lights = self.tools.allowed_lights().to_vec();
        if lights.is_empty() {
            let answer = self.ask(client, text, &[]).await?;
            return Ok(QueryAnswer::from(answer));
        }
        if let Some(refusal) = self.refusal(text) {
            let answer = self.ask(client, text, &[]).await?;
            debug_assert_eq!(answer.intent, "refused", "{}", refusal.action);
            return Ok(QueryAnswer::from(answer));
        }
        let prompt = self.prompts.intent(&lights);
        let body = json!({"model": self.router.model, "temperature": 0, "messages": [
            {"role": "system", "content": prompt},
            {"role": "user", "content": text},
        ]});
        let deadline = Instant::now() + self.agent.budget;
        let message = match self
            .complete(&body, deadline, self.agent.budget)
            .instrument(tracing::debug_span!("classify"))
            .await
        {
            Ok(message) => message,
            Err(reason) => {
                self.record(Entry {
                    client: client.into(),
                    request: text.into(),
                    intent: Some("query".into()),
                    result: Some(reason.clone()),
                    outcome: "model_unavailable".into(),
                    ..Entry::default()
                })?;
                return Err(AskError::ModelUnavailable(reason));
            }
        };
        let content = message["content"].as_str().unwrap_or_default();
        let intent = intents::Intent::parse(first_json_object(content).as_ref());
        tracing::debug!(intent = ?intent, "intent parsed");
        match intent {
            intents::Intent::Question => {
                let answer = self.ask(client, text, &[]).await?;
                Ok(QueryAnswer::from(answer))
            }
            intents::Intent::Unknown => {
                self.record(Entry {
                    client: client.into(),
                    request: text.into(),
                    intent: Some("unknown".into()),
                    result: Some(format!("model said: {content}")),
                    outcome: "not_understood".into(),
                    ..Entry::default()
                })?;
                Ok(QueryAnswer {
                    reply: "I didn't understand that.".into(),
                    intent: "unknown".into(),
                    action_taken: false,
                })
            }
            intent => intents::carry_out(self, client, text, intent).await,
        }
    }

    fn default_agent(&self) -> AgentRun<'_> {
        AgentRun {
            model: &self.router.model,
            system: &self.prompts.system,
            tools: None,
            budget: self.agent.budget,
        }
    }

    /// A workflow's agent run: `text` to `run.model` with `run.system`,
    /// offering only `run.tools`; the tool calls are audited as the
    /// assistant's are. `used` collects the tools called.
    pub async fn run_agent(
        &self,
        client: &str,
        text: &str,
        run: &AgentRun<'_>,
        used: &mut Vec<String>,
    ) -> Result<String, String> {
        self.agent_loop(client, text, &[], used, run).await
    }

    /// The model and the tools, round by round. `Err` says why the model
    /// could not give an answer.
    async fn agent_loop(
        &self,
        client: &str,
        text: &str,
        history: &[Turn],
        used: &mut Vec<String>,
        run: &AgentRun<'_>,
    ) -> Result<String, String> {
        let deadline = Instant::now() + run.budget;
        let mut messages = vec![json!({"role": "system", "content": run.system})];
        messages.extend(
            history
                .iter()
                .map(|t| json!({"role": t.role, "content": t.content})),
        );
        messages.push(json!({"role": "user", "content": text}));
        let mut definitions = self.tools.definitions();
        if let Some(allowed) = run.tools {
            definitions.retain(|d| {
                ToolName::parse(d["function"]["name"].as_str().unwrap_or_default())
                    .is_some_and(|t| allowed.contains(&t))
            });
        }
        for round in 0..=self.agent.max_rounds {
            let last = round == self.agent.max_rounds;
            let mut body = json!({"model": run.model, "messages": messages, "temperature": 0});
            if !last && !definitions.is_empty() {
                body["tools"] = json!(definitions);
                body["tool_choice"] = json!("auto");
            }
            let message = self
                .complete(&body, deadline, run.budget)
                .instrument(tracing::debug_span!("model", round))
                .await?;
            let calls = message["tool_calls"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if calls.is_empty() || last {
                let content = message["content"]
                    .as_str()
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                if content.is_empty() {
                    return Err("the model answered with nothing".into());
                }
                return Ok(content);
            }
            messages.push(
                json!({"role": "assistant", "content": message["content"], "tool_calls": calls}),
            );
            let runs = calls.iter().map(|call| async move {
                let id = call["id"].as_str().unwrap_or_default().to_owned();
                let name = call["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let raw = call["function"]["arguments"].as_str().unwrap_or("{}");
                let arguments: Result<Value, String> = if raw.trim().is_empty() {
                    Ok(json!({}))
                } else {
                    serde_json::from_str(raw)
                        .map_err(|e| format!("invalid arguments: not JSON ({e})"))
                };
                let allowed = run.tools.is_none_or(|allowed| {
                    ToolName::parse(&name).is_some_and(|t| allowed.contains(&t))
                });
                let result = match &arguments {
                    Ok(_) if !allowed => Err(format!("the tool `{name}` is not offered here")),
                    Ok(args) => self
                        .tools
                        .call(&name, args)
                        .instrument(tracing::debug_span!("tool", name = %name))
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.clone()),
                };
                (id, name, arguments.unwrap_or(Value::Null), result)
            });
            let results = futures_util::future::join_all(runs).await;
            for (id, name, arguments, result) in results {
                let tool = ToolName::parse(&name);
                match tool {
                    Some(tool) => self.record_tool(client, text, tool, &arguments, &result),
                    None => self.record(Entry {
                        client: client.into(),
                        request: text.into(),
                        intent: Some("tool_call".into()),
                        tool: Some(name.clone()),
                        arguments: Some(arguments.to_string()),
                        result: result.as_ref().err().cloned(),
                        outcome: "error".into(),
                        refusal: None,
                    }),
                }
                .map_err(|e| e.to_string())?;
                used.push(name);
                let content = match result {
                    Ok(value) => value.to_string(),
                    Err(error) => json!({"error": error}).to_string(),
                };
                messages.push(json!({"role": "tool", "tool_call_id": id, "content": content}));
            }
        }
        Err("no answer within the rounds allowed".into())
    }

    /// One chat completion through the router; the answer's message.
    async fn complete(
        &self,
        body: &Value,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Value, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(100) {
            return Err(format!(
                "the {} budget ran out",
                humantime::format_duration(budget)
            ));
        }
        let url = format!(
            "{}/v1/chat/completions",
            self.router.url.trim_end_matches('/')
        );
        let mut request = self.http.post(url).json(body).timeout(left);
        if let Some(key) = &self.router_key {
            request = request.bearer_auth(key.expose());
        }
        // The trace goes on through the router (with traces on).
        if let Some(traceparent) = crate::otel::traceparent() {
            request = request.header("traceparent", traceparent);
        }
        if let Some(id) = crate::query::current_request_id() {
            request = request.header("x-request-id", id);
        }
        let started = Instant::now();
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                "the model did not answer in time".to_owned()
            } else {
                format!("cannot reach the router: {}", e.without_url())
            }
        })?;
        let status = response.status();
        let doc: Value = response
            .json()
            .await
            .map_err(|e| format!("the router's answer: {}", e.without_url()))?;
        tracing::debug!(model = %body["model"].as_str().unwrap_or_default(), status = status.as_u16(),
            duration_ms = started.elapsed().as_millis() as u64, "model answered");
        if !status.is_success() {
            let message = doc["error"]["message"].as_str().unwrap_or("no message");
            return Err(format!("the router answered {status}: {message}"));
        }
        let message = doc["choices"][0]["message"].clone();
        if message.is_null() {
            return Err("the router's answer has no message".into());
        }
        Ok(message)
    }

    /// Audits a tool called directly (the OpenAPI tool server).
    pub fn record_tool_call(
        &self,
        client: &str,
        tool: ToolName,
        arguments: &Value,
        result: &Result<Value, String>,
    ) -> Result<(), AskError> {
        self.record_tool(
            client,
            &format!("(tool server) {}", tool.as_str()),
            tool,
            arguments,
            result,
        )
    }

    pub(crate) fn record_tool(
        &self,
        client: &str,
        text: &str,
        tool: ToolName,
        arguments: &Value,
        result: &Result<Value, String>,
    ) -> Result<(), AskError> {
        let (summary, outcome) = match result {
            Ok(value) => (summary(value), "ok"),
            Err(error) => (error.clone(), "error"),
        };
        self.metrics.tool_call(tool.as_str(), result.is_ok());
        self.record(Entry {
            client: client.into(),
            request: text.into(),
            intent: Some("tool_call".into()),
            tool: Some(tool.as_str().into()),
            arguments: Some(arguments.to_string()),
            result: Some(summary),
            outcome: outcome.into(),
            refusal: None,
        })
    }

    /// The router this engine asks, its key, and the HTTP client (for
    /// the workflows' `/execute` calls).
    pub fn router(
        &self,
    ) -> (
        &RouterConfig,
        Option<&hwc_ai_runtime::Secret>,
        &reqwest::Client,
    ) {
        (&self.router, self.router_key.as_ref(), &self.http)
    }

    /// The default budget of one request.
    pub fn budget(&self) -> Duration {
        self.agent.budget
    }

    /// Appends `entry` to the audit log (nothing is answered unaudited).
    pub fn record(&self, entry: Entry) -> Result<(), AskError> {
        let result = self.audit.append(entry);
        match result {
            Ok(_) => {
                self.metrics.audited();
                Ok(())
            }
            Err(e) => {
                self.metrics.request("audit_error");
                Err(AskError::Audit(e.to_string()))
            }
        }
    }
}

/// A tool result's first 500 characters, for the audit log.
fn summary(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 500 {
        text.chars().take(500).collect::<String>() + "…"
    } else {
        text
    }
}
