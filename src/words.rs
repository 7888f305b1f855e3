//! Rules put into words for people: durations ("1 hour", "7 days") and lists ("a, b and
//! c"). Pages, emails and messages say a limit through these, from the constant the code
//! enforces, so the sentence cannot drift from the rule.

use std::time::Duration;

/// Units from the largest; a duration is said in the largest one that divides it.
const UNITS: [(u64, &str); 4] = [(24 * 60 * 60, "day"), (60 * 60, "hour"), (60, "minute"), (1, "second")];

/// A whole number of seconds as people say it: `30 seconds`, `1 hour`, `90 minutes`,
/// `7 days`. The largest unit that divides it exactly is used, so nothing is rounded
/// away; a fraction of a second is dropped.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (size, unit) =
        UNITS.iter().copied().find(|(size, _)| secs > 0 && secs.is_multiple_of(*size)).unwrap_or(UNITS[3]);
    count(secs / size, unit)
}

/// [`duration`] of a number of seconds; a negative one is zero.
pub fn seconds(secs: i64) -> String {
    duration(Duration::from_secs(secs.max(0).unsigned_abs()))
}

/// `every 12 hours`, `every hour` (not `every 1 hour`).
pub fn every(d: Duration) -> String {
    let words = duration(d);
    match words.strip_prefix("1 ") {
        Some(unit) => format!("every {unit}"),
        None => format!("every {words}"),
    }
}

/// `1 minute`, `2 minutes`.
pub fn count(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", init.join(", "), last.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> String {
        duration(Duration::from_secs(n))
    }

    #[test]
    fn durations_in_the_largest_exact_unit() {
        assert_eq!(secs(1), "1 second");
        assert_eq!(secs(30), "30 seconds");
        assert_eq!(secs(60), "1 minute");
        assert_eq!(secs(90), "90 seconds");
        assert_eq!(secs(5 * 60), "5 minutes");
        assert_eq!(secs(30 * 60), "30 minutes");
        assert_eq!(secs(60 * 60), "1 hour");
        assert_eq!(secs(90 * 60), "90 minutes");
        assert_eq!(secs(12 * 60 * 60), "12 hours");
        assert_eq!(secs(24 * 60 * 60), "1 day");
        assert_eq!(secs(36 * 60 * 60), "36 hours");
        assert_eq!(secs(7 * 24 * 60 * 60), "7 days");
    }

    #[test]
    fn zero_fractions_and_negatives() {
        assert_eq!(secs(0), "0 seconds");
        assert_eq!(duration(Duration::from_millis(1500)), "1 second");
        assert_eq!(seconds(-5), "0 seconds");
        assert_eq!(seconds(3600), "1 hour");
    }

    #[test]
    fn every_says_a_single_unit_without_the_one() {
        assert_eq!(every(Duration::from_secs(12 * 60 * 60)), "every 12 hours");
        assert_eq!(every(Duration::from_secs(60 * 60)), "every hour");
        assert_eq!(every(Duration::from_secs(30)), "every 30 seconds");
    }

    #[test]
    fn counts_and_lists() {
        assert_eq!(count(1, "minute"), "1 minute");
        assert_eq!(count(0, "minute"), "0 minutes");
        assert_eq!(count(15, "minute"), "15 minutes");
        assert_eq!(and_list::<&str>(&[]), "");
        assert_eq!(and_list(&["a"]), "a");
        assert_eq!(and_list(&["a", "b"]), "a and b");
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
    }
}
