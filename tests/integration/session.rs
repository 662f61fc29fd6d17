//! The dynamic core: every test of Remix's `session.test.ts` (spec §6), plus the behaviour the
//! Rust API adds (typed reads, change tracking).

use serde::{Deserialize, Serialize};
use serde_json::json;
use session::{Error, Map, Session, SessionId};

fn map(value: serde_json::Value) -> Map {
    match value {
        serde_json::Value::Object(map) => Map::from(map),
        other => panic!("not an object: {other}"),
    }
}

fn with_data(values: serde_json::Value, flash: serde_json::Value) -> Session {
    Session::from_parts(SessionId::generate(), map(values), map(flash))
}

#[test]
fn creates_a_new_session() {
    let session = Session::new();
    assert!(!session.id().as_str().is_empty());
    assert!(!session.is_destroyed());
    assert!(!session.is_dirty());
    assert_eq!(session.len(), 0);
}

#[test]
fn creates_a_new_session_with_a_custom_id() {
    let id = "custom-id-of-twenty-two-chars"
        .parse::<SessionId>()
        .ok()
        .unwrap();
    let session = Session::from_parts(id.clone(), Map::new(), Map::new());
    assert_eq!(session.id(), &id);
}

#[test]
fn creates_a_new_session_with_initial_data() {
    let session = with_data(json!({"hello": "world"}), json!({}));
    assert_eq!(session.len(), 1);
    assert_eq!(
        session.get::<String>("hello").unwrap().as_deref(),
        Some("world")
    );
    assert!(!session.is_dirty());
}

#[test]
fn creates_a_new_session_with_initial_flash_data() {
    let session = with_data(json!({}), json!({"hello": "world"}));
    assert_eq!(
        session.get::<String>("hello").unwrap().as_deref(),
        Some("world")
    );
    assert!(session.is_dirty());
}

#[test]
fn sets_and_gets_values() {
    let mut session = Session::new();
    assert!(!session.contains_key("hello"));
    assert_eq!(session.get::<String>("hello").unwrap(), None);
    assert!(!session.is_dirty());
    session.set("hello", "world").unwrap();
    assert!(session.is_dirty());
    assert!(session.contains_key("hello"));
    assert_eq!(
        session.get::<String>("hello").unwrap().as_deref(),
        Some("world")
    );
    session.remove("hello").unwrap();
    assert!(!session.contains_key("hello"));
    assert_eq!(session.get::<String>("hello").unwrap(), None);
}

#[test]
fn sets_and_gets_values_with_complex_types() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct User {
        id: u64,
        roles: Vec<String>,
        profile: Option<Profile>,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Profile {
        name: String,
    }
    let user = User {
        id: 7,
        roles: vec!["admin".into()],
        profile: Some(Profile {
            name: "日本語".into(),
        }),
    };
    let mut session = Session::new();
    session.set("user", &user).unwrap();
    assert_eq!(session.get::<User>("user").unwrap(), Some(user));
    // The type-level check of the original is a runtime one here: the wrong type is an error.
    let err = session.get::<Vec<u8>>("user").unwrap_err();
    assert!(matches!(err, Error::Deserialize { key, .. } if key == "user"));
}

#[test]
fn unsets_values_when_set_to_null() {
    let mut session = Session::new();
    session.set("a", 1).unwrap();
    session.set("a", serde_json::Value::Null).unwrap();
    assert!(!session.contains_key("a"));
    assert_eq!(session.get::<i32>("a").unwrap(), None);
    assert!(session.is_dirty());
}

#[test]
fn unsets_values_when_set_to_none() {
    let mut session = Session::new();
    session.set("a", 1).unwrap();
    session.set("a", None::<i32>).unwrap();
    assert!(!session.contains_key("a"));
    session.set("unit", ()).unwrap();
    assert!(!session.contains_key("unit"));
}

#[test]
fn regenerates_the_session_id() {
    let mut session = Session::new();
    let original = session.id().clone();
    session.regenerate_id(session::OldId::Keep).unwrap();
    assert_ne!(session.id(), &original);
    assert_eq!(session.regeneration(), Some(session::OldId::Keep));
    assert!(session.is_dirty());
}

#[test]
fn deletes_the_old_session_id() {
    let mut session = Session::new();
    let original = session.id().clone();
    session.regenerate_id(session::OldId::Delete).unwrap();
    assert_ne!(session.id(), &original);
    assert_eq!(session.regeneration(), Some(session::OldId::Delete));
    assert!(session.is_dirty());
}

#[test]
fn destroys_the_session() {
    let mut session = Session::new();
    assert!(!session.is_destroyed());
    session.destroy();
    assert!(session.is_destroyed());
    session.destroy();
    assert!(session.is_destroyed(), "destroy is idempotent");
}

#[test]
fn deletes_the_original_session_when_the_id_is_regenerated_more_than_once() {
    let mut session = Session::new();
    let original = session.id().clone();
    session.regenerate_id(session::OldId::Delete).unwrap();
    let middle = session.id().clone();
    session.regenerate_id(session::OldId::Delete).unwrap();
    session.regenerate_id(session::OldId::Keep).unwrap();
    // The manager deletes the record under the id it loaded, whatever the id became: the
    // conformance kit's `regeneration_deleting_the_old_id_revokes_it` checks it end to end.
    assert_ne!(session.id(), &original);
    assert_ne!(session.id(), &middle);
    assert_eq!(
        session.regeneration(),
        Some(session::OldId::Delete),
        "Keep never weakens Delete"
    );
}

mod a_destroyed_session {
    use super::*;

    fn destroyed() -> Session {
        let mut session = Session::new();
        session.set("hello", "world").unwrap();
        session.destroy();
        session
    }

    #[test]
    fn flash_fails() {
        assert!(matches!(destroyed().flash("a", 1), Err(Error::Destroyed)));
    }

    #[test]
    fn regenerate_id_fails() {
        assert!(matches!(
            destroyed().regenerate_id(session::OldId::Keep),
            Err(Error::Destroyed)
        ));
    }

    #[test]
    fn set_fails() {
        assert!(matches!(destroyed().set("a", 1), Err(Error::Destroyed)));
    }

    #[test]
    fn remove_fails() {
        assert!(matches!(destroyed().remove("hello"), Err(Error::Destroyed)));
        assert!(matches!(destroyed().clear(), Err(Error::Destroyed)));
    }

    #[test]
    fn get_returns_none() {
        let session = destroyed();
        assert_eq!(session.get::<String>("hello").unwrap(), None);
        assert_eq!(session.value("hello"), None);
        assert!(session.values().is_empty());
    }

    #[test]
    fn contains_key_returns_false() {
        let session = destroyed();
        assert!(!session.contains_key("hello"));
        assert_eq!(session.len(), 0);
    }
}

#[test]
fn a_stored_value_shadows_a_flash_value() {
    let session = with_data(json!({"m": "value"}), json!({"m": "flash"}));
    assert_eq!(
        session.get::<String>("m").unwrap().as_deref(),
        Some("value")
    );
    assert_eq!(
        session.flashed::<String>("m").unwrap().as_deref(),
        Some("flash")
    );
    assert_eq!(session.len(), 2, "a key in both maps counts twice");
}

#[test]
fn a_stored_null_falls_through_to_the_flash() {
    let session = with_data(json!({"m": null}), json!({"m": "flash"}));
    assert_eq!(
        session.get::<String>("m").unwrap().as_deref(),
        Some("flash")
    );
    assert!(session.contains_key("m"));
}

#[test]
fn removing_a_value_leaves_the_flash_with_that_key_visible() {
    let mut session = with_data(json!({"m": "value"}), json!({"m": "flash"}));
    session.remove("m").unwrap();
    assert_eq!(
        session.get::<String>("m").unwrap().as_deref(),
        Some("flash")
    );
}

#[test]
fn flash_set_now_is_not_readable_now_and_the_last_one_wins() {
    let mut session = Session::new();
    session.flash("m", "first").unwrap();
    session.flash("m", "second").unwrap();
    assert_eq!(session.get::<String>("m").unwrap(), None);
    assert!(!session.contains_key("m"));
    assert_eq!(session.len(), 0);
    assert_eq!(session.outgoing_flash().get("m").unwrap(), &json!("second"));
}

#[test]
fn re_setting_a_key_keeps_its_position() {
    let mut session = Session::new();
    for key in ["b", "a", "c"] {
        session.set(key, 1).unwrap();
    }
    session.set("b", 2).unwrap();
    let keys: Vec<&str> = session.values().keys().collect();
    assert_eq!(keys, ["b", "a", "c"]);
}

#[test]
fn falsy_values_are_stored() {
    let mut session = Session::new();
    session.set("zero", 0).unwrap();
    session.set("empty", "").unwrap();
    session.set("false", false).unwrap();
    assert_eq!(session.len(), 3);
    assert_eq!(session.get::<bool>("false").unwrap(), Some(false));
}

#[test]
fn a_value_that_cannot_become_json_is_a_typed_error_and_changes_nothing() {
    let mut bad = std::collections::HashMap::new();
    bad.insert((1, 2), "tuple keys are not JSON object keys");
    let mut session = Session::new();
    let err = session.set("bad", &bad).unwrap_err();
    assert!(matches!(err, Error::Serialize { key, .. } if key == "bad"));
    assert!(!session.is_dirty());
    assert_eq!(session.changes().count(), 0);
}

#[test]
fn changes_record_the_final_state_of_each_touched_key() {
    let mut session = with_data(json!({"keep": 1, "drop": 2}), json!({}));
    session.set("new", 3).unwrap();
    session.set("new", 4).unwrap();
    session.remove("drop").unwrap();
    let mut changes: Vec<(String, Option<serde_json::Value>)> = session
        .changes()
        .map(|(key, value)| (key.to_owned(), value.map(serde_json::Value::from)))
        .collect();
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        changes,
        [
            ("drop".to_owned(), None),
            ("new".to_owned(), Some(json!(4)))
        ]
    );
}

#[test]
fn clear_removes_every_value_and_records_each_removal() {
    let mut session = with_data(json!({"a": 1, "b": 2}), json!({"f": 3}));
    session.clear().unwrap();
    assert!(session.values().is_empty());
    assert_eq!(session.get::<i32>("f").unwrap(), Some(3));
    assert_eq!(
        session
            .changes()
            .filter(|(_, value)| value.is_none())
            .count(),
        2
    );
}

#[test]
fn debug_shows_neither_values_nor_the_full_id() {
    let mut session = Session::new();
    session.set("token", "very-secret-value").unwrap();
    let shown = format!("{session:?}");
    assert!(!shown.contains("very-secret-value"));
    assert!(!shown.contains(session.id().as_str()));
    assert!(shown.contains("token"));
}

#[test]
fn a_million_ids_are_distinct_and_well_formed() {
    // E1: 192 random bits each, one fixed length and alphabet.
    let mut seen = std::collections::HashSet::with_capacity(1_000_000);
    for _ in 0..1_000_000 {
        let id = SessionId::generate();
        assert_eq!(id.as_str().len(), 32);
        assert!(
            id.as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert!(seen.insert(id));
    }
}

#[test]
fn the_crate_leaves_the_application_s_serde_json_maps_sorted() {
    // Issue 12: the crate turned on serde_json's `preserve_order` for every crate in the
    // build, reordering their maps. It keeps its own order now; a `Value` map stays sorted,
    // while the session keeps insertion order.
    let value = json!({"b": 1, "a": 2});
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["a", "b"], "serde_json's default order");
    let mut session = Session::new();
    session.set("b", 1).unwrap();
    session.set("a", 2).unwrap();
    assert_eq!(session.values().keys().collect::<Vec<_>>(), ["b", "a"]);
}
