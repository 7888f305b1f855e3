//! Shared text rules of every form: trimming, lengths in characters, single lines, DNS
//! labels and host names, GUIDs. Lengths are counted in characters, never bytes, and no
//! string is sliced at a computed index, so multi-byte input cannot panic.

/// §2 trims spaces only; see the module comment for why not `str::trim`.
pub(crate) fn trim_spaces(input: &str) -> &str {
    input.trim_matches(' ')
}

pub(crate) fn char_len_within(s: &str, min: usize, max: usize) -> bool {
    // Stops counting past `max`, so a megabyte of input costs no more than
    // `max` steps.
    let n = s.chars().take(max + 1).count();
    n >= min && n <= max
}

/// A trimmed, single-line text of `min..=max` characters without control
/// characters.
pub(crate) fn single_line(input: &str, min: usize, max: usize) -> Option<&str> {
    let text = trim_spaces(input);
    (char_len_within(text, min, max) && !text.chars().any(char::is_control)).then_some(text)
}

/// An optional single-line text of at most `max` characters: blank is `None`. SPEC §2
/// has every text field refuse CR, LF and other control characters, the signature and
/// the description included.
pub(crate) fn optional_line(input: &str, max: usize) -> Result<Option<String>, ()> {
    if trim_spaces(input).is_empty() {
        return Ok(None);
    }
    single_line(input, 1, max).map(|t| Some(t.to_owned())).ok_or(())
}

/// RFC 1123 label: 1–63 letters, digits and hyphens, no hyphen at either end.
pub(crate) fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An RFC 1123 host name of at least `min_labels` labels, without a trailing
/// dot. A name whose last label is all digits is refused: it is a mistyped or
/// out-of-range IPv4 address (`256.1.1.1`, `010.0.0.1`), and resolvers read
/// some of them as numbers (`2130706433` is 127.0.0.1), so the host connected
/// to would not be the one shown.
pub(crate) fn is_host_name(name: &str, min_labels: usize) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= min_labels
        && labels.iter().all(|l| is_dns_label(l))
        && labels.last().is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()))
}

/// The hexadecimal digits of each group of a GUID.
pub(crate) const GUID_GROUPS: [usize; 5] = [8, 4, 4, 4, 12];

/// The length of a GUID: its digits and the hyphens between the groups (36).
pub const GUID_LEN: usize = {
    let mut len = GUID_GROUPS.len() - 1;
    let mut i = 0;
    while i < GUID_GROUPS.len() {
        len += GUID_GROUPS[i];
        i += 1;
    }
    len
};

/// A GUID of zeros, `00000000-0000-0000-0000-000000000000`, to show the format.
pub fn guid_example() -> String {
    GUID_GROUPS.map(|n| "0".repeat(n)).join("-")
}

/// `8-4-4-4-12` hexadecimal digits, either case, no braces.
pub(crate) fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == GUID_GROUPS.len()
        && groups.iter().zip(GUID_GROUPS).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_length_and_example() {
        assert_eq!(GUID_LEN, 36);
        assert_eq!(guid_example(), "00000000-0000-0000-0000-000000000000");
        assert!(is_guid(&guid_example()));
        assert_eq!(guid_example().len(), GUID_LEN);
    }
}
