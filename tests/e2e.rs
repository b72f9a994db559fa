//! The end-to-end suite: one test binary, linked once, with a module per area. Every test
//! starts the real `kith` binary on 127.0.0.1 and speaks HTTP (or runs its CLI) against it.

mod common;

mod backups;
mod birthdays;
mod caldav;
mod calendars;
mod calendars_outlook;
mod cli;
mod crud;
mod delegation;
mod directory;
mod discovery;
mod exports;
mod generated;
mod google;
mod hardening;
mod history;
mod instances;
mod isolation;
mod m365;
mod migrate;
mod notify;
mod operations;
mod partial;
mod push;
mod quirks;
mod reports;
mod robustness;
mod scheduling;
mod sharing;
mod simulation;
mod sources;
mod sync;
mod upstream_push;
mod vcards;
mod web;
