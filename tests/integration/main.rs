//! Integration tests of the `session` crate: one binary, so a 2-core machine links once.

mod common;

mod actix;
mod browser;

mod conformance;
mod cookie;
mod databases;
mod derive;
pub mod derive_hygiene;
mod expiry;
mod faults;
mod integrity;
mod interop;
mod lifetime;
mod owners;
mod properties;
mod redaction;
mod redis_cluster;
mod redis_sentinel;
mod redis_tls;
mod session;
mod storage_cookie;
mod storage_cookie_encrypted;
mod storage_file;
mod storage_memory;
mod storage_redis;
mod storage_sql;
mod store_btreemap;
mod tower_layer;
mod vectors;
mod web;
mod web_handlers;
