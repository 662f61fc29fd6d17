//! Property tests: arbitrary sessions round-trip through every storage kind, every single-byte
//! change of a valid cookie (signed or encrypted) is rejected, and no input makes reading a
//! cookie panic.

use proptest::prelude::*;
use serde_json::{Map, Value};
use session::cookie::Incoming;
use session::{CookieStorage, MemoryStorage, SessionManager, Storage};

use crate::common::{Browser, block_on, cookie, manager};

/// Any JSON value: unicode strings, nesting, integers JavaScript holds exactly, and finite
/// floats of every kind.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1_i64 << 53)..(1_i64 << 53)).prop_map(Value::from),
        prop_oneof![
            proptest::num::f64::NORMAL,
            proptest::num::f64::SUBNORMAL,
            proptest::num::f64::ZERO
        ]
        .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        "[\\u{0}-\\u{1f}\"\\\\/\\u{2028}\\u{2029}a-z]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_]{1,8}", "\\PC{1,6}", "(0|[1-9][0-9]{0,3})"]
}

/// Top-level entries: JSON null at the top level means "remove", so it is left out.
fn entries() -> impl Strategy<Value = Vec<(String, Value)>> {
    proptest::collection::vec(
        (
            key(),
            json_value().prop_filter("not null", |v| !v.is_null()),
        ),
        0..6,
    )
}

/// Numbers compared by value, as JavaScript sees them (`1.0` and `1` are one number).
fn normalize(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::from(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

fn as_map(entries: &[(String, Value)]) -> Value {
    normalize(&Value::Object(
        entries.iter().cloned().collect::<Map<_, _>>(),
    ))
}

fn round_trip<S: Storage>(storage: S, values: &[(String, Value)], flash: &[(String, Value)]) {
    block_on(async {
        let sessions = manager(storage);
        let mut browser = Browser::default();
        let _ = browser
            .request(&sessions, |s| {
                for (k, v) in values {
                    s.set(k, v).unwrap();
                }
                for (k, v) in flash {
                    s.flash(k, v).unwrap();
                }
                s.set("__anchor", 1).unwrap();
            })
            .await;
        let (seen, _) = browser
            .request(&sessions, |s| {
                let mut values = s.values().clone();
                values.remove("__anchor");
                (
                    normalize(&values.to_value()),
                    normalize(&s.incoming_flash().to_value()),
                )
            })
            .await;
        let mut expected_values = values.to_vec();
        expected_values.retain(|(k, _)| k != "__anchor");
        assert_eq!(seen.0, as_map(&expected_values));
        assert_eq!(seen.1, as_map(flash));
    });
}

/// The `sid=value` pair of a session holding `values` (and one key more, so it is never empty).
fn cookie_holding(sessions: &SessionManager<CookieStorage>, values: &[(String, Value)]) -> String {
    block_on(async {
        let mut browser = Browser::default();
        let _ = browser
            .request(sessions, |s| {
                for (k, v) in values {
                    s.set(k, v).unwrap();
                }
                s.set("__anchor", 1).unwrap();
            })
            .await;
        browser.jar.unwrap()
    })
}

/// `pair` with the byte at `position` of its value replaced (read lossily, as a header is);
/// `None` when that byte is `replacement` already.
fn with_byte(pair: &str, position: prop::sample::Index, replacement: u8) -> Option<String> {
    let mut bytes = pair.as_bytes().to_vec();
    let at = 4 + position.index(bytes.len() - 4); // inside the value, after `sid=`
    (bytes[at] != replacement).then(|| {
        bytes[at] = replacement;
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn sessions_round_trip_through_cookie_storage(values in entries(), flash in entries()) {
        round_trip(CookieStorage::new(), &values, &flash);
    }

    #[test]
    fn sessions_round_trip_through_encrypted_cookie_storage(
        values in entries(),
        flash in entries(),
    ) {
        round_trip(CookieStorage::encrypted(), &values, &flash);
    }

    #[test]
    fn sessions_round_trip_through_memory_storage(values in entries(), flash in entries()) {
        round_trip(MemoryStorage::new(), &values, &flash);
    }

    #[test]
    fn any_single_byte_change_of_an_encrypted_cookie_gives_a_fresh_session(
        values in entries(),
        position in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let sessions = manager(CookieStorage::encrypted());
        let pair = cookie_holding(&sessions, &values);
        let header = with_byte(&pair, position, replacement);
        prop_assume!(header.is_some());
        let session = block_on(sessions.load(header.as_deref())).unwrap();
        prop_assert!(session.is_empty());
    }

    #[test]
    fn any_single_byte_change_of_a_valid_cookie_is_rejected(
        values in entries(),
        position in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let pair = cookie_holding(&manager(CookieStorage::new()), &values);
        let header = with_byte(&pair, position, replacement);
        prop_assume!(header.is_some());
        let verified = matches!(cookie().read(header.as_deref()), Incoming::Verified { .. });
        prop_assert!(!verified);
    }

    #[test]
    fn reading_any_header_never_panics(header in "\\PC{0,200}|[ -~]{0,200}") {
        let _ = cookie().read(Some(&header));
        let _ = block_on(manager(MemoryStorage::new()).load(Some(&header))).unwrap();
        let _ = block_on(manager(CookieStorage::new()).load(Some(&header))).unwrap();
        let _ = block_on(manager(CookieStorage::encrypted()).load(Some(&header))).unwrap();
    }
}

#[test]
fn every_single_byte_replacement_of_one_cookie_is_rejected() {
    // Exhaustive over one cookie: each position of the value, each other byte value.
    let pair = one_cookie(&manager(CookieStorage::new()));
    let reader = cookie();
    assert!(matches!(
        reader.read(Some(&pair)),
        Incoming::Verified { .. }
    ));
    let edits = every_single_byte_edit(&pair);
    assert!(edits.len() > 10_000);
    for (at, replacement, header) in edits {
        assert!(
            !matches!(reader.read(Some(&header)), Incoming::Verified { .. }),
            "byte {at} -> {replacement}"
        );
    }
}

/// The `sid=value` pair of a session holding a value and a flash.
fn one_cookie(sessions: &SessionManager<CookieStorage>) -> String {
    block_on(async {
        let mut browser = Browser::default();
        let _ = browser
            .request(sessions, |s| {
                s.set("user", "mj").unwrap();
                s.flash("notice", "saved").unwrap();
            })
            .await;
        browser.jar.unwrap()
    })
}

/// Every header made by replacing one byte of the value of `pair` (`sid=value`) with another
/// byte: the position, the byte, and the header read lossily.
fn every_single_byte_edit(pair: &str) -> Vec<(usize, u8, String)> {
    let mut edits = Vec::new();
    for at in 4..pair.len() {
        for replacement in 0..=255_u8 {
            let mut bytes = pair.as_bytes().to_vec();
            if bytes[at] != replacement {
                bytes[at] = replacement;
                edits.push((
                    at,
                    replacement,
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    edits
}

#[test]
fn every_single_byte_replacement_of_one_encrypted_cookie_gives_a_fresh_session() {
    // Exhaustive over one cookie, as for the signed format: each position of the value, each
    // other byte value, read through the manager.
    let sessions = manager(CookieStorage::encrypted());
    let pair = one_cookie(&sessions);
    block_on(async {
        assert!(!sessions.load(Some(&pair)).await.unwrap().is_empty());
        let edits = every_single_byte_edit(&pair);
        assert!(edits.len() > 10_000);
        for (at, replacement, header) in edits {
            let session = sessions.load(Some(&header)).await.unwrap();
            assert!(session.is_empty(), "byte {at} -> {replacement}");
        }
    });
}

/// A neighbour pair of the `Cookie` header as Remix's grammar reads one: a name of neither
/// `=`, `;` nor whitespace, and an unquoted value without `;` (non-ASCII, spaces and `=`
/// included) or a quoted one with escapes; or a bare name.
fn neighbour() -> impl Strategy<Value = String> {
    let name = "[A-Za-z0-9_.!#$%&'*+^`|~-][A-Za-z0-9_.!#$%&'*+^`|~é-]{0,8}";
    prop_oneof![
        (name, "[^;\"\\\\]{0,16}").prop_map(|(n, v)| format!("{n}={v}")),
        (name, "([^\"\\\\;]|\\\\[a-z\"])*").prop_map(|(n, v)| format!("{n}=\"{v}\"")),
        name.prop_map(|n| n.clone()),
    ]
    .prop_filter("another session pair", |pair| !pair.starts_with("sid"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_session_cookie_is_found_among_any_well_formed_neighbours(
        before in proptest::collection::vec(neighbour(), 0..5),
        after in proptest::collection::vec(neighbour(), 0..5),
        spaces in "[ \t]{0,2}",
    ) {
        // The property: the parser against the Remix grammar, on headers that really
        // hold the session cookie among others, whatever their bytes.
        let set_cookie = cookie().to_set_cookie("the-value", None).unwrap();
        let pair = set_cookie.split(';').next().unwrap().to_owned();
        let mut pairs = before.clone();
        pairs.push(pair);
        pairs.extend(after.iter().cloned());
        let header = pairs.join(&format!(";{spaces}"));
        match cookie().read(Some(&header)) {
            Incoming::Verified { value, .. } => prop_assert_eq!(value, "the-value"),
            other => prop_assert!(false, "{header:?} gave {other:?}"),
        }
    }
}

/// One step on a pair of maps that started as clones of each other.
#[derive(Debug, Clone)]
enum MapStep {
    Insert { copy: bool, key: u8, value: u16 },
    Remove { copy: bool, key: u8 },
    Clear { copy: bool },
    Fork,
}

fn map_step() -> impl Strategy<Value = MapStep> {
    prop_oneof![
        6 => (any::<bool>(), 0..40u8, any::<u16>())
            .prop_map(|(copy, key, value)| MapStep::Insert { copy, key, value }),
        3 => (any::<bool>(), 0..40u8).prop_map(|(copy, key)| MapStep::Remove { copy, key }),
        1 => any::<bool>().prop_map(|copy| MapStep::Clear { copy }),
        1 => Just(MapStep::Fork),
    ]
}

/// The model: an insertion-ordered list, where a repeated key keeps its place.
fn model_insert(model: &mut Vec<(String, u16)>, key: String, value: u16) {
    match model.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => model.push((key, value)),
    }
}

fn contents(map: &session::Map) -> Vec<(String, u16)> {
    map.iter()
        .map(|(key, value)| (key.to_owned(), value.decode().unwrap()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// `Map` is copy-on-write: two copies that share their entries behave as two independent
    /// insertion-ordered maps, across the move from a `Vec` to an index past 16 keys.
    #[test]
    fn copies_of_a_map_change_independently(steps in proptest::collection::vec(map_step(), 0..120)) {
        let mut maps = [session::Map::new(), session::Map::new()];
        let mut models: [Vec<(String, u16)>; 2] = [Vec::new(), Vec::new()];
        for step in steps {
            match step {
                MapStep::Insert { copy, key, value } => {
                    let (key, at) = (format!("k{key}"), usize::from(copy));
                    maps[at].insert(key.clone(), session::Json::encode(&value).unwrap());
                    model_insert(&mut models[at], key, value);
                }
                MapStep::Remove { copy, key } => {
                    let (key, at) = (format!("k{key}"), usize::from(copy));
                    let removed = maps[at].remove(&key).map(|v| v.decode::<u16>().unwrap());
                    let expected = models[at].iter().position(|(k, _)| *k == key)
                        .map(|index| models[at].remove(index).1);
                    prop_assert_eq!(removed, expected);
                }
                MapStep::Clear { copy } => {
                    maps[usize::from(copy)].clear();
                    models[usize::from(copy)].clear();
                }
                MapStep::Fork => {
                    maps[1] = maps[0].clone();
                    models[1] = models[0].clone();
                }
            }
            for at in 0..2 {
                prop_assert_eq!(contents(&maps[at]), models[at].clone());
                prop_assert_eq!(maps[at].len(), models[at].len());
            }
        }
    }
}
