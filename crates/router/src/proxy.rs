//! Forwarding one request: pick the route, try its targets in order, and
//! pass the first good answer through.
//!
//! Answers are forwarded as the upstream's bytes, never re-serialised, so
//! every field survives (tool-call `index`, `system_fingerprint`, fields
//! this router has never heard of). A target may be passed over only before
//! anything has been sent to the client: once the first byte of a stream
//! is out, a failure ends the stream with an error event.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use tracing::Instrument;

use crate::admission::{admit, debug_on};
use crate::attempt::{estimate_prompt_tokens, Attempt};
use crate::backend::Endpoint;
use crate::error::ApiError;
use crate::record::{printable, Record};
use crate::relay::finish;
use crate::table::Table;

/// Handles one request to an OpenAI-compatible endpoint, inside its span.
pub async fn handle(
    table: Arc<Table>,
    peer: SocketAddr,
    request: Request,
    endpoint: Endpoint,
) -> Response {
    let record = Record::start(table.clone(), request.headers());
    let span = record.span.clone();
    forward(table, peer, request, endpoint, record)
        .instrument(span)
        .await
}

async fn forward(
    table: Arc<Table>,
    peer: SocketAddr,
    request: Request,
    endpoint: Endpoint,
    mut record: Record,
) -> Response {
    let (headers, bytes) = match admit(&table, peer, request, &mut record).await {
        Ok(admitted) => admitted,
        Err(error) => return record.refuse(error),
    };
    // The router's own time starts once the body is in: reading it is the
    // client's upload, not the router's work.
    let begun = Instant::now();
    let mut body: Value = match serde_json::from_slice(&bytes) {
        Ok(body) => body,
        Err(err) => {
            return record.refuse(ApiError::bad_request(format!(
                "request body is not valid JSON: {err}"
            )))
        }
    };
    let Some(fields) = body.as_object() else {
        return record.refuse(ApiError::bad_request("request body must be a JSON object"));
    };
    let Some(model) = fields.get("model").and_then(Value::as_str) else {
        return record.refuse(ApiError::bad_request(
            "`model` is required and must be a string",
        ));
    };
    let model = model.to_owned();
    let stream = endpoint == Endpoint::ChatCompletions
        && fields.get("stream").and_then(Value::as_bool) == Some(true);
    record.model = printable(&model);
    let Some(route) = table.resolve(&model) else {
        return record.refuse(ApiError::unknown_model(&model));
    };
    record.route.clone_from(&route.model);
    if let (Some(profile), Some(fields)) = (&route.profile, body.as_object_mut()) {
        if endpoint == Endpoint::ChatCompletions {
            crate::profile::apply(profile, fields);
        }
    }
    let deadline = tokio::time::Instant::from_std(begun) + route.budget;
    let debug = debug_on(&table, &headers);
    if endpoint == Endpoint::ChatCompletions && crate::execute::wants_strict(route, &headers, &body)
    {
        if stream {
            return record.refuse(ApiError::bad_request(
                "checking the answer against its schema needs the whole answer: \
                 send `stream: false`, or leave out x-hwc-ai-strict-schema",
            ));
        }
        return crate::execute::chat_strict(&table, route, body, record, begun, deadline, debug)
            .await;
    }

    let prompt_tokens = estimate_prompt_tokens(&body);
    let mut waited = Duration::ZERO;
    let mut last: Option<ApiError> = None;
    let conversation = (route.balanced && endpoint == Endpoint::ChatCompletions)
        .then(|| crate::sticky::conversation(&body))
        .flatten();
    let plan = crate::balance::plan(&table, route, &model, conversation);
    for (i, &(index, reason)) in plan.iter().enumerate() {
        let target = &route.targets[index];
        let attempt = Attempt {
            table: &table,
            route,
            target,
            endpoint,
            stream,
            requested: &model,
            prompt_tokens,
            deadline,
            debug: debug.then_some(record.id.as_str()),
            traceparent: headers.get("traceparent"),
        };
        // One span per try: the target, and what came of it.
        let span = tracing::debug_span!(
            "attempt",
            target.id = %target.id,
            attempt = i + 1,
            outcome = tracing::field::Empty
        );
        let outcome = attempt
            .run(&mut body, &mut waited)
            .instrument(span.clone())
            .await;
        span.record(
            "outcome",
            match &outcome {
                Ok(_) => "answered",
                Err((_, reason)) => reason,
            },
        );
        match outcome {
            Ok(answer) => {
                record.target.clone_from(&target.id);
                crate::balance::answered(&table, route, target, &model, reason, conversation);
                if i > 0 {
                    tracing::debug!(id = %record.id, "answered by fallback target {}", target.id);
                }
                return answer.respond(record, begun, waited);
            }
            Err((error, reason)) => {
                tracing::debug!(id = %record.id, target = %target.id, reason, "{}", error.message);
                if i + 1 < plan.len() {
                    table
                        .metrics
                        .fallbacks
                        .get_or_create(&vec![
                            ("route", route.model.clone()),
                            ("target", target.id.clone()),
                            ("reason", reason.to_owned()),
                        ])
                        .inc();
                }
                record.target.clone_from(&target.id);
                last = Some(error);
            }
        }
    }
    let error = last.unwrap_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "no_target",
            "no target is available",
        )
    });
    // One target: its own error. Several: say they were all tried.
    let error = if plan.len() > 1 {
        ApiError {
            message: format!(
                "all {} targets of route `{}` failed; the last: {}",
                plan.len(),
                route.model,
                error.message
            ),
            ..error
        }
    } else {
        error
    };
    let id = record.id.clone();
    let response = record.refuse(error);
    finish(response, &table, begun, waited, &id)
}
