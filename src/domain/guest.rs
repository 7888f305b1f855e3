//! Guest access settings: whether guests may register, how their passcode reaches them,
//! how long it is and how long it signs them in, and which calling codes may receive it.

use crate::domain::text::*;

pub const MSG_GUESTS_NO_DELIVERY: &str = "Set up email or an SMS channel before turning guest access on.";
pub const MSG_GUESTS_DELIVERY: &str = "Please choose how guests receive their passcode.";
pub const MSG_GUESTS_PASSCODE_LENGTH: &str = "Please choose a passcode length from 4 to 10 digits.";
pub const MSG_GUESTS_ACCESS_HOURS: &str = "Please enter a number of hours from 1 to 720.";
pub const MSG_GUESTS_PREFIXES: &str = "Please enter calling codes like +44, separated by spaces.";

/// How guests receive their passcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    #[default]
    Email,
    Sms,
    Both,
}

impl Delivery {
    pub const ALL: [Delivery; 3] = [Delivery::Email, Delivery::Sms, Delivery::Both];

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        match trim_spaces(input) {
            "email" => Ok(Self::Email),
            "sms" => Ok(Self::Sms),
            "both" => Ok(Self::Both),
            _ => Err(MSG_GUESTS_DELIVERY),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Both => "both",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Email => "By email",
            Self::Sms => "By SMS",
            Self::Both => "By email or SMS, as the guest chooses",
        }
    }

    /// Whether guests could get a passcode now, given which methods work.
    pub fn works(self, email: bool, sms: bool) -> bool {
        match self {
            Self::Email => email,
            Self::Sms => sms,
            Self::Both => email || sms,
        }
    }
}

/// Digits in a passcode: 4–10.
pub fn parse_passcode_length(input: &str) -> Result<u8, &'static str> {
    parse_number(input, 4, 10).map(|n| n as u8).ok_or(MSG_GUESTS_PASSCODE_LENGTH)
}

/// Hours a passcode signs a guest in: 1–720.
pub fn parse_access_hours(input: &str) -> Result<u16, &'static str> {
    parse_number(input, 1, 720).map(|n| n as u16).ok_or(MSG_GUESTS_ACCESS_HOURS)
}

fn parse_number(input: &str, min: u32, max: u32) -> Option<u32> {
    let text = trim_spaces(input);
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| (min..=max).contains(n))
}

/// The calling codes allowed to receive passcodes by SMS (`+44 +353`); empty allows any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallingCodes(Vec<String>);

impl CallingCodes {
    /// `+` and 1–3 digits (not starting with 0) each, separated by spaces; duplicates dropped.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        if input.chars().count() > 200 {
            return Err(MSG_GUESTS_PREFIXES);
        }
        let mut codes: Vec<String> = Vec::new();
        for word in input.split(' ').filter(|w| !w.is_empty()) {
            let digits = word.strip_prefix('+').ok_or(MSG_GUESTS_PREFIXES)?;
            let ok = (1..=3).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0');
            if !ok {
                return Err(MSG_GUESTS_PREFIXES);
            }
            if !codes.iter().any(|c| c == word) {
                codes.push(word.to_owned());
            }
        }
        Ok(Self(codes))
    }

    /// As stored and shown: `+44 +353`.
    pub fn to_text(&self) -> String {
        self.0.join(" ")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a number in E.164 (`+447700900123`) may receive a passcode.
    pub fn allows(&self, e164: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|c| e164.starts_with(c.as_str()))
    }
}

/// A tenant's guest access settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestSettings {
    pub enabled: bool,
    pub delivery: Delivery,
    pub passcode_length: u8,
    pub access_hours: u16,
    pub allowed_prefixes: CallingCodes,
}

impl Default for GuestSettings {
    fn default() -> Self {
        GuestSettings {
            enabled: false,
            delivery: Delivery::Email,
            passcode_length: 6,
            access_hours: 24,
            allowed_prefixes: CallingCodes::default(),
        }
    }
}

/// The settings form as submitted.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct GuestSettingsForm {
    pub enabled: Option<String>,
    pub delivery: String,
    pub passcode_length: String,
    pub access_hours: String,
    pub allowed_prefixes: String,
}

impl GuestSettingsForm {
    /// The form of saved settings.
    pub fn of(s: &GuestSettings) -> Self {
        GuestSettingsForm {
            enabled: s.enabled.then(|| "on".to_owned()),
            delivery: s.delivery.as_str().to_owned(),
            passcode_length: s.passcode_length.to_string(),
            access_hours: s.access_hours.to_string(),
            allowed_prefixes: s.allowed_prefixes.to_text(),
        }
    }

    /// Every field's rule but the one that needs to know which methods work.
    pub fn parse(&self) -> Result<GuestSettings, crate::domain::FieldErrors> {
        let mut e = crate::domain::FieldErrors::default();
        let delivery = e.check("delivery", Delivery::parse(&self.delivery));
        let passcode_length = e.check("passcode_length", parse_passcode_length(&self.passcode_length));
        let access_hours = e.check("access_hours", parse_access_hours(&self.access_hours));
        let allowed_prefixes = e.check("allowed_prefixes", CallingCodes::parse(&self.allowed_prefixes));
        match (delivery, passcode_length, access_hours, allowed_prefixes) {
            (Some(delivery), Some(passcode_length), Some(access_hours), Some(allowed_prefixes)) => Ok(GuestSettings {
                enabled: self.enabled.as_deref() == Some("on"),
                delivery,
                passcode_length,
                access_hours,
                allowed_prefixes,
            }),
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_passcode_length("4"), Ok(4));
        assert_eq!(parse_passcode_length(" 10 "), Ok(10));
        for bad in ["", "3", "11", "six", "-6", "6.0", "+6", "99999999999"] {
            assert_eq!(parse_passcode_length(bad), Err(MSG_GUESTS_PASSCODE_LENGTH), "{bad:?}");
        }
        assert_eq!(parse_access_hours("720"), Ok(720));
        for bad in ["", "0", "721", "24h"] {
            assert_eq!(parse_access_hours(bad), Err(MSG_GUESTS_ACCESS_HOURS), "{bad:?}");
        }
    }

    #[test]
    fn calling_codes() {
        let codes = CallingCodes::parse(" +44  +353 +44").unwrap();
        assert_eq!(codes.to_text(), "+44 +353");
        assert!(codes.allows("+447700900123") && codes.allows("+353851234567") && !codes.allows("+15550109999"));
        assert!(CallingCodes::parse("").unwrap().allows("+15550109999"));
        for bad in ["44", "+", "+0", "+1234", "+44,+353", "+44\t+353", "+4a"] {
            assert_eq!(CallingCodes::parse(bad), Err(MSG_GUESTS_PREFIXES), "{bad:?}");
        }
    }

    #[test]
    fn which_delivery_works() {
        assert!(Delivery::Both.works(false, true) && !Delivery::Email.works(false, true));
        assert!(!Delivery::Sms.works(true, false));
    }
}
