//! HTTP-level tests: the real app on a loopback port, a real SQLite file per test.

mod helpers;

mod admin;
mod cli;
mod csrf;
mod first_run;
mod isolation;
mod pages;
mod sessions;
mod sign_in;
mod smtp;
