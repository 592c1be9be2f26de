//! `containers`: Docker's or Podman's containers through the engine's API
//! on its unix socket (Podman serves the same API), read with GET.

use std::path::Path;

use serde_json::{json, Value};

use super::{get, ToolError};

/// Every container (or only running ones): name, image, state, status.
pub async fn containers(socket: Option<&Path>, all: bool) -> Result<Value, ToolError> {
    let socket = socket.ok_or_else(|| {
        ToolError::Unavailable(
            "no container engine socket is configured (containers.socket)".into(),
        )
    })?;
    let path = format!("/containers/json?all={all}");
    let list = get::unix_json(socket, &path).await?;
    let list = list
        .as_array()
        .ok_or_else(|| ToolError::Failed("the engine's container list is not a list".into()))?;
    let containers: Vec<Value> = list
        .iter()
        .map(|c| {
            let name = c["Names"][0]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/');
            json!({
                "name": name,
                "image": c["Image"],
                "state": c["State"],
                "status": c["Status"],
                "created": c["Created"],
            })
        })
        .collect();
    let running = containers
        .iter()
        .filter(|c| c["state"] == "running")
        .count();
    Ok(json!({"containers": containers, "running": running, "total": containers.len()}))
}
