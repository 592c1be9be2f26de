//! `hwc-ai chat --model NAME [MESSAGE]`: a chat with a model or a router
//! profile through hwc-ai-router's `/v1/chat/completions` (so local
//! first and fallback apply): one message and its answer, or, without
//! MESSAGE, a conversation kept in memory until `/quit` or end of input.
//! Unlike `hwc-ai chat` without `--model`, no tools, no assistant, no
//! audit: this is the model itself.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};

pub struct Args {
    pub router_url: String,
    pub key_file: Option<PathBuf>,
    pub model: String,
    pub message: Option<String>,
}

async fn complete(args: &Args, messages: &[Value]) -> Result<String, String> {
    let client = crate::http::client(Some(Duration::from_secs(600)));
    let mut request = client
        .post(format!(
            "{}/v1/chat/completions",
            args.router_url.trim_end_matches('/')
        ))
        .json(&json!({"model": args.model, "messages": messages}));
    if let Some(file) = &args.key_file {
        let key = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        request = request.bearer_auth(key.trim());
    }
    let response = request.send().await.map_err(|e| {
        format!(
            "cannot reach the router at {}: {}",
            args.router_url,
            crate::http::reason(e)
        )
    })?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(body["error"]["message"]
            .as_str()
            .map_or_else(|| format!("the router answered {status}"), str::to_owned));
    }
    body["choices"][0]["message"]["content"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the router's answer has no message".into())
}

/// Exit status: 0 answered, 2 no answer (the router or the model).
pub fn main(args: Args) -> ExitCode {
    let rt = match crate::rt::current_thread("chat") {
        Ok(rt) => rt,
        Err(status) => return status,
    };
    if let Some(message) = &args.message {
        let messages = [json!({"role": "user", "content": message})];
        return match rt.block_on(complete(&args, &messages)) {
            Ok(reply) => {
                println!("{reply}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("hwc-ai chat: {message}");
                ExitCode::from(2)
            }
        };
    }
    println!("{} through hwc-ai-router; /quit to leave.", args.model);
    let mut messages: Vec<Value> = Vec::new();
    let stdin = std::io::stdin();
    loop {
        print!("> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            println!();
            break;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" || line == "/exit" {
            break;
        }
        messages.push(json!({"role": "user", "content": line}));
        match rt.block_on(complete(&args, &messages)) {
            Ok(reply) => {
                println!("{reply}\n");
                messages.push(json!({"role": "assistant", "content": reply}));
            }
            Err(message) => {
                // The turn is dropped, so the next one can be asked again.
                messages.pop();
                eprintln!("({message})\n");
            }
        }
    }
    ExitCode::SUCCESS
}
