//! HTTP-level tests: the real app on a loopback port, a real SQLite file per test.

#[path = "../support/app.rs"]
mod app;
mod helpers;
#[path = "../support/seed.rs"]
mod seed;
#[path = "../support/smtp_server.rs"]
mod smtp_server;
#[path = "../support/wait.rs"]
mod wait;

mod admin;
mod cli;
mod connections;
mod csrf;
mod first_run;
mod graph;
mod isolation;
mod key_safety;
mod limits;
mod outbox;
mod pages;
mod profile_form;
mod routes;
mod schema;
mod sending;
mod sessions;
mod sign_in;
mod smtp;
mod transport_security;
