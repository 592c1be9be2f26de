//! Entry points for the fuzz targets (`fuzz/`): the parsers of upstream
//! bytes that are not public otherwise. Not an API.

/// The (prompt, completion) tokens a relayed stream chunk reports.
pub fn relay_usages(chunk: &[u8]) -> Vec<(Option<u64>, Option<u64>)> {
    crate::relay::usages(chunk)
        .map(|u| (u.prompt_tokens, u.completion_tokens))
        .collect()
}
