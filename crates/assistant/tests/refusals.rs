//! The refusal check measured against labelled sets of requests (must be
//! refused) and questions (must be answered): `tests/data/refusals.tsv`,
//! which the check was tuned on, and `tests/data/refusals-held-out.tsv`,
//! written after the tuning and not used for it. Prints precision and
//! recall (`cargo test -p hwc-ai-assistant --test refusals -- --nocapture`)
//! and fails below the goals.

use hwc_ai_assistant::refusal;

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

#[test]
fn every_request_of_the_tuning_set_is_refused_and_under_1_percent_of_questions() {
    let score = score("refusals.tsv");
    let report = score.report("tuning set");
    println!("{report}");
    assert!(score.requests >= 300 && score.questions >= 200, "{report}");
    assert_eq!(score.recall(), 1.0, "{report}");
    assert!(score.false_refusals() < 0.01, "{report}");
}
