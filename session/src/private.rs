//! Items only generated code may use; not public API, and free to change in any release. The
//! derive and this module are pinned to the same version.
#![expect(
    clippy::missing_errors_doc,
    reason = "hidden helpers; the generated accessors document their errors"
)]

pub use serde::Serialize;
pub use serde::de::DeserializeOwned;

use crate::dynamic::Session;
use crate::error::{Error, Result};

/// A field's value; `None` when missing.
pub fn get<T: DeserializeOwned>(session: &Session, key: &str) -> Result<Option<T>> {
    session.get(key)
}

/// A field's value, or `default()` when it is missing or does not fit.
pub fn get_or<T: DeserializeOwned>(session: &Session, key: &str, default: impl FnOnce() -> T) -> T {
    or_default(session.get(key), key, default)
}

/// The flash value that arrived; `None` when there is none.
pub fn flashed<T: DeserializeOwned>(session: &Session, key: &str) -> Result<Option<T>> {
    session.flashed(key)
}

/// The flash value that arrived, or `default()`.
pub fn flashed_or<T: DeserializeOwned>(
    session: &Session,
    key: &str,
    default: impl FnOnce() -> T,
) -> T {
    or_default(session.flashed(key), key, default)
}

/// A value a field cannot do without.
pub fn required<T: DeserializeOwned>(session: &Session, key: &str) -> Result<T> {
    session.get(key)?.ok_or_else(|| missing(key))
}

/// A flash value a field cannot do without.
pub fn flashed_required<T: DeserializeOwned>(session: &Session, key: &str) -> Result<T> {
    session.flashed(key)?.ok_or_else(|| missing(key))
}

/// Stores a value (`null` removes the key).
pub fn set<T: Serialize>(session: &mut Session, key: &str, value: T) -> Result<()> {
    session.set(key, value)
}

/// Removes a value.
pub fn remove(session: &mut Session, key: &str) -> Result<()> {
    session.remove(key)
}

/// Flashes a value for the next request.
pub fn flash<T: Serialize>(session: &mut Session, key: &str, value: T) -> Result<()> {
    session.flash(key, value)
}

/// Flashes a value unless it serializes to `null` (a `None` field flashes nothing).
pub fn flash_present<T: Serialize>(session: &mut Session, key: &str, value: &T) -> Result<()> {
    let is_null =
        Serialize::serialize(value, serde_json::value::Serializer).is_ok_and(|json| json.is_null());
    if is_null {
        Ok(())
    } else {
        session.flash(key, value)
    }
}

fn or_default<T>(read: Result<Option<T>>, key: &str, default: impl FnOnce() -> T) -> T {
    match read {
        Ok(Some(value)) => value,
        Ok(None) => default(),
        Err(error) => {
            tracing::debug!(key, %error, "session value does not fit its field; using the default");
            default()
        }
    }
}

fn missing(key: &str) -> Error {
    Error::MissingValue {
        key: key.to_owned(),
    }
}
