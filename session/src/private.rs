//! Items only generated code may use; not public API, and free to change in any release. The
//! derive and this module are pinned to the same version.
//!
//! Every read goes through [`read`] and every write through [`write`], so that a field type
//! that is not `Serialize + DeserializeOwned` gives one error per trait, at the field's type.
#![expect(
    clippy::missing_errors_doc,
    reason = "hidden helpers; the generated accessors document their errors"
)]

pub use serde::Serialize;
pub use serde::de::DeserializeOwned;

use crate::data::Session;
use crate::error::{Error, Result};

/// Where a field lives.
#[derive(Debug, Clone, Copy)]
pub enum Slot {
    /// A stored value.
    Value,
    /// Flash data: read the flash that arrived, write the flash for the next request.
    Flash,
}

/// Reads a field; `None` when missing.
pub fn read<T: DeserializeOwned>(session: &Session, slot: Slot, key: &str) -> Result<Option<T>> {
    match slot {
        Slot::Value => session.get(key),
        Slot::Flash => session.flashed(key),
    }
}

/// Writes a field; `None` removes a stored value and flashes nothing.
pub fn write<T: Serialize>(
    session: &mut Session,
    slot: Slot,
    key: &str,
    value: Option<&T>,
) -> Result<()> {
    match (slot, value) {
        (Slot::Value, Some(value)) => session.set(key, value),
        (Slot::Value, None) => session.remove(key),
        (Slot::Flash, Some(value)) => session.flash(key, value),
        (Slot::Flash, None) => Ok(()),
    }
}

/// Removes a stored value.
pub fn remove(session: &mut Session, key: &str) -> Result<()> {
    session.remove(key)
}

/// A read, or `default()` when the value is missing or does not fit.
pub fn or_default<T>(read: Result<Option<T>>, key: &str, default: impl FnOnce() -> T) -> T {
    match read {
        Ok(Some(value)) => value,
        Ok(None) => default(),
        Err(error) => {
            tracing::debug!(key, %error, "session value does not fit its field; using the default");
            default()
        }
    }
}

/// A read that must find a value.
pub fn required<T>(read: Result<Option<T>>, key: &str) -> Result<T> {
    read?.ok_or_else(|| Error::MissingValue {
        key: key.to_owned(),
    })
}
