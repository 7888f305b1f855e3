//! Newtypes that parse what people type. Each documented rule lives in exactly one
//! `parse`, which returns the message of SPEC.md when the rule fails.

pub mod account;
pub mod alias;
pub mod audit;
pub mod email;
pub mod guest;
pub mod sms;
pub mod smtp;
pub mod smtp_password;
pub mod text;
pub mod time_zone;

/// The messages of a form that failed its rules, by field name, in the order the rules
/// ran (the form's order), so the summary at the top reads like the form.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<(&'static str, &'static str)>);

impl FieldErrors {
    /// The message for `field`, if its rule failed.
    pub fn get(&self, field: &str) -> Option<&'static str> {
        self.0.iter().find(|(k, _)| *k == field).map(|(_, v)| *v)
    }

    /// Records `message` for `field`, replacing an earlier one for the same field.
    pub fn insert(&mut self, field: &'static str, message: &'static str) {
        match self.0.iter_mut().find(|(k, _)| *k == field) {
            Some(entry) => entry.1 = message,
            None => self.0.push((field, message)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps the value when the rule passed; records the message when it failed.
    pub fn check<T>(&mut self, field: &'static str, result: Result<T, &'static str>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.insert(field, message);
                None
            }
        }
    }

    /// `(field, message)` pairs in form order, for the summary at the top of a form.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.0.iter().copied()
    }

    /// How many fields failed.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}
