//! Scenario files: a JSON document that sets up a [`FakeOllama`] (catalog,
//! preinstalled models, speed, faults) for the binary. Field names are
//! camelCase, unknown fields are rejected, durations are strings such as
//! `"250ms"` or `"2s"`. See `docs/testing-ollama-fake.md` for the format.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::catalog::{self, Capability, CatalogModel, Layer};
use crate::fake::FakeOllama;
use crate::fault::{
    Failure, Fault, Faults, InferenceFault, PullFault, PullSpeed, PULL_MANIFEST_ERROR, RUNNER_ERROR,
};
use crate::name::ModelName;

/// A scenario that cannot be used; the message names the field.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

/// The whole document.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// What `/api/version` reports.
    #[serde(default)]
    pub version: Option<String>,
    /// Whether the built-in catalog is offered too (default true); entries
    /// in `catalog` with the same name replace built-in ones.
    #[serde(default = "yes")]
    pub builtin_catalog: bool,
    #[serde(default)]
    pub catalog: Vec<ModelSpec>,
    /// Models in the store at start: names, or `{"name", "revision"}` to
    /// install an older (or newer) revision than the catalog offers.
    #[serde(default)]
    pub installed: Vec<InstalledSpec>,
    #[serde(default)]
    pub pull_speed: Option<SpeedSpec>,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
}

fn yes() -> bool {
    true
}

/// A catalog entry. Only `name` is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    /// `completion` (default) or `embedding`: the starting point the other
    /// fields adjust.
    #[serde(default)]
    pub kind: Option<String>,
    pub family: Option<String>,
    pub parameter_size: Option<String>,
    pub quantization_level: Option<String>,
    pub capabilities: Option<Vec<Capability>>,
    pub context_length: Option<u64>,
    pub embedding_length: Option<u64>,
    /// Bytes of the generated weights layer.
    pub model_size: Option<u64>,
    /// Upstream revision; each has its own digests.
    pub revision: Option<u64>,
    /// Explicit layers instead of generated ones.
    pub layers: Option<Vec<Layer>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum InstalledSpec {
    Name(String),
    Revision { name: String, revision: u64 },
}

/// `{"steps": 4, "tick": "2ms"}` or `{"bytesPerTick": 1048576, "tick": "100ms"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SpeedSpec {
    #[serde(rename_all = "camelCase")]
    Steps {
        steps: u32,
        #[serde(with = "humantime_serde")]
        tick: Duration,
    },
    #[serde(rename_all = "camelCase")]
    Rate {
        bytes_per_tick: u64,
        #[serde(with = "humantime_serde")]
        tick: Duration,
    },
}

impl From<&SpeedSpec> for PullSpeed {
    fn from(s: &SpeedSpec) -> Self {
        match *s {
            SpeedSpec::Steps { steps, tick } => PullSpeed::Steps { steps, tick },
            SpeedSpec::Rate {
                bytes_per_tick,
                tick,
            } => PullSpeed::Rate {
                bytes_per_tick,
                tick,
            },
        }
    }
}

/// Faults for one model (`model` set) or for all.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    pub model: Option<String>,
    #[serde(default, with = "humantime_serde")]
    pub delay: Option<Duration>,
    pub pull_speed: Option<SpeedSpec>,
    pub pull: Option<PullFaultSpec>,
    #[serde(default, with = "humantime_serde")]
    pub token_delay: Option<Duration>,
    pub generate: Option<InferenceFaultSpec>,
    pub embed: Option<FailureSpec>,
}

/// `kind`: `reject` (`status`, `message`), `errorLine` (`afterBytes`,
/// `message`) or `drop` (`afterBytes`). `times` bounds how often it fires.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullFaultSpec {
    pub kind: String,
    pub status: Option<u16>,
    pub message: Option<String>,
    pub after_bytes: Option<u64>,
    pub times: Option<u32>,
}

/// `kind`: `reject` (`status`, `message`), `errorAfter` (`chunks`,
/// `message`) or `dropAfter` (`chunks`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InferenceFaultSpec {
    pub kind: String,
    pub status: Option<u16>,
    pub message: Option<String>,
    pub chunks: Option<u32>,
    pub times: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailureSpec {
    pub status: Option<u16>,
    pub message: Option<String>,
    pub times: Option<u32>,
}

impl Scenario {
    /// Parses a scenario; errors name the field path.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            ScenarioError(format!("{path}: {}", e.into_inner()))
        })
    }

    /// Reads and parses a scenario file.
    pub fn from_file(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// A fake set up as the scenario says.
    pub fn build(&self) -> Result<FakeOllama, ScenarioError> {
        let mut models = if self.builtin_catalog {
            catalog::builtin()
        } else {
            Vec::new()
        };
        for (i, spec) in self.catalog.iter().enumerate() {
            let model = spec
                .to_model()
                .map_err(|e| at(&format!("catalog[{i}]"), e))?;
            models.retain(|m| m.name != model.name);
            models.push(model);
        }
        let fake = FakeOllama::new(models);
        if let Some(v) = &self.version {
            fake.set_version(v);
        }
        if let Some(speed) = &self.pull_speed {
            fake.set_pull_speed(speed.into());
        }
        for (i, spec) in self.installed.iter().enumerate() {
            let field = format!("installed[{i}]");
            let (name, revision) = match spec {
                InstalledSpec::Name(n) => (n, None),
                InstalledSpec::Revision { name, revision } => (name, Some(*revision)),
            };
            let model = fake
                .catalog_model(name)
                .map_err(|e| at(&field, e.to_string()))?
                .ok_or_else(|| at(&field, format!("{name} is not in the catalog")))?;
            let model = match revision {
                Some(r) => model.revision(r),
                None => model,
            };
            fake.install_model(model);
        }
        for (i, spec) in self.faults.iter().enumerate() {
            let field = format!("faults[{i}]");
            let faults = spec.to_faults().map_err(|e| at(&field, e))?;
            match &spec.model {
                Some(name) => fake
                    .set_faults(name, faults)
                    .map_err(|e| at(&format!("{field}.model"), e.to_string()))?,
                None => fake.set_global_faults(faults),
            }
        }
        Ok(fake)
    }
}

fn at(field: &str, message: impl std::fmt::Display) -> ScenarioError {
    ScenarioError(format!("{field}: {message}"))
}

impl ModelSpec {
    fn to_model(&self) -> Result<CatalogModel, String> {
        ModelName::parse(&self.name).map_err(|e| format!("name: {e}"))?;
        let mut m = match self.kind.as_deref() {
            None | Some("completion") => CatalogModel::new(&self.name),
            Some("embedding") => CatalogModel::embedding(&self.name),
            Some(other) => {
                return Err(format!(
                    "kind: {other:?} is neither \"completion\" nor \"embedding\""
                ))
            }
        };
        if let Some(v) = &self.family {
            m = m.family(v);
        }
        if let Some(v) = &self.parameter_size {
            m = m.parameter_size(v);
        }
        if let Some(v) = &self.quantization_level {
            m = m.quantization_level(v);
        }
        if let Some(v) = &self.capabilities {
            m = m.capabilities(v.iter().copied());
        }
        if let Some(v) = self.context_length {
            m = m.context_length(v);
        }
        if let Some(v) = self.embedding_length {
            m = m.embedding_length(v);
        }
        if let Some(v) = self.model_size {
            m = m.model_size(v);
        }
        if let Some(v) = self.revision {
            m = m.revision(v);
        }
        if let Some(layers) = &self.layers {
            for (i, l) in layers.iter().enumerate() {
                let hex = l.digest.strip_prefix("sha256:").unwrap_or("");
                if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!("layers[{i}].digest: not sha256:<64 hex>"));
                }
            }
            m = m.layers(layers.clone());
        }
        Ok(m)
    }
}

fn counted<K>(kind: K, times: Option<u32>) -> Fault<K> {
    match times {
        Some(n) => Fault::times(kind, n),
        None => Fault::always(kind),
    }
}

/// Fails when a field is set that the fault's kind does not use.
fn unused(field: &str, set: bool) -> Result<(), String> {
    if set {
        Err(format!("{field}: not used by this kind"))
    } else {
        Ok(())
    }
}

impl FaultSpec {
    fn to_faults(&self) -> Result<Faults, String> {
        let mut f = Faults {
            delay: self.delay,
            pull_speed: self.pull_speed.as_ref().map(PullSpeed::from),
            token_delay: self.token_delay,
            ..Faults::default()
        };
        if let Some(p) = &self.pull {
            let kind = match p.kind.as_str() {
                "reject" => {
                    unused("pull.afterBytes", p.after_bytes.is_some())?;
                    PullFault::Reject(Failure::new(
                        p.status.unwrap_or(500),
                        p.message.as_deref().unwrap_or(PULL_MANIFEST_ERROR),
                    ))
                }
                "errorLine" => {
                    unused("pull.status", p.status.is_some())?;
                    PullFault::ErrorLine {
                        after_bytes: p.after_bytes.unwrap_or(0),
                        message: p.message.clone().unwrap_or(PULL_MANIFEST_ERROR.into()),
                    }
                }
                "drop" => {
                    unused("pull.status", p.status.is_some())?;
                    unused("pull.message", p.message.is_some())?;
                    PullFault::Drop {
                        after_bytes: p.after_bytes.unwrap_or(0),
                    }
                }
                other => {
                    return Err(format!(
                        "pull.kind: {other:?} is not one of \"reject\", \"errorLine\", \"drop\""
                    ))
                }
            };
            f.pull = Some(counted(kind, p.times));
        }
        if let Some(g) = &self.generate {
            let kind = match g.kind.as_str() {
                "reject" => {
                    unused("generate.chunks", g.chunks.is_some())?;
                    InferenceFault::Reject(Failure::new(
                        g.status.unwrap_or(500),
                        g.message.as_deref().unwrap_or(RUNNER_ERROR),
                    ))
                }
                "errorAfter" => {
                    unused("generate.status", g.status.is_some())?;
                    InferenceFault::ErrorAfter {
                        chunks: g.chunks.unwrap_or(0),
                        message: g.message.clone().unwrap_or(RUNNER_ERROR.into()),
                    }
                }
                "dropAfter" => {
                    unused("generate.status", g.status.is_some())?;
                    unused("generate.message", g.message.is_some())?;
                    InferenceFault::DropAfter {
                        chunks: g.chunks.unwrap_or(0),
                    }
                }
                other => {
                    return Err(format!(
                        "generate.kind: {other:?} is not one of \"reject\", \"errorAfter\", \"dropAfter\""
                    ))
                }
            };
            f.generate = Some(counted(kind, g.times));
        }
        if let Some(e) = &self.embed {
            let failure = Failure::new(
                e.status.unwrap_or(500),
                e.message.as_deref().unwrap_or(RUNNER_ERROR),
            );
            f.embed = Some(counted(failure, e.times));
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scenario_builds() {
        let s = Scenario::parse(
            r#"{
              "version": "0.12.6",
              "builtinCatalog": false,
              "catalog": [
                {"name": "llama3.2:3b", "parameterSize": "3.2B",
                 "capabilities": ["completion", "tools"], "modelSize": 1048576, "revision": 2},
                {"name": "nomic-embed-text", "kind": "embedding"}
              ],
              "installed": ["nomic-embed-text", {"name": "llama3.2:3b", "revision": 1}],
              "pullSpeed": {"bytesPerTick": 262144, "tick": "10ms"},
              "faults": [
                {"model": "llama3.2:3b", "pull": {"kind": "drop", "afterBytes": 1000, "times": 1}},
                {"delay": "5ms", "generate": {"kind": "errorAfter", "chunks": 2}}
              ]
            }"#,
        )
        .unwrap();
        let fake = s.build().unwrap();
        let installed = fake.installed_model("llama3.2:3b").unwrap().unwrap();
        let upstream = fake.catalog_model("llama3.2:3b").unwrap().unwrap();
        assert_ne!(
            installed.digest,
            upstream.digest(),
            "older revision installed"
        );
        assert_eq!(fake.installed().len(), 2);
        assert!(fake.catalog_model("tinyllama").unwrap().is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let e = Scenario::parse(r#"{"catalog": [{"name": "x", "sise": 1}]}"#).unwrap_err();
        assert!(e.0.starts_with("catalog[0]"), "{e}");
        let e = Scenario::parse(r#"{"faults": [{"pull": {"kind": "explode"}}]}"#)
            .unwrap()
            .build()
            .err()
            .unwrap();
        assert!(e.0.starts_with("faults[0]: pull.kind"), "{e}");
        let e = Scenario::parse(r#"{"installed": ["nope"]}"#)
            .unwrap()
            .build()
            .err()
            .unwrap();
        assert!(e.0.starts_with("installed[0]"), "{e}");
    }

    #[test]
    fn empty_scenario_is_the_builtin_fake() {
        let fake = Scenario::parse("{}").unwrap().build().unwrap();
        assert!(fake.catalog_model("llama3.2:3b").unwrap().is_some());
        assert!(fake.installed().is_empty());
    }
}
