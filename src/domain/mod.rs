//! Newtypes that parse what people type. Each documented rule lives in exactly one
//! `parse`, which returns the message of SPEC.md when the rule fails.

pub mod account;
pub mod email;
pub mod smtp;
pub mod smtp_password;

use std::collections::BTreeMap;

/// The messages of a form that failed its rules, by field name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<&'static str, &'static str>);

impl FieldErrors {
    /// The message for `field`, if its rule failed.
    pub fn get(&self, field: &str) -> Option<&'static str> {
        self.0.get(field).copied()
    }

    pub fn insert(&mut self, field: &'static str, message: &'static str) {
        self.0.insert(field, message);
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

    /// `(field, message)` pairs in field order, for the summary at the top of a form.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.0.iter().map(|(k, v)| (*k, *v))
    }
}
