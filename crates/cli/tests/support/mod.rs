//! Running the `hwc-ai` binary from the integration tests.

#![allow(dead_code)]

pub const BIN: &str = env!("CARGO_BIN_EXE_hwc-ai");

/// `hwc-ai ARGS...` without colour: exit code, stdout, stderr.
pub async fn hwc_ai(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
