//! `#[derive(SessionSchema)]` behaviour: every accessor shape, every attribute, whole-struct
//! load and store, values that do not fit, generics, lifetimes and raw identifiers.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::json;
use session::{CookieStorage, Error, MemoryStorage, Session, SessionSchema, Storage};

use crate::common::{Browser, manager};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Theme {
    Light,
    Dark,
}

#[derive(Debug, PartialEq, SessionSchema)]
struct Account {
    user_id: Option<u64>,
    #[session(default)]
    visits: u32,
    #[session(flash)]
    notice: Option<String>,
    #[session(rename = "theme")]
    color_theme: Option<Theme>,
}

#[test]
fn accessors_read_write_and_remove_plain_json_keys() {
    let mut session = Session::new();
    let mut account = Account::view(&mut session);
    assert_eq!(account.user_id().unwrap(), None);
    assert_eq!(account.visits(), 0);
    account.set_user_id(42).unwrap();
    account.set_visits(3).unwrap();
    account.set_color_theme(Theme::Dark).unwrap();
    account.flash_notice("saved".to_owned()).unwrap();
    assert_eq!(account.user_id().unwrap(), Some(42));
    assert_eq!(account.visits(), 3);
    assert_eq!(
        account.notice().unwrap(),
        None,
        "flash is for the next request"
    );
    assert_eq!(
        session.values().to_value(),
        json!({"user_id": 42, "visits": 3, "theme": "Dark"})
    );
    assert_eq!(
        session.values().keys().collect::<Vec<_>>(),
        ["user_id", "visits", "theme"]
    );
    assert_eq!(
        session.outgoing_flash().get("notice"),
        Some(&session::Json::encode("saved").unwrap())
    );
    let mut account = Account::view(&mut session);
    account.remove_user_id().unwrap();
    assert_eq!(account.user_id().unwrap(), None);
}

#[test]
fn a_read_only_view_has_getters() {
    let mut session = Session::new();
    session.set("visits", 9).unwrap();
    let account = Account::view(&session);
    assert_eq!(account.visits(), 9);
}

#[test]
fn keys_are_constants_on_the_type() {
    assert_eq!(Account::KEYS, ["user_id", "visits", "notice", "theme"]);
    assert_eq!(Account::USER_ID_KEY, "user_id");
    assert_eq!(Account::COLOR_THEME_KEY, "theme");
    assert_eq!(Account::NOTICE_KEY, "notice");
}

#[tokio::test]
async fn flash_fields_are_readable_on_exactly_the_next_request() {
    async fn seen<S: Storage>(storage: S) -> Vec<Option<String>> {
        let sessions = manager(storage);
        let mut browser = Browser::default();
        let read = |s: &mut Session| Account::view(s).notice().unwrap();
        let _ = browser
            .request(&sessions, |s| {
                Account::view(s).flash_notice("hi".into()).unwrap();
            })
            .await;
        vec![
            browser.request(&sessions, read).await.0,
            browser.request(&sessions, read).await.0,
        ]
    }
    let expected = vec![Some("hi".to_owned()), None];
    assert_eq!(seen(MemoryStorage::new()).await, expected);
    assert_eq!(seen(CookieStorage::new()).await, expected);
}

#[test]
fn a_value_that_does_not_fit_is_a_typed_error_naming_the_key_or_the_default() {
    // L1: written by an older deploy, by Remix, or by hand.
    let mut session = Session::new();
    session.set("user_id", "not a number").unwrap();
    session.set("visits", [1, 2]).unwrap();
    session.set("theme", "Purple").unwrap();
    let account = Account::view(&session);
    let err = account.user_id().unwrap_err();
    assert!(matches!(err, Error::Deserialize { ref key, .. } if key == "user_id"));
    assert_eq!(account.visits(), 0, "the default");
    assert!(
        matches!(account.color_theme(), Err(Error::Deserialize { ref key, .. }) if key == "theme")
    );
    assert!(matches!(
        Account::load(&session),
        Err(Error::Deserialize { .. })
    ));
}

#[test]
fn whole_struct_load_and_store() {
    let mut session = Session::new();
    let account = Account {
        user_id: Some(1),
        visits: 2,
        notice: Some("flashed".into()),
        color_theme: None,
    };
    account.store(&mut session).unwrap();
    assert_eq!(session.get::<u64>("user_id").unwrap(), Some(1));
    assert!(!session.contains_key("theme"), "None removes the key");
    assert_eq!(
        session.outgoing_flash().get("notice"),
        Some(&session::Json::encode("flashed").unwrap())
    );
    let loaded = Account::load(&session).unwrap();
    assert_eq!(
        loaded,
        Account {
            user_id: Some(1),
            visits: 2,
            notice: None, // the flash arrives on the next request
            color_theme: None,
        }
    );
}

#[test]
fn a_missing_required_field_is_a_typed_error() {
    #[derive(SessionSchema)]
    struct Required {
        id: u64,
    }
    let session = Session::new();
    assert!(
        matches!(Required::load(&session), Err(Error::MissingValue { ref key }) if key == "id")
    );
    assert_eq!(Required::view(&session).id().unwrap(), None);
}

#[test]
fn a_destroyed_session_refuses_typed_writes() {
    let mut session = Session::new();
    session.destroy();
    let mut account = Account::view(&mut session);
    assert!(matches!(account.set_visits(1), Err(Error::Destroyed)));
    assert!(matches!(
        account.flash_notice("x".into()),
        Err(Error::Destroyed)
    ));
    assert_eq!(account.visits(), 0);
}

fn five() -> u8 {
    5
}

mod helpers {
    pub(crate) fn label() -> String {
        "default label".to_owned()
    }
}

#[derive(SessionSchema)]
#[session(rename_all = "camelCase", prefix = "app.")]
struct Settings {
    page_size: Option<u32>,
    #[session(rename = "lang")]
    language_code: Option<String>,
    #[session(default = "five")]
    retry_limit: u8,
    #[session(default = "helpers::label")]
    display_label: String,
    #[session(skip)]
    cached: Vec<u8>,
    #[session(flash, default)]
    form_errors: Vec<String>,
}

#[test]
fn rename_all_prefix_default_functions_skip_and_flash_defaults() {
    assert_eq!(
        Settings::KEYS,
        [
            "app.pageSize",
            "app.lang",
            "app.retryLimit",
            "app.displayLabel",
            "app.formErrors"
        ]
    );
    let mut session = Session::new();
    let mut settings = Settings::view(&mut session);
    assert_eq!(settings.retry_limit(), 5);
    assert_eq!(settings.display_label(), "default label");
    assert!(settings.form_errors().is_empty());
    settings.set_page_size(20).unwrap();
    settings
        .flash_form_errors(vec!["bad email".into()])
        .unwrap();
    assert_eq!(session.get::<u32>("app.pageSize").unwrap(), Some(20));
    let loaded = Settings::load(&session).unwrap();
    assert!(loaded.cached.is_empty());
    assert_eq!(loaded.retry_limit, 5);
}

#[derive(SessionSchema)]
struct Generic<T: Clone> {
    item: Option<T>,
    #[session(default)]
    items: Vec<T>,
}

#[derive(SessionSchema)]
struct Borrowing<'a> {
    name: Option<Cow<'a, str>>,
}

#[test]
fn generic_and_lifetime_structs_work() {
    let mut session = Session::new();
    let mut view = Generic::<String>::view(&mut session);
    view.set_item("one".to_owned()).unwrap();
    view.set_items(vec!["a".into(), "b".into()]).unwrap();
    assert_eq!(view.item().unwrap().as_deref(), Some("one"));
    assert_eq!(Generic::<String>::load(&session).unwrap().items.len(), 2);
    let mut borrowed = Borrowing::view(&mut session);
    borrowed.set_name(Cow::Borrowed("Ada")).unwrap();
    assert_eq!(borrowed.name().unwrap().as_deref(), Some("Ada"));
}

#[derive(SessionSchema)]
struct Raw {
    r#type: Option<String>,
    r#match: Option<u8>,
}

#[test]
fn raw_identifiers_become_plain_keys() {
    assert_eq!(Raw::KEYS, ["type", "match"]);
    assert_eq!(Raw::TYPE_KEY, "type");
    let mut session = Session::new();
    let mut raw = Raw::view(&mut session);
    raw.set_type("admin".into()).unwrap();
    raw.set_match(1).unwrap();
    assert_eq!(raw.r#type().unwrap().as_deref(), Some("admin"));
    assert_eq!(
        session.get::<String>("type").unwrap().as_deref(),
        Some("admin")
    );
}

#[tokio::test]
async fn typed_fields_work_on_every_storage() {
    async fn visits<S: Storage>(storage: S) -> u32 {
        let sessions = manager(storage);
        let mut browser = Browser::default();
        for _ in 0..3 {
            let _ = browser
                .request(&sessions, |s| {
                    let mut account = Account::view(s);
                    let next = account.visits() + 1;
                    account.set_visits(next).unwrap();
                })
                .await;
        }
        browser
            .request(&sessions, |s| Account::view(s).visits())
            .await
            .0
    }
    assert_eq!(visits(MemoryStorage::new()).await, 3);
    assert_eq!(visits(CookieStorage::new()).await, 3);
    assert_eq!(visits(crate::common::TempFileStorage::new()).await, 3);
}
