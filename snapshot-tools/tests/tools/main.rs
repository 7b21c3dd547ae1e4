//! Socket tests of the operator tools, run as real processes on 127.0.0.1: sidecars on
//! fixture ledgers, trackers scraping them, `fetch` downloading from them, and `mirror`
//! against a real S3-compatible server (s3s-fs). One binary so that it links once.

mod cli;
mod fetch;
mod mirror;
mod sidecar;
mod support;
mod tracker;
