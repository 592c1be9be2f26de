//! What a broken or hostile Ollama sends in a pull's progress stream: the
//! cases found reviewing and fuzzing (`puller_pull_stream`) the puller's
//! reading of it.

use hwc_ai_puller::ollama::{LayerStep, Layers, PullLine, MAX_LINE};
use hwc_ai_puller::report::Progress;

fn line(digest: &str, total: u64, completed: u64) -> PullLine {
    PullLine {
        status: "pulling".into(),
        digest: Some(digest.into()),
        total: Some(total),
        completed: Some(completed),
        error: None,
    }
}

#[test]
fn absurd_layer_sizes_saturate_instead_of_overflowing() {
    let mut layers = Layers::default();
    assert_eq!(
        layers.take(&line("sha256:a", u64::MAX, u64::MAX - 1)),
        Some(LayerStep::New { remaining: 1 })
    );
    assert_eq!(
        layers.take(&line("sha256:b", u64::MAX, u64::MAX)),
        Some(LayerStep::New { remaining: 0 })
    );
    let progress = layers.progress();
    assert_eq!(progress.total_bytes, u64::MAX);
    assert_eq!(progress.completed_bytes, u64::MAX);
    assert_eq!(progress.percent(), 100);
}

#[test]
fn percent_of_huge_sizes_is_computed_without_overflow() {
    let p = Progress {
        completed_bytes: u64::MAX / 2,
        total_bytes: u64::MAX,
    };
    assert_eq!(p.percent(), 49);
    assert_eq!(
        Progress {
            completed_bytes: 1,
            total_bytes: 0
        }
        .percent(),
        0
    );
}

#[test]
fn completed_beyond_total_and_going_backwards_count_nothing_extra() {
    let mut layers = Layers::default();
    layers.take(&line("sha256:a", 100, 500));
    assert_eq!(layers.progress().completed_bytes, 100);
    assert_eq!(
        layers.take(&line("sha256:a", 100, 10)),
        Some(LayerStep::Same)
    );
    assert_eq!(layers.progress().completed_bytes, 100);
}

#[tokio::test]
async fn a_line_that_never_ends_is_refused_not_buffered_forever() {
    // 3 MiB without a newline, in 64 KiB chunks: the stream stops at the
    // bound instead of holding it all.
    let chunks = vec![vec![b'x'; 64 * 1024]; 48];
    let (lines, _) = hwc_ai_puller::fuzzing::pull(chunks).await;
    assert_eq!(lines, 0);
    let mut chunks = vec![br#"{"status":"pulling manifest"}"#.to_vec(), b"\n".to_vec()];
    chunks.push(vec![b' '; MAX_LINE + 1]);
    chunks.push(b"\n{\"status\":\"success\"}\n".to_vec());
    let (lines, _) = hwc_ai_puller::fuzzing::pull(chunks).await;
    assert_eq!(lines, 1, "the over-long line ends the stream");
}

#[test]
fn a_layer_whose_total_grows_later_never_shows_more_done_than_announced() {
    // Found by the fuzz target: the same digest announced with 10 bytes,
    // then with 1000 bytes of which 500 are done.
    let mut layers = Layers::default();
    layers.take(&line("sha256:a", 10, 0));
    assert_eq!(
        layers.take(&line("sha256:a", 1000, 500)),
        Some(LayerStep::Grew(10))
    );
    let progress = layers.progress();
    assert!(
        progress.completed_bytes <= progress.total_bytes,
        "{progress:?}"
    );
    assert_eq!(progress.percent(), 100);
}
