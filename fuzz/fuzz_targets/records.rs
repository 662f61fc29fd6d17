//! The record decoders of the server-side stores: the JSON entry the file and memory stores
//! keep (a record must round-trip), and the fields of a Redis session hash. Any bytes: a
//! verdict, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = session::__fuzz::entry(data);
    // The same bytes as a Redis hash: fields and values split at NUL bytes.
    let fields: Vec<Vec<u8>> = data.split(|&byte| byte == 0).map(<[u8]>::to_vec).collect();
    if fields.len() % 2 == 0 {
        let _ = session::__fuzz::redis_hash(fields);
    }
});
