//! An organization's time zone: a name from the IANA time zone database (`Europe/Paris`),
//! which relaydesk carries inside its binary, so every machine knows the same zones.

use jiff::tz::TimeZone;

/// The message when a time zone is not one relaydesk knows.
pub const MSG_TIME_ZONE: &str =
    "Please choose a time zone from the list, by its IANA name such as Europe/Paris or America/New_York.";

/// Longer than any name in the database; a longer input is refused before the lookup.
const MAX_LEN: usize = 64;

/// A time zone known by its IANA name.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// Reads an IANA name, in any letter case (`europe/paris` is `Europe/Paris`); spaces
    /// around it are ignored, control characters (a line break) refused.
    pub fn parse(input: &str) -> Result<Zone, &'static str> {
        if input.chars().any(char::is_control) {
            return Err(MSG_TIME_ZONE);
        }
        let input = input.trim();
        if input.is_empty() || input.len() > MAX_LEN || input.contains(' ') {
            return Err(MSG_TIME_ZONE);
        }
        let tz = TimeZone::get(input).map_err(|_| MSG_TIME_ZONE)?;
        let name = tz.iana_name().ok_or(MSG_TIME_ZONE)?.to_owned();
        Ok(Zone { name, tz })
    }

    /// UTC, every organization's zone until an administrator chooses another.
    pub fn utc() -> Zone {
        Zone { name: "UTC".to_owned(), tz: TimeZone::UTC }
    }

    /// The IANA name, as stored.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The zone's rules.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// Every zone name relaydesk knows, sorted (for the settings page's list).
    pub fn all_names() -> Vec<String> {
        let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_owned()).collect();
        names.sort_unstable();
        names
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_in_any_case_read_as_their_proper_names() {
        for (input, name) in [
            ("Europe/Paris", "Europe/Paris"),
            ("europe/paris", "Europe/Paris"),
            (" America/New_York ", "America/New_York"),
            ("UTC", "UTC"),
            ("utc", "UTC"),
            ("Asia/Kolkata", "Asia/Kolkata"),
            ("Pacific/Chatham", "Pacific/Chatham"),
        ] {
            assert_eq!(Zone::parse(input).map(|z| z.as_str().to_owned()), Ok(name.to_owned()), "{input}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_message() {
        for input in
            ["", " ", "Mars/Olympus", "Europe/Paris\n", "Europe /Paris", "+02:00", "CET-1CEST", "../../etc/passwd"]
        {
            assert_eq!(Zone::parse(input).map(|z| z.as_str().to_owned()), Err(MSG_TIME_ZONE), "{input:?}");
        }
        assert_eq!(Zone::parse(&"A".repeat(65)).err(), Some(MSG_TIME_ZONE));
    }

    #[test]
    fn the_list_holds_the_common_zones_in_order() {
        let names = Zone::all_names();
        assert!(names.len() > 300, "{}", names.len());
        for name in ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney"] {
            assert!(names.iter().any(|n| n == name), "{name}");
        }
        assert!(names.windows(2).all(|w| w[0] <= w[1]));
    }
}
