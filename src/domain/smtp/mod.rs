//! SMTP profile fields (SPEC §2) and the naming of duplicates (SPEC §4).
//!
//! Each field rule lives in exactly one newtype's `parse`, which returns the
//! SPEC's message on failure; [`ProfileForm::parse`] only assembles them, so a
//! handler gets either a [`ProfileInput`] that needs no further checks or every
//! field's message at once.
//!
//! Text fields are trimmed of leading and trailing spaces (U+0020 only) before
//! their rule runs. Tabs and line breaks are not trimmed but refused: they are
//! control characters, and §2 rejects those rather than tidying them away
//! (header injection). Passwords and secrets are never trimmed.

mod actions;
mod choices;
mod form;
mod generic;
mod graph;
mod identity;
mod messages;
mod oauth;
mod profile;
mod rate;
#[cfg(test)]
mod tests;

pub use actions::*;
pub use choices::*;
pub use form::*;
pub use generic::*;
pub use graph::*;
pub use identity::*;
pub use messages::*;
pub use oauth::*;
pub use profile::*;
pub use rate::*;
