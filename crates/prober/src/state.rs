//! Flap control: a target's state moves only after enough results in a row.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Not enough results yet.
    Unknown,
    Up,
    Down,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Up => "up",
            State::Down => "down",
        }
    }
}

/// Counts consecutive results and decides transitions.
///
/// - DOWN after `failure_threshold` failures in a row, from UP or UNKNOWN
///   (a service that never came up must be reported, not stay unknown).
/// - UP after `success_threshold` successes in a row from DOWN; from
///   UNKNOWN the first success is enough: there is no flapping to damp yet,
///   and a freshly started stack should show green at once.
#[derive(Debug, Clone)]
pub struct Flap {
    state: State,
    failures: u32,
    successes: u32,
    failure_threshold: u32,
    success_threshold: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
}

impl Flap {
    pub fn new(failure_threshold: u32, success_threshold: u32) -> Self {
        Self {
            state: State::Unknown,
            failures: 0,
            successes: 0,
            failure_threshold: failure_threshold.max(1),
            success_threshold: success_threshold.max(1),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    pub fn consecutive_successes(&self) -> u32 {
        self.successes
    }

    /// Records one probe result; returns the transition it caused, if any.
    pub fn record(&mut self, success: bool) -> Option<Transition> {
        let from = self.state;
        if success {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            let needed = if from == State::Unknown {
                1
            } else {
                self.success_threshold
            };
            if from != State::Up && self.successes >= needed {
                self.state = State::Up;
            }
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            if from != State::Down && self.failures >= self.failure_threshold {
                self.state = State::Down;
            }
        }
        (self.state != from).then_some(Transition {
            from,
            to: self.state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(flap: &mut Flap, results: &str) -> Vec<State> {
        results
            .chars()
            .map(|c| {
                flap.record(c == '+');
                flap.state()
            })
            .collect()
    }

    #[test]
    fn down_needs_consecutive_failures() {
        let mut flap = Flap::new(3, 2);
        use State::*;
        assert_eq!(run(&mut flap, "+"), [Up]);
        assert_eq!(run(&mut flap, "--+--"), [Up, Up, Up, Up, Up]);
        assert_eq!(run(&mut flap, "-"), [Down]);
    }

    #[test]
    fn up_again_needs_consecutive_successes() {
        let mut flap = Flap::new(1, 2);
        use State::*;
        assert_eq!(run(&mut flap, "-+-++"), [Down, Down, Down, Down, Up]);
    }

    #[test]
    fn never_up_target_goes_down_from_unknown() {
        let mut flap = Flap::new(3, 2);
        assert_eq!(flap.record(false), None);
        assert_eq!(flap.record(false), None);
        assert_eq!(
            flap.record(false),
            Some(Transition {
                from: State::Unknown,
                to: State::Down
            })
        );
        assert_eq!(flap.consecutive_failures(), 3);
        assert_eq!(
            flap.record(false),
            None,
            "stays down without a new transition"
        );
    }

    #[test]
    fn first_success_from_unknown_is_up() {
        let mut flap = Flap::new(3, 5);
        assert_eq!(
            flap.record(true),
            Some(Transition {
                from: State::Unknown,
                to: State::Up
            })
        );
    }
}
