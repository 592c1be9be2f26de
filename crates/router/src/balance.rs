//! The order in which a route's targets are tried.
//!
//! A route's targets form tiers: a target naming one `backend` is a tier
//! of its own, one naming several `backends` is one tier of equally
//! preferred backends. Tiers are tried in config order (local before
//! cloud, as before). Within a tier the choice is [`order`], a pure
//! function of each candidate's state: a backend known to lack the model
//! is left out (it is not a failure, and not tried); then the backend this
//! conversation went to, while it is healthy and has room; then one that
//! has the model loaded, while it has room; then the fewest outstanding
//! requests; then config order.

use crate::discovery::Has;
use crate::table::{Route, Table, Target};

/// What the choice knows about one backend of a tier, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub has: crate::discovery::Has,
    /// Requests it is answering now (through this router).
    pub in_flight: usize,
    /// Its `maxConcurrent`.
    pub capacity: usize,
    /// Its circuit is open: tried last, where it fails fast.
    pub open: bool,
    /// This conversation's earlier requests went here.
    pub sticky: bool,
}

/// Why a target was the first one tried, the `reason` label of
/// `hwc_ai_router_routed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The only candidate of its tier: config order decided.
    Order,
    /// The conversation's backend.
    Sticky,
    /// The backend with the model loaded (another had it cold).
    Loaded,
    /// The fewest outstanding requests among equals.
    LeastOutstanding,
    /// Tried after an earlier target failed.
    Fallback,
}

impl Reason {
    pub const ALL: [Reason; 5] = [
        Reason::Order,
        Reason::Sticky,
        Reason::Loaded,
        Reason::LeastOutstanding,
        Reason::Fallback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Order => "order",
            Reason::Sticky => "sticky",
            Reason::Loaded => "loaded",
            Reason::LeastOutstanding => "least_outstanding",
            Reason::Fallback => "fallback",
        }
    }
}

/// The candidates of one tier in the order to try them (indices into
/// `candidates`), without those known to lack the model; with the reason
/// the first was chosen.
pub fn order(candidates: &[Candidate]) -> (Vec<usize>, Reason) {
    let mut picked: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].has != Has::No)
        .collect();
    if picked.len() <= 1 {
        return (picked, Reason::Order);
    }
    let full = |c: &Candidate| c.in_flight >= c.capacity;
    let key = |&i: &usize| {
        let c = &candidates[i];
        (
            c.open,
            !c.sticky || full(c),
            full(c),
            c.has != Has::Loaded,
            c.in_flight,
            i,
        )
    };
    picked.sort_by_key(key);
    let first = &candidates[picked[0]];
    let reason = if first.sticky && !first.open && !full(first) {
        Reason::Sticky
    } else if first.has == Has::Loaded
        && picked[1..]
            .iter()
            .any(|&i| candidates[i].has != Has::Loaded && !candidates[i].open)
    {
        Reason::Loaded
    } else {
        Reason::LeastOutstanding
    };
    (picked, reason)
}

/// The targets of `route` to try for `model`, in order, each with the
/// reason it is where it is. When no backend lists the model, every
/// target in config order (a list may be older than a pull). A route that
/// is not balanced keeps its config order.
pub(crate) fn plan(
    table: &Table,
    route: &Route,
    model: &str,
    conversation: Option<u64>,
) -> Vec<(usize, Reason)> {
    let n = route.targets.len();
    if !route.balanced {
        return (0..n)
            .map(|i| {
                (
                    i,
                    if i == 0 {
                        Reason::Order
                    } else {
                        Reason::Fallback
                    },
                )
            })
            .collect();
    }
    let stuck = conversation.and_then(|key| table.sticky.get(key));
    let mut out = Vec::with_capacity(n);
    let mut skipped = Vec::new();
    let mut start = 0;
    while start < n {
        let tier = route.targets[start].tier;
        let end = start
            + route.targets[start..]
                .iter()
                .take_while(|t| t.tier == tier)
                .count();
        let members = &route.targets[start..end];
        let candidates: Vec<Candidate> = members
            .iter()
            .map(|t| {
                let backend = &table.backends[t.backend];
                Candidate {
                    has: backend
                        .discovery
                        .as_ref()
                        .map_or(Has::Unknown, |d| d.has(t.upstream_model(model))),
                    in_flight: backend.in_flight(),
                    capacity: backend.capacity,
                    open: t.breaker.state() == crate::breaker::State::Open,
                    sticky: members.len() > 1 && stuck == Some(t.backend),
                }
            })
            .collect();
        let (order, reason) = order(&candidates);
        skipped.extend((start..end).filter(|&i| candidates[i - start].has == Has::No));
        for (k, j) in order.into_iter().enumerate() {
            let reason = if out.is_empty() && k == 0 {
                reason
            } else {
                Reason::Fallback
            };
            out.push((start + j, reason));
        }
        start = end;
    }
    if out.is_empty() {
        // No backend lists the model: a list may be older than a pull,
        // so each is asked in config order (one that lacks it answers 404
        // at once and is passed over) and listed again.
        for t in &route.targets {
            if let Some(d) = &table.backends[t.backend].discovery {
                d.stale();
            }
        }
        out.extend((0..n).map(|i| {
            (
                i,
                if i == 0 {
                    Reason::Order
                } else {
                    Reason::Fallback
                },
            )
        }));
        return out;
    }
    for i in skipped {
        table
            .metrics
            .skipped
            .get_or_create(&vec![
                ("route", route.model.clone()),
                ("target", route.targets[i].id.clone()),
                ("reason", "model_missing".to_owned()),
            ])
            .inc();
    }
    out
}

/// After a target answered: count why it was chosen, remember that its
/// backend has the model loaded now, and where the conversation went.
pub(crate) fn answered(
    table: &Table,
    route: &Route,
    target: &Target,
    model: &str,
    reason: Reason,
    conversation: Option<u64>,
) {
    let backend = &table.backends[target.backend];
    // A counter made at start: one atomic add, no lookup.
    backend.routed[reason as usize].inc();
    if !route.balanced {
        return;
    }
    if let Some(d) = &backend.discovery {
        d.answered(target.upstream_model(model));
    }
    if let Some(key) = conversation {
        table.sticky.put(key, target.backend);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(has: Has, in_flight: usize) -> Candidate {
        Candidate {
            has,
            in_flight,
            capacity: 4,
            open: false,
            sticky: false,
        }
    }

    #[test]
    fn a_backend_without_the_model_is_not_a_candidate() {
        let (order, reason) = order(&[c(Has::No, 0), c(Has::Installed, 3)]);
        assert_eq!((order, reason), (vec![1], Reason::Order));
        // Nobody has it: nothing to try (the route answers 404).
        assert_eq!(
            order_of(&[c(Has::No, 0), c(Has::No, 0)]),
            Vec::<usize>::new()
        );
        // Not listed yet: tried.
        assert_eq!(order_of(&[c(Has::No, 0), c(Has::Unknown, 0)]), vec![1]);
    }

    fn order_of(c: &[Candidate]) -> Vec<usize> {
        order(c).0
    }

    #[test]
    fn fewest_outstanding_first_then_config_order() {
        let (o, reason) = order(&[
            c(Has::Installed, 2),
            c(Has::Installed, 1),
            c(Has::Installed, 1),
        ]);
        assert_eq!(o, vec![1, 2, 0]);
        assert_eq!(reason, Reason::LeastOutstanding);
        assert_eq!(
            order_of(&[c(Has::Unknown, 0), c(Has::Unknown, 0)]),
            vec![0, 1]
        );
    }

    #[test]
    fn loaded_beats_idle_cold_until_it_is_full() {
        let (o, reason) = order(&[c(Has::Installed, 0), c(Has::Loaded, 3)]);
        assert_eq!((o, reason), (vec![1, 0], Reason::Loaded));
        // At its capacity, the warm one waits its turn.
        assert_eq!(
            order_of(&[c(Has::Installed, 0), c(Has::Loaded, 4)]),
            vec![0, 1]
        );
        // Both warm: the less busy.
        let (o, reason) = order(&[c(Has::Loaded, 2), c(Has::Loaded, 1)]);
        assert_eq!((o, reason), (vec![1, 0], Reason::LeastOutstanding));
    }

    #[test]
    fn the_conversation_stays_while_its_backend_is_healthy() {
        let mut sticky = c(Has::Installed, 3);
        sticky.sticky = true;
        let (o, reason) = order(&[c(Has::Loaded, 0), sticky]);
        assert_eq!((o, reason), (vec![1, 0], Reason::Sticky));
        let mut open = sticky;
        open.open = true;
        assert_eq!(
            order(&[c(Has::Installed, 0), open]),
            (vec![0, 1], Reason::LeastOutstanding)
        );
        let mut full = sticky;
        full.in_flight = 4;
        assert_eq!(order_of(&[c(Has::Installed, 1), full]), vec![0, 1]);
    }

    #[test]
    fn reasons_index_their_counters() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn open_circuits_go_last() {
        let mut open = c(Has::Loaded, 0);
        open.open = true;
        assert_eq!(order_of(&[open, c(Has::Installed, 3)]), vec![1, 0]);
    }
}
