//! What the fake's "registry" offers: models, their layers and metadata.
//!
//! A catalog entry stands for a manifest upstream. Pulling it copies its
//! layers into the fake's store and installs a snapshot of it, so changing
//! the entry later ("the model changed upstream") leaves installed copies
//! alone until the next pull, exactly like a real registry.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::name::ModelName;

/// Media type of the weights layer.
pub const MEDIA_MODEL: &str = "application/vnd.ollama.image.model";
/// Media type of the prompt template layer.
pub const MEDIA_TEMPLATE: &str = "application/vnd.ollama.image.template";
/// Media type of the license layer.
pub const MEDIA_LICENSE: &str = "application/vnd.ollama.image.license";
/// Media type of the default parameters layer.
pub const MEDIA_PARAMS: &str = "application/vnd.ollama.image.params";
/// Media type of the manifest's config blob.
pub const MEDIA_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// What a model can do, as `/api/show` reports it in `capabilities`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// Text generation: `/api/generate`, `/api/chat`, `/v1/chat/completions`.
    Completion,
    /// Tool calling in chat.
    Tools,
    /// Fill-in-the-middle (`suffix` in generate).
    Insert,
    /// Image input.
    Vision,
    /// Embeddings: `/api/embed`, `/v1/embeddings`.
    Embedding,
    /// Separate reasoning output.
    Thinking,
}

/// One blob of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Layer {
    /// e.g. [`MEDIA_MODEL`].
    pub media_type: String,
    /// `sha256:<64 hex>`.
    pub digest: String,
    /// Bytes; what a pull reports as `total`.
    pub size: u64,
}

/// The `details` object of `/api/tags`, `/api/show` and `/api/ps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    pub parent_model: String,
    pub format: String,
    pub family: String,
    pub families: Option<Vec<String>>,
    pub parameter_size: String,
    pub quantization_level: String,
}

/// A pullable model: one manifest upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogModel {
    /// Its name; matched case-insensitively with defaults filled.
    pub name: ModelName,
    /// Layers in pull order (the config blob last, as Ollama does).
    pub layers: Vec<Layer>,
    pub details: Details,
    pub capabilities: Vec<Capability>,
    /// Reported in `model_info` as `<family>.context_length`.
    pub context_length: u64,
    /// Width of the vectors `/api/embed` returns; also in `model_info`.
    pub embedding_length: u64,
    /// The prompt template `/api/show` reports.
    pub template: String,
    /// `/api/show`'s `parameters`: one `key value` per line.
    pub parameters: String,
    generated: Option<Generated>,
}

/// How the layers were made, so a change of size or revision can remake
/// them.
#[derive(Debug, Clone, PartialEq)]
struct Generated {
    model_size: u64,
    revision: u64,
}

/// Weights size of a model built with [`CatalogModel::new`]: small enough
/// that a default pull is quick, large enough to show progress.
pub const DEFAULT_MODEL_SIZE: u64 = 4 << 20;

impl CatalogModel {
    /// A completion model with generated layers ([`DEFAULT_MODEL_SIZE`]
    /// bytes of weights, plus template, license, params and config blobs),
    /// family `llama`. Adjust with the builder methods.
    ///
    /// Panics on a malformed name: catalog entries are written by tests.
    pub fn new(name: &str) -> Self {
        let name = ModelName::parse(name).unwrap_or_else(|e| panic!("{e}"));
        let mut model = CatalogModel {
            name,
            layers: Vec::new(),
            details: Details {
                parent_model: String::new(),
                format: "gguf".into(),
                family: "llama".into(),
                families: Some(vec!["llama".into()]),
                parameter_size: "1B".into(),
                quantization_level: "Q4_K_M".into(),
            },
            capabilities: vec![Capability::Completion],
            context_length: 4096,
            embedding_length: 64,
            template: "{{ if .System }}{{ .System }}\n{{ end }}{{ .Prompt }}".into(),
            parameters: "stop                           \"</s>\"".into(),
            generated: Some(Generated {
                model_size: DEFAULT_MODEL_SIZE,
                revision: 0,
            }),
        };
        model.regenerate();
        model
    }

    /// An embedding-only model (no `completion`), as `nomic-embed-text`.
    pub fn embedding(name: &str) -> Self {
        let mut model = Self::new(name)
            .family("nomic-bert")
            .parameter_size("137M")
            .quantization_level("F16")
            .capabilities([Capability::Embedding]);
        model.template = String::new();
        model.parameters = "num_ctx                        8192".into();
        model.context_length = 2048;
        model.embedding_length = 768;
        model.regenerate();
        model
    }

    /// Sets the family (and `families`).
    pub fn family(mut self, family: &str) -> Self {
        self.details.family = family.into();
        self.details.families = Some(vec![family.into()]);
        self.regenerate();
        self
    }

    /// Sets `parameter_size`, e.g. `"3.2B"`.
    pub fn parameter_size(mut self, size: &str) -> Self {
        self.details.parameter_size = size.into();
        self.regenerate();
        self
    }

    /// Sets `quantization_level`, e.g. `"Q4_K_M"`.
    pub fn quantization_level(mut self, level: &str) -> Self {
        self.details.quantization_level = level.into();
        self.regenerate();
        self
    }

    /// Replaces the capabilities.
    pub fn capabilities(mut self, caps: impl IntoIterator<Item = Capability>) -> Self {
        self.capabilities = caps.into_iter().collect();
        self.regenerate();
        self
    }

    /// Sets the context length reported by `/api/show`.
    pub fn context_length(mut self, n: u64) -> Self {
        self.context_length = n;
        self
    }

    /// Sets the embedding width.
    pub fn embedding_length(mut self, n: u64) -> Self {
        self.embedding_length = n;
        self
    }

    /// Sets the size of the generated weights layer.
    pub fn model_size(mut self, bytes: u64) -> Self {
        if let Some(g) = &mut self.generated {
            g.model_size = bytes;
        }
        self.regenerate();
        self
    }

    /// Sets the upstream revision. Each revision has different layer
    /// digests, hence a different model digest.
    pub fn revision(mut self, revision: u64) -> Self {
        if let Some(g) = &mut self.generated {
            g.revision = revision;
        }
        self.regenerate();
        self
    }

    /// Uses these layers as given instead of generated ones.
    pub fn layers(mut self, layers: Vec<Layer>) -> Self {
        self.layers = layers;
        self.generated = None;
        self
    }

    /// The same model, changed upstream: new weights, so new digests.
    /// For explicit layers, the weights layer's digest is rehashed.
    pub fn next_revision(&self) -> Self {
        match &self.generated {
            Some(g) => self.clone().revision(g.revision + 1),
            None => {
                let mut next = self.clone();
                let i = next
                    .layers
                    .iter()
                    .position(|l| l.media_type == MEDIA_MODEL)
                    .unwrap_or(0);
                if let Some(layer) = next.layers.get_mut(i) {
                    layer.digest = sha256_digest(format!("{} next", layer.digest).as_bytes());
                }
                next
            }
        }
    }

    /// The manifest digest without `sha256:`, as `/api/tags` shows it.
    pub fn digest(&self) -> String {
        let manifest = self.manifest();
        hex(&Sha256::digest(manifest.to_string().as_bytes()))
    }

    /// Total bytes of all layers, as `/api/tags` shows `size`.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }

    /// Whether the model has `cap`.
    pub fn can(&self, cap: Capability) -> bool {
        self.capabilities.contains(&cap)
    }

    /// The registry manifest this entry stands for (config blob apart from
    /// the layers, as the registry serves it).
    pub fn manifest(&self) -> serde_json::Value {
        let blob = |l: &Layer| serde_json::json!({"mediaType": l.media_type, "digest": l.digest, "size": l.size});
        let config = self.layers.iter().find(|l| l.media_type == MEDIA_CONFIG);
        let layers: Vec<_> = self
            .layers
            .iter()
            .filter(|l| l.media_type != MEDIA_CONFIG)
            .map(blob)
            .collect();
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": config.map(blob),
            "layers": layers,
        })
    }

    fn regenerate(&mut self) {
        let Some(g) = &self.generated else { return };
        let seed = format!("{}@{}", self.name.key(), g.revision);
        let blob = |media: &str, size: u64| Layer {
            media_type: media.into(),
            digest: sha256_digest(format!("{seed} {media}").as_bytes()),
            size,
        };
        let mut layers = vec![blob(MEDIA_MODEL, g.model_size)];
        if !self.template.is_empty() {
            layers.push(blob(MEDIA_TEMPLATE, self.template.len() as u64));
        }
        layers.push(blob(MEDIA_LICENSE, 6_016));
        if !self.parameters.is_empty() {
            layers.push(blob(MEDIA_PARAMS, self.parameters.len() as u64 + 2));
        }
        layers.push(blob(MEDIA_CONFIG, 485));
        self.layers = layers;
    }
}

/// The models the fake offers when nothing else is said: a small chat
/// model with tools, an embedding model and a tiny completion model, each
/// a few MiB so a pull at the binary's default speed takes about a second.
pub fn builtin() -> Vec<CatalogModel> {
    vec![
        CatalogModel::new("llama3.2:3b")
            .parameter_size("3.2B")
            .capabilities([Capability::Completion, Capability::Tools])
            .context_length(131_072)
            .embedding_length(3072)
            .model_size(6 << 20),
        CatalogModel::new("llama3.2:1b")
            .parameter_size("1.2B")
            .capabilities([Capability::Completion, Capability::Tools])
            .context_length(131_072)
            .embedding_length(2048)
            .model_size(3 << 20),
        CatalogModel::embedding("nomic-embed-text:latest").model_size(2 << 20),
        CatalogModel::embedding("all-minilm:latest")
            .family("bert")
            .parameter_size("23M")
            .embedding_length(384)
            .model_size(1 << 20),
        CatalogModel::new("tinyllama:latest")
            .parameter_size("1B")
            .quantization_level("Q4_0")
            .context_length(2048)
            .embedding_length(2048)
            .model_size(2 << 20),
        CatalogModel::new("qwen3:0.6b")
            .family("qwen3")
            .parameter_size("751.63M")
            .capabilities([
                Capability::Completion,
                Capability::Tools,
                Capability::Thinking,
            ])
            .context_length(40_960)
            .embedding_length(1024)
            .model_size(2 << 20),
    ]
}

/// `sha256:<hex>` of `data`.
pub(crate) fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_64_hex_and_change_with_revision() {
        let m = CatalogModel::new("llama3.2:3b");
        let d = m.digest();
        assert_eq!(d.len(), 64);
        assert!(d.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(m.next_revision().digest(), d);
        assert_eq!(CatalogModel::new("llama3.2:3b").digest(), d, "stable");
        for l in &m.layers {
            assert!(l.digest.starts_with("sha256:") && l.digest.len() == 71);
        }
    }

    #[test]
    fn explicit_layers_also_change_upstream() {
        let m = CatalogModel::new("x").layers(vec![Layer {
            media_type: MEDIA_MODEL.into(),
            digest: sha256_digest(b"w"),
            size: 10,
        }]);
        assert_ne!(m.next_revision().digest(), m.digest());
        assert_eq!(m.size(), 10);
    }
}
