//! Requests to change the system are recognised here, before any model is
//! asked, and refused whole: a request that asks for a check and then a
//! restart gets neither. The assistant has no code that changes anything;
//! this is what makes it say so clearly instead of pretending.
//!
//! A request is taken clause by clause (split at sentence ends, `;`,
//! `and`, `then`, ...). A clause is a request to act when, after polite
//! openers ("please", "can you", "I want you to", ...), it starts with an
//! action verb ("restart nginx", "could you open port 22"), or when it
//! holds a shell command that changes state (`systemctl stop`, `rm -rf`,
//! `sudo ...`) anywhere. Questions about actions ("why did nginx stop?",
//! "how do I restart it?", "when was it restarted?") are not requests to
//! act and are answered.

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The action asked for, e.g. `restart`.
    pub action: String,
    /// The reply to send.
    pub message: String,
}

/// Verbs that change state, as a request's first word. Multi-word ones
/// (`shut down`, `turn off`) are matched as phrases.
const ACTIONS: &[&str] = &[
    "restart",
    "reboot",
    "reload",
    "stop",
    "start",
    "kill",
    "terminate",
    "delete",
    "remove",
    "rm",
    "erase",
    "wipe",
    "purge",
    "prune",
    "clean up",
    "cleanup",
    "uninstall",
    "install",
    "upgrade",
    "downgrade",
    "update",
    "disable",
    "enable",
    "mask",
    "unmask",
    "shut down",
    "shutdown",
    "power off",
    "poweroff",
    "power on",
    "halt",
    "open",
    "close",
    "expose",
    "unexpose",
    "block",
    "unblock",
    "allow",
    "deny",
    "run",
    "execute",
    "exec",
    "launch",
    "deploy",
    "redeploy",
    "apply",
    "roll back",
    "rollback",
    "revert",
    "change",
    "modify",
    "set",
    "edit",
    "write",
    "create",
    "add",
    "rename",
    "move",
    "copy",
    "chmod",
    "chown",
    "mount",
    "unmount",
    "umount",
    "format",
    "scale",
    "pull",
    "push",
    "flush",
    "reset",
    "clear",
    "truncate",
    "turn off",
    "turn on",
    "switch off",
    "switch on",
    "free up",
    "make",
    "fix",
    "repair",
    "patch",
    "configure",
    "reconfigure",
    "rotate",
    "renew",
    "revoke",
    "grant",
    "drop",
    "migrate",
    "restore",
    "stop and",
];

/// Verbs that change state only when they name something of the system
/// ("write the config" but not "write me a summary").
const AMBIGUOUS: &[&str] = &[
    "write", "create", "add", "make", "set", "change", "copy", "clear", "apply", "edit", "move",
    "open", "close", "reset", "rename",
];

/// What an ambiguous verb must name to be a request to change state.
const OBJECTS: &[&str] = &[
    "file",
    "dir",
    "folder",
    "user",
    "group",
    "service",
    "unit",
    "container",
    "image",
    "port",
    "firewall",
    "rule",
    "config",
    "setting",
    "limit",
    "cron",
    "job",
    "timer",
    "volume",
    "disk",
    "partition",
    "model",
    "package",
    "key",
    "password",
    "permission",
    "swap",
    "dns",
    "route",
    "cache",
    "log",
    "journal",
    "queue",
    "backup",
    "snapshot",
    "database",
    "table",
    "share",
    "mount",
    "network",
    "interface",
    "certificate",
    "token",
    "secret",
    "env",
    "variable",
    "/",
    "light",
    "switch",
    "socket",
    "process",
    "memory",
    "cpu",
    "quota",
];

/// Openers before the verb in a request: "please", "can you", ...
const OPENERS: &[&str] = &[
    "please",
    "pls",
    "kindly",
    "hey",
    "hi",
    "ok",
    "okay",
    "now",
    "then",
    "also",
    "and",
    "so",
    "just",
    "quickly",
    "immediately",
    "go ahead and",
    "can you",
    "could you",
    "would you",
    "will you",
    "can u",
    "could u",
    "would you please",
    "i want you to",
    "i need you to",
    "i'd like you to",
    "i would like you to",
    "i want to",
    "i need to",
    "i'd like to",
    "i would like to",
    "let's",
    "lets",
    "let us",
    "try to",
    "you should",
    "you must",
    "help me",
    "assistant",
    "hwc-ai",
    "for me",
];

/// Shell commands that change state, anywhere in the text.
const COMMANDS: &[&str] = &[
    "sudo ",
    "systemctl restart",
    "systemctl stop",
    "systemctl start",
    "systemctl enable",
    "systemctl disable",
    "systemctl kill",
    "systemctl mask",
    "rm -",
    "rm /",
    "rmdir ",
    "docker rm",
    "docker stop",
    "docker kill",
    "docker run",
    "docker restart",
    "docker exec",
    "docker system prune",
    "podman rm",
    "podman stop",
    "podman kill",
    "podman run",
    "kill -9",
    "killall ",
    "pkill ",
    "reboot now",
    "shutdown -",
    "mkfs",
    "dd if=",
    "iptables ",
    "nft add",
    "nft delete",
    "ufw allow",
    "ufw deny",
    "ufw disable",
    "firewall-cmd",
    "nixos-rebuild",
    "ollama rm",
    "ollama pull",
    "chmod ",
    "chown ",
    "curl -x post",
    "curl -x delete",
    "| sh",
    "| bash",
];

/// Recognises a request to change state; `None` for everything else.
pub fn check(text: &str) -> Option<Refusal> {
    let lower = text.to_lowercase().replace(['’', '`'], "'");
    // The command that starts first names the action (`docker rm -f`
    // is docker's, not rm's).
    if let Some((_, command)) = COMMANDS
        .iter()
        .filter_map(|c| lower.find(c).map(|at| (at, c)))
        .min_by_key(|(at, c)| (*at, usize::MAX - c.len()))
    {
        return Some(refuse(command.trim().split(' ').next().unwrap_or("run")));
    }
    for clause in clauses(&lower) {
        if let Some(action) = leading_action(&clause) {
            return Some(refuse(action));
        }
    }
    None
}

fn clauses(text: &str) -> Vec<String> {
    let mut parts = vec![text.to_owned()];
    for sep in [
        ". ",
        "! ",
        "? ",
        ";",
        ",",
        "\n",
        " and then ",
        " and ",
        " then ",
        " after that ",
        " also ",
    ] {
        parts = parts
            .iter()
            .flat_map(|p| p.split(sep).map(str::to_owned).collect::<Vec<_>>())
            .collect();
    }
    parts
        .into_iter()
        .map(|p| {
            p.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-')
                .to_owned()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// The action a clause opens with, after its openers.
fn leading_action(clause: &str) -> Option<&'static str> {
    let mut rest = clause.trim();
    loop {
        let before = rest;
        for opener in OPENERS {
            if let Some(after) = strip_word(rest, opener) {
                rest = after.trim_start_matches([',', ' ', ':']);
            }
        }
        if rest == before {
            break;
        }
    }
    let action = ACTIONS
        .iter()
        .find(|action| strip_word(rest, action).is_some())
        .copied()?;
    if AMBIGUOUS.contains(&action) && !OBJECTS.iter().any(|o| rest.contains(o)) {
        return None;
    }
    Some(action)
}

/// `text` without the leading `word` when it is there as a whole word.
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let after = text.strip_prefix(word)?;
    match after.chars().next() {
        None => Some(after),
        Some(c) if !c.is_alphanumeric() && c != '-' && c != '_' => Some(after),
        _ => None,
    }
}

fn refuse(action: &str) -> Refusal {
    let action = action.to_owned();
    Refusal {
        message: format!(
            "I can't do that: I am a read-only assistant and cannot {action} anything. \
             I can read the system's state (services, recent failures, disks, CPU and memory, \
             containers, alerts, the AI stack, the runbooks) but I have no way to change it, \
             so nothing was done. Ask me what is wrong instead (for example \"why did it \
             fail?\"), and make the change yourself."
        ),
        action,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_to_change_state_are_refused_in_their_many_phrasings() {
        let requests = [
            ("restart nginx", "restart"),
            ("Please restart the nginx service.", "restart"),
            ("Can you reboot the server?", "reboot"),
            ("could you stop docker for me", "stop"),
            ("Kill process 1234", "kill"),
            ("delete the old logs", "delete"),
            ("rm -rf /var/log/journal", "rm"),
            ("sudo systemctl restart ollama", "sudo"),
            ("systemctl stop open-webui please", "systemctl"),
            ("Open port 8080 on the firewall", "open"),
            ("expose ollama to the internet", "expose"),
            ("change the firewall to allow ssh", "change"),
            ("run `df -h` and tell me the result", "run"),
            ("execute ls /root", "execute"),
            ("uninstall open-webui", "uninstall"),
            ("Shut down the machine", "shut down"),
            ("power off the host now", "power off"),
            ("disable the prober", "disable"),
            ("I want you to remove the stopped containers", "remove"),
            ("go ahead and prune the docker images", "prune"),
            ("check the disk and then delete old snapshots", "delete"),
            ("How much disk is left? Free up some space.", "free up"),
            ("turn off the ollama service", "turn off"),
            ("scale the web container to 3", "scale"),
            ("hey assistant, pull llama3.2 for me", "pull"),
            ("Let's update the system", "update"),
            ("docker rm -f webui", "docker"),
            ("i need you to set the memory limit to 2G", "set"),
            ("write a new nginx config file", "write"),
            ("create a user called backup", "create"),
            ("add a cron job that cleans /tmp", "add"),
            ("clear the journal", "clear"),
        ];
        for (text, action) in requests {
            let refusal = check(text).unwrap_or_else(|| panic!("not refused: {text}"));
            assert_eq!(refusal.action, action, "{text}");
            assert!(refusal.message.contains("read-only"), "{text}");
            assert!(refusal.message.contains("nothing was done"), "{text}");
        }
    }

    #[test]
    fn questions_are_answered_even_when_they_name_an_action() {
        let questions = [
            "Is everything running correctly?",
            "What containers are running?",
            "Is any service unhealthy?",
            "How much disk space is left?",
            "What is the CPU and memory usage?",
            "Did any service crash recently?",
            "Why did nginx stop?",
            "When was ollama last restarted?",
            "How do I restart nginx?",
            "Is port 8080 open?",
            "show me the failed units",
            "Which services were restarted today, and why?",
            "what would happen if I delete the model cache?",
            "list the containers that are stopped",
            "Are there any alerts firing?",
            "search the runbooks for disk full",
            "what does the runbook say about a full disk?",
            "tell me about the AI stack",
            "has the router's circuit opened?",
            "write me a short summary of the system's health",
            "make it brief",
            "add the numbers up for me",
        ];
        for text in questions {
            assert_eq!(check(text), None, "refused: {text}");
        }
    }
}
