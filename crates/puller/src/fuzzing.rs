//! Entry points for the fuzz targets (`fuzz/`): Ollama's pull stream as the
//! puller reads it, from bytes. Not an API.

use std::time::Duration;

use crate::ollama::{Layers, PullStream};

/// Reads `chunks` as a `/api/pull` answer the way a pull does: line by
/// line, layer progress taken, until the end or the first error. Returns
/// the lines read and the percentage reached.
pub async fn pull(chunks: Vec<Vec<u8>>) -> (usize, u64) {
    let mut stream = PullStream::of_chunks(chunks, Duration::from_secs(5));
    let mut layers = Layers::default();
    let mut lines = 0;
    while let Ok(Some(line)) = stream.next_line().await {
        lines += 1;
        if line.error.is_some() {
            break;
        }
        layers.take(&line);
        let progress = layers.progress();
        assert!(progress.completed_bytes <= progress.total_bytes);
    }
    (lines, layers.progress().percent())
}
