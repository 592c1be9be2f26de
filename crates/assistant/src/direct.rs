//! Answers without a model: the seven everyday questions ("is everything
//! running?", "what containers are running?", "is any service unhealthy?",
//! "how much disk is left?", "CPU and memory?", "did anything crash?",
//! "are there any alerts?") recognised by their words, in English and the
//! common European languages ("are any of the services in a bad state?",
//! "Wie viel Speicherplatz ist noch frei?"), and answered from the tools'
//! data. Used when the model cannot be reached, and marked as such.

use serde_json::Value;

use crate::tools::{ToolName, Tools};

/// The questions this module can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    Everything,
    Containers,
    Unhealthy,
    Disk,
    Load,
    Crashes,
    Alerts,
}

impl Question {
    pub fn intent(self) -> &'static str {
        match self {
            Question::Everything => "status",
            Question::Containers => "containers",
            Question::Unhealthy => "unhealthy",
            Question::Disk => "disk",
            Question::Load => "load",
            Question::Crashes => "crashes",
            Question::Alerts => "alerts",
        }
    }
}

/// Which everyday question `text` asks, if any: by its words, in English
/// and the common European languages, after the refusal check's
/// normalisation (lower case, no diacritics). A word ending in `*` matches
/// every word it begins; several words match as a phrase.
pub fn recognise(text: &str) -> Option<Question> {
    let normal = crate::refusal::normalise(text);
    let words: Vec<&str> = normal
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let phrase = format!(" {} ", words.join(" "));
    let has = |keys: &[&str]| {
        keys.iter().any(|key| {
            if key.contains(' ') {
                phrase.contains(&format!(" {key} "))
            } else if let Some(stem) = key.strip_suffix('*') {
                words.iter().any(|w| w.starts_with(stem))
            } else {
                words.contains(key)
            }
        })
    };
    // "did anything restart?" asks about crashes; "how do I restart it?"
    // does not.
    let restarted = has(&[
        "restart*",
        "reboot*",
        "neustart*",
        "redemarr*",
        "reinici*",
        "riavvi*",
        "herstart*",
    ]) && has(&[
        "did",
        "any",
        "anything",
        "today",
        "recently",
        "overnight",
        "last",
        "tonight",
        "heute",
        "aujourd",
        "hoy",
        "oggi",
        "vandaag",
        "hoje",
        "dzis",
        "idag",
    ]);
    if has(CONTAINERS) {
        Some(Question::Containers)
    } else if has(ALERTS) {
        Some(Question::Alerts)
    } else if has(CRASHES) || restarted {
        Some(Question::Crashes)
    } else if has(UNHEALTHY) {
        Some(Question::Unhealthy)
    } else if has(LOAD_FIRST) {
        Some(Question::Load)
    } else if has(DISK) {
        Some(Question::Disk)
    } else if has(LOAD) {
        Some(Question::Load)
    } else if has(EVERYTHING) {
        Some(Question::Everything)
    } else {
        None
    }
}

const CONTAINERS: &[&str] = &[
    "container*",
    "docker*",
    "podman*",
    "compose",
    "conteneur*",
    "contenedor*",
    "contentor*",
    "contenitor*",
    "kontener*",
    "behallar*",
];

const ALERTS: &[&str] = &[
    "alert*",
    "firing",
    "alarm*",
    "alerte*",
    "alerta*",
    "allarm*",
    "waarschuwing*",
    "larm*",
];

const CRASHES: &[&str] = &[
    "did something die",
    "did anything die",
    "anything die",
    "something die",
    "dies",
    "dying",
    "crash*",
    "restarted",
    "rebooted",
    "failed recently",
    "recent fail*",
    "recently fail*",
    "went down",
    "go down",
    "died",
    "fell over",
    "oom",
    "killed",
    "abgesturzt",
    "absturz*",
    "neu gestartet",
    "plante",
    "plantage*",
    "se cayo",
    "crashat*",
    "gecrasht",
    "vastgelopen",
    "travou",
    "caiu",
    "restartowal*",
    "kraschade",
    "padl*",
];

const UNHEALTHY: &[&str] = &[
    "misbehav*",
    "weird",
    "odd",
    "strange",
    "acting up",
    "unresponsive",
    "hung",
    "stuck",
    "flapping",
    "bad",
    "red",
    "off",
    "erreur*",
    "unhealthy",
    "failed",
    "failing",
    "fail",
    "fails",
    "broken",
    "down",
    "not running",
    "not working",
    "not ok",
    "bad state",
    "bad shape",
    "trouble",
    "problem*",
    "wrong",
    "issue*",
    "error*",
    "degraded",
    "dead",
    "unhappy",
    "sick",
    "stopped",
    "kaputt",
    "ausgefallen",
    "fehler*",
    "lauft nicht",
    "laufen nicht",
    "gestort",
    "en panne",
    "en echec",
    "echoue*",
    "ne fonctionne",
    "ne marche",
    "hors service",
    "fallando",
    "falla*",
    "roto",
    "rotos",
    "no funciona",
    "caido*",
    "guasto",
    "guasti",
    "non funziona",
    "non funzionano",
    "errore",
    "errori",
    "kapot",
    "mislukt",
    "werkt niet",
    "werken niet",
    "storing",
    "falhando",
    "falha*",
    "quebrado*",
    "fora do ar",
    "nao funciona",
    "awari*",
    "nie dziala",
    "nie dzialaja",
    "blad*",
    "bledy",
    "trasig*",
    "fungerar inte",
    "misslyck*",
    "nere",
    "fel",
];

/// Words about memory that contain a disk word ("Arbeitsspeicher").
const LOAD_FIRST: &[&str] = &[
    "pamie*",
    "arbeitsspeicher",
    "ram",
    "memory",
    "memoire",
    "memoria",
    "geheugen",
    "pamiec",
    "minne",
];

const DISK: &[&str] = &[
    "disk*",
    "space",
    "storage",
    "filesystem*",
    "file system",
    "full",
    "drive*",
    "partition*",
    "capacity",
    "room",
    "speicher*",
    "festplatt*",
    "platte",
    "disque*",
    "espace",
    "stockage",
    "disco*",
    "espacio",
    "almacenamiento",
    "spazio",
    "archiviazione",
    "schijf*",
    "ruimte",
    "opslag",
    "espaco",
    "armazenamento",
    "dysk*",
    "miejsc*",
    "przestrzen*",
    "utrymme",
    "lagring*",
    "diskutrymme",
];

const LOAD: &[&str] = &[
    "cpu*",
    "memory",
    "ram",
    "load",
    "swap",
    "usage",
    "processor",
    "busy",
    "auslastung",
    "prozessor",
    "charge",
    "processeur",
    "carga",
    "procesador",
    "carico",
    "processore",
    "belasting",
    "processor",
    "obciazeni*",
    "procesor",
    "belastning",
];

const EVERYTHING: &[&str] = &[
    "doing",
    "going",
    "system",
    "systems",
    "server",
    "machine",
    "box",
    "host",
    "everything",
    "all ok",
    "all good",
    "all fine",
    "status",
    "healthy",
    "health",
    "working",
    "running correctly",
    "alright",
    "ok",
    "okay",
    "fine",
    "servic*",
    "units",
    "alles",
    "zustand",
    "tout",
    "etat",
    "todo",
    "estado",
    "tutto",
    "stato",
    "gezond",
    "tudo",
    "wszystko",
    "stan",
    "allt",
    "dienst*",
];

/// The tools a question reads.
pub fn tools_for(question: Question) -> &'static [ToolName] {
    match question {
        Question::Everything => &[ToolName::Services, ToolName::AiStack, ToolName::DiskUsage],
        Question::Containers => &[ToolName::Containers],
        Question::Unhealthy => &[ToolName::Services, ToolName::AiStack],
        Question::Disk => &[ToolName::DiskUsage],
        Question::Load => &[ToolName::SystemOverview],
        Question::Crashes => &[ToolName::RecentFailures],
        Question::Alerts => &[ToolName::Alerts],
    }
}

/// Runs the question's tools and writes the answer from their data.
/// Returns the reply and each tool's (name, result) for the audit log.
pub async fn answer(
    tools: &Tools,
    question: Question,
) -> (String, Vec<(ToolName, Result<Value, String>)>) {
    let wanted: Vec<ToolName> = tools_for(question)
        .iter()
        .copied()
        .filter(|t| tools.enabled().contains(t))
        .collect();
    let args = |t: ToolName| match (question, t) {
        (Question::Unhealthy, ToolName::Services) => serde_json::json!({"filter": "failed"}),
        (Question::Everything, ToolName::Services) => serde_json::json!({"filter": "failed"}),
        _ => serde_json::json!({}),
    };
    let results = futures_util::future::join_all(wanted.iter().map(|t| {
        let a = args(*t);
        async move {
            (
                *t,
                tools.call(t.as_str(), &a).await.map_err(|e| e.to_string()),
            )
        }
    }))
    .await;
    let mut lines = Vec::new();
    for (tool, result) in &results {
        match result {
            Ok(value) => lines.extend(describe(*tool, value)),
            Err(error) => lines.push(format!("- {}: could not be read ({error}).", tool.as_str())),
        }
    }
    if lines.is_empty() {
        lines.push("- None of the tools this question needs is enabled.".into());
    }
    let reply = format!(
        "{}\n\n(Answered directly from system data: the model was not available.)",
        lines.join("\n")
    );
    (reply, results)
}

/// One tool's result as Markdown bullet lines.
pub fn describe(tool: ToolName, v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match tool {
        ToolName::Services => {
            let failed: Vec<String> = v["units"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|u| u["active"] == "failed")
                .map(|u| format!("{} (failed since {})", text(&u["name"]), text(&u["since"])))
                .collect();
            if failed.is_empty() {
                out.push(format!(
                    "- systemd: no failed units ({} loaded).",
                    v["loadedUnits"]
                ));
            } else {
                out.push(format!(
                    "- systemd: {} failed: {}.",
                    failed.len(),
                    failed.join(", ")
                ));
            }
        }
        ToolName::AiStack => {
            let down: Vec<String> = v["prober"]["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["state"] != "up")
                .map(|t| format!("{} is {}", text(&t["name"]), text(&t["state"])))
                .collect();
            if let Some(why) = v["prober"]["unavailable"].as_str() {
                out.push(format!(
                    "- AI stack: the prober could not be asked ({why})."
                ));
            } else if down.is_empty() {
                out.push("- AI stack: every probed service is up.".into());
            } else {
                out.push(format!("- AI stack: {}.", down.join(", ")));
            }
            let open: Vec<String> = v["router"]["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["circuit"] == "open")
                .map(|t| text(&t["name"]))
                .collect();
            if !open.is_empty() {
                out.push(format!("- Router: circuit open for {}.", open.join(", ")));
            }
        }
        ToolName::Alerts => {
            let alerts: Vec<String> = v["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    format!(
                        "{} ({}): {}, since {}",
                        text(&a["name"]),
                        text(&a["severity"]),
                        text(&a["summary"]),
                        text(&a["since"])
                    )
                })
                .collect();
            let source = text(&v["source"]);
            if alerts.is_empty() {
                out.push(format!("- Alerts: none active ({source})."));
            } else {
                out.push(format!(
                    "- Alerts: {} active ({source}): {}.",
                    alerts.len(),
                    alerts.join("; ")
                ));
            }
        }
        ToolName::DiskUsage => {
            for fs in v["filesystems"].as_array().into_iter().flatten() {
                let flag = if fs["warning"] == true {
                    " — over 80%"
                } else {
                    ""
                };
                out.push(format!(
                    "- {}: {} free of {} ({}% used){flag}.",
                    text(&fs["mount"]),
                    bytes(fs["freeBytes"].as_u64()),
                    bytes(fs["sizeBytes"].as_u64()),
                    fs["usedPercent"]
                ));
            }
        }
        ToolName::SystemOverview => {
            out.push(format!(
                "- CPU: {}% busy on {} cores, load {} / {} / {}.",
                v["cpu"]["usagePercent"],
                v["cpu"]["cores"],
                v["cpu"]["load"]["1m"],
                v["cpu"]["load"]["5m"],
                v["cpu"]["load"]["15m"]
            ));
            out.push(format!(
                "- Memory: {} used of {} ({}%); swap {} used.",
                bytes(v["memory"]["usedBytes"].as_u64()),
                bytes(v["memory"]["totalBytes"].as_u64()),
                v["memory"]["usedPercent"],
                bytes(v["swap"]["usedBytes"].as_u64())
            ));
            out.push(format!("- Up for {}.", text(&v["uptime"])));
        }
        ToolName::RecentFailures => {
            let names = |key: &str| -> Vec<String> {
                v[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|u| match u["restarts"].as_u64() {
                        Some(n) if n > 0 => format!("{} ({} restarts)", text(&u["name"]), n),
                        _ => text(&u["name"]),
                    })
                    .collect()
            };
            let (failed, restarted) = (names("failed"), names("restarted"));
            if failed.is_empty() && restarted.is_empty() {
                out.push(format!(
                    "- No unit failed or restarted in the last {}.",
                    text(&v["window"])
                ));
            }
            if !failed.is_empty() {
                out.push(format!("- Failed: {}.", failed.join(", ")));
            }
            if !restarted.is_empty() {
                out.push(format!(
                    "- Restarted in the last {}: {}.",
                    text(&v["window"]),
                    restarted.join(", ")
                ));
            }
        }
        ToolName::Containers => {
            let list: Vec<String> = v["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{} ({}: {})",
                        text(&c["name"]),
                        text(&c["state"]),
                        text(&c["status"])
                    )
                })
                .collect();
            out.push(format!(
                "- Containers: {} running of {}.",
                v["running"], v["total"]
            ));
            if !list.is_empty() {
                out.push(format!("  {}", list.join("; ")));
            }
        }
        _ => {}
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "unknown".into(),
        other => other.to_string(),
    }
}

fn bytes(v: Option<u64>) -> String {
    let Some(b) = v else { return "unknown".into() };
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = b as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", units[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seven_questions_are_recognised() {
        let cases = [
            ("Is everything running correctly?", Question::Everything),
            ("What containers are running?", Question::Containers),
            ("Is any service unhealthy?", Question::Unhealthy),
            ("How much disk space is left?", Question::Disk),
            ("What is the CPU and memory usage?", Question::Load),
            ("Did any service crash recently?", Question::Crashes),
            ("Are there any alerts?", Question::Alerts),
            ("Is anything firing?", Question::Alerts),
        ];
        for (text, question) in cases {
            assert_eq!(recognise(text), Some(question), "{text}");
        }
        assert_eq!(recognise("write me a poem"), None);
    }

    #[test]
    fn everyday_questions_are_recognised_in_their_other_phrasings() {
        let cases = [
            (
                "are any of the services in a bad state?",
                Question::Unhealthy,
            ),
            ("is something broken?", Question::Unhealthy),
            ("anything down right now?", Question::Unhealthy),
            ("which units are failing?", Question::Unhealthy),
            ("Welche Dienste sind kaputt?", Question::Unhealthy),
            ("Quels services sont en panne ?", Question::Unhealthy),
            ("¿Qué servicios están fallando?", Question::Unhealthy),
            ("Czy coś nie działa?", Question::Unhealthy),
            ("how much room is left on the drives?", Question::Disk),
            ("Wie viel Speicherplatz ist noch frei?", Question::Disk),
            ("Combien d'espace disque reste-t-il ?", Question::Disk),
            ("¿Cuánto espacio queda?", Question::Disk),
            ("Hoeveel schijfruimte is er nog?", Question::Disk),
            ("Hur mycket diskutrymme finns kvar?", Question::Disk),
            ("how busy is the box?", Question::Load),
            ("Wie hoch ist die Auslastung?", Question::Load),
            ("Wie viel Arbeitsspeicher ist frei?", Question::Load),
            ("Quelle est la charge du processeur ?", Question::Load),
            ("did anything restart today?", Question::Crashes),
            ("what fell over last night?", Question::Crashes),
            ("Ist etwas abgestürzt?", Question::Crashes),
            ("are the docker things up?", Question::Containers),
            ("Quels conteneurs tournent ?", Question::Containers),
            ("how are my services doing?", Question::Everything),
            ("Läuft alles?", Question::Everything),
            ("Tout va bien ?", Question::Everything),
            ("any services misbehaving?", Question::Unhealthy),
            ("is something off?", Question::Unhealthy),
            ("how is the server doing?", Question::Everything),
            ("did something die?", Question::Crashes),
            ("Ile pamięci jest zajęte?", Question::Load),
            ("Y a-t-il des services en erreur ?", Question::Unhealthy),
            ("Gibt es aktive Alarme?", Question::Alerts),
            ("any alerts going off?", Question::Alerts),
        ];
        for (text, question) in cases {
            assert_eq!(recognise(text), Some(question), "{text}");
        }
        for text in [
            "write me a limerick about uptime",
            "tell me a joke",
            "what is the capital of France?",
        ] {
            assert_ne!(recognise(text), Some(Question::Crashes), "{text}");
        }
        assert_eq!(recognise("how do I restart nginx?"), None);
    }

    #[tokio::test]
    async fn disk_and_load_are_answered_from_this_machine() {
        let config: crate::config::Config = hwc_ai_runtime::config::parse(
            r#"{"stateDirectory": "/var/lib/x", "tools": ["disk_usage", "system_overview"]}"#,
        )
        .unwrap();
        let tools = Tools::new(&config).await.unwrap();
        let (reply, results) = answer(&tools, Question::Disk).await;
        assert!(reply.contains("- /: "), "{reply}");
        assert!(reply.contains("model was not available"), "{reply}");
        assert_eq!(results.len(), 1);
        let (reply, _) = answer(&tools, Question::Load).await;
        assert!(
            reply.contains("CPU: ") && reply.contains("Memory: "),
            "{reply}"
        );
        // A question whose tools are disabled says so instead of guessing.
        let (reply, results) = answer(&tools, Question::Containers).await;
        assert!(results.is_empty());
        assert!(reply.contains("None of the tools"), "{reply}");
    }
}
