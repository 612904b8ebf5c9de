//! Line diffs of YAML, for the editor's diff against the original. Pure; any thread (the editor
//! draws it on the UI thread, so it has a deadline).

/// How long one diff may take: past it, the diff is coarser (whole blocks replaced) but correct,
/// so a huge or hostile text cannot freeze a frame.
pub const DIFF_DEADLINE: std::time::Duration = std::time::Duration::from_millis(50);

/// One line of a diff: '+', '-', ' ' or '@' (between hunks), and the text.
pub type DiffLine = (char, String);

/// Unified diff lines with three lines of context; `@@` separates hunks.
pub fn diff_lines(before: &str, after: &str) -> Vec<DiffLine> {
    let diff = similar::TextDiff::configure().timeout(DIFF_DEADLINE).diff_lines(before, after);
    let mut out = Vec::new();
    for (index, group) in diff.grouped_ops(3).iter().enumerate() {
        if index > 0 {
            out.push(('@', "…".to_string()));
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                out.push((sign, change.value().trim_end_matches('\n').to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_large_unrelated_texts_diff_within_the_deadline() {
        let before: String = (0..20_000).map(|i| format!("line-{i}: {}\n", i * 7919 % 10_007)).collect();
        let after: String = (0..20_000).map(|i| format!("line-{i}: {}\n", i * 104_729 % 10_009)).collect();
        let started = std::time::Instant::now();
        let lines = diff_lines(&before, &after);
        assert!(started.elapsed() < DIFF_DEADLINE * 20, "{:?}", started.elapsed());
        // Correct, if coarse: every old line removed or kept, every new line added or kept.
        let kept_or_removed = lines.iter().filter(|(sign, _)| matches!(sign, '-' | ' ')).count();
        let kept_or_added = lines.iter().filter(|(sign, _)| matches!(sign, '+' | ' ')).count();
        assert!(kept_or_removed > 0 && kept_or_added > 0);
    }
}
