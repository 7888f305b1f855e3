//! The SMTP account password rules of SPEC §2.2.
//!
//! Two policies exist because seed 002's rules (a human-chosen password) cannot
//! be met by provider-issued credentials: a Gmail app password is 16 lower-case
//! letters, a SendGrid key is 69 characters with dots. The tenant picks one.
//!
//! Passwords are never trimmed: a space is as much a part of a secret as any
//! other character, and silently dropping it would make a correct password fail
//! at the server with no hint why.

/// Fewest characters a `documented` password may have (§2.2).
pub const DOCUMENTED_MIN_LEN: usize = 10;
/// Most characters a `documented` password may have (§2.2).
pub const DOCUMENTED_MAX_LEN: usize = 20;
/// Most characters a `provider` password may have (§2.2).
pub const PROVIDER_MAX_LEN: usize = 256;

/// The special characters §2.2 allows, and of which one is required.
pub const SPECIALS: &str = "$!@%*#?&";

/// Keyboard rows and the alphabet, along which three neighbours in a row (in
/// either direction) are too guessable. The digit row ends at `0` and does not
/// wrap, so `901` is allowed while `890` and `098` are not.
const SEQUENCES: [&str; 5] = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz"];

/// The first documented rule (§2.2) a password breaks, in the order the rules are
/// checked; the message names it after the seed's sentence
/// (`crate::domain::smtp::msg_smtp_password`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentedFailure {
    /// Nothing was typed.
    Empty,
    /// Fewer than [`DOCUMENTED_MIN_LEN`] characters.
    TooShort,
    /// More than [`DOCUMENTED_MAX_LEN`] characters.
    TooLong,
    /// A character outside `A-Z a-z 0-9` and [`SPECIALS`] (a space, `-`, `é`…).
    OutsideSet,
    /// No uppercase letter.
    NoUpper,
    /// No lowercase letter.
    NoLower,
    /// No digit.
    NoDigit,
    /// None of [`SPECIALS`].
    NoSpecial,
    /// One character three times in a row, case-insensitive (`aAa`, `111`).
    Repeat,
    /// Three keyboard or alphabet neighbours in a row, either way (`abc`, `321`, `qwe`).
    Run,
}

/// Checks `pw` against the `documented` policy of §2.2 (seed 002): the first rule
/// broken, if any. Which one matters to the person typing it, so the message says it;
/// the password itself is never part of the answer.
pub fn documented_failure(pw: &str) -> Option<DocumentedFailure> {
    use DocumentedFailure::*;
    let chars: Vec<char> = pw.chars().collect();
    if chars.is_empty() {
        return Some(Empty);
    }
    if chars.len() < DOCUMENTED_MIN_LEN {
        return Some(TooShort);
    }
    if chars.len() > DOCUMENTED_MAX_LEN {
        return Some(TooLong);
    }
    if !chars.iter().all(|&c| c.is_ascii_alphanumeric() || SPECIALS.contains(c)) {
        return Some(OutsideSet);
    }
    let missing = [
        (chars.iter().any(char::is_ascii_uppercase), NoUpper),
        (chars.iter().any(char::is_ascii_lowercase), NoLower),
        (chars.iter().any(char::is_ascii_digit), NoDigit),
        (chars.iter().any(|&c| SPECIALS.contains(c)), NoSpecial),
    ];
    if let Some((_, failure)) = missing.iter().find(|(has, _)| !has) {
        return Some(*failure);
    }
    // Case-insensitive, so `aAa` repeats and `AbC` runs.
    let folded: Vec<char> = chars.iter().map(char::to_ascii_lowercase).collect();
    if folded.windows(3).any(is_triple) {
        return Some(Repeat);
    }
    if folded.windows(3).any(is_keyboard_run) {
        return Some(Run);
    }
    None
}

/// Whether `pw` meets the `documented` policy of §2.2 (seed 002).
pub fn check_documented(pw: &str) -> bool {
    documented_failure(pw).is_none()
}

/// Whether `pw` meets the `provider` policy of §2.2: 1–256 printable
/// characters. Control characters are refused because no provider issues them
/// and they are how a value escapes the AUTH line it is sent on.
pub fn check_provider(pw: &str) -> bool {
    let mut count = 0usize;
    for c in pw.chars() {
        count += 1;
        if c.is_control() || count > PROVIDER_MAX_LEN {
            return false;
        }
    }
    count >= 1
}

fn is_triple(w: &[char]) -> bool {
    w[0] == w[1] && w[1] == w[2]
}

/// Three characters that appear next to each other, in this or the reverse
/// order, along one of the [`SEQUENCES`].
fn is_keyboard_run(w: &[char]) -> bool {
    let forward: String = w.iter().collect();
    let backward: String = w.iter().rev().collect();
    SEQUENCES.iter().any(|seq| seq.contains(&forward) || seq.contains(&backward))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documented_table() {
        // (password, accepted, why)
        let cases: &[(&str, bool, &str)] = &[
            ("Aa1!Bb2@Cc", true, "10 chars, every class"),
            ("Aa1!Bb2@Cc3#Dd4$Ee5%", true, "20 chars"),
            ("Aa1!Bb2@C", false, "9 chars"),
            ("Aa1!Bb2@Cc3#Dd4$Ee5%F", false, "21 chars"),
            ("", false, "empty"),
            ("Zq8$Zq8$Zq", true, "repeats that are not adjacent"),
            ("aa1!Bb2@Cc", true, "`aa` twice is fine"),
            ("aaa1!Bb2@C", false, "`aaa`"),
            ("aAa1!Bb2@C", false, "`aAa` case-insensitive triple"),
            ("Xx111!Bb2@", false, "`111`"),
            ("Xx1!!!Bb2@", false, "`!!!`"),
            ("ab1!Xz2@Pm", true, "`ab` is only two"),
            ("abc1!Xz2@P", false, "`abc`"),
            ("cba1!Xz2@P", false, "`cba` backwards"),
            ("AbC1!Xz2@P", false, "`AbC` mixed case"),
            ("qwe1!Xz2@P", false, "`qwe`"),
            ("ewq1!Xz2@P", false, "`ewq` backwards"),
            ("Psdf1!Xz2@", false, "`sdf`"),
            ("ZXC1!Pm2@k", false, "`ZXC` upper case"),
            ("mnb1!Pz2@K", false, "`mnb` backwards along zxcvbnm"),
            ("Pm890!Xz2@", false, "`890`"),
            ("Pm098!Xz2@", false, "`098` backwards"),
            ("Pm123!Xz2@", false, "`123`"),
            ("Pm321!Xz2@", false, "`321`"),
            ("Pm901!Xz2@", true, "`901`: the digit row does not wrap"),
            ("Pmpqa!Xz2@", true, "`pqa`: rows do not join"),
            ("Pm135!Xz2@", true, "`135` skips keys"),
            ("Lkj1!Pz2@x", false, "`lkj` backwards along asdfghjkl"),
            ("Xyz1!Pm2@k", false, "`xyz` along the alphabet"),
            ("Pmrst!X12@", false, "`rst` along the alphabet"),
            ("Pmtr1!Xz2@", true, "`tr`+`1` is not a run"),
            ("aa1!bb2@cc", false, "no upper case"),
            ("AA1!BB2@CC", false, "no lower case"),
            ("Aa!Bb@Cc#D", false, "no digit"),
            ("Aa1Bb2Cc3D", false, "no special"),
            ("Aa1!Bb2@Cc ", false, "space not allowed"),
            ("Aa1!Bb2@C-", false, "`-` is not in the special list"),
            ("Aa1!Bb2@Cé", false, "non-ASCII letter"),
            ("Aa1!Bb2@C\n", false, "control character"),
            ("Aa1!Bb2@Cc\u{0}", false, "NUL"),
            ("Ａa1!Bb2@Cc", false, "full-width letter"),
            ("Aa1$!@%*#?&", true, "every special"),
        ];
        for (pw, ok, why) in cases {
            assert_eq!(check_documented(pw), *ok, "{pw:?}: {why}");
        }
    }

    #[test]
    fn documented_failure_names_the_first_rule_broken() {
        use DocumentedFailure::*;
        let cases: &[(&str, Option<DocumentedFailure>)] = &[
            ("Aa1!Bb2@Cc", None),
            ("", Some(Empty)),
            ("Aa1!Bb2@C", Some(TooShort)),
            ("Aa1!Bb2@Cc3#Dd4$Ee5%F", Some(TooLong)),
            ("Aa1!Bb2@Cc3#Dd4$Ee5%Ff6", Some(TooLong)),
            ("Aa1!Bb2@C-", Some(OutsideSet)),
            ("Aa1!Bb2@Cc ", Some(OutsideSet)),
            ("Aa1!Bb2@Cé", Some(OutsideSet)),
            ("aa1!bb2@cc", Some(NoUpper)),
            ("AA1!BB2@CC", Some(NoLower)),
            ("Aa!Bb@Cc#D", Some(NoDigit)),
            ("Aa1Bb2Cc3D", Some(NoSpecial)),
            ("aaa1!Bb2@C", Some(Repeat)),
            ("Xx1!!!Bb2@", Some(Repeat)),
            ("abc1!Xz2@P", Some(Run)),
            ("Pm321!Xz2@", Some(Run)),
            ("qwe1!Xz2@P", Some(Run)),
            // Length is named before the characters, the characters before the classes.
            ("a-", Some(TooShort)),
            ("aaaaaaaaaa-", Some(OutsideSet)),
        ];
        for (pw, want) in cases {
            assert_eq!(documented_failure(pw), *want, "{pw:?}");
        }
    }

    #[test]
    fn documented_does_not_trim() {
        assert!(check_documented("Aa1!Bb2@Cc"));
        assert!(!check_documented(" Aa1!Bb2@Cc"));
        assert!(!check_documented("Aa1!Bb2@Cc "));
    }

    #[test]
    fn provider_table() {
        let max = "k".repeat(PROVIDER_MAX_LEN);
        let over = "k".repeat(PROVIDER_MAX_LEN + 1);
        let max_multibyte = "é".repeat(PROVIDER_MAX_LEN);
        let over_multibyte = "é".repeat(PROVIDER_MAX_LEN + 1);
        let cases: &[(&str, bool, &str)] = &[
            ("", false, "empty"),
            ("x", true, "one character"),
            (&max, true, "256 characters"),
            (&over, false, "257 characters"),
            (&max_multibyte, true, "256 two-byte characters"),
            (&over_multibyte, false, "257 two-byte characters"),
            ("abcd efgh ijkl mnop", true, "Gmail app password with spaces"),
            ("aaaaaaaaaaaaaaaa", true, "repeats are fine here"),
            ("SG.abc-DEF_123.xyz", true, "API key punctuation"),
            (" ", true, "a space is printable"),
            ("pass\nword", false, "LF"),
            ("pass\rword", false, "CR"),
            ("pass\tword", false, "tab"),
            ("pass\u{7f}", false, "DEL"),
            ("pass\u{85}", false, "NEL (C1 control)"),
            ("pässwörd", true, "non-ASCII printable"),
        ];
        for (pw, ok, why) in cases {
            assert_eq!(check_provider(pw), *ok, "{pw:?}: {why}");
        }
    }

    // ---- An independent model of §2.2, written differently on purpose ----

    const MODEL_ROWS: [&str; 5] = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz"];

    /// Position of `c` in a row, by row index.
    fn positions(c: u8) -> Vec<(usize, usize)> {
        MODEL_ROWS.iter().enumerate().filter_map(|(r, row)| row.bytes().position(|b| b == c).map(|i| (r, i))).collect()
    }

    /// True when the three bytes are neighbours along one row, by index
    /// arithmetic rather than substring search.
    fn model_run(a: u8, b: u8, c: u8) -> bool {
        positions(a).into_iter().any(|(r, i)| {
            let step =
                |x: u8, want: isize| positions(x).into_iter().any(|(r2, j)| r2 == r && j as isize - i as isize == want);
            (step(b, 1) && step(c, 2)) || (step(b, -1) && step(c, -2))
        })
    }

    fn model(pw: &str) -> bool {
        let b = pw.as_bytes();
        let len_ok = pw.chars().count() >= 10 && pw.chars().count() <= 20;
        let set_ok = b.iter().all(|&x| {
            x.is_ascii_uppercase() || x.is_ascii_lowercase() || x.is_ascii_digit() || b"$!@%*#?&".contains(&x)
        }) && pw.is_ascii();
        let upper = b.iter().filter(|x| x.is_ascii_uppercase()).count() > 0;
        let lower = b.iter().filter(|x| x.is_ascii_lowercase()).count() > 0;
        let digit = b.iter().filter(|x| x.is_ascii_digit()).count() > 0;
        let special = b.iter().filter(|&&x| b"$!@%*#?&".contains(&x)).count() > 0;
        let low = pw.to_ascii_lowercase().into_bytes();
        let mut no_triple = true;
        let mut no_run = true;
        for i in 2..low.len() {
            if low[i] == low[i - 1] && low[i - 1] == low[i - 2] {
                no_triple = false;
            }
            if model_run(low[i - 2], low[i - 1], low[i]) {
                no_run = false;
            }
        }
        len_ok && set_ok && upper && lower && digit && special && no_triple && no_run
    }

    const ALPHABET: &str = "[A-Za-z0-9$!@%*#?&]";

    fn candidate() -> impl Strategy<Value = String> {
        "[A-Za-z0-9$!@%*#?&]{10,20}"
    }

    fn accepted() -> impl Strategy<Value = String> {
        candidate().prop_filter("accepted by the checker", |pw| check_documented(pw))
    }

    /// Three neighbours along one of the rows, in either direction, in any case.
    fn keyboard_run() -> impl Strategy<Value = String> {
        (0..MODEL_ROWS.len(), any::<prop::sample::Index>(), any::<bool>(), any::<[bool; 3]>()).prop_map(
            |(r, at, reverse, upper)| {
                let row = MODEL_ROWS[r].as_bytes();
                let start = at.index(row.len() - 2);
                let mut run: Vec<u8> = row[start..start + 3].to_vec();
                if reverse {
                    run.reverse();
                }
                run.iter()
                    .zip(upper)
                    .map(|(&b, up)| {
                        let c = b as char;
                        if up {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect()
            },
        )
    }

    /// `pw` with the three characters at `at` replaced by `insert`; the length
    /// stays the same so only the inserted pattern can be to blame.
    fn splice(pw: &str, at: prop::sample::Index, insert: &str) -> String {
        let mut chars: Vec<char> = pw.chars().collect();
        let i = at.index(chars.len() - 2);
        chars.splice(i..i + 3, insert.chars());
        chars.into_iter().collect()
    }

    proptest! {
        #[test]
        fn checker_agrees_with_the_model(pw in candidate()) {
            prop_assert_eq!(check_documented(&pw), model(&pw), "{:?}", pw);
        }

        #[test]
        fn checker_agrees_with_the_model_near_the_rules(
            pw in "[aAbBcC1230!qQwWeE98 é\n-]{8,22}"
        ) {
            prop_assert_eq!(check_documented(&pw), model(&pw), "{:?}", pw);
        }

        #[test]
        fn accepted_passwords_hold_every_property(pw in accepted()) {
            prop_assert!(model(&pw));
        }

        #[test]
        fn a_triple_makes_an_accepted_password_fail(
            pw in accepted(),
            at in any::<prop::sample::Index>(),
            c in ALPHABET,
            mixed in any::<bool>(),
        ) {
            let triple = if mixed {
                format!("{}{}{}", c.to_ascii_lowercase(), c.to_ascii_uppercase(), c)
            } else {
                c.repeat(3)
            };
            let spliced = splice(&pw, at, &triple);
            prop_assert!(!check_documented(&spliced), "{:?}", spliced);
        }

        #[test]
        fn a_keyboard_run_makes_an_accepted_password_fail(
            pw in accepted(),
            at in any::<prop::sample::Index>(),
            run in keyboard_run(),
        ) {
            let spliced = splice(&pw, at, &run);
            prop_assert!(!check_documented(&spliced), "{:?}", spliced);
        }

        #[test]
        fn lengths_outside_10_to_20_always_fail(
            short in "[A-Za-z0-9$!@%*#?&]{0,9}",
            long in "[A-Za-z0-9$!@%*#?&]{21,60}",
        ) {
            prop_assert!(!check_documented(&short));
            prop_assert!(!check_documented(&long));
        }

        #[test]
        fn provider_matches_its_definition(pw in any::<String>()) {
            let n = pw.chars().count();
            let expected = (1..=256).contains(&n) && !pw.chars().any(char::is_control);
            prop_assert_eq!(check_provider(&pw), expected);
        }

        #[test]
        fn a_failure_is_named_exactly_when_the_model_refuses(pw in "[aAbBcC1230!qQwWeE98 é\n-]{0,22}") {
            prop_assert_eq!(documented_failure(&pw).is_none(), model(&pw), "{:?}", pw);
        }

        #[test]
        fn never_panic(pw in any::<String>()) {
            let _ = check_documented(&pw);
            let _ = check_provider(&pw);
        }
    }
}
