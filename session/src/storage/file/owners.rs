//! The file store's owner index: for each owner a file `<root>/.owners/<h>` (`h` the SHA-256
//! hex of the owner) holding a JSON array of session ids, under the lock
//! `.locks/owners-<h[0..2]>.lock`, which every write that joins a session to the owner and
//! every ending of its sessions takes before any shard lock.
//!
//! The file may name more sessions than the owner has (a session deleted by a logout, or
//! expired and swept, stays named until the owner's next login or ending prunes it); it never
//! names fewer, because an id is added before its session file is written. Every read checks
//! each named session's own file, so what is listed is exact.

use sha2::{Digest as _, Sha256};

use super::dir::Dir;
use super::fs::{Names, read_bytes, remove, to_hex, write_atomic};
use crate::error::Result;
use crate::id::SessionId;
use crate::owner::Owner;

/// The directory of the index files.
const OWNERS: &str = ".owners";

/// Where one owner's index lives and which lock guards it.
pub(super) struct Index {
    names: Names,
    pub(super) lock: String,
}

impl Index {
    pub(super) fn of(owner: &Owner) -> Self {
        let hex = to_hex(&Sha256::digest(owner.as_str().as_bytes()));
        Self {
            lock: format!("owners-{}", &hex[..2]),
            names: Names {
                shard: OWNERS.to_owned(),
                file: hex,
            },
        }
    }

    /// The ids the index names (none when it is missing); `None` when it is damaged (and
    /// logged): only a scan of every session file then finds the owner's sessions.
    pub(super) fn ids(&self, root: &Dir) -> Result<Option<Vec<SessionId>>> {
        let Some(bytes) = read_bytes(root, &self.names)? else {
            return Ok(Some(Vec::new()));
        };
        match serde_json::from_slice::<Vec<String>>(&bytes) {
            Ok(ids) => Ok(Some(
                ids.into_iter().filter_map(|id| id.parse().ok()).collect(),
            )),
            Err(error) => {
                tracing::warn!(%error, "corrupt owner index in the session directory");
                Ok(None)
            }
        }
    }

    /// Replaces the index with `ids` (removing it when there are none), atomically.
    pub(super) fn store(&self, root: &Dir, ids: &[SessionId]) -> Result<()> {
        if ids.is_empty() {
            return remove(root, &self.names);
        }
        let ids: Vec<&str> = ids.iter().map(SessionId::as_str).collect();
        let bytes = serde_json::to_vec(&ids).unwrap_or_else(|_| b"[]".to_vec());
        write_atomic(root, &self.names, &bytes)
    }
}
