//! The file store's primitives on top of [`Dir`]: where an id's file is, the shard lock,
//! reading an entry, atomic writes (temp file, fsync, rename, directory fsync), and the
//! check that a directory is private.

use std::fs::TryLockError;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::dir::{Dir, Open, is_symlink_error};
use crate::error::{ConfigError, Error, Result};
use crate::id::SessionId;
use crate::store::{Entry, parse_entry};

/// Where the per-shard lock files live, inside the root.
pub(super) const LOCKS: &str = ".locks";

/// Prefix of temp files; a crash can leave one behind, and the sweep removes it.
pub(super) const TEMP_PREFIX: &str = ".tmp-";

/// Where one session lives: `<root>/<shard>/<file>`, names only, each reached through the
/// root's handle.
#[derive(Debug)]
pub(super) struct Names {
    /// The first two hex characters of the id's hash: the shard directory.
    pub(super) shard: String,
    /// The other 62: the file in it.
    pub(super) file: String,
}

impl Names {
    /// The names of `id`'s file: `h[0..2]` and `h[2..64]`, `h` the SHA-256 hex of the id, so
    /// no id can name a path outside the root.
    pub(super) fn of(id: &SessionId) -> Self {
        let hash = Sha256::digest(id.as_str().as_bytes());
        let mut hex = to_hex(&hash);
        let file = hex.split_off(2);
        Self { shard: hex, file }
    }

    /// The file's path under `root`, for callers and messages.
    pub(super) fn path(&self, root: &Path) -> PathBuf {
        root.join(&self.shard).join(&self.file)
    }
}

/// What a session file held.
pub(super) enum OnDisk {
    Missing,
    Entry(Entry),
    /// Unreadable as an entry (corrupt, truncated, another format, a symlink).
    Unusable,
}

/// Takes the exclusive lock of a shard, waiting at most `timeout`; it is released when the
/// file is dropped.
pub(super) fn lock(locks: &Dir, timeout: Duration, shard: &str) -> io::Result<std::fs::File> {
    let file = locks.open_file(&format!("{shard}.lock"), Open::Lock)?;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::Error(error)) => return Err(error),
            Err(TryLockError::WouldBlock) if Instant::now() >= deadline => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("session shard {shard} stayed locked for more than {timeout:?}"),
                ));
            }
            Err(TryLockError::WouldBlock) => {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}

/// Refuses a directory that another user owns or that its group or others can write; the
/// check is made on the open handle, so it holds for the directory the store then uses.
pub(super) fn check_private(dir: &Dir) -> Result<()> {
    let owner = dir.owner()?;
    let reason = if !owner.is_ours {
        "another user owns it"
    } else if owner.shared_write {
        "its group or others can write to it (chmod 700 it)"
    } else {
        return Ok(());
    };
    Err(ConfigError::UnsafeDirectory {
        path: dir.path().to_path_buf(),
        reason,
    }
    .into())
}

/// Opens the shard directory `name`: `None` when it does not exist or is a symlink (which is
/// never followed, and logged).
pub(super) fn open_shard(root: &Dir, name: &str) -> Result<Option<Dir>> {
    match root.open_dir(name) {
        Ok(dir) => Ok(Some(dir)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) if is_symlink_error(&error) => {
            tracing::warn!(dir = %root.path().join(name).display(), "symlink in the session store; not followed");
            Ok(None)
        }
        Err(error) => Err(Error::Io(error)),
    }
}

/// Reads a session file without following symlinks, sorting out what it holds.
pub(super) fn read(root: &Dir, names: &Names) -> Result<OnDisk> {
    let bytes = match read_file(root, names)? {
        Read::Missing => return Ok(OnDisk::Missing),
        Read::Symlink => return Ok(OnDisk::Unusable),
        Read::Bytes(bytes) => bytes,
    };
    Ok(match parse_entry(&bytes) {
        Ok(entry) => OnDisk::Entry(entry),
        Err(error) => {
            tracing::warn!(file = %names.path(root.path()).display(), %error, "corrupt session file; serving a fresh session");
            OnDisk::Unusable
        }
    })
}

/// Reads a file of the store without following symlinks; `None` when it is missing or a
/// symlink.
pub(super) fn read_bytes(root: &Dir, names: &Names) -> Result<Option<Vec<u8>>> {
    Ok(match read_file(root, names)? {
        Read::Bytes(bytes) => Some(bytes),
        Read::Missing | Read::Symlink => None,
    })
}

/// What reading a file found.
enum Read {
    Missing,
    Symlink,
    Bytes(Vec<u8>),
}

fn read_file(root: &Dir, names: &Names) -> Result<Read> {
    let Some(shard) = open_shard(root, &names.shard)? else {
        return Ok(Read::Missing);
    };
    let mut file = match shard.open_file(&names.file, Open::Read) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Read::Missing),
        Err(error) if is_symlink_error(&error) => {
            tracing::warn!(file = %names.path(root.path()).display(), "symlink in the session store; not followed");
            return Ok(Read::Symlink);
        }
        Err(error) => return Err(Error::Io(error)),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(Read::Bytes(bytes))
}

/// Writes `bytes` to the session file atomically: temp file, fsync, rename, directory fsync.
/// On failure the old file is intact and the temp file is gone; once the rename is done the
/// write has happened, and a failing directory fsync is logged, not returned.
pub(super) fn write_atomic(root: &Dir, names: &Names, bytes: &[u8]) -> Result<()> {
    // The shard directory usually exists: make it only when opening says it is missing.
    let shard = match root.open_dir(&names.shard) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            match root.create_dir(&names.shard) {
                Err(error) if error.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(error.into());
                }
                _ => root.open_dir(&names.shard),
            }
        }
        opened => opened,
    };
    let shard = match shard {
        Ok(shard) => shard,
        Err(error) if is_symlink_error(&error) => {
            return Err(Error::Io(io::Error::other(format!(
                "{} is a symlink; refusing to write through it",
                root.path().join(&names.shard).display()
            ))));
        }
        Err(error) => return Err(Error::Io(error)),
    };
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|error| io::Error::other(error.to_string()))?;
    let temp = format!("{TEMP_PREFIX}{}", to_hex(&suffix));
    let result = (|| {
        let mut file = shard.open_file(&temp, Open::CreateNew)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        shard.rename(&temp, &names.file)
    })();
    if let Err(error) = result {
        let _ = shard.remove_file(&temp);
        return Err(Error::Io(error));
    }
    // The new record is in place and every reader sees it: a failing directory fsync only
    // leaves the rename's durability across a power loss in doubt. Reporting the save as
    // failed would be false, and would leave a regeneration half done (the new id written,
    // the old one not retired), so it is logged instead.
    if let Err(error) = shard.sync() {
        tracing::warn!(dir = %shard.path().display(), %error, "fsync of the session directory failed after the rename; the save stands");
    }
    Ok(())
}

/// Removes a session file; one already gone (or never made) is fine.
pub(super) fn remove(root: &Dir, names: &Names) -> Result<()> {
    let Some(shard) = open_shard(root, &names.shard)? else {
        return Ok(());
    };
    remove_in(&shard, &names.file)
}

/// Removes the file `name` from `dir`; one already gone is fine.
pub(super) fn remove_in(dir: &Dir, name: &str) -> Result<()> {
    match dir.remove_file(name) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(Error::Io(error)),
    }
}

/// Creates `dir` and its missing parents, `0700`.
pub(super) fn create_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

pub(super) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

pub(super) fn is_hex(name: &str, len: usize) -> bool {
    name.len() == len
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
