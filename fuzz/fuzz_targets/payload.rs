//! The verified-payload reader: any text, signed with the secret as Remix or this crate would
//! sign it, loads through cookie storage under every expiry policy without an error or a
//! panic, and whatever loads commits (or is too large for a cookie).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use session::{CookieStorage, Error, Expiry, SessionCookie, SessionManager};

fn cookie() -> SessionCookie {
    SessionCookie::builder("__session")
        .secret("fuzz-secret-of-at-least-32-bytes!!")
        .build()
        .expect("a valid cookie")
}

fn managers() -> &'static [SessionManager<CookieStorage>] {
    static MANAGERS: OnceLock<Vec<SessionManager<CookieStorage>>> = OnceLock::new();
    MANAGERS.get_or_init(|| {
        let unstamped = Expiry::builder()
            .accept_unstamped_cookies()
            .build()
            .expect("valid");
        [Expiry::none(), Expiry::default(), unstamped]
            .into_iter()
            .map(|expiry| SessionManager::new(cookie(), CookieStorage::new()).with_expiry(expiry))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = std::str::from_utf8(data) else {
        return;
    };
    let _ = session::__fuzz::replace_lone_surrogates(payload);
    let Ok(set_cookie) = cookie().to_set_cookie(payload, None) else {
        return;
    };
    let pair = set_cookie.split(';').next().unwrap_or_default().to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    for sessions in managers() {
        runtime.block_on(async {
            let session = sessions
                .load(Some(&pair))
                .await
                .expect("cookie storage never fails to load");
            match sessions.commit(&session).await {
                Ok(_) | Err(Error::CookieTooLarge { .. }) => {}
                Err(error) => panic!("commit failed: {error}"),
            }
        });
    }
});
