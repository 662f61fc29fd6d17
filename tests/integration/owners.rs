//! Sessions per owner at the manager: the handles (keyed, rotating with the secrets, never the
//! id), the rules of owners and labels, what cookie storage answers, and the owner kept across
//! requests. The stores' side is the conformance kit's (`conformance::kit::*`).

use session::owner::{Handle, OwnerLimit};
use session::store::DynSessionStore;
use session::{CookieStorage, Error, MemoryStorage, SessionCookie, SessionManager};

use crate::common::log_in_as;

const OLD: &str = "the-old-secret-of-at-least-32-bytes!!";
const NEW: &str = "the-new-secret-of-at-least-32-bytes!!";

fn cookie(secrets: &[&str]) -> SessionCookie {
    SessionCookie::builder("sid")
        .secrets(secrets.iter().copied())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_handle_is_keyed_by_the_secret_and_reveals_nothing_of_the_id() {
    let store = MemoryStorage::new();
    let sessions = SessionManager::new(cookie(&[OLD]), store.clone());
    let pair = log_in_as(&sessions, "ada").await;
    let listed = sessions.owner_sessions("ada", None).await.unwrap();
    let handle = listed[0].handle.clone();
    assert_eq!(handle.as_str().len(), 22);
    let id = sessions.load(Some(&pair)).await.unwrap().id().clone();
    assert!(!pair.contains(handle.as_str()) && !id.as_str().contains(handle.as_str()));
    assert!(
        !format!("{listed:?}").contains(id.as_str()),
        "Debug shows no id"
    );

    // Another secret names the same session with another handle, and the old handle means
    // nothing to a manager that never had the old secret.
    let stranger = SessionManager::new(cookie(&[NEW]), store.clone());
    let other = stranger.owner_sessions("ada", None).await.unwrap()[0]
        .handle
        .clone();
    assert_ne!(other, handle);
    assert!(!stranger.end_owner_session("ada", &handle).await.unwrap());

    // After a rotation the old handle still works: a page listed just before it.
    let rotated = SessionManager::new(cookie(&[NEW, OLD]), store);
    assert_eq!(
        rotated.owner_sessions("ada", None).await.unwrap()[0].handle,
        other,
        "the first secret names"
    );
    assert!(rotated.end_owner_session("ada", &handle).await.unwrap());
    assert!(
        rotated
            .owner_sessions("ada", None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn handles_owners_and_labels_refuse_what_breaks_their_rules() {
    for bad in [
        "",
        "short",
        "not a handle at all!!!",
        "AAAAAAAAAAAAAAAAAAAAA=",
        "é",
    ] {
        assert!(bad.parse::<Handle>().is_err(), "{bad:?}");
    }
    let mut session = session::Session::new();
    for bad in [
        String::new(),
        "x".repeat(129),
        "a\u{0}b".to_owned(),
        "a\u{85}b".to_owned(),
    ] {
        assert!(
            matches!(
                session.set_owner(bad.clone()),
                Err(Error::InvalidOwner { .. })
            ),
            "{bad:?}"
        );
    }
    session.set_owner("x".repeat(128)).unwrap();
    assert!(session.set_label("x".repeat(129)).is_err());
    assert!(session.set_label("tab\t").is_err());
    session.set_label("").unwrap();
    session.destroy();
    assert!(matches!(session.set_owner("ada"), Err(Error::Destroyed)));
    assert!(matches!(session.clear_owner(), Err(Error::Destroyed)));
}

#[tokio::test]
async fn an_owner_that_breaks_the_rules_is_refused_by_every_owner_call() {
    let sessions = SessionManager::new(cookie(&[OLD]), MemoryStorage::new());
    let handle: Handle = "AAAAAAAAAAAAAAAAAAAAAA".parse().unwrap();
    assert!(matches!(
        sessions.owner_sessions("", None).await,
        Err(Error::InvalidOwner { .. })
    ));
    assert!(matches!(
        sessions.end_owner_session("a\nb", &handle).await,
        Err(Error::InvalidOwner { .. })
    ));
    assert!(matches!(
        sessions.end_owner_sessions(&"x".repeat(200)).await,
        Err(Error::InvalidOwner { .. })
    ));
}

#[tokio::test]
async fn cookie_storage_says_it_cannot_list_or_end_sessions() {
    let sessions = SessionManager::new(cookie(&[OLD]), CookieStorage::new());
    let pair = log_in_as(&sessions, "ada").await;
    let current = sessions.load(Some(&pair)).await.unwrap();
    let handle: Handle = "AAAAAAAAAAAAAAAAAAAAAA".parse().unwrap();
    assert!(matches!(
        sessions.owner_sessions("ada", Some(&current)).await,
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        sessions.end_owner_session("ada", &handle).await,
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        sessions.end_owner_sessions("ada").await,
        Err(Error::Unsupported { .. })
    ));
}

#[tokio::test]
async fn a_store_without_an_owner_index_answers_unsupported_not_an_empty_list() {
    #[derive(Debug, Default)]
    struct Plain(MemoryStorage);

    impl session::SessionStore for Plain {
        async fn load(
            &self,
            id: &session::SessionId,
        ) -> session::Result<Option<session::store::Stored>> {
            self.0.load(id).await
        }
        async fn write(
            &self,
            plan: &session::store::WritePlan<'_>,
        ) -> session::Result<session::store::WriteOutcome> {
            self.0.write(plan).await
        }
        async fn delete(&self, ids: &[&session::SessionId]) -> session::Result<()> {
            self.0.delete(ids).await
        }
    }

    let sessions = SessionManager::new(cookie(&[OLD]), Plain::default());
    let _ = log_in_as(&sessions, "ada").await;
    assert!(matches!(
        sessions.owner_sessions("ada", None).await,
        Err(Error::Unsupported { .. })
    ));
}

#[tokio::test]
async fn the_owner_calls_reach_a_store_picked_at_run_time() {
    let store: std::sync::Arc<dyn DynSessionStore> = std::sync::Arc::new(MemoryStorage::new());
    let sessions =
        SessionManager::new(cookie(&[OLD]), store).with_owner_limit(OwnerLimit::refuse(1));
    let _ = log_in_as(&sessions, "ada").await;
    let mut second = sessions.load(None).await.unwrap();
    second.set_owner("ada").unwrap();
    assert!(matches!(
        sessions.commit(&second).await,
        Err(Error::OwnerLimit { limit: 1 })
    ));
    assert_eq!(sessions.owner_sessions("ada", None).await.unwrap().len(), 1);
    assert_eq!(sessions.end_owner_sessions("ada").await.unwrap(), 1);
}

async fn owner_and_label_travel<S: session::Storage>(sessions: SessionManager<S>) {
    let mut session = sessions.load(None).await.unwrap();
    session.set_owner("ada@example.com").unwrap();
    session.set_label("Laptop").unwrap();
    let pair = sessions
        .commit(&session)
        .await
        .unwrap()
        .into_header()
        .unwrap();
    let again = sessions.load(pair.split(';').next()).await.unwrap();
    assert_eq!(again.owner().unwrap().as_str(), "ada@example.com");
    assert_eq!(again.label().unwrap().as_str(), "Laptop");
    assert!(!again.is_dirty(), "loading an owned session is not a write");
    assert!(!format!("{:?}", again.session()).contains("ada@"));
}

#[tokio::test]
async fn the_owner_and_label_travel_with_the_session_and_debug_hides_them() {
    owner_and_label_travel(SessionManager::new(cookie(&[OLD]), MemoryStorage::new())).await;
    // Cookie storage cannot list or end sessions, but the session keeps its owner.
    owner_and_label_travel(SessionManager::new(cookie(&[OLD]), CookieStorage::new())).await;
}

/// An expired session swept away is no longer its owner's: not listed, not counted by the limit.
async fn a_swept_session_is_gone_from_its_owner<S: session::Storage>(
    storage: S,
    sweep: impl AsyncFnOnce(&S, u64),
) {
    let clock = session::expiry::ManualClock::new(1_000_000);
    let sessions = SessionManager::new(cookie(&[OLD]), storage)
        .with_clock(clock.clone())
        .with_owner_limit(OwnerLimit::refuse(1));
    let _ = log_in_as(&sessions, "ada").await;
    let idle = sessions.expiry().idle_timeout().unwrap();
    clock.advance(idle + std::time::Duration::from_mins(1));
    sweep(sessions.storage(), 1_000_000 + idle.as_secs() + 60).await;
    assert!(
        sessions
            .owner_sessions("ada", None)
            .await
            .unwrap()
            .is_empty()
    );
    let _ = log_in_as(&sessions, "ada").await;
    assert_eq!(sessions.owner_sessions("ada", None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_swept_session_is_gone_from_its_owner_in_memory_and_files() {
    a_swept_session_is_gone_from_its_owner(MemoryStorage::new(), async |storage, now| {
        assert_eq!(storage.sweep_expired(now), 1);
    })
    .await;
    let dir = crate::common::TempDir::new();
    a_swept_session_is_gone_from_its_owner(
        session::FileStorage::new(&dir.0).unwrap(),
        async |storage, now| {
            assert_eq!(storage.sweep_expired(now).await.unwrap(), 1);
        },
    )
    .await;
}
