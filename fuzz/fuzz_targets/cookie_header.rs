//! The `Cookie` header parser and the signature check: any bytes, read the way the axum layer
//! reads a header (lossy UTF-8), give a verdict and never panic; a verified value is one the
//! cookie signed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session::SessionCookie;
use session::cookie::Incoming;

fuzz_target!(|data: &[u8]| {
    let cookie = SessionCookie::builder("__session")
        .secrets([
            "fuzz-secret-of-at-least-32-bytes!!",
            "an-older-fuzz-secret-32-bytes-long",
        ])
        .build()
        .expect("a valid cookie");
    let header = String::from_utf8_lossy(data);
    if let Incoming::Verified { value, .. } = cookie.read(Some(&header)) {
        // Only a signed value verifies, and what verifies can be signed again.
        let _ = cookie.to_set_cookie(&value, None);
    }
});
