//! `hwc-ai-mcp [--config PATH]`: the gateway.
//! `hwc-ai-mcp wrap --config PATH`: one stdio server on a unix socket.

use std::process::ExitCode;

use hwc_ai_mcp::gateway::Gateway;
use hwc_ai_mcp::wrap::Wrap;
use hwc_ai_runtime::daemon;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("wrap") {
        args.remove(1);
        daemon::main_with::<Wrap>("mcp wrap", args)
    } else {
        daemon::main_with::<Gateway>("mcp", args)
    }
}
