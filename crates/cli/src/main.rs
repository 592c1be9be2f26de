//! `hwc-ai`: the command line of the hwc-ai stack.

mod assistant;
mod check_config;
mod daemon;
mod http;
mod mcp;
mod model_chat;
mod models;
mod rt;
mod smoke;
mod status;
mod term;
mod up;
mod workflow;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hwc_ai_runtime::daemons;

#[derive(Debug, Parser)]
#[command(
    name = "hwc-ai",
    version,
    about = "Run, inspect and check the hwc-ai local-AI stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every hwc-ai daemon in this one process, on loopback.
    ///
    /// Without --config, uses the built-in default (print it with
    /// --print-default). Stops on Ctrl-C.
    Up {
        /// A JSON document with one section per daemon (`prober`, ...);
        /// a missing section gets the built-in default.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print the built-in default config and exit.
        #[arg(long)]
        print_default: bool,
    },
    /// Show the stack's health from the prober's /health, and the
    /// router's targets and circuits from its /health.
    ///
    /// Exit status: 0 all known targets up and no router circuit open,
    /// 1 some target down or circuit open, 2 the prober cannot be reached.
    Status {
        /// Where the prober listens.
        #[arg(
            long,
            default_value = daemons::PROBER.url,
            env = "HWC_AI_PROBER_URL"
        )]
        url: String,
        /// Where the router listens; its targets and circuits are shown
        /// when it answers.
        #[arg(
            long,
            default_value = daemons::ROUTER.url,
            env = "HWC_AI_ROUTER_URL"
        )]
        router_url: String,
        /// Print `{"prober": ..., "router": ...}`, the daemons' /health
        /// documents (router null when it does not answer).
        #[arg(long)]
        json: bool,
    },
    /// Declared models vs what Ollama holds, from the puller's /models.
    ///
    /// Exit status: 0 every declared model present and valid, 1 not,
    /// 2 the puller cannot be reached.
    Models {
        /// Where the puller listens.
        #[arg(
            long,
            default_value = daemons::PULLER.url,
            env = "HWC_AI_PULLER_URL",
            global = true
        )]
        url: String,
        /// Print the puller's JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<models::Action>,
    },
    /// Check a running router as a dependent service would: /health, then a
    /// fixture /execute with a JSON schema (a daily triage report), the
    /// answer validated here.
    ///
    /// Exit status: 0 pass, 1 schema failure, 2 transport failure (cannot
    /// reach the router), 3 the router answered with another error
    /// (provider, timeout, profile, configuration).
    Smoke {
        /// Where the router listens.
        #[arg(
            long,
            default_value = daemons::ROUTER.url,
            env = "HWC_AI_ROUTER_URL"
        )]
        url: String,
        /// The profile or model to ask; the first the router lists when
        /// absent.
        #[arg(long)]
        model: Option<String>,
        /// The whole call's budget.
        #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
        budget: std::time::Duration,
        /// A file holding a client key for the router.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
    /// The MCP gateway's servers: state, tool count, restarts, last error.
    ///
    /// Exit status: 0 every server up, 1 some server not up, 2 the gateway
    /// cannot be reached or refused the key.
    Mcp {
        /// Where the gateway listens.
        #[arg(
            long,
            default_value = daemons::MCP.url,
            env = "HWC_AI_MCP_URL",
            global = true
        )]
        url: String,
        /// A file holding a client key for the gateway.
        #[arg(long, value_name = "FILE", global = true)]
        key_file: Option<PathBuf>,
        /// Print the gateway's JSON instead of a table.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: Option<mcp::Action>,
    },
    /// Ask the operations assistant one question; the answer is printed.
    ///
    /// Exit status: 0 answered, 1 refused (it changes nothing), 2 the
    /// assistant could not answer.
    Ask {
        /// The question.
        question: String,
        /// Where the assistant listens.
        #[arg(
            long,
            default_value = daemons::ASSISTANT.url,
            env = "HWC_AI_ASSISTANT_URL"
        )]
        url: String,
        /// A file holding a client key for the assistant.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
    /// A conversation with the operations assistant (one session; /quit
    /// or end of input leaves). With --model: with that model or router
    /// profile itself, through the router; a MESSAGE is one question and
    /// its answer.
    Chat {
        /// Where the assistant listens.
        #[arg(
            long,
            default_value = daemons::ASSISTANT.url,
            env = "HWC_AI_ASSISTANT_URL"
        )]
        url: String,
        /// A file holding a client key for the assistant (for the router
        /// with --model).
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// Chat with this model or router profile instead of the assistant.
        #[arg(long)]
        model: Option<String>,
        /// Where the router listens (with --model).
        #[arg(
            long,
            default_value = daemons::ROUTER.url,
            env = "HWC_AI_ROUTER_URL"
        )]
        router_url: String,
        /// With --model: one message; its answer is printed.
        #[arg(requires = "model")]
        message: Option<String>,
    },
    /// The assistant's audit log: verify its hash chain, or show its
    /// newest rows. Reads the file (root, or the unit's user).
    Audit {
        /// The audit log [default: the unit's,
        /// /var/lib/hwc-ai-assistant/audit.db, or when there is none,
        /// `hwc-ai up`'s in ~/.local/state/hwc-ai/assistant]
        #[arg(long, global = true)]
        db: Option<PathBuf>,
        #[command(subcommand)]
        action: assistant::AuditAction,
    },
    /// The assistant's workflows: list, show, run, runs (docs/workflows.md).
    Workflow {
        /// Where the assistant listens.
        #[arg(
            long,
            default_value = daemons::ASSISTANT.url,
            env = "HWC_AI_ASSISTANT_URL",
            global = true
        )]
        url: String,
        /// A file holding a client key for the assistant.
        #[arg(long, value_name = "FILE", global = true)]
        key_file: Option<PathBuf>,
        /// Print the assistant's JSON.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: Option<workflow::Action>,
    },
    /// Validate a daemon's config file: exit 0 when valid, 1 with the field
    /// named when not.
    CheckConfig {
        /// The daemon: prober, puller, router, mcp, assistant, or up (the
        /// `hwc-ai up` document).
        daemon: String,
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Up {
            config,
            print_default,
        } => up::main(config.as_deref(), print_default),
        Command::Status {
            url,
            router_url,
            json,
        } => status::main(&url, &router_url, json),
        Command::Models { url, json, action } => models::main(&url, json, action),
        Command::Smoke {
            url,
            model,
            budget,
            key_file,
        } => smoke::main(smoke::Args {
            url,
            model,
            budget,
            key_file,
        }),
        Command::Mcp {
            url,
            key_file,
            json,
            action,
        } => mcp::main(mcp::Args {
            url,
            key_file,
            json,
            action,
        }),
        Command::Ask {
            question,
            url,
            key_file,
        } => assistant::ask(assistant::Target { url, key_file }, &question),
        Command::Chat {
            key_file,
            model: Some(model),
            router_url,
            message,
            ..
        } => model_chat::main(model_chat::Args {
            router_url,
            key_file,
            model,
            message,
        }),
        Command::Chat { url, key_file, .. } => assistant::chat(assistant::Target { url, key_file }),
        Command::Audit { db, action } => {
            assistant::audit(&db.unwrap_or_else(assistant::default_db), action)
        }
        Command::Workflow {
            url,
            key_file,
            json,
            action,
        } => workflow::main(workflow::Args {
            url,
            key_file,
            json,
            action,
        }),
        Command::CheckConfig { daemon, file } => check_config::main(&daemon, &file),
    }
}
