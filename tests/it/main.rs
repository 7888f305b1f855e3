//! HTTP-level tests: the real app on a loopback port, a real SQLite file per test.

#[path = "../support/app.rs"]
mod app;
mod helpers;
#[path = "../support/oauth_server.rs"]
mod oauth_server;
#[path = "../support/seed.rs"]
mod seed;
#[path = "../support/smtp_server.rs"]
mod smtp_server;
#[path = "../support/wait.rs"]
mod wait;

mod admin;
mod aliases;
mod anonymous;
mod audit;
mod cli;
mod connections;
mod csrf;
mod egress;
mod email_log;
mod error_pages;
mod first_run;
mod forgot_email_off;
mod graph;
mod guest_pages;
mod guests;
mod invitations;
mod isolation;
mod key_safety;
mod limits;
mod members;
mod oauth;
mod outbox;
mod pages;
mod profile_form;
mod routes;
mod schema;
mod send_rate;
mod sending;
mod sessions;
mod sign_in;
mod sms;
mod smtp;
mod time_zones;
mod transport_security;
