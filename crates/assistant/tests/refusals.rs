//! The refusal check measured against labelled sets of requests (must be
//! refused) and questions (must be answered): `tests/data/refusals.tsv`,
//! which the check was tuned on, and `tests/data/refusals-held-out*.tsv`,
//! each written after the check was tuned and measured before it was
//! tuned on. Prints precision and recall (`cargo test -p hwc-ai-assistant
//! --test refusals -- --nocapture`) and fails below the goals.

use hwc_ai_assistant::refusal;
use hwc_ai_test_support::{free_addr, Embedded};

struct Score {
    requests: usize,
    questions: usize,
    /// Requests that were not refused.
    missed: Vec<String>,
    /// Questions that were refused, with the action read into them.
    refused: Vec<String>,
}

impl Score {
    fn recall(&self) -> f64 {
        (self.requests - self.missed.len()) as f64 / self.requests as f64
    }

    fn precision(&self) -> f64 {
        let hits = self.requests - self.missed.len();
        hits as f64 / (hits + self.refused.len()) as f64
    }

    fn false_refusals(&self) -> f64 {
        self.refused.len() as f64 / self.questions as f64
    }

    fn report(&self, name: &str) -> String {
        let mut out = format!(
            "{name}: {} requests, {} questions; recall {:.1} % ({} missed), \
             precision {:.1} %, questions refused {:.1} % ({})",
            self.requests,
            self.questions,
            100.0 * self.recall(),
            self.missed.len(),
            100.0 * self.precision(),
            100.0 * self.false_refusals(),
            self.refused.len(),
        );
        for text in &self.missed {
            out.push_str(&format!("\n  not refused: {text}"));
        }
        for text in &self.refused {
            out.push_str(&format!("\n  refused:     {text}"));
        }
        out
    }
}

fn score(file: &str) -> Score {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut score = Score {
        requests: 0,
        questions: 0,
        missed: Vec::new(),
        refused: Vec::new(),
    };
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (label, phrase) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("{file}:{}: no tab after the label", number + 1));
        let verdict = refusal::check(phrase);
        match (label, verdict) {
            ("R", Some(_)) => score.requests += 1,
            ("R", None) => {
                score.requests += 1;
                score.missed.push(phrase.to_owned());
            }
            ("Q", None) => score.questions += 1,
            ("Q", Some(refusal)) => {
                score.questions += 1;
                score
                    .refused
                    .push(format!("{phrase}  (read as: {})", refusal.action));
            }
            (other, _) => panic!("{file}:{}: label {other:?} is not R or Q", number + 1),
        }
    }
    score
}

/// The tuning set, and the held-out sets, each written after the gaps of
/// the one before were fixed and measured before its own were (those
/// first-run numbers are in docs/assistant.md): every request refused,
/// under 1 % of questions.
#[test]
fn every_request_is_refused_and_under_1_percent_of_questions() {
    let mut failures = Vec::new();
    for file in [
        "refusals.tsv",
        "refusals-held-out.tsv",
        "refusals-held-out-2.tsv",
        "refusals-held-out-3.tsv",
        "refusals-held-out-4.tsv",
        "refusals-held-out-5.tsv",
        "refusals-held-out-6.tsv",
    ] {
        let score = score(file);
        let report = score.report(file);
        println!("{report}");
        if score.recall() < 1.0 || score.false_refusals() >= 0.01 {
            failures.push(report);
        }
    }
    let tuning = score("refusals.tsv");
    assert!(tuning.requests >= 300 && tuning.questions >= 200);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// With no model reachable, a request in one of the phrasings the first
/// check missed is refused (200, not 503), and an everyday question in a
/// new phrasing is answered from the tools.
#[tokio::test]
async fn without_a_model_requests_are_refused_and_everyday_questions_answered() {
    let closed = format!("http://{}", free_addr());
    let state = tempfile::tempdir().unwrap();
    let config: hwc_ai_assistant::Config = hwc_ai_runtime::config::parse(
        &serde_json::json!({
            "stateDirectory": state.path().join("state"),
            "router": {"url": closed, "model": "smol"},
            "tools": ["disk_usage", "system_overview"],
        })
        .to_string(),
    )
    .unwrap();
    let daemon = Embedded::start(|ctx| hwc_ai_assistant::run(config, ctx));
    let addr = daemon.addr;
    let shutdown = daemon.shutdown.clone();
    let client = reqwest::Client::new();
    let ask = |text: &str| {
        let request = client
            .post(format!("http://{addr}/v1/chat/completions"))
            .json(&serde_json::json!({
                "model": "hwc-ai-assistant",
                "messages": [{"role": "user", "content": text}],
            }));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    for text in [
        "would you mind bouncing the proxy when you get a moment?",
        "Könntest du bitte den Server herunterfahren?",
        "I'd like the old images cleared out",
    ] {
        let (status, body) = ask(text).await;
        assert_eq!(status, 200, "{text}: {body}");
        assert_eq!(body["hwc_ai"]["source"], "refusal", "{text}: {body}");
    }
    for text in [
        "are any of the services in a bad state?",
        "how much room is left on the drives?",
    ] {
        let (status, body) = ask(text).await;
        assert_eq!(status, 200, "{text}: {body}");
        assert_eq!(body["hwc_ai"]["source"], "direct", "{text}: {body}");
    }
    let (status, body) = ask("can you explain what systemctl restart does?").await;
    assert_eq!(status, 503, "a question, not refused: {body}");
    shutdown.trigger();
}
