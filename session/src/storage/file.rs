//! [`FileStorage`]: the signed id in the cookie, each session one file under a dedicated
//! directory. Writes are atomic (temp file, fsync, rename, directory fsync) and merged under a
//! per-shard file lock, so concurrent requests in one or several processes lose no update; no
//! I/O runs where it would stall the async executor.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use super::record::{Delta, Record};
use super::{SaveOutcome, SessionStorage, fresh_session};
use crate::dynamic::{Map, Session};
use crate::error::{ConfigError, Error, Result};
use crate::expiry::{Timestamps, Timing};
use crate::id::SessionId;

/// Where the per-shard lock files live, inside the root.
const LOCKS: &str = ".locks";

/// Prefix of temp files; a crash can leave one behind, and the sweep removes it.
const TEMP_PREFIX: &str = ".tmp-";

/// A temp file older than this is debris from a crash.
const STALE_TEMP: Duration = Duration::from_hours(1);

/// Sessions as files: one per session at `<root>/<h[0..2]>/<h[2..64]>`, where `h` is the
/// SHA-256 hex of the id (Remix's layout), so no id can name a path outside the root.
///
/// - **Atomic:** a write goes to a temp file in the same directory, is fsynced, renamed over
///   the old file, and the directory is fsynced. A reader never sees a partial file; a failed
///   write leaves the old content and no temp file.
/// - **No lost updates, across processes:** a save reads the stored record, applies only its
///   request's changes and writes it back while holding an exclusive lock on the session's
///   shard (`<root>/.locks/<h[0..2]>.lock`). Requests that touch different keys all survive;
///   on the same key the last save wins. A save for a session destroyed meanwhile writes
///   nothing and returns [`SaveOutcome::Interrupted`].
/// - **Hardened:** files are created `0600` and directories `0700`; a symlink planted in the
///   store is never followed; a corrupt or truncated file (written by something else) serves
///   a fresh session and logs a warning; I/O failures are [`Error::Io`].
/// - **Expiry:** expired records are not served and are deleted when met;
///   [`sweep_expired`](Self::sweep_expired) removes the rest.
/// - **Never stalls the executor:** on a multi-threaded tokio runtime the file work runs under
///   `block_in_place` (the worker's other tasks move to another thread first); on a
///   current-thread runtime it runs on the blocking pool; outside a runtime, inline.
///
/// The directory must be dedicated to this storage.
///
/// # Examples
///
/// ```
/// use session::{Expiry, FileStorage, SaveOutcome, SessionStorage, Timing};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("sessions-doc-{}", std::process::id()));
/// let storage = FileStorage::new(&dir)?;
/// let timing = Timing::new(Expiry::none(), 0);
/// let mut session = storage.load(None, timing).await?;
/// session.set("count", 1)?;
/// let SaveOutcome::Saved { value: id } = storage.save(&session, timing).await? else { panic!() };
/// let again = storage.load(Some(&id), timing).await?;
/// assert_eq!(again.get::<u32>("count")?, Some(1));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), session::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct FileStorage {
    layout: Arc<Layout>,
}

impl FileStorage {
    /// Opens (creating it if missing) a storage directory.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NotADirectory`] when the path names a file; [`Error::Io`] when the
    /// directory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let file = std::env::temp_dir().join(format!("not-a-dir-{}", std::process::id()));
    /// std::fs::write(&file, b"x").unwrap();
    /// assert!(matches!(
    ///     session::FileStorage::new(&file),
    ///     Err(session::Error::Config(session::ConfigError::NotADirectory { .. }))
    /// ));
    /// # std::fs::remove_file(&file).unwrap();
    /// ```
    pub fn new(dir: impl AsRef<Path>) -> Result<Self> {
        Self::builder(dir).build()
    }

    /// Starts configuring a storage in `dir`.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("sessions-builder-{}", std::process::id()));
    /// let storage = session::FileStorage::builder(&dir).use_unknown_ids(false).build()?;
    /// assert_eq!(storage.root(), std::path::absolute(&dir).unwrap());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn builder(dir: impl AsRef<Path>) -> FileStorageBuilder {
        FileStorageBuilder {
            dir: dir.as_ref().to_path_buf(),
            use_unknown_ids: false,
        }
    }

    /// Returns the storage's absolute root directory.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("sessions-root-{}", std::process::id()));
    /// let storage = session::FileStorage::new(&dir)?;
    /// assert!(storage.root().is_absolute());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// Returns the file a session id is stored in (whether or not it exists).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("sessions-path-{}", std::process::id()));
    /// let storage = session::FileStorage::new(&dir)?;
    /// let id = session::SessionId::parse("00000000-0000-4000-8000-000000000000").unwrap();
    /// let path = storage.path_of(&id);
    /// assert!(path.starts_with(storage.root()));
    /// assert_eq!(path.parent().unwrap().file_name().unwrap().len(), 2);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn path_of(&self, id: &SessionId) -> PathBuf {
        self.layout.paths(id).file
    }

    /// Deletes every session file whose deadline passed before `now` (Unix seconds), the temp
    /// files a crash left behind, and shard directories left empty; nothing else. Returns how
    /// many sessions went. Call it on a schedule.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory cannot be read or a file cannot be removed.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let dir = std::env::temp_dir().join(format!("sessions-sweep-{}", std::process::id()));
    /// let storage = session::FileStorage::new(&dir)?;
    /// assert_eq!(storage.sweep_expired(u64::MAX).await?, 0);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), session::Error>(()) }).unwrap();
    /// ```
    pub async fn sweep_expired(&self, now: u64) -> Result<usize> {
        let layout = Arc::clone(&self.layout);
        blocking(move || layout.sweep(now)).await
    }
}

impl SessionStorage for FileStorage {
    async fn load(&self, value: Option<&str>, timing: Timing) -> Result<Session> {
        let Some(id) = super::incoming_id(value) else {
            return Ok(fresh_session(timing));
        };
        let layout = Arc::clone(&self.layout);
        blocking(move || layout.load(id, timing)).await
    }

    async fn save(&self, session: &Session, timing: Timing) -> Result<SaveOutcome> {
        if !session.is_destroyed() && !session.needs_write(&timing) {
            return Ok(SaveOutcome::Unchanged);
        }
        let job = SaveJob {
            id: session.id().clone(),
            original: session.original_id().clone(),
            stored: session.is_stored(),
            destroyed: session.is_destroyed(),
            delete_original: session.deletes_original(),
            generated_id: session.id_is_generated(),
            created: session.timestamps().created,
            delta: Delta::of(session),
        };
        let layout = Arc::clone(&self.layout);
        blocking(move || layout.save(&job, timing)).await
    }
}

/// Configures a [`FileStorage`].
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("sessions-b-{}", std::process::id()));
/// let storage = session::FileStorage::builder(&dir).build()?;
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct FileStorageBuilder {
    dir: PathBuf,
    use_unknown_ids: bool,
}

impl FileStorageBuilder {
    /// Adopts a well-formed id the store does not hold instead of issuing a new one (off by
    /// default; Remix's `useUnknownIds`).
    ///
    /// # Security
    ///
    /// Adopting ids a client chose opens the door to session fixation.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("sessions-u-{}", std::process::id()));
    /// let storage = session::FileStorage::builder(&dir).use_unknown_ids(true).build()?;
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn use_unknown_ids(mut self, adopt: bool) -> Self {
        self.use_unknown_ids = adopt;
        self
    }

    /// Checks the directory, creating it (`0700`) if missing, and builds the storage.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NotADirectory`] when the path names something else; [`Error::Io`] when
    /// it cannot be created or inspected.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("sessions-c-{}", std::process::id()));
    /// let storage = session::FileStorage::builder(&dir).build()?;
    /// assert!(dir.is_dir());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn build(self) -> Result<FileStorage> {
        let root = std::path::absolute(&self.dir)?;
        match fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(ConfigError::NotADirectory { path: root }.into()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => create_dirs(&root)?,
            Err(error) => return Err(error.into()),
        }
        create_dirs(&root.join(LOCKS))?;
        Ok(FileStorage {
            layout: Arc::new(Layout {
                root,
                use_unknown_ids: self.use_unknown_ids,
            }),
        })
    }
}

/// A save, owned, so that it can run on a blocking thread.
#[derive(Debug)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent facts about one session, each documented"
)]
struct SaveJob {
    id: SessionId,
    original: SessionId,
    /// The session was loaded from a file: if that file is gone, another request destroyed it.
    stored: bool,
    destroyed: bool,
    delete_original: bool,
    /// The id was generated in this request: a file already under it is a collision.
    generated_id: bool,
    created: u64,
    delta: Delta,
}

/// The paths of one session.
#[derive(Debug)]
struct Paths {
    /// The first two hex characters of the id's hash: the shard.
    shard: String,
    dir: PathBuf,
    file: PathBuf,
}

/// What a session file held.
enum Stored {
    Missing,
    Record(Record),
    /// Unreadable as a record (corrupt, truncated, another format, a symlink).
    Unusable,
}

#[derive(Debug)]
struct Layout {
    root: PathBuf,
    use_unknown_ids: bool,
}

impl Layout {
    fn paths(&self, id: &SessionId) -> Paths {
        let hash = Sha256::digest(id.as_str().as_bytes());
        let hex = to_hex(&hash);
        let (shard, name) = hex.split_at(2);
        let dir = self.root.join(shard);
        Paths {
            file: dir.join(name),
            dir,
            shard: shard.to_owned(),
        }
    }

    /// Takes the exclusive lock of a shard; it is released when the file is dropped.
    fn lock(&self, shard: &str) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        restrict(&mut options);
        let file = options.open(self.root.join(LOCKS).join(format!("{shard}.lock")))?;
        file.lock()?;
        Ok(file)
    }

    fn load(&self, id: SessionId, timing: Timing) -> Result<Session> {
        let paths = self.paths(&id);
        let record = match read(&paths)? {
            Stored::Record(record) => record,
            Stored::Missing if self.use_unknown_ids => {
                return Ok(Session::from_parts(
                    id,
                    Map::new(),
                    Map::new(),
                    Timestamps::at(timing.now()),
                ));
            }
            Stored::Missing | Stored::Unusable => return Ok(fresh_session(timing)),
        };
        if let Err(reason) = timing.check(record.timestamps()) {
            crate::audit::expired(reason);
            let _guard = self.lock(&paths.shard)?;
            remove(&paths.file)?;
            return Ok(fresh_session(timing));
        }
        let mut session = record.into_session(id);
        session.mark_stored();
        Ok(session)
    }

    fn save(&self, job: &SaveJob, timing: Timing) -> Result<SaveOutcome> {
        let base = self.paths(&job.original);
        if job.destroyed {
            {
                let _guard = self.lock(&base.shard)?;
                remove(&base.file)?;
            }
            if job.id != job.original {
                let target = self.paths(&job.id);
                let _guard = self.lock(&target.shard)?;
                remove(&target.file)?;
            }
            return Ok(SaveOutcome::Destroyed);
        }
        let record = {
            let guard = self.lock(&base.shard)?;
            let stored = read(&base)?;
            if job.id == job.original && job.generated_id && !matches!(stored, Stored::Missing) {
                // A new id that already names a file: never overwrite another session.
                drop(guard);
                return self.write_new(job, timing);
            }
            let mut record = match stored {
                Stored::Missing if job.stored => return Ok(SaveOutcome::Interrupted),
                Stored::Record(record) => record,
                Stored::Missing | Stored::Unusable => Record::empty(job.created),
            };
            record.apply_delta(&job.delta, timing);
            if job.id == job.original {
                write_atomic(&base, &record.to_json())?;
                drop(guard);
                return Ok(saved(&job.id));
            }
            record
        };
        // Regenerated: the new file first, then (if asked) the old one goes.
        let id = self.create(&job.id, &record)?;
        if job.delete_original {
            let _guard = self.lock(&base.shard)?;
            remove(&base.file)?;
        }
        Ok(saved(&id))
    }

    /// Saves a new session under a fresh id, its own id having collided with a stored one.
    fn write_new(&self, job: &SaveJob, timing: Timing) -> Result<SaveOutcome> {
        let mut record = Record::empty(job.created);
        record.apply_delta(&job.delta, timing);
        let id = self.create(&SessionId::generate(), &record)?;
        Ok(saved(&id))
    }

    /// Writes a record under a generated id that no file holds yet, drawing another id on a
    /// collision; returns the id used.
    fn create(&self, id: &SessionId, record: &Record) -> Result<SessionId> {
        let mut id = id.clone();
        loop {
            let paths = self.paths(&id);
            let _guard = self.lock(&paths.shard)?;
            if matches!(read(&paths)?, Stored::Missing) {
                write_atomic(&paths, &record.to_json())?;
                return Ok(id);
            }
            tracing::warn!("generated session id collided with a stored one; drawing another");
            id = SessionId::generate();
        }
    }

    fn sweep(&self, now: u64) -> Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name();
            if !is_hex(&name, 2) || !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(shard) = name.to_str() else { continue };
            let _guard = self.lock(shard)?;
            let dir = entry.path();
            for file in fs::read_dir(&dir)? {
                let file = file?;
                if !file.file_type()?.is_file() {
                    continue;
                }
                let name = file.file_name();
                if is_hex(&name, 62) {
                    let expired = fs::read(file.path())
                        .ok()
                        .and_then(|bytes| Record::from_json(&bytes).ok())
                        .and_then(|record| record.deadline())
                        .is_some_and(|deadline| deadline < now);
                    if expired {
                        remove(&file.path())?;
                        removed += 1;
                    }
                } else if name.to_string_lossy().starts_with(TEMP_PREFIX) {
                    let age = file
                        .metadata()?
                        .modified()?
                        .elapsed()
                        .unwrap_or(Duration::ZERO);
                    if age > STALE_TEMP {
                        remove(&file.path())?;
                    }
                }
            }
            if fs::read_dir(&dir)?.next().is_none() {
                fs::remove_dir(&dir)?;
            }
        }
        Ok(removed)
    }
}

fn saved(id: &SessionId) -> SaveOutcome {
    SaveOutcome::Saved {
        value: id.as_str().to_owned(),
    }
}

/// Reads a session file without following symlinks, sorting out what it holds.
fn read(paths: &Paths) -> Result<Stored> {
    if is_symlink(&paths.dir) {
        tracing::warn!(dir = %paths.dir.display(), "symlink in the session store; not followed");
        return Ok(Stored::Unusable);
    }
    let mut options = OpenOptions::new();
    options.read(true);
    no_follow(&mut options);
    let mut file = match options.open(&paths.file) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Stored::Missing),
        Err(error) if is_symlink_error(&error) => {
            tracing::warn!(file = %paths.file.display(), "symlink in the session store; not followed");
            return Ok(Stored::Unusable);
        }
        Err(error) => return Err(Error::Io(error)),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(match Record::from_json(&bytes) {
        Ok(record) => Stored::Record(record),
        Err(error) => {
            tracing::warn!(file = %paths.file.display(), %error, "corrupt session file; serving a fresh session");
            Stored::Unusable
        }
    })
}

/// Writes `bytes` to the session file atomically: temp file, fsync, rename, directory fsync.
/// On failure the old file is intact and the temp file is gone.
fn write_atomic(paths: &Paths, bytes: &[u8]) -> Result<()> {
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
        fs::rename(&temp, &paths.file)?;
        File::open(&paths.dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(Error::Io)
}

/// Removes a file; one already gone is fine.
fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(Error::Io(error)),
    }
}

fn create_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink())
}

fn is_hex(name: &OsStr, len: usize) -> bool {
    name.len() == len
        && name
            .as_encoded_bytes()
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// Files are created readable and writable by the owner only.
fn restrict(options: &mut OpenOptions) {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    #[cfg(not(unix))]
    let _ = options;
}

/// Opening a symlink fails instead of following it.
fn no_follow(options: &mut OpenOptions) {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    #[cfg(not(unix))]
    let _ = options;
}

fn is_symlink_error(error: &io::Error) -> bool {
    #[cfg(unix)]
    return error.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    return {
        let _ = error;
        false
    };
}

/// Runs blocking file work on tokio's blocking pool, or inline outside a runtime. The work
/// logs to the caller's subscriber, inside the caller's span.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        Ok(handle) => {
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            let span = tracing::Span::current();
            let traced =
                move || tracing::dispatcher::with_default(&dispatch, || span.in_scope(work));
            handle
                .spawn_blocking(traced)
                .await
                .map_err(Error::storage)?
        }
        Err(_) => work(),
    }
}
