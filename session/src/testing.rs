//! The conformance kit for [`SessionStore`]s (feature `test-kit`): the promises every store
//! keeps, as tests a store runs from its own test suite with one macro call. Each case drives a
//! real [`SessionManager`] over the store through signed cookies, the way requests do, and some
//! inspect the store directly.
//!
//! ```
//! use session::MemoryStorage;
//!
//! // In `tests/store.rs` of a crate that implements a store (here: a shipped one).
//! session::store_conformance!(MemoryStorage::new());
//! # fn main() {}
//! ```
//!
//! The macro stamps one `#[test]` per case, each on a fresh store from the expression; a store
//! that needs a server or a directory wraps it in a type that cleans up on drop. Every case
//! runs twice: without server-side expiry, and with an idle timeout (so a store's TTL path is
//! taken too). Cases are also callable one by one as [`cases`].
#![expect(
    clippy::missing_panics_doc,
    reason = "a conformance case panics exactly when the store breaks the contract"
)]

use std::future::Future;

use crate::data::Session;
use crate::expiry::{Expiry, ManualClock};
use crate::manager::{Commit, SessionManager};
use crate::store::SessionStore;
use crate::{LoadedSession, SessionCookie};

pub mod cases;

/// The time every case starts at, in Unix seconds.
pub const START: u64 = 1_000_000;

/// Runs one case on a fresh store under both expiry policies, on a current-thread runtime.
///
/// # Examples
///
/// ```
/// use session::MemoryStorage;
/// use session::testing::{cases, run_case};
///
/// run_case(cases::persists_session_data_across_requests, MemoryStorage::new);
/// ```
pub fn run_case<S, Fut>(case: impl Fn(S, Expiry) -> Fut, make: impl Fn() -> S)
where
    S: SessionStore,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the conformance kit");
    for expiry in [Expiry::none(), Expiry::default()] {
        runtime.block_on(case(make(), expiry));
    }
}

/// Stamps one `#[test]` per conformance case, each on a fresh store from `$make`.
///
/// See the [module docs](crate::testing).
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::__store_conformance_cases!(
            $make;
            persists_session_data_across_requests,
            read_only_requests_write_nothing,
            flash_is_readable_on_exactly_the_next_request,
            destroy_clears_the_cookie_and_revokes_it,
            a_late_save_does_not_resurrect_a_destroyed_session,
            regeneration_keeping_the_old_id_leaves_both,
            regeneration_deleting_the_old_id_revokes_it,
            unknown_ids_are_replaced_unless_adopted,
            a_load_never_creates_a_record,
            concurrent_requests_on_different_keys_lose_nothing,
            on_the_same_key_the_last_save_wins,
            concurrent_loaders_do_not_resurrect_consumed_flash,
            a_newer_flash_survives_the_consumption_of_an_older_one,
            a_generated_id_never_overwrites_a_stored_session,
            a_save_racing_a_login_lands_in_the_new_session,
            a_forward_is_never_served,
            without_a_grace_window_a_save_racing_a_login_is_interrupted,
            an_expired_session_is_not_served_and_is_deleted,
            a_clock_step_back_deletes_nothing,
            the_deepest_value_allowed_reads_back,
            starting_over_carries_nothing_and_a_late_save_is_dropped,
            thousands_of_keys_survive_a_save_an_update_and_a_regeneration,
            the_lifetime_is_kept_and_a_racing_save_keeps_the_login_s,
            an_owner_lists_its_sessions_and_nobody_else_s,
            ending_one_session_by_its_handle_is_final,
            ending_the_others_keeps_the_current_one,
            ending_all_is_final_even_for_a_save_under_way,
            the_owner_index_follows_every_write,
            a_late_save_keeps_the_login_s_owner,
            the_owner_limit_ends_the_least_recently_used,
            the_owner_limit_refuses_past_it,
            two_logins_racing_past_the_owner_limit_never_pass_it
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ($make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testing::run_case($crate::testing::cases::$case, || $make);
            }
        )*
    };
}

/// The cookie every case signs with.
fn cookie() -> SessionCookie {
    SessionCookie::builder("sid")
        .secret("the-conformance-kit-secret-of-32-bytes")
        .build()
        .expect("a valid cookie")
}

/// A manager over `store` on a clock standing at [`START`].
fn manager<S: SessionStore>(store: S, expiry: Expiry) -> (SessionManager<S>, ManualClock) {
    let clock = ManualClock::new(START);
    let sessions = SessionManager::new(cookie(), store)
        .with_expiry(expiry)
        .with_clock(clock.clone());
    (sessions, clock)
}

/// The `name=value` pair a browser sends back for a `Set-Cookie`, or `None` when the
/// `Set-Cookie` deletes the cookie.
fn pair_of(set_cookie: &str) -> Option<String> {
    let pair = set_cookie.split(';').next()?.trim();
    let deleted = pair.ends_with('=') || set_cookie.contains("Max-Age=0");
    (!deleted).then(|| pair.to_owned())
}

/// A browser: it keeps the session cookie and sends it with every request.
#[derive(Debug, Clone, Default)]
struct Browser {
    jar: Option<String>,
}

impl Browser {
    /// Loads this browser's session.
    async fn load<S: SessionStore>(&self, sessions: &SessionManager<S>) -> LoadedSession {
        sessions
            .load(self.jar.as_deref())
            .await
            .expect("the store loads")
    }

    /// Commits a session this browser loaded and keeps the cookie the response sets.
    async fn commit<S: SessionStore>(
        &mut self,
        sessions: &SessionManager<S>,
        session: &LoadedSession,
    ) -> Commit {
        let commit = sessions.commit(session).await.expect("the store saves");
        if let Some(set_cookie) = commit.header() {
            self.jar = pair_of(set_cookie);
        }
        commit
    }

    /// One request: load, run `handler`, commit.
    async fn request<S: SessionStore, R>(
        &mut self,
        sessions: &SessionManager<S>,
        handler: impl FnOnce(&mut Session) -> R,
    ) -> (R, Commit) {
        let mut session = self.load(sessions).await;
        let result = handler(&mut session);
        let commit = self.commit(sessions, &session).await;
        (result, commit)
    }

    /// A request that increments `count` and returns the new value.
    async fn count<S: SessionStore>(&mut self, sessions: &SessionManager<S>) -> u64 {
        self.request(sessions, |session| {
            let count = session.get::<u64>("count").expect("a number").unwrap_or(0) + 1;
            session.set("count", count).expect("set");
            count
        })
        .await
        .0
    }

    /// A browser holding a cookie for `id`, as if a server had issued it.
    fn holding(id: &str) -> Self {
        let set_cookie = cookie()
            .to_set_cookie(id, None)
            .expect("an id fits a cookie");
        Self {
            jar: pair_of(&set_cookie),
        }
    }
}
