//! Requests to change the system are recognised here, before any model is
//! asked, and refused whole: a request that asks for a check and then a
//! restart gets neither. The assistant has no code that changes anything;
//! this is what makes it say so clearly instead of pretending.
//!
//! How a text is read:
//!
//! 1. Normalised: lower case, no diacritics ("löschen" is `loschen`),
//!    contractions expanded ("I'd" is `i would`, "don't" `do not`), chat
//!    spellings and French clitics split ("pls", "u", "peux-tu").
//! 2. Cut into sentences at punctuation, then into parts at conditions
//!    ("is it up? *if not* restart it", "*otherwise*"), then into
//!    segments at conjunctions ("check the disk *and then* delete ...").
//! 3. Each segment, after its openers ("please", "could you", "would you
//!    mind", "it would be great if you could", "kannst du", "peux-tu",
//!    "por favor", ...), is a request to act when it starts with an action
//!    verb or noun ("bounce nginx", "a restart of nginx", "reinicia
//!    nginx", "starte nginx neu"), wishes for a state ("I'd like the logs
//!    cleared", "make sure nginx is stopped", "get it going again"), says
//!    something needs one ("nginx needs a restart"), ends with a German or
//!    Dutch infinitive ("den Dienst neu starten"), or holds a shell command
//!    that changes state (`systemctl stop`, `rm -rf`, `sudo ...`).
//! 4. A segment that opens as a question or a reading ("what does `kill
//!    -9` do?", "can you explain what systemctl restart does?", "why did
//!    postgres stop?", "when was it restarted?", "how do I restart
//!    nginx?") is not a request. A question about how to act governs what
//!    follows its "and" ("how do I stop nginx and delete its logs?"); any
//!    other question does not ("is nginx up and restart it if not").
//!
//! "How do I restart nginx?" is answered: the user asks to be told, and
//! the model's answer changes nothing. The lexicon is in `lexicon.rs`;
//! the labelled set it is measured against is in
//! `tests/data/refusals.tsv`.

mod lexicon;

use lexicon::*;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The action asked for, e.g. `restart`.
    pub action: String,
    /// The reply to send.
    pub message: String,
}

/// Shell commands that change state, anywhere in a segment that is not a
/// question about them.
const COMMANDS: &[&str] = &[
    "sudo ",
    "systemctl restart",
    "systemctl stop",
    "systemctl start",
    "systemctl enable",
    "systemctl disable",
    "systemctl kill",
    "systemctl mask",
    "systemctl reboot",
    "systemctl poweroff",
    "systemctl daemon-reload",
    "systemctl reload",
    "systemctl isolate",
    "service nginx",
    "rm -",
    "rm /",
    "rm ~",
    "rm *",
    "rmdir ",
    "docker rm",
    "docker stop",
    "docker kill",
    "docker run",
    "docker restart",
    "docker exec",
    "docker system prune",
    "docker image prune",
    "docker volume rm",
    "docker compose down",
    "docker compose up",
    "docker-compose down",
    "docker-compose up",
    "podman rm",
    "podman stop",
    "podman kill",
    "podman run",
    "kill -",
    "killall ",
    "pkill ",
    "reboot now",
    "shutdown -",
    "shutdown now",
    "mkfs",
    "dd if=",
    "iptables ",
    "nft add",
    "nft delete",
    "ufw allow",
    "ufw deny",
    "ufw disable",
    "ufw enable",
    "firewall-cmd",
    "nixos-rebuild",
    "ollama rm",
    "ollama pull",
    "ollama run",
    "apt install",
    "apt remove",
    "apt purge",
    "apt upgrade",
    "apt-get ",
    "dnf install",
    "pip install",
    "npm install",
    "journalctl --vacuum",
    "journalctl --rotate",
    "chmod ",
    "chown ",
    "truncate -",
    "curl -x post",
    "curl -x delete",
    "curl -x put",
    "| sh",
    "| bash",
    "> /dev/",
];

/// Recognises a request to change state; `None` for everything else.
pub fn check(text: &str) -> Option<Refusal> {
    let normal = normalise(text);
    let mut after_question = false;
    let mut before: Vec<Vec<String>> = Vec::new();
    for sentence in sentences(&normal) {
        let words = tokens(&sentence).words;
        // "... restart nginx? Go ahead and do it."
        let (start, _) = strip_openers(&words);
        let rest = &words[start..];
        let content = rest
            .iter()
            .filter(|w| !POLITE.contains(&w.as_str()) && !FILLERS.contains(&w.as_str()))
            .count();
        if longest(rest, DO_IT).is_some_and(|n| n + 2 >= content)
            || (rest.is_empty() && longest(&words, DO_IT).is_some())
        {
            let named = before.iter().find_map(|earlier| {
                (0..earlier.len()).find_map(|i| verb_at(&earlier[i..], true).map(|(a, _)| a))
            });
            if let Some(action) = named {
                return Some(refuse(action));
            }
        }
        // "What do you recommend, restart or reload?": a choice offered
        // to a question is part of it.
        if after_question && is_choice(&words) {
            continue;
        }
        if let Some(action) = sentence_action(&sentence) {
            return Some(refuse(action));
        }
        after_question = !rest.is_empty() && is_question(rest);
        before.push(words);
    }
    None
}

/// "restart or reload", "stop or kill it": alternatives, not an order.
fn is_choice(words: &[String]) -> bool {
    words.len() <= 5
        && words.iter().skip(1).any(|w| {
            matches!(
                w.as_str(),
                "or" | "oder" | "ou" | "o" | "of" | "lub" | "eller" | "versus" | "vs"
            )
        })
}

/// Lower case, no diacritics, contractions expanded, chat spellings
/// replaced, French clitics split off. Shared with the direct path.
pub fn normalise(text: &str) -> String {
    let mut folded = String::with_capacity(text.len() + 8);
    for c in text.chars().flat_map(char::to_lowercase) {
        match fold(c) {
            Some(s) => folded.push_str(s),
            None => folded.push(c),
        }
    }
    let mut s = format!(" {folded} ");
    for (from, to) in [
        ("can't", "can not"),
        ("cannot", "can not"),
        ("won't", "will not"),
        ("shan't", "shall not"),
        ("ain't", "is not"),
        ("n't", " not"),
        ("let's", "let us"),
        ("'d ", " would "),
        ("'ll ", " will "),
        ("'re ", " are "),
        ("'ve ", " have "),
        ("'m ", " am "),
    ] {
        s = s.replace(from, to);
    }
    // "it's" is "it is"; "nginx's" is "nginx".
    let mut out = String::with_capacity(s.len());
    for token in s.split(' ') {
        let (word, tail) = split_trailing_punct(token);
        let word = match word.strip_suffix("'s") {
            Some(stem) if IS_CONTRACTED.contains(&stem) => format!("{stem} is"),
            Some(stem) => stem.to_owned(),
            None => word.to_owned(),
        };
        let word = word.replace('\'', " ");
        let word = split_clitics(&word);
        let word = join_hyphenated(&word);
        // Intensifiers change nothing: "I would *really* appreciate".
        if matches!(
            word.as_str(),
            "really"
                | "actually"
                | "truly"
                | "kindly"
                | "possibly"
                | "probably"
                | "definitely"
                | "certainly"
                | "seriously"
                | "urgently"
                | "perhaps"
        ) {
            out.push_str(tail);
            out.push(' ');
            continue;
        }
        let word = match CHAT.iter().find(|(from, _)| *from == word) {
            Some((_, to)) => (*to).to_owned(),
            None => word,
        };
        out.push_str(&word);
        out.push_str(tail);
        out.push(' ');
    }
    out.trim().to_owned()
}

const IS_CONTRACTED: &[&str] = &[
    "it",
    "that",
    "what",
    "there",
    "here",
    "who",
    "how",
    "where",
    "when",
    "why",
    "he",
    "she",
    "everything",
    "something",
    "nothing",
    "anything",
    "this",
];

/// Chat spellings and contractions written without an apostrophe.
const CHAT: &[(&str, &str)] = &[
    ("u", "you"),
    ("ya", "you"),
    ("ur", "your"),
    ("r", "are"),
    ("pls", "please"),
    ("plz", "please"),
    ("plse", "please"),
    ("pleas", "please"),
    ("pleae", "please"),
    ("plox", "please"),
    ("cud", "could"),
    ("cld", "could"),
    ("wud", "would"),
    ("wld", "would"),
    ("cn", "can"),
    ("gonna", "going to"),
    ("wanna", "want to"),
    ("gotta", "have to"),
    ("lemme", "let me"),
    ("gimme", "give me"),
    ("dont", "do not"),
    ("cant", "can not"),
    ("wont", "will not"),
    ("didnt", "did not"),
    ("doesnt", "does not"),
    ("isnt", "is not"),
    ("arent", "are not"),
    ("wasnt", "was not"),
    ("havent", "have not"),
    ("hasnt", "has not"),
    ("im", "i am"),
    ("ive", "i have"),
    ("whats", "what is"),
    ("hows", "how is"),
    ("thats", "that is"),
    ("theres", "there is"),
    ("whys", "why is"),
    ("wheres", "where is"),
    ("lets", "let us"),
    ("id like", "i would like"),
    ("thx", "thanks"),
    ("kannste", "kannst du"),
];

fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ł' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ő' => "o",
        'œ' => "oe",
        'ś' | 'š' => "s",
        'ß' => "ss",
        'ù' | 'ú' | 'û' | 'ü' | 'ű' | 'ů' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'ř' => "r",
        'ť' => "t",
        'ď' => "d",
        '’' | '‘' | '´' | 'ʼ' => "'",
        '`' | '"' | '“' | '”' | '„' | '«' | '»' | '*' | '_' => " ",
        '¿' | '¡' => " ",
        _ => return None,
    })
}

fn split_trailing_punct(token: &str) -> (&str, &str) {
    let end = token
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_alphanumeric() || *c == '\'')
        .map_or(0, |(i, c)| i + c.len_utf8());
    token.split_at(end)
}

/// "peux-tu" is `peux tu`, "redémarre-le" `redemarre le`; "open-webui"
/// stays one word.
fn split_clitics(word: &str) -> String {
    const CLITICS: &[&str] = &[
        "tu", "vous", "le", "la", "les", "moi", "toi", "ce", "t", "il", "elle", "ils", "elles",
        "y", "en", "nous", "je", "on", "lui", "leur",
    ];
    let mut parts = word.split('-');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    if !first.is_empty() && !rest.is_empty() && rest.iter().all(|p| CLITICS.contains(p)) {
        std::iter::once(first)
            .chain(rest)
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        word.to_owned()
    }
}

/// "re-start" is `restart`, "auto-restart" `auto restart`, "shut-down"
/// `shut down`; "open-webui" stays.
fn join_hyphenated(word: &str) -> String {
    if !word.contains('-') || word.starts_with('-') {
        return word.to_owned();
    }
    let joined = word.replace('-', "");
    let spaced = word.replace('-', " ");
    let is_verb = |w: &str| VERBS.iter().any(|(_, forms)| forms.contains(&w));
    if is_verb(&joined) {
        joined
    } else if is_verb(&spaced) {
        spaced
    } else if let Some((prefix, verb)) = word.split_once('-') {
        if matches!(prefix, "auto" | "force" | "hard" | "soft" | "self") && is_verb(verb) {
            format!("{prefix} {verb}")
        } else {
            word.to_owned()
        }
    } else {
        word.to_owned()
    }
}

/// Sentences and clauses: cut at `?`, `!`, `;`, `,`, new lines, brackets,
/// and at `.`/`:`/dashes between words (not in `nginx.service` or
/// `http://`).
fn sentences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        let prev = if i == 0 { ' ' } else { chars[i - 1] };
        let cut = match c {
            '?' | '!' | ';' | ',' | '\n' | '\r' | '(' | ')' | '[' | ']' | '{' | '}' | '…' => true,
            '.' | ':' => next.is_whitespace(),
            '-' | '–' | '—' => prev.is_whitespace() && next.is_whitespace(),
            _ => false,
        };
        if cut {
            out.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .collect()
}

/// A stretch of words, and the text they came from (for commands).
#[derive(Debug, Clone, Default)]
struct Segment {
    words: Vec<String>,
    text: String,
}

fn tokens(sentence: &str) -> Segment {
    let mut segment = Segment::default();
    for raw in sentence.split_whitespace() {
        let word: String = raw.trim_matches(|c: char| !c.is_alphanumeric()).to_owned();
        if !word.is_empty() {
            segment.words.push(word);
        }
    }
    segment.text = sentence.to_owned();
    segment
}

/// Splits `segment` at the `separators` found between words. Where
/// `needs_verb` holds for a separator, it splits only when an action verb
/// follows (Polish "i", Italian "e": also words of other languages).
fn split_at(segment: &Segment, separators: &[&str], weak: bool) -> Vec<Segment> {
    let words = &segment.words;
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < words.len() {
        match longest(&words[i..], separators) {
            Some(n)
                if !weak
                    || !NEEDS_VERB.contains(&words[i].as_str())
                    || verb_at(&words[i + n..], false).is_some() =>
            {
                parts.push(&words[start..i]);
                start = i + n;
                i = start.max(i + 1);
            }
            _ => i += 1,
        }
    }
    parts.push(&words[start.min(words.len())..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| Segment {
            words: p.to_vec(),
            text: p.join(" "),
        })
        .collect()
}

/// Separators that are also ordinary words elsewhere.
const NEEDS_VERB: &[&str] = &["e", "y", "en", "et", "och", "so", "but", "plus"];

fn sentence_action(sentence: &str) -> Option<&'static str> {
    let whole = tokens(sentence);
    // A shell command in the sentence names the action, before the words
    // around it (`docker rm -f` is docker's, not rm's)...
    let command = command(&whole.text);
    for part in split_at(&whole, CONDITIONAL_SEPARATORS, false) {
        let segments = split_at(&part, WEAK_SEPARATORS, true);
        let Some((head, tail)) = segments.split_first() else {
            continue;
        };
        let first = analyse(head);
        if let Kind::Request(action) = first.kind {
            return Some(command.unwrap_or(action));
        }
        for segment in tail {
            let next = analyse(segment);
            let Kind::Request(action) = next.kind else {
                continue;
            };
            match first.kind {
                Kind::Governed => {}
                Kind::Interrogative if !next.marked && next.bare => {}
                _ => return Some(command.unwrap_or(action)),
            }
        }
    }
    // ... unless the sentence only asks about it ("what does `kill -9`
    // do?").
    let mut head = tokens(sentence);
    let (start, _) = strip_openers(&head.words);
    head.words.drain(..start);
    match command {
        Some(c) if !is_question(&head.words) && !statement_about_command(&whole) => Some(c),
        _ => None,
    }
}

fn command(text: &str) -> Option<&'static str> {
    let text = format!(" {text} ");
    let fixed = COMMANDS
        .iter()
        .filter_map(|c| {
            text.find(c)
                .filter(|&at| {
                    // A whole word: "perform" is not `rm -`.
                    let before = text[..at].chars().next_back().unwrap_or(' ');
                    !before.is_alphanumeric()
                })
                .map(|at| (at, c))
        })
        .min_by_key(|(at, c)| (*at, usize::MAX - c.len()))
        .map(|(at, c)| {
            let first = c.trim().split(' ').next().unwrap_or("run");
            let name = match first {
                "rmdir" => "rm",
                other => COMMANDS
                    .iter()
                    .map(|c| c.trim().split(' ').next().unwrap_or("run"))
                    .find(|c| *c == other)
                    .unwrap_or("run"),
            };
            (at, name)
        });
    [fixed, tool_command(&text)]
        .into_iter()
        .flatten()
        .min_by_key(|(at, _)| *at)
        .map(|(_, name)| name)
}

/// Tools and their subcommands that change state, with any options
/// between them: `systemctl --user restart x`, `docker compose -f y down`.
const TOOLS: &[(&str, &[&str])] = &[
    (
        "systemctl",
        &[
            "restart",
            "stop",
            "start",
            "enable",
            "disable",
            "kill",
            "mask",
            "unmask",
            "reboot",
            "poweroff",
            "halt",
            "reload",
            "daemon-reload",
            "isolate",
            "try-restart",
            "reload-or-restart",
            "set-property",
            "edit",
            "link",
            "preset",
            "revert",
            "suspend",
            "hibernate",
            "reset-failed",
            "set-default",
            "soft-reboot",
            "kexec",
        ],
    ),
    (
        "docker",
        &[
            "rm", "rmi", "stop", "kill", "run", "restart", "exec", "start", "pause", "unpause",
            "prune", "down", "up", "pull", "push", "update", "rename", "create", "build", "cp",
            "commit", "load", "import", "tag", "untag", "scale", "deploy",
        ],
    ),
    (
        "podman",
        &[
            "rm", "rmi", "stop", "kill", "run", "restart", "exec", "start", "pause", "unpause",
            "prune", "down", "up", "pull", "push", "update", "rename", "create", "build",
        ],
    ),
    (
        "docker-compose",
        &[
            "down", "up", "restart", "stop", "rm", "pull", "kill", "start",
        ],
    ),
    (
        "service",
        &["restart", "stop", "start", "reload", "force-reload"],
    ),
    (
        "ollama",
        &["rm", "pull", "run", "stop", "cp", "create", "push", "serve"],
    ),
    (
        "apt",
        &[
            "install",
            "remove",
            "purge",
            "upgrade",
            "full-upgrade",
            "dist-upgrade",
            "autoremove",
            "update",
            "reinstall",
        ],
    ),
    (
        "apt-get",
        &[
            "install",
            "remove",
            "purge",
            "upgrade",
            "dist-upgrade",
            "autoremove",
            "update",
            "clean",
        ],
    ),
    (
        "dnf",
        &[
            "install",
            "remove",
            "erase",
            "upgrade",
            "update",
            "autoremove",
        ],
    ),
    ("yum", &["install", "remove", "erase", "upgrade", "update"]),
    ("pacman", &["-s", "-r", "-syu", "-rns", "-sy", "-u"]),
    (
        "zfs",
        &[
            "destroy", "create", "rollback", "set", "snapshot", "rename", "mount", "unmount",
        ],
    ),
    (
        "zpool",
        &[
            "destroy", "create", "add", "remove", "scrub", "export", "import", "clear",
        ],
    ),
    (
        "kubectl",
        &[
            "delete", "apply", "scale", "rollout", "drain", "cordon", "edit", "patch", "create",
        ],
    ),
    (
        "journalctl",
        &[
            "--vacuum-size",
            "--vacuum-time",
            "--vacuum-files",
            "--rotate",
            "--flush",
        ],
    ),
    ("nix-collect-garbage", &[]),
    (
        "nix-env",
        &[
            "-i",
            "-e",
            "--install",
            "--uninstall",
            "--delete-generations",
        ],
    ),
    ("reboot", &[]),
    ("poweroff", &[]),
    ("halt", &[]),
];

/// The first tool in `text` followed (options skipped) by a subcommand
/// that changes state, and where it starts.
fn tool_command(text: &str) -> Option<(usize, &'static str)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let Some((tool, subcommands)) = TOOLS.iter().find(|(tool, _)| tool == word) else {
            continue;
        };
        // A bare `reboot` is a verb like any other; only a command line
        // (`reboot now`, `sudo reboot`) is matched here, by COMMANDS.
        if subcommands.is_empty() {
            if *tool == "nix-collect-garbage" {
                return text.find(tool).map(|at| (at, *tool));
            }
            continue;
        }
        let found = words[i + 1..].iter().take(6).any(|w| {
            let w = w.split('=').next().unwrap_or(w);
            subcommands.contains(&w)
        });
        if found {
            return text.find(&format!(" {tool} ")).map(|at| (at + 1, *tool));
        }
    }
    None
}

/// "`systemctl restart nginx` hangs": the sentence talks about the
/// command.
fn statement_about_command(segment: &Segment) -> bool {
    segment.words.iter().any(|w| FINITE.contains(&w.as_str()))
        && !segment.words.iter().any(|w| POLITE.contains(&w.as_str()))
        && !segment
            .words
            .first()
            .is_some_and(|w| matches!(w.as_str(), "run" | "execute" | "exec" | "type" | "enter"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request(&'static str),
    /// A question about how to act, or one with an auxiliary: governs its
    /// "and"s.
    Governed,
    /// Another question ("is nginx up").
    Interrogative,
    Statement,
}

#[derive(Debug, Clone, Copy)]
struct Analysis {
    kind: Kind,
    /// An opener or a polite word asked for it.
    marked: bool,
    /// The verb has no object ("restart", "start again").
    bare: bool,
}

impl Analysis {
    fn of(kind: Kind) -> Self {
        Self {
            kind,
            marked: false,
            bare: false,
        }
    }
}

fn analyse(segment: &Segment) -> Analysis {
    let words = &segment.words;
    let (start, marked) = strip_openers(words);
    let rest = &words[start..];
    let polite = marked || words.iter().any(|w| POLITE.contains(&w.as_str()));
    let request = |action: &'static str, bare: bool| Analysis {
        kind: Kind::Request(action),
        marked: polite,
        bare,
    };
    if rest.is_empty() {
        return Analysis::of(Kind::Statement);
    }
    // "do not restart it", "nicht löschen".
    if NEGATIONS.contains(&rest[0].as_str())
        || rest.starts_with(&["do".to_owned(), "not".to_owned()])
    {
        return Analysis::of(Kind::Statement);
    }
    // Multi-word verbs first ("get rid of", "ta bort"), then questions.
    if let Some((action, n)) = longest_table(rest, VERBS).filter(|(_, n)| *n > 1) {
        return request(action, is_bare(&rest[n..]));
    }
    if let Some(action) = causative(rest).or_else(|| performed(rest)) {
        return request(action, false);
    }
    if is_question(rest) {
        let governed = longest(rest, GOVERNING).is_some()
            || rest
                .iter()
                .take(2)
                .any(|w| BARE_INFINITIVE_AUXILIARIES.contains(&w.as_str()));
        return Analysis::of(if governed {
            Kind::Governed
        } else {
            Kind::Interrogative
        });
    }
    if let Some((action, n)) = verb_at(rest, polite) {
        // "can you restart things?", "are you able to delete files?": a
        // question about what the assistant can do.
        let capability = start >= 2
            && matches!(
                words[..start].join(" ").as_str(),
                "can you" | "could you" | "are you able to" | "are you allowed to" | "can you even"
            )
            && rest[n..].len() == 1
            && GENERIC_OBJECTS.contains(&rest[n].as_str());
        if capability {
            return Analysis::of(Kind::Interrogative);
        }
        return request(action, is_bare(&rest[n..]));
    }
    if let Some(action) = noun_at(rest) {
        return request(action, false);
    }
    if let Some(action) = welcomed(rest) {
        return request(action, false);
    }
    if let Some(action) = wished(words, start) {
        return request(action, false);
    }
    if let Some(action) = obligation(rest) {
        return request(action, false);
    }
    if let Some(action) = ordered_anywhere(rest, polite) {
        return request(action, false);
    }
    if let Some(action) = conditional(rest) {
        return request(action, false);
    }
    if let Some(action) = telegraphic(rest) {
        return request(action, false);
    }
    Analysis::of(Kind::Statement)
}

/// Auxiliaries followed by a bare infinitive: in "did you restart nginx
/// and clear the cache?" the clearing is asked about too.
const BARE_INFINITIVE_AUXILIARIES: &[&str] = &[
    "do", "does", "did", "can", "could", "will", "would", "should", "shall", "may", "might", "must",
];

/// Where the openers end, and whether one of them asked for an action.
fn strip_openers(words: &[String]) -> (usize, bool) {
    let mut at = 0;
    let mut marked = false;
    loop {
        let rest = &words[at..];
        // A verb is not an opener ("get rid of", "set" ...).
        if longest_table(rest, VERBS).is_some_and(|(_, n)| n > 1) {
            break;
        }
        let request = longest(rest, REQUEST_OPENERS);
        let desire =
            longest(rest, DESIRES).filter(|&n| n > 1 || !CAUSATIVES.contains(&rest[0].as_str()));
        let filler = longest(rest, FILLERS);
        // "je veux *que* ...", "ich möchte, *dass* ...": after a wish.
        let subordinator = (marked
            && rest.first().is_some_and(|w| {
                matches!(
                    w.as_str(),
                    "que" | "che" | "dass" | "dat" | "att" | "zeby" | "that"
                )
            }))
        .then_some(1);
        let best = [request, desire, filler, subordinator]
            .into_iter()
            .flatten()
            .max();
        match best {
            Some(n) => {
                if request == Some(n) || desire == Some(n) {
                    marked = true;
                }
                at += n;
            }
            None => break,
        }
    }
    (at, marked)
}

/// Verbs that are nouns too: "restart count", "update history".
const DOUBLES_AS_NOUN: &[&str] = &[
    "restart", "reboot", "update", "upgrade", "install", "shutdown", "start", "stop", "boot",
    "run", "change", "reset", "cleanup", "kill", "reload", "patch", "rollback", "deploy", "purge",
    "wipe", "halt", "pause", "restore", "backup", "format", "mount", "drop", "scale", "pull",
    "push", "download", "upload", "close", "open", "block", "kick", "bounce",
];

const CAUSATIVES: &[&str] = &["get", "have", "make", "keep", "let"];

fn is_question(rest: &[String]) -> bool {
    let first = rest[0].as_str();
    if longest(rest, QUESTION_HEADS).is_some() {
        // "set"-like verbs are never heads; "tell nginx to stop" is an
        // order to nginx.
        if matches!(first, "tell" | "ask" | "get")
            && !rest.get(1).is_some_and(|w| {
                matches!(
                    w.as_str(),
                    "me" | "us"
                        | "about"
                        | "what"
                        | "why"
                        | "how"
                        | "when"
                        | "if"
                        | "whether"
                        | "which"
                        | "a"
                        | "an"
                        | "the"
                        | "some"
                        | "more"
                )
            })
            && rest
                .windows(2)
                .any(|w| w[0] == "to" && verb_at(&w[1..], false).is_some())
        {
            return false;
        }
        return true;
    }
    rest.iter().any(|w| w == "vs" || w == "versus")
}

/// The action verb at the start of `rest` (with its particle when it is
/// phrasal), and how many words it took. A gerund ("restarting") counts
/// only when `gerund`: after an opener ("would you mind restarting"), not
/// in "running containers?".
fn verb_at(rest: &[String], gerund: bool) -> Option<(&'static str, usize)> {
    let rest = skip_clitics(rest);
    let first = rest.first()?.as_str();
    // Phrasal verbs with the particle later: "shut the server down".
    for (head, particles, action) in PHRASAL {
        if first == *head
            && rest
                .iter()
                .skip(1)
                .take(6)
                .any(|w| particles.contains(&w.as_str()))
        {
            return Some((action, 1));
        }
    }
    let (action, n, verb) = match longest_table(rest, VERBS) {
        Some((action, n)) => (action, n, first),
        None => {
            let base = gerund_base(first)
                .filter(|_| gerund)
                .or_else(|| typo_of(first))?;
            let action = VERBS
                .iter()
                .find(|(key, _)| *key == base)
                .or_else(|| VERBS.iter().find(|(_, forms)| forms.contains(&base)))
                .map(|(action, _)| *action)?;
            (action, 1, base)
        }
    };
    let after = &rest[n..];
    let next = after.first().map(String::as_str);
    if matches!(verb, "add" | "sum" | "count") && next == Some("up") {
        return None;
    }
    // "update me on", "run me through", "restart count", "start with".
    if matches!(next, Some("me" | "us")) && !matches!(verb, "kill") {
        return None;
    }
    if next.is_some_and(|w| INFO_NOUNS.contains(&w)) && DOUBLES_AS_NOUN.contains(&verb) {
        return None;
    }
    if matches!(verb, "start" | "begin") && matches!(next, Some("by" | "with" | "from" | "over")) {
        return None;
    }
    if matches!(verb, "run")
        && matches!(
            next,
            Some("through" | "down" | "over" | "out" | "by" | "into" | "low")
        )
    {
        return None;
    }
    if verb == "open"
        && next.is_some_and(|w| {
            matches!(
                w,
                "ports"
                    | "connections"
                    | "files"
                    | "sockets"
                    | "issues"
                    | "alerts"
                    | "incidents"
                    | "tickets"
            )
        })
    {
        return None;
    }
    if verb == "free" && !matches!(next, Some("up" | "some" | "more" | "the" | "enough" | "a")) {
        return None;
    }
    // "end of the log", "set of units", "copy of the config?".
    if AMBIGUOUS.contains(&verb) && (next == Some("of") || !names_the_system(verb, after)) {
        return None;
    }
    Some((action, n))
}

/// Whether the words after an ambiguous verb name something of the system
/// ("set the hostname to x", "start jellyfin"), not a text ("write me a
/// summary", "make it brief").
fn names_the_system(verb: &str, after: &[String]) -> bool {
    if after.iter().any(|w| {
        OBJECTS.iter().any(|o| w.starts_with(o))
            || w.chars()
                .any(|c| c.is_ascii_digit() || matches!(c, '.' | '/' | '-' | '@' | '='))
    }) && !matches!(after.first().map(String::as_str), Some("it" | "them" | "all") if verb == "make")
    {
        return after
            .iter()
            .any(|w| !matches!(w.as_str(), "it" | "them" | "all"))
            || !matches!(verb, "make" | "write" | "add" | "create" | "put" | "edit");
    }
    // "set X to Y", "change X to Y".
    if matches!(
        verb,
        "set"
            | "point"
            | "change"
            | "modify"
            | "switch"
            | "rename"
            | "move"
            | "increase"
            | "decrease"
            | "raise"
            | "lower"
            | "bump"
            | "limit"
            | "adjust"
            | "alter"
            | "tweak"
    ) && after
        .iter()
        .skip(1)
        .any(|w| w == "to" || w == "from" || w == "at" || w == "into")
    {
        return true;
    }
    // A name after a verb used for services: "start jellyfin".
    const GENERIC: &[&str] = &[
        "a",
        "an",
        "the",
        "some",
        "me",
        "us",
        "with",
        "by",
        "from",
        "over",
        "again",
        "fresh",
        "here",
        "there",
        "now",
        "up",
        "thinking",
        "talking",
        "writing",
        "it",
        "this",
        "that",
        "my",
        "your",
        "our",
        "new",
        "list",
        "summary",
        "poem",
        "story",
        "joke",
        "note",
        "notes",
        "plan",
        "report",
        "table",
        "chart",
        "guess",
        "point",
        "sense",
        "sure",
        "short",
        "brief",
        "simple",
        "simpler",
        "shorter",
        "longer",
        "numbers",
        "conversation",
        "chat",
        "session",
        "explanation",
        "answer",
        "reply",
        "comment",
        "mistake",
        "typo",
        "to",
        "for",
        "of",
        "on",
        "in",
        "at",
        "out",
        "off",
        "and",
        "or",
        "less",
        "more",
    ];
    matches!(
        verb,
        "start"
            | "boot"
            | "launch"
            | "halt"
            | "pause"
            | "resume"
            | "freeze"
            | "suspend"
            | "kick"
            | "cycle"
            | "scale"
            | "mount"
            | "block"
            | "ban"
            | "patch"
            | "restore"
            | "migrate"
            | "rebuild"
            | "recreate"
            | "rotate"
            | "renew"
            | "silence"
            | "mute"
            | "snooze"
            | "download"
            | "upload"
            | "push"
            | "pull"
            | "connect"
            | "drop"
            | "trigger"
            | "schedule"
            | "cancel"
            | "throttle"
            | "clean"
            | "tidy"
            | "allow"
            | "deny"
            | "permit"
            | "grant"
            | "toss"
            | "axe"
            | "zap"
            | "junk"
            | "scrap"
            | "ditch"
            | "trash"
            | "fix"
            | "repair"
            | "heal"
            | "regenerate"
            | "close"
            | "open"
            | "forward"
            | "undo"
    ) && after
        .iter()
        .find(|w| {
            !matches!(
                w.as_str(),
                "a" | "an" | "the" | "this" | "that" | "my" | "our" | "all" | "every" | "another"
            )
        })
        .is_some_and(|w| !GENERIC.contains(&w.as_str()))
}

/// French and Italian clitics before a verb: "peux-tu *le* redémarrer".
fn skip_clitics(rest: &[String]) -> &[String] {
    const CLITICS: &[&str] = &[
        "le", "la", "les", "l", "lo", "gli", "ne", "ci", "lui", "leur", "y",
    ];
    match rest {
        [first, tail @ ..]
            if CLITICS.contains(&first.as_str()) && longest_table(tail, VERBS).is_some() =>
        {
            tail
        }
        _ => rest,
    }
}

/// "restarting" is `restart`, "stopping" `stop`, "deleting" `delete`.
fn gerund_base(word: &str) -> Option<&'static str> {
    let stem = word.strip_suffix("ing")?;
    let candidates = [
        stem.to_owned(),
        format!("{stem}e"),
        stem[..stem.len().saturating_sub(1)].to_owned(),
    ];
    VERBS
        .iter()
        .flat_map(|(_, forms)| forms.iter())
        .find(|form| {
            !form.contains(' ') && !form.ends_with('*') && candidates.iter().any(|c| c == *form)
        })
        .copied()
}

/// A one-letter typo of an English action verb: "restrat", "rstart",
/// "delte", "stpo".
fn typo_of(word: &str) -> Option<&'static str> {
    const REAL_WORDS: &[&str] = &[
        "smart", "remote", "unable", "charge", "count", "formal", "batch", "match", "cause",
        "stale", "state", "start", "stats", "stat", "stark", "restate", "reboots", "catch",
        "watch", "pitch", "hatch", "latch", "clone", "clean", "clear", "close", "store", "dates",
        "later", "alters", "enables", "mounts", "amount", "mound", "patches", "delta", "rename",
        "instance", "resize", "reload", "unload", "upload", "please", "pause", "purse", "prime",
        "cycles", "kicks", "scales", "scalar", "spawn",
    ];
    if word.len() < 4
        || REAL_WORDS.contains(&word)
        || ["s", "ed", "ing", "er", "ion", "ly"]
            .iter()
            .any(|s| word.ends_with(s))
    {
        return None;
    }
    VERBS
        .iter()
        .map(|(key, _)| key)
        .chain(["shutdown", "bounce", "terminate", "erase", "purge"].iter())
        .find(|form| {
            form.len() >= 4 && !form.contains(' ') && one_edit(word, form, form.len() >= 5)
        })
        .copied()
}

/// Whether `a` is one edit from `b`: a swap of neighbours, or (when
/// `more`) one letter changed, missing or added.
fn one_edit(a: &str, b: &str, more: bool) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a == b {
        return false;
    }
    if a.len() == b.len() {
        let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        return match diff.as_slice() {
            [i, j] => *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i],
            [_] => more,
            _ => false,
        };
    }
    if !more || a.len().abs_diff(b.len()) != 1 {
        return false;
    }
    let (short, long) = if a.len() < b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    (0..long.len()).any(|skip| {
        long.iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, c)| c)
            .eq(short.iter())
    })
}

/// "(a) restart of nginx", "reboot please", "ein Neustart", "deletion of
/// old logs": an action noun opens the segment, and nothing says it
/// happened ("the restart took ages").
fn noun_at(rest: &[String]) -> Option<&'static str> {
    const DETERMINERS: &[&str] = &[
        "a",
        "an",
        "the",
        "one",
        "another",
        "some",
        "quick",
        "full",
        "complete",
        "hard",
        "soft",
        "clean",
        "fresh",
        "proper",
        "graceful",
        "immediate",
        "new",
        "ein",
        "einen",
        "eine",
        "un",
        "une",
        "uno",
        "una",
        "een",
        "um",
        "uma",
        "en",
        "ett",
        "kompletten",
        "vollstandigen",
        "more",
    ];
    let at = rest
        .iter()
        .position(|w| !DETERMINERS.contains(&w.as_str()))?;
    let (action, n) = longest_table(&rest[at..], NOUNS)?;
    let after = &rest[at + n..];
    if after
        .first()
        .is_some_and(|w| INFO_NOUNS.contains(&w.as_str()) && w != "of" && w != "on")
        || after.first().is_some_and(|w| w == "on" || w == "about") && action == "update"
        || after.iter().any(|w| FINITE.contains(&w.as_str()))
    {
        return None;
    }
    Some(action)
}

/// "give nginx a kick", "do a quick reboot": a verb that carries an action
/// noun.
fn performed(rest: &[String]) -> Option<&'static str> {
    // "would you mind *giving* the proxy a restart".
    let gerund = rest.first().and_then(|w| {
        let stem = w.strip_suffix("ing")?;
        let candidates = [
            stem.to_owned(),
            format!("{stem}e"),
            stem[..stem.len().saturating_sub(1)].to_owned(),
        ];
        candidates
            .iter()
            .any(|c| PERFORMERS.contains(&c.as_str()))
            .then_some(1)
    });
    let n = longest(rest, PERFORMERS).or(gerund)?;
    if rest.get(n).is_some_and(|w| {
        matches!(
            w.as_str(),
            "i" | "you" | "we" | "they" | "any" | "anything" | "all" | "it" | "not" | "me" | "us"
        ) && !(rest[0] == "give" && w != "you")
    }) {
        return None;
    }
    (n..(n + 4).min(rest.len())).find_map(|i| {
        let to_me = matches!(rest.get(1).map(String::as_str), Some("me" | "us"));
        if rest[0] == "give" && !to_me && GRANTS.contains(&rest[i].as_str()) {
            return Some("allow");
        }
        if !to_me
            && MADE.contains(&rest[i].as_str())
            && rest[0] != "give"
            && matches!(
                rest[i - 1].as_str(),
                "a" | "an" | "new" | "fresh" | "full" | "quick"
            )
        {
            return Some("restore");
        }
        let (action, m) = longest_table(&rest[i..], NOUNS)?;
        let after = rest.get(i + m).map(String::as_str);
        (!after.is_some_and(|w| INFO_NOUNS.contains(&w) && w != "of" && w != "on")
            && !rest[n..].iter().any(|w| FINITE.contains(&w.as_str())))
        .then_some(action)
    })
}

/// "restarting nginx would be great", "a reboot would help": an action
/// named, then welcomed.
fn welcomed(rest: &[String]) -> Option<&'static str> {
    let welcome = (1..rest.len()).any(|i| longest(&rest[i..], WOULD_BE_GOOD).is_some());
    if !welcome {
        return None;
    }
    verb_at(rest, true).map(|(action, _)| action).or_else(|| {
        let at = rest
            .iter()
            .position(|w| !matches!(w.as_str(), "a" | "an" | "the" | "quick"))?;
        longest_table(&rest[at..], NOUNS).map(|(action, _)| action)
    })
}

/// "get nginx going again", "have the logs cleared": a causative verb, an
/// object, and the state wanted.
fn causative(rest: &[String]) -> Option<&'static str> {
    let first = rest.first()?.as_str();
    if !CAUSATIVES.contains(&first)
        || rest.get(1).is_some_and(|w| {
            matches!(
                w.as_str(),
                "you" | "i" | "we" | "they" | "any" | "there" | "me" | "us" | "anything" | "been"
            )
        })
        || rest.iter().any(|w| w == "been")
    {
        return None;
    }
    state_in(&rest[1..])
}

/// The state a wish names, anywhere in `words`.
fn state_in(words: &[String]) -> Option<&'static str> {
    (0..words.len()).find_map(|i| {
        longest_table(&words[i..], PARTICIPLES)
            .map(|(action, _)| action)
            .or_else(|| longest_table(&words[i..], NOUNS).map(|(action, _)| action))
            .or_else(|| {
                (i > 0 && words[i - 1] == "to")
                    .then(|| verb_at(&words[i..], false).map(|(a, _)| a))
                    .flatten()
            })
            .or_else(|| participle_action(&words[i]))
    })
}

/// The action of a regular English participle: "renewed" is `rotate`'s
/// "renew", "stopped" `stop`, "emptied" `clear`.
fn participle_action(word: &str) -> Option<&'static str> {
    let stem = word.strip_suffix("ed")?;
    let mut candidates = vec![stem.to_owned(), format!("{stem}e")];
    if let Some(y) = stem.strip_suffix('i') {
        candidates.push(format!("{y}y"));
    }
    let mut chars = stem.chars().rev();
    if let (Some(a), Some(b)) = (chars.next(), chars.next()) {
        if a == b {
            // "stopped" → "stop"; the doubled letter may be more than a byte.
            candidates.push(stem[..stem.len() - a.len_utf8()].to_owned());
        }
    }
    VERBS
        .iter()
        .find(|(_, forms)| {
            forms
                .iter()
                .any(|f| !f.contains(' ') && !f.ends_with('*') && candidates.iter().any(|c| c == f))
        })
        .map(|(action, _)| *action)
}

/// After a wish ("I'd like", "make sure", "ich möchte"), the state or
/// action it names, unless it wants to know something.
fn wished(words: &[String], start: usize) -> Option<&'static str> {
    let desire_end = (0..start).find_map(|i| {
        longest(&words[i..start], DESIRES)
            .filter(|&n| n > 1 || !CAUSATIVES.contains(&words[i].as_str()))
            .map(|n| i + n)
    })?;
    let after = &words[desire_end..];
    let first_content = after
        .iter()
        .find(|w| !matches!(w.as_str(), "to" | "that" | "que" | "che" | "dass"))?;
    if KNOWING.contains(&first_content.as_str())
        || QUESTION_HEADS.contains(&first_content.as_str()) && first_content != "that"
    {
        return None;
    }
    // "I'd like ollama to use the gpu again": something of the system, to
    // behave otherwise.
    let to = after.iter().skip(1).position(|w| w == "to").map(|k| k + 1);
    if let Some(k) = to {
        let object = &after[..k];
        let verb = after.get(k + 1).map(String::as_str).unwrap_or("");
        if !verb.is_empty()
            && !KNOWING.contains(&verb)
            && object
                .iter()
                .any(|w| OBJECTS.iter().any(|o| w.starts_with(o)) && w != "it" && w != "all")
        {
            return Some("change");
        }
    }
    state_in(after)
}

/// "nginx needs a restart", "the logs should be cleared", "it needs
/// restarting".
fn obligation(rest: &[String]) -> Option<&'static str> {
    (0..rest.len()).find_map(|i| {
        let n = longest(&rest[i..], OBLIGATIONS)?;
        if i > 0 && matches!(rest[i - 1].as_str(), "not" | "i" | "we" | "you") {
            return None;
        }
        let after = &rest[i + n..];
        let after = match after.first().map(String::as_str) {
            Some("to" | "a" | "an" | "some" | "be" | "zu" | "een" | "einen" | "un" | "une") => {
                &after[1..]
            }
            _ => after,
        };
        let after = match after.first().map(String::as_str) {
            Some("be" | "a" | "quick" | "full") => &after[1..],
            _ => after,
        };
        longest_table(after, PARTICIPLES)
            .or_else(|| {
                longest_table(after, NOUNS).filter(|_| {
                    after
                        .get(1)
                        .is_none_or(|w| !INFO_NOUNS.contains(&w.as_str()) || w == "of")
                })
            })
            .or_else(|| verb_at(after, true))
            .or_else(|| {
                // "the logs have to go", "these images need to disappear".
                matches!(
                    after.first().map(String::as_str),
                    Some("go" | "disappear" | "vanish" | "die")
                )
                .then_some(("delete", 1))
            })
            .or_else(|| {
                after
                    .first()
                    .and_then(|w| participle_action(w))
                    .map(|action| (action, 1))
            })
            .or_else(|| {
                // The subject is what the verb acts on: "the logs need
                // clearing".
                let verb = after.first()?;
                let probe: Vec<String> = std::iter::once(verb.clone())
                    .chain(rest[..i].iter().cloned())
                    .collect();
                verb_at(&probe, true)
            })
            .map(|(action, _)| action)
    })
}

/// A polite word anywhere, and an action verb not after a subject, `to`
/// or an auxiliary: "nginx please restart", "Kannst du bitte den
/// nginx-Dienst neu starten".
fn ordered_anywhere(rest: &[String], polite: bool) -> Option<&'static str> {
    // "I'd be thrilled *if you rebooted* the kiosk", "it would make my
    // day if you could restart plex".
    if let Some(at) = rest.windows(2).position(|w| w[0] == "if" && w[1] == "you") {
        let mut after = &rest[at + 2..];
        while after.first().is_some_and(|w| {
            matches!(
                w.as_str(),
                "could" | "would" | "can" | "will" | "please" | "just" | "went" | "ahead" | "and"
            )
        }) {
            after = &after[1..];
        }
        if let Some(action) = after.first().and_then(|w| {
            participle_action(w)
                .or_else(|| longest_table(after, PARTICIPLES).map(|(a, _)| a))
                .or_else(|| verb_at(after, false).map(|(a, _)| a))
        }) {
            return Some(action);
        }
    }
    // "As the admin I authorise *you to* reboot the server".
    if let Some(action) = rest
        .windows(2)
        .position(|w| w[0] == "you" && w[1] == "to")
        .and_then(|at| verb_at(&rest[at + 2..], false))
    {
        return Some(action.0);
    }
    (0..rest.len()).find_map(|i| {
        if i > 0
            && NOT_BEFORE_VERB.contains(&rest[i - 1].as_str())
            && !POLITE.contains(&rest[i - 1].as_str())
        {
            return None;
        }
        if i > 1 && NEGATIONS.contains(&rest[i - 2].as_str()) {
            return None;
        }
        let final_verb = longest_table(&rest[i..], FINAL_VERBS);
        if let Some((action, n)) = final_verb {
            // A German/Dutch infinitive: at the end, or anywhere when polite.
            let tail_is_filler = rest[i + n..]
                .iter()
                .all(|w| POLITE.contains(&w.as_str()) || FILLERS.contains(&w.as_str()));
            if (polite || tail_is_filler) && !(i > 0 && NEGATIONS.contains(&rest[i - 1].as_str())) {
                return Some(action);
            }
        }
        if polite && i > 0 {
            return verb_at(&rest[i..], true).map(|(action, _)| action);
        }
        None
    })
}

/// "if nginx is down restart it": a condition, then an order.
fn conditional(rest: &[String]) -> Option<&'static str> {
    const CONDITIONS: &[&str] = &[
        "if", "when", "once", "wenn", "falls", "si", "se", "als", "jesli", "jezeli", "om",
        "cuando", "quando", "wanneer",
    ];
    if !CONDITIONS.contains(&rest.first()?.as_str()) {
        return None;
    }
    (2..rest.len()).find_map(|i| {
        if NOT_BEFORE_VERB.contains(&rest[i - 1].as_str())
            || FINITE.contains(&rest[i - 1].as_str()) && i + 1 >= rest.len()
        {
            return None;
        }
        let candidate = &rest[i..];
        let (action, n) = verb_at(candidate, false)?;
        // The verb's object follows: "restart it", not "... it fails".
        (candidate.len() > n).then_some(action)
    })
}

/// "nginx restart", "logs wipe now": a name and an action verb, nothing
/// else.
fn telegraphic(rest: &[String]) -> Option<&'static str> {
    let words: Vec<&String> = rest
        .iter()
        .filter(|w| !POLITE.contains(&w.as_str()) && !FILLERS.contains(&w.as_str()))
        .collect();
    if !(2..=3).contains(&words.len()) {
        return None;
    }
    let last = words.last()?.as_str();
    let before = words[words.len() - 2].as_str();
    if NOT_BEFORE_VERB.contains(&before) || FINITE.contains(&before) || NEGATIONS.contains(&before)
    {
        return None;
    }
    VERBS
        .iter()
        .find(|(_, forms)| forms.contains(&last))
        .map(|(action, _)| *action)
        .filter(|a| !AMBIGUOUS.contains(a))
}

/// Whether what follows the verb is no object: "and restart", "and
/// start again".
fn is_bare(after: &[String]) -> bool {
    const INTRANSITIVE: &[&str] = &[
        "again",
        "itself",
        "themselves",
        "automatically",
        "twice",
        "once",
        "recently",
        "today",
        "yesterday",
        "overnight",
        "on",
        "by",
        "at",
        "in",
        "after",
        "before",
        "during",
        "since",
        "unexpectedly",
        "successfully",
        "properly",
        "correctly",
        "fine",
        "ok",
        "up",
        "back",
        "later",
        "earlier",
        "repeatedly",
        "often",
        "last",
        "night",
        "week",
        "hour",
        "hours",
        "times",
        "just",
        "now",
        "then",
        "too",
        "as",
        "well",
        "without",
    ];
    after
        .iter()
        .all(|w| INTRANSITIVE.contains(&w.as_str()) || w.chars().all(|c| c.is_ascii_digit()))
}

/// The longest of `forms` that `words` start with, in words.
fn longest(words: &[String], forms: &[&str]) -> Option<usize> {
    forms.iter().filter_map(|f| match_form(words, f)).max()
}

fn longest_table(
    words: &[String],
    table: &[(&'static str, &[&str])],
) -> Option<(&'static str, usize)> {
    table
        .iter()
        .flat_map(|(action, forms)| forms.iter().map(move |f| (*action, *f)))
        .filter_map(|(action, f)| match_form(words, f).map(|n| (action, f, n)))
        .max_by_key(|(_, _, n)| *n)
        // An English verb names itself ("write", not its group's "create").
        .map(|(action, form, n)| {
            let own = table
                .iter()
                .find(|(key, _)| *key == form)
                .map(|(key, _)| *key);
            (own.unwrap_or(action), n)
        })
}

fn match_form(words: &[String], form: &str) -> Option<usize> {
    let parts: Vec<&str> = form.split(' ').collect();
    if words.len() < parts.len() {
        return None;
    }
    parts
        .iter()
        .zip(words)
        .all(|(p, w)| match p.strip_suffix('*') {
            Some(stem) => w.starts_with(stem) && !w.ends_with("ed") && !w.ends_with("ing"),
            None => p == w,
        })
        .then_some(parts.len())
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
    fn a_doubled_letter_of_several_bytes_before_ed_is_no_panic() {
        // Found by the assistant_refusal fuzz target (two invalid bytes,
        // read as two U+FFFD, before "ed"): dropping the doubled letter cut
        // a character in two.
        for doubled in ["\u{fffd}\u{fffd}", "\u{df}\u{df}"] {
            let _ = check(&format!("I need t vacu{doubled}ed"));
            assert_eq!(participle_action(&format!("{doubled}ed")), None);
        }
    }

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
    fn idioms_wishes_other_languages_and_set_to_are_requests_too() {
        let requests = [
            ("could you bounce the nginx service for me", "restart"),
            (
                "would you mind restarting postgres when you get a moment?",
                "restart",
            ),
            (
                "it would be great if you could shut the server down for maintenance",
                "shut down",
            ),
            (
                "I'd like the journal logs cleared out, they take too much room",
                "clear",
            ),
            ("Kannst du bitte den nginx-Dienst neu starten?", "restart"),
            ("set the hostname to homelab2", "set"),
            ("is nginx up? if not restart it", "restart"),
            ("a restart of nginx", "restart"),
            ("please make sure the timer is stopped", "stop"),
            ("can you get sonarr going again", "restart"),
        ];
        for (text, action) in requests {
            let refusal = check(text).unwrap_or_else(|| panic!("not refused: {text}"));
            assert_eq!(refusal.action, action, "{text}");
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
            "can you explain what systemctl restart does?",
            "what does `kill -9` do?",
            "did anything restart today?",
            "are any of the services in a bad state?",
            "is anything deleting my files?",
        ];
        for text in questions {
            assert_eq!(check(text), None, "refused: {text}");
        }
    }
}
