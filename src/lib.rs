//! relaydesk: a multi-tenant web console for outgoing email.
//!
//! `build_app` assembles the whole application from a [`config::Config`]; the binary
//! only parses its command line and calls into here, and the tests build the same app.

pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod mail;
pub mod secret;
pub mod server;
pub mod state;
pub mod store;
pub mod web;
pub mod words;

pub use app::{build_app, build_app_with_clock, serve, App, AppState};
pub use clock::Clock;
pub use config::Config;
