//! Filesystem primitives of the file store: where an id's file is, the shard lock, reading an
//! entry without following symlinks, atomic writes (temp file, fsync, rename, directory
//! fsync), and the permission and symlink rules.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use crate::error::{ConfigError, Error, Result};
use crate::id::SessionId;
use crate::store::{Entry, parse_entry};

/// Where the per-shard lock files live, inside the root.
pub(super) const LOCKS: &str = ".locks";

/// Prefix of temp files; a crash can leave one behind, and the sweep removes it.
pub(super) const TEMP_PREFIX: &str = ".tmp-";

/// The paths of one session.
#[derive(Debug)]
pub(super) struct Paths {
    /// The first two hex characters of the id's hash: the shard.
    pub(super) shard: String,
    pub(super) dir: PathBuf,
    pub(super) file: PathBuf,
}

impl Paths {
    /// The file of `id` under `root`: `<root>/<h[0..2]>/<h[2..64]>`, `h` the SHA-256 hex of
    /// the id, so no id can name a path outside the root.
    pub(super) fn of(root: &Path, id: &SessionId) -> Self {
        let hash = Sha256::digest(id.as_str().as_bytes());
        let hex = to_hex(&hash);
        let (shard, name) = hex.split_at(2);
        let dir = root.join(shard);
        Self {
            file: dir.join(name),
            dir,
            shard: shard.to_owned(),
        }
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
pub(super) fn lock(root: &Path, timeout: Duration, shard: &str) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    restrict(&mut options);
    no_follow(&mut options);
    let file = options.open(root.join(LOCKS).join(format!("{shard}.lock")))?;
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

/// The user this process creates files as: the owner of a probe file made in `dir` (this
/// also proves the directory writable), with no `unsafe` call to `geteuid`.
#[cfg(unix)]
fn own_uid(dir: &Path) -> io::Result<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|error| io::Error::other(error.to_string()))?;
    let probe = dir.join(format!("{TEMP_PREFIX}owner-{}", to_hex(&suffix)));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    restrict(&mut options);
    no_follow(&mut options);
    let uid = options.open(&probe)?.metadata()?.uid();
    fs::remove_file(&probe)?;
    Ok(uid)
}

/// Refuses a directory that another user owns or that its group or others can write, or
/// that is a symlink (the root itself may be one: only what it names is checked).
pub(super) fn check_private(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let unsafe_dir = |reason| ConfigError::UnsafeDirectory {
            path: dir.to_path_buf(),
            reason,
        };
        if dir.file_name() == Some(OsStr::new(LOCKS)) && is_symlink(dir) {
            return Err(unsafe_dir("it is a symlink").into());
        }
        let meta = fs::metadata(dir)?;
        if meta.uid() != own_uid(dir)? {
            return Err(unsafe_dir("another user owns it").into());
        }
        if meta.mode() & 0o022 != 0 {
            return Err(unsafe_dir("its group or others can write to it (chmod 700 it)").into());
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Reads a session file without following symlinks, sorting out what it holds.
pub(super) fn read(paths: &Paths) -> Result<OnDisk> {
    if is_symlink(&paths.dir) {
        tracing::warn!(dir = %paths.dir.display(), "symlink in the session store; not followed");
        return Ok(OnDisk::Unusable);
    }
    let mut options = OpenOptions::new();
    options.read(true);
    no_follow(&mut options);
    let mut file = match options.open(&paths.file) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(OnDisk::Missing),
        Err(error) if is_symlink_error(&error) => {
            tracing::warn!(file = %paths.file.display(), "symlink in the session store; not followed");
            return Ok(OnDisk::Unusable);
        }
        Err(error) => return Err(Error::Io(error)),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(match parse_entry(&bytes) {
        Ok(entry) => OnDisk::Entry(entry),
        Err(error) => {
            tracing::warn!(file = %paths.file.display(), %error, "corrupt session file; serving a fresh session");
            OnDisk::Unusable
        }
    })
}

/// Writes `bytes` to the session file atomically: temp file, fsync, rename, directory fsync.
/// On failure the old file is intact and the temp file is gone; once the rename is done the
/// write has happened, and a failing directory fsync is logged, not returned.
pub(super) fn write_atomic(paths: &Paths, bytes: &[u8]) -> Result<()> {
    if is_symlink(&paths.dir) {
        return Err(Error::Io(io::Error::other(format!(
            "{} is a symlink; refusing to write through it",
            paths.dir.display()
        ))));
    }
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|error| io::Error::other(error.to_string()))?;
    let temp = paths.dir.join(format!("{TEMP_PREFIX}{}", to_hex(&suffix)));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        restrict(&mut options);
        no_follow(&mut options);
        // The shard directory usually exists: make it only when the create says it is missing.
        let mut file = match options.open(&temp) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                create_dirs(&paths.dir)?;
                options.open(&temp)?
            }
            opened => opened?,
        };
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, &paths.file)
    })();
    if let Err(error) = result {
        let _ = fs::remove_file(&temp);
        return Err(Error::Io(error));
    }
    // The new record is in place and every reader sees it: a failing directory fsync only
    // leaves the rename's durability across a power loss in doubt. Reporting the save as
    // failed would be false, and would leave a regeneration half done (the new id written,
    // the old one not retired), so it is logged instead.
    if let Err(error) = File::open(&paths.dir).and_then(|dir| dir.sync_all()) {
        tracing::warn!(dir = %paths.dir.display(), %error, "fsync of the session directory failed after the rename; the save stands");
    }
    Ok(())
}

/// Removes a file; one already gone is fine.
pub(super) fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(Error::Io(error)),
    }
}

pub(super) fn create_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
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

pub(super) fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink())
}

pub(super) fn is_hex(name: &OsStr, len: usize) -> bool {
    name.len() == len
        && name
            .as_encoded_bytes()
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// Files are created readable and writable by the owner only.
pub(super) fn restrict(options: &mut OpenOptions) {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    #[cfg(not(unix))]
    let _ = options;
}

/// Opening a symlink fails instead of following it.
pub(super) fn no_follow(options: &mut OpenOptions) {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    #[cfg(not(unix))]
    let _ = options;
}

pub(super) fn is_symlink_error(error: &io::Error) -> bool {
    #[cfg(unix)]
    return error.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    return {
        let _ = error;
        false
    };
}
