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
        self.narrowed(email, sms).is_some()
    }

    /// What guests may choose now: the chosen methods that work (email on with a default
    /// profile; an enabled SMS channel), `None` when none does. A guest is never offered a
    /// method whose passcode would only wait in the outbox.
    pub fn narrowed(self, email: bool, sms: bool) -> Option<Delivery> {
        match self {
            Self::Email => email.then_some(Self::Email),
            Self::Sms => sms.then_some(Self::Sms),
            Self::Both => match (email, sms) {
                (true, true) => Some(Self::Both),
                (true, false) => Some(Self::Email),
                (false, true) => Some(Self::Sms),
                (false, false) => None,
            },
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

/// SPEC §9.3's answers on the guest's pages.
pub const MSG_GUEST_SENT: &str = "We have sent your passcode.";
/// The guest page while none of the chosen delivery methods works.
pub const MSG_GUEST_UNAVAILABLE: &str =
    "Passcodes cannot be sent right now. Please try again later, or ask the organization you are visiting.";
/// An organizer's resend while the guest's method does not work.
pub const MSG_GUEST_METHOD_DOWN: &str =
    "No passcode was sent: the way this guest gets passcodes does not work right now. Turn email on with a default \
     profile, or enable an SMS channel, then resend.";
pub const MSG_GUEST_BAD_PASSCODE: &str = "Incorrect or expired passcode.";
pub const MSG_GUEST_TOO_MANY: &str = "Too many requests. Please try again later.";
pub const MSG_GUEST_NAME: &str = "Please enter your name within 64 characters.";
pub const MSG_GUEST_EMAIL: &str = "Please enter your email address, like name@example.com.";
pub const MSG_GUEST_EMAIL_OR_MOBILE: &str = "Please enter your email address or your mobile number.";
pub const MSG_GUEST_NOT_BOTH: &str = "Please enter your email address or your mobile number, not both.";
pub const MSG_GUEST_CODE_REFUSED: &str = "Passcodes cannot be sent by SMS to numbers with this calling code.";
pub const MSG_GUEST_REVOKED: &str = "Your guest access was withdrawn. Please ask the organization.";
pub const MSG_GUEST_LOGIN: &str = "Please enter the email address or mobile number you registered with.";

/// `You are connected until {time}.`
pub fn msg_connected_until(time: &str) -> String {
    format!("You are connected until {time}.")
}

/// Wrong passcodes a guest may type before the passcode stops working.
pub const MAX_PASSCODE_FAILURES: i64 = 5;
/// Passcodes per email address or number an hour.
pub const PER_LOGIN_PER_HOUR: i64 = 3;
/// Passcodes asked for from one client address an hour.
pub const PER_CLIENT_PER_HOUR: i64 = 10;
/// The per-organization daily cap unless the operator sets another.
pub const DEFAULT_DAILY_CAP: i64 = 500;
pub const MAX_DAILY_CAP: i64 = 100_000;
pub const MSG_GUEST_DAILY_CAP: &str = "Please enter a number of passcodes from 0 to 100000.";

/// A guest's name: 1–64 characters on one line, spaces around it trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestName(String);

impl GuestName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        single_line(input, 1, Self::MAX_LEN).map(|t| Self(t.to_owned())).ok_or(MSG_GUEST_NAME)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a guest is reached and signs in: an email address (lower-cased) or a mobile
/// number in E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestLogin {
    Email(crate::domain::email::EmailAddress),
    Mobile(crate::domain::sms::MobileNumber),
}

impl GuestLogin {
    /// What the sign-in form's `login` holds: an address when it has an `@`, a number
    /// otherwise (as a person types it).
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        if input.contains('@') {
            parse_email(input).map(GuestLogin::Email).map_err(|_| MSG_GUEST_LOGIN)
        } else {
            crate::domain::sms::MobileNumber::parse(input).map(GuestLogin::Mobile).map_err(|_| MSG_GUEST_LOGIN)
        }
    }

    /// As stored and shown: `ann@example.com`, `+447700900123`.
    pub fn as_str(&self) -> &str {
        match self {
            GuestLogin::Email(e) => e.as_str(),
            GuestLogin::Mobile(m) => m.as_str(),
        }
    }

    /// `email` or `sms`: how the passcode goes.
    pub fn via(&self) -> &'static str {
        match self {
            GuestLogin::Email(_) => "email",
            GuestLogin::Mobile(_) => "sms",
        }
    }
}

/// An email address of SPEC §2.1, lower-cased.
fn parse_email(input: &str) -> Result<crate::domain::email::EmailAddress, &'static str> {
    crate::domain::email::EmailAddress::parse(&input.to_lowercase()).ok_or(MSG_GUEST_EMAIL)
}

/// The registration form as submitted.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    pub name: String,
    pub email: String,
    pub mobile: String,
}

/// A registration that passed its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: GuestName,
    pub login: GuestLogin,
}

impl RegisterForm {
    /// Every rule of SPEC §9.3 under the organization's settings: the fields the delivery
    /// method offers, and the allowed calling codes.
    pub fn parse(&self, settings: &GuestSettings) -> Result<Registration, crate::domain::FieldErrors> {
        let mut e = crate::domain::FieldErrors::default();
        let name = e.check("name", GuestName::parse(&self.name));
        let email = trim_spaces(&self.email);
        let mobile = trim_spaces(&self.mobile);
        let login = match settings.delivery {
            Delivery::Email => e.check("email", parse_email(email).map(GuestLogin::Email)),
            Delivery::Sms => e.check("mobile", parse_mobile(mobile, settings)),
            Delivery::Both => match (email.is_empty(), mobile.is_empty()) {
                (false, true) => e.check("email", parse_email(email).map(GuestLogin::Email)),
                (true, false) => e.check("mobile", parse_mobile(mobile, settings)),
                (true, true) => e.check("email", Err(MSG_GUEST_EMAIL_OR_MOBILE)),
                (false, false) => e.check("email", Err(MSG_GUEST_NOT_BOTH)),
            },
        };
        match (name, login) {
            (Some(name), Some(login)) => Ok(Registration { name, login }),
            _ => Err(e),
        }
    }
}

fn parse_mobile(input: &str, settings: &GuestSettings) -> Result<GuestLogin, &'static str> {
    let mobile = crate::domain::sms::MobileNumber::parse(input)?;
    if !settings.allowed_prefixes.allows(mobile.as_str()) {
        return Err(MSG_GUEST_CODE_REFUSED);
    }
    Ok(GuestLogin::Mobile(mobile))
}

/// A random passcode of `length` digits (from the operating system's generator).
pub fn new_passcode(length: u8) -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..length).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

/// The operator's daily cap: 0–100000 passcodes in 24 hours.
pub fn parse_daily_cap(input: &str) -> Result<i64, &'static str> {
    let text = trim_spaces(input);
    if text.is_empty() || text.len() > 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MSG_GUEST_DAILY_CAP);
    }
    text.parse::<i64>().ok().filter(|n| (0..=MAX_DAILY_CAP).contains(n)).ok_or(MSG_GUEST_DAILY_CAP)
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

    fn settings(delivery: Delivery, codes: &str) -> GuestSettings {
        GuestSettings { delivery, allowed_prefixes: CallingCodes::parse(codes).unwrap(), ..GuestSettings::default() }
    }

    fn register(name: &str, email: &str, mobile: &str) -> RegisterForm {
        RegisterForm { name: name.into(), email: email.into(), mobile: mobile.into() }
    }

    #[test]
    fn registrations() {
        let sms = settings(Delivery::Sms, "+44 +353");
        let ok = register(" Ann ", "", "+44 (7700) 900-123").parse(&sms).unwrap();
        assert_eq!((ok.name.as_str(), ok.login.as_str(), ok.login.via()), ("Ann", "+447700900123", "sms"));
        let email = register("Ann", "Ann@Example.COM", "").parse(&settings(Delivery::Email, "")).unwrap();
        assert_eq!((email.login.as_str(), email.login.via()), ("ann@example.com", "email"));
        for (form, s, field, message) in [
            (register("", "", "+447700900123"), &sms, "name", MSG_GUEST_NAME),
            (register("A\r\nBcc: x@y.z", "", "+447700900123"), &sms, "name", MSG_GUEST_NAME),
            (register(&"a".repeat(65), "", "+447700900123"), &sms, "name", MSG_GUEST_NAME),
            (register("Ann", "", "+15550109999"), &sms, "mobile", MSG_GUEST_CODE_REFUSED),
            (register("Ann", "", "07700 900123"), &sms, "mobile", crate::domain::sms::MSG_MOBILE),
            (register("Ann", "", "+44770090012\r\n"), &sms, "mobile", crate::domain::sms::MSG_MOBILE),
            (register("Ann", "", "+1234567"), &sms, "mobile", crate::domain::sms::MSG_MOBILE),
            (register("Ann", "ann@example.com", ""), &sms, "mobile", crate::domain::sms::MSG_MOBILE),
            (
                register("Ann", "ann@example.com\r\nBcc: x@y.z", ""),
                &settings(Delivery::Email, ""),
                "email",
                MSG_GUEST_EMAIL,
            ),
            (register("Ann", "", ""), &settings(Delivery::Both, ""), "email", MSG_GUEST_EMAIL_OR_MOBILE),
            (
                register("Ann", "a@b.example", "+447700900123"),
                &settings(Delivery::Both, ""),
                "email",
                MSG_GUEST_NOT_BOTH,
            ),
        ] {
            let errors = form.parse(s).unwrap_err();
            assert_eq!(errors.get(field), Some(message), "{form:?}");
        }
    }

    #[test]
    fn logins_and_passcodes() {
        assert_eq!(GuestLogin::parse("+44 7700 900123").unwrap().as_str(), "+447700900123");
        assert_eq!(GuestLogin::parse(" ANN@example.com").unwrap().as_str(), "ann@example.com");
        assert_eq!(GuestLogin::parse("ann"), Err(MSG_GUEST_LOGIN));
        for length in [4, 6, 10] {
            let code = new_passcode(length);
            assert_eq!(code.len(), usize::from(length));
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
        assert_ne!(new_passcode(10), new_passcode(10));
        assert_eq!(parse_daily_cap("500"), Ok(500));
        for bad in ["", "-1", "100001", "5e2"] {
            assert_eq!(parse_daily_cap(bad), Err(MSG_GUEST_DAILY_CAP), "{bad:?}");
        }
    }
}
