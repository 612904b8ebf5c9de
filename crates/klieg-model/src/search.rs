//! Case-insensitive text search that reports where matches are in the original text, for
//! highlighting. Any thread; pure.
//!
//! Lowercasing can change a character's length in bytes (`İ` is two bytes, its lowercase three;
//! `K`, the Kelvin sign, is three bytes and lowercases to one), so offsets in a lowercased copy
//! are not offsets in the original. Every match is mapped back through the characters it came
//! from, and always covers whole characters of the original.

use std::ops::Range;

/// The byte ranges of `text` that match `needle` ignoring case, in order, not overlapping, each
/// on character boundaries of `text`. An empty needle matches nothing.
pub fn match_ranges_ignore_case(text: &str, needle: &str) -> Vec<Range<usize>> {
    if needle.is_empty() {
        return Vec::new();
    }
    let needle = needle.to_lowercase();
    if text.is_ascii() {
        // Lowercasing ASCII keeps every offset.
        let folded = text.to_ascii_lowercase();
        return find_all(&folded, &needle).collect();
    }
    // Each byte of the lowercased copy remembers the original character it came from.
    let mut folded = String::with_capacity(text.len());
    let mut origins: Vec<(u32, u32)> = Vec::with_capacity(text.len());
    for (start, character) in text.char_indices() {
        let before = folded.len();
        folded.extend(character.to_lowercase());
        let origin = (start as u32, (start + character.len_utf8()) as u32);
        origins.extend(std::iter::repeat_n(origin, folded.len() - before));
    }
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for found in find_all(&folded, &needle) {
        let (Some(first), Some(last)) = (origins.get(found.start), origins.get(found.end - 1)) else { continue };
        let range = first.0 as usize..last.1 as usize;
        // Two matches inside one character's lowercase form would overlap in the original.
        match ranges.last_mut() {
            Some(previous) if previous.end > range.start => previous.end = previous.end.max(range.end),
            _ => ranges.push(range),
        }
    }
    ranges
}

/// Whether `text` contains `needle`, ignoring case.
pub fn contains_ignore_case(text: &str, needle: &str) -> bool {
    needle.is_empty() || !match_ranges_ignore_case(text, needle).is_empty()
}

/// Non-overlapping occurrences of `needle` (not empty) in `haystack`.
fn find_all<'a>(haystack: &'a str, needle: &'a str) -> impl Iterator<Item = Range<usize>> + 'a {
    let mut at = 0;
    std::iter::from_fn(move || {
        let found = at + haystack.get(at..)?.find(needle)?;
        at = found + needle.len();
        Some(found..at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
        match_ranges_ignore_case(text, needle).into_iter().map(|range| &text[range]).collect()
    }

    #[test]
    fn matches_ignore_case_and_map_back_to_the_original() {
        assert_eq!(matched("GET /a get /b", "get"), ["GET", "get"]);
        assert_eq!(matched("Straße STRASSE", "straße"), ["Straße"]);
        // Lengths change in both directions within one line: İ grows, the Kelvin sign shrinks.
        let text = "İİİ error \u{212A}elvin ERROR";
        assert_eq!(matched(text, "error"), ["error", "ERROR"]);
        assert_eq!(matched(text, "kelvin"), ["\u{212A}elvin"]);
        // A match that starts inside a character's lowercase form covers that whole character.
        assert_eq!(matched("xİy", "\u{307}y"), ["İy"]);
        assert!(matched("abc", "").is_empty());
        assert!(contains_ignore_case("ÖL", "öl") && !contains_ignore_case("ol", "öl"));
    }

    /// Every character whose lowercase form has another length, mixed with ASCII, searched for
    /// every piece of the text: no range may split a character or run past the end.
    #[test]
    fn ranges_are_on_character_boundaries_whatever_the_text() {
        let odd: Vec<char> = (0..0x3_0000u32)
            .filter_map(char::from_u32)
            .filter(|c| c.to_lowercase().map(char::len_utf8).sum::<usize>() != c.len_utf8())
            .collect();
        assert!(odd.len() >= 10, "the table of length-changing characters is there: {}", odd.len());
        let text: String = odd.iter().flat_map(|c| [*c, 'a', 'B']).collect();
        for window in odd.windows(2).step_by(7) {
            for needle in [window[0].to_string(), format!("{}a", window[1]), "ab".to_string(), "b".to_string()] {
                for range in match_ranges_ignore_case(&text, &needle) {
                    assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end), "{needle:?}");
                    assert!(range.start < range.end && range.end <= text.len());
                }
            }
        }
    }
}
