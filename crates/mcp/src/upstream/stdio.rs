//! A stdio server as a child process: started in its own process group
//! (so `npx`'s or `uvx`'s own children go with it), stderr logged and its
//! last lines kept, stopped with SIGTERM then SIGKILL.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout, Command};

use super::Tail;
use crate::config::StdioConfig;
use hwc_ai_runtime::{ConfigError, Secret};

/// How long a server gets to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(3);

pub struct Child {
    name: String,
    command: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    secret_env: Vec<(String, Secret)>,
    process: Option<tokio::process::Child>,
    tail: Tail,
}

impl Child {
    /// Reads the secrets now, so a missing file is a config error at start.
    pub fn new(name: &str, stdio: StdioConfig, path: &str) -> Result<Self, ConfigError> {
        let mut secret_env = Vec::new();
        for (var, source) in &stdio.secret_env {
            let at = if path.is_empty() {
                format!("secretEnv.{var}")
            } else {
                format!("{path}.secretEnv.{var}")
            };
            secret_env.push((var.clone(), source.read(&at)?));
        }
        Ok(Self {
            name: name.to_owned(),
            command: stdio.command.unwrap_or_default(),
            args: stdio.args,
            env: stdio.env,
            secret_env,
            process: None,
            tail: Tail::default(),
        })
    }

    /// Starts the server; its stdout and stdin are the MCP transport.
    pub fn start(&mut self) -> anyhow::Result<(ChildStdout, ChildStdin)> {
        let mut command = Command::new(&self.command);
        command
            .args(&self.args)
            .envs(&self.env)
            .envs(self.secret_env.iter().map(|(k, v)| (k, v.expose())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut process = command
            .spawn()
            .with_context(|| format!("cannot start `{}`", self.command))?;
        let stdout = process.stdout.take().context("no stdout")?;
        let stdin = process.stdin.take().context("no stdin")?;
        if let Some(stderr) = process.stderr.take() {
            let tail = self.tail.clone();
            let name = self.name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(server = %name, "stderr: {line}");
                    tail.push(&line);
                }
            });
        }
        tracing::info!(server = %self.name, pid = process.id(), "started `{}`", self.command);
        self.process = Some(process);
        Ok((stdout, stdin))
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(|p| p.id())
    }

    /// Resolves when the server exits: "exited with status 1".
    pub async fn exited(&mut self) -> String {
        let Some(process) = self.process.as_mut() else {
            return std::future::pending().await;
        };
        // Cancel-safe: tokio keeps a reaped child's status, so a call that
        // is dropped (another `select!` branch won) and made again returns
        // the same status. The process is forgotten only once reported.
        let status = process.wait().await;
        // Give the stderr reader a moment to take the last lines.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.process = None;
        match status {
            Ok(status) => format!("the server {}", describe(status)),
            Err(err) => format!("cannot wait for the server: {err}"),
        }
    }

    /// Stops the server's process group: SIGTERM, then SIGKILL after the
    /// grace period. Returns the last stderr lines.
    pub async fn stop(&mut self) -> String {
        if let Some(mut process) = self.process.take() {
            if let Some(pid) = process.id() {
                let group = Pid::from_raw(pid as i32);
                let _ = killpg(group, Signal::SIGTERM);
                if tokio::time::timeout(STOP_GRACE, process.wait())
                    .await
                    .is_err()
                {
                    let _ = killpg(group, Signal::SIGKILL);
                    let _ = process.wait().await;
                } else {
                    // The leader is gone; make sure nothing it started stays.
                    let _ = killpg(group, Signal::SIGKILL);
                }
            }
        }
        self.tail.take()
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => {
            let name =
                Signal::try_from(signal).map_or_else(|_| signal.to_string(), |s| s.to_string());
            format!("was killed by {name}")
        }
        _ => format!("exited ({status})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interleaving behind "the connection closed" in place of the
    /// exit status: `exited()` has reaped the server and is giving stderr
    /// its moment when another `select!` branch (the pipe closing) wins and
    /// drops it; that branch asks `exited()` again and must get the status.
    #[tokio::test]
    async fn exited_keeps_the_status_when_a_call_is_dropped_midway() {
        let mut child = Child::new(
            "killed",
            StdioConfig {
                command: Some("sh".into()),
                args: vec!["-c".into(), "kill -9 $$".into()],
                ..StdioConfig::default()
            },
            "",
        )
        .unwrap();
        let _pipes = child.start().unwrap();
        // Let the child die first, so the call below reaps it at once.
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Long enough to reap the child, shorter than the stderr pause.
        let first = tokio::time::timeout(Duration::from_millis(30), child.exited()).await;
        assert!(first.is_err(), "the first call was to be dropped");
        let again = tokio::time::timeout(Duration::from_secs(2), child.exited())
            .await
            .expect("a second call returns the status");
        assert_eq!(again, "the server was killed by SIGKILL");
    }
}
