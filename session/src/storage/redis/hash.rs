//! A session as a Redis hash: the fields a plan writes (values `v:<key>`, flash `f:<key>`, the
//! timestamps `m`, each JSON text, the lifetime `l` when one was chosen, and the owner `o` and
//! label `n` as plain text) and the decoding of an `HGETALL` reply back into a record.

use crate::data::{Json, Map};
use crate::expiry::{Lifetime, Timestamps};
use crate::owner::{Label, Owner};
use crate::store::{Change, Expect, WritePlan};

use super::scripts::UPDATE_MAX_ARGS;

/// The hash field holding `[created, renewed]`.
pub(super) const META: &str = "m";
/// The hash field holding the session's lifetime code (absent: the policy's); the scripts read
/// it to set the time to live.
pub(super) const LIFETIME: &str = "l";
/// The hash field holding the session's owner; the scripts read it to keep the owner index.
pub(super) const OWNER: &str = "o";
/// The hash field holding the session's label.
pub(super) const LABEL: &str = "n";
/// Prefix of the hash fields holding values.
pub(super) const VALUE: &str = "v:";
/// Prefix of the hash fields holding the flash for the next request.
pub(super) const FLASH: &str = "f:";

/// One request's changes as the arguments of the save scripts: hash fields already prefixed,
/// values already JSON.
pub(super) struct HashChanges {
    /// `field, JSON, field, JSON, ...` for `HSET`, the timestamps included.
    pub(super) set: Vec<Vec<u8>>,
    /// Fields to delete: the values this request removed.
    pub(super) delete: Vec<Vec<u8>>,
    /// `field, JSON, ...` of the flash this request consumed.
    pub(super) consumed: Vec<Vec<u8>>,
}

impl HashChanges {
    /// Whether [`UPDATE`] can apply these changes: values set (no removals, no flash
    /// consumed) on a record loaded from, and kept under, its id, under a policy with a TTL.
    pub(super) fn is_plain_update(&self, plan: &WritePlan<'_>) -> bool {
        matches!(plan.expect(), Expect::Loaded(_) | Expect::Existing)
            && !plan.moves()
            && plan.ttl_for(Lifetime::Policy).is_some()
            && self.delete.is_empty()
            && self.consumed.is_empty()
            && self.set.len() <= UPDATE_MAX_ARGS
            && !plan.owner_change().is_change()
            && !plan.label_change().is_change()
    }

    pub(super) fn of(plan: &WritePlan<'_>) -> Self {
        let written = plan.timestamps();
        let flash_out = plan.new_flash();
        let mut set = Vec::with_capacity(2 + 2 * flash_out.len());
        set.push(META.as_bytes().to_vec());
        set.push(format!("[{},{}]", written.created, written.renewed).into_bytes());
        let mut delete = Vec::new();
        for (key, value) in plan.changes() {
            match value {
                Some(value) => {
                    set.push(field(VALUE, key));
                    set.push(text(value));
                }
                None => delete.push(field(VALUE, key)),
            }
        }
        for (key, value) in flash_out {
            set.push(field(FLASH, key));
            set.push(text(value));
        }
        // Only a request that chose a lifetime writes it, so a concurrent one keeps it.
        match plan.lifetime_change().map(Lifetime::code) {
            Some(Some(code)) => {
                set.push(LIFETIME.as_bytes().to_vec());
                set.push(code.to_string().into_bytes());
            }
            Some(None) => delete.push(LIFETIME.as_bytes().to_vec()),
            None => {}
        }
        let mut text_change = |name: &str, change: Change<&str>| match change {
            Change::Set(text) => {
                set.push(name.as_bytes().to_vec());
                set.push(text.as_bytes().to_vec());
            }
            Change::Clear => delete.push(name.as_bytes().to_vec()),
            Change::Keep => {}
        };
        text_change(OWNER, as_text(plan.owner_change(), Owner::as_str));
        text_change(LABEL, as_text(plan.label_change(), Label::as_str));
        let consumed_flash = plan.consumed_flash();
        let mut consumed = Vec::with_capacity(2 * consumed_flash.len());
        for (key, value) in consumed_flash {
            consumed.push(field(FLASH, key));
            consumed.push(text(value));
        }
        Self {
            set,
            delete,
            consumed,
        }
    }
}

/// A change of the owner or label as a change of its text.
fn as_text<T>(change: Change<&T>, text: impl Fn(&T) -> &str) -> Change<&str> {
    match change {
        Change::Set(value) => Change::Set(text(value)),
        Change::Clear => Change::Clear,
        Change::Keep => Change::Keep,
    }
}

/// The hash field of `key` under `prefix` (`v:` or `f:`).
fn field(prefix: &str, key: &str) -> Vec<u8> {
    let mut field = Vec::with_capacity(prefix.len() + key.len());
    field.extend_from_slice(prefix.as_bytes());
    field.extend_from_slice(key.as_bytes());
    field
}

/// A value's JSON text, as it is.
fn text(value: &Json) -> Vec<u8> {
    value.as_str().as_bytes().to_vec()
}

/// A stored field's JSON text, checked; `None` if it is not one JSON value.
fn parse(text: &[u8]) -> Option<Json> {
    Json::from_stored(std::str::from_utf8(text).ok()?).ok()
}

/// What an `HGETALL` reply holds.
pub(super) struct Hash {
    pub(super) values: Map,
    pub(super) flash: Map,
    pub(super) timestamps: Timestamps,
    pub(super) lifetime: Lifetime,
    pub(super) owner: Option<Owner>,
    pub(super) label: Option<Label>,
}

/// Splits the flat `field, JSON, ...` reply of `HGETALL` into values, flash, timestamps and
/// lifetime; `None` if any part is corrupt.
pub(super) fn parse_hash(fields: Vec<redis::Value>) -> Option<Hash> {
    let mut values = Map::new();
    let mut flash = Map::new();
    let mut timestamps = None;
    let mut lifetime = Lifetime::Policy;
    let (mut owner, mut label) = (None, None);
    let mut fields = fields.into_iter();
    loop {
        let (field, text) = match (fields.next(), fields.next()) {
            (None, None) => break,
            (Some(redis::Value::BulkString(field)), Some(redis::Value::BulkString(text))) => {
                (field, text)
            }
            _ => return None,
        };
        let mut field = String::from_utf8(field).ok()?;
        if field == META {
            let (created, renewed): (u64, u64) = serde_json::from_slice(&text).ok()?;
            timestamps = Some(Timestamps { created, renewed });
        } else if field == LIFETIME {
            lifetime = Lifetime::from_code(Some(serde_json::from_slice(&text).ok()?));
        } else if field == OWNER {
            owner = Some(Owner::stored(String::from_utf8(text).ok()?)?);
        } else if field == LABEL {
            label = Some(Label::stored(String::from_utf8(text).ok()?)?);
        } else if field.starts_with(VALUE) {
            field.drain(..VALUE.len());
            values.insert(field, parse(&text)?);
        } else if field.starts_with(FLASH) {
            field.drain(..FLASH.len());
            flash.insert(field, parse(&text)?);
        } else {
            return None;
        }
    }
    Some(Hash {
        values,
        flash,
        timestamps: timestamps?,
        lifetime,
        owner,
        label,
    })
}
