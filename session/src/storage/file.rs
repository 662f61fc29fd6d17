//! [`FileStorage`]: each session one file under a dedicated directory. This module holds the
//! store's rules; `fs` has the filesystem primitives and `blocking` the bridge that keeps the
//! file work off the async executor.

mod blocking;
mod dir;
mod fs;
mod owners;

use std::fs as std_fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use self::blocking::Bridge;
use self::dir::{Dir, Kind, Open, is_symlink_error};
use self::fs::{
    LOCKS, Names, OnDisk, TEMP_PREFIX, check_private, create_dirs, is_hex, lock, open_shard, read,
    remove, remove_in, write_atomic,
};
use self::owners::Index;
use crate::error::{ConfigError, Result};
use crate::id::SessionId;
use crate::owner::Owner;
use crate::store::{
    Ending, Entry, Found, OwnedRecord, Record, Retire, SessionStore, Stored, Version, Write,
    WriteOutcome, WritePlan, forward_json, superseded_json,
};

/// A temp file older than this is debris from a crash.
const STALE_TEMP: Duration = Duration::from_hours(1);

/// Sessions as files: one per session at `<root>/<h[0..2]>/<h[2..64]>`, where `h` is the
/// SHA-256 hex of the id (Remix's layout), so no id can name a path outside the root.
///
/// - **Atomic:** a write goes to a temp file in the same directory, is fsynced, renamed over
///   the old file, and the directory is fsynced. A reader never sees a partial file; a failed
///   write leaves the old content and no temp file.
/// - **No lost updates, across processes:** a write reads the stored record, applies only its
///   request's changes and writes it back while holding an exclusive lock on the session's
///   shard (`<root>/.locks/<h[0..2]>.lock`; a regeneration holds both shards' locks).
///   Requests that touch different keys all survive; on the same key the last save wins.
/// - **Hardened:** files are created `0600` and directories `0700`; the root and its `.locks`
///   must be private to this process's user; on Unix every file is reached relative to the
///   directories checked at build (`openat` and friends), so a path swapped later is never
///   used; a symlink planted in the store is never followed; a corrupt or truncated file (written by something else) serves
///   a fresh session and logs a warning; I/O failures are [`Error::Io`](crate::Error::Io).
/// - **Expiry:** expired records are not served and are deleted when met;
///   [`sweep_expired`](Self::sweep_expired) removes the rest.
/// - **Never stalls the executor:** on a multi-threaded tokio runtime the file work runs under
///   `block_in_place` (the worker's other tasks move to another thread first); on a
///   current-thread runtime it runs on the blocking pool (with a copy of the write); outside a
///   runtime, inline.
///
/// The directory must be dedicated to this storage.
///
/// # Examples
///
/// ```
/// use session::{FileStorage, SessionCookie, SessionManager};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("sessions-doc-{}", std::process::id()));
/// let cookie = SessionCookie::builder("sid").secret([7u8; 32]).build()?;
/// let sessions = SessionManager::new(cookie, FileStorage::new(&dir)?);
/// let mut session = sessions.load(None).await?;
/// session.set("count", 1)?;
/// let set_cookie = sessions.commit(&session).await?.into_header().unwrap();
/// assert!(sessions.storage().path_of(session.id()).is_file());
/// let again = sessions.load(set_cookie.split(';').next()).await?;
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
    /// [`ConfigError::NotADirectory`] when the path names a file; [`Error::Io`](crate::Error::Io) when the
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
    /// let storage = session::FileStorage::builder(&dir).build()?;
    /// assert_eq!(storage.root(), std::path::absolute(&dir).unwrap());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn builder(dir: impl AsRef<Path>) -> FileStorageBuilder {
        FileStorageBuilder {
            dir: dir.as_ref().to_path_buf(),
            lock_timeout: FileStorage::DEFAULT_LOCK_TIMEOUT,
            undated_max_age: Some(FileStorage::DEFAULT_UNDATED_MAX_AGE),
        }
    }

    /// How long a write waits for its shard's lock by default before it gives up with an
    /// error: a process that holds a lock this long is stuck, and a blocking thread that
    /// waited forever would be lost with it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::FileStorage::DEFAULT_LOCK_TIMEOUT.as_secs(), 5);
    /// ```
    pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

    /// How long the sweep keeps a record that has no deadline (one written under
    /// [`Expiry::none`](crate::Expiry::none)) after its last write, by default: 400 days,
    /// the longest a browser keeps a cookie, so no cookie can still name it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(session::FileStorage::DEFAULT_UNDATED_MAX_AGE.as_secs(), 400 * 86_400);
    /// ```
    pub const DEFAULT_UNDATED_MAX_AGE: Duration = Duration::from_hours(400 * 24);

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

    /// Returns the file a session id is stored in (whether or not it exists), under the root
    /// as configured. The store itself reaches it through the directory it opened at build,
    /// even if something has since been moved to this path.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("sessions-path-{}", std::process::id()));
    /// let storage = session::FileStorage::new(&dir)?;
    /// let id: session::SessionId = "00000000-0000-4000-8000-000000000000".parse().unwrap();
    /// let path = storage.path_of(&id);
    /// assert!(path.starts_with(storage.root()));
    /// assert_eq!(path.parent().unwrap().file_name().unwrap().len(), 2);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), session::Error>(())
    /// ```
    #[must_use]
    pub fn path_of(&self, id: &SessionId) -> PathBuf {
        Names::of(id).path(&self.layout.root)
    }

    /// Deletes every session file whose deadline passed before `now` (Unix seconds), records
    /// without a deadline left unwritten for
    /// [`undated_max_age`](FileStorageBuilder::undated_max_age), corrupt files and the temp
    /// files a crash left behind once they are an hour old, and shard directories left empty.
    /// A file of a newer format version stays. Returns how many session files went. Call it
    /// on a schedule.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) when the directory cannot be read or a file cannot be removed.
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
        blocking::run(move || layout.sweep(now)).await
    }
}

impl SessionStore for FileStorage {
    fn kind(&self) -> &'static str {
        "file"
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Stored>> {
        let layout = Arc::clone(&self.layout);
        let id = id.clone();
        blocking::run(move || layout.load(&id)).await
    }

    async fn write(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        match Bridge::current() {
            Bridge::Inline => self.layout.write(plan),
            Bridge::InPlace => tokio::task::block_in_place(|| self.layout.write(plan)),
            Bridge::Pool(handle) => {
                let layout = Arc::clone(&self.layout);
                let owned = plan.to_owned_plan();
                blocking::on_pool(&handle, move || layout.write(&owned.as_plan())).await
            }
        }
    }

    async fn delete(&self, ids: &[&SessionId]) -> Result<()> {
        let layout = Arc::clone(&self.layout);
        let ids: Vec<SessionId> = ids.iter().map(|&id| id.clone()).collect();
        blocking::run(move || layout.delete(&ids)).await
    }

    async fn owned(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>> {
        let layout = Arc::clone(&self.layout);
        let owner = owner.clone();
        blocking::run(move || layout.owned(&owner, now)).await
    }

    async fn end_owned(&self, owner: &Owner, which: Ending<'_>, now: u64) -> Result<usize> {
        let layout = Arc::clone(&self.layout);
        let owner = owner.clone();
        // `which` as owned ids, for the blocking pool: one id (`One`), the kept ids, or none
        // (`All`).
        let (one, ids): (bool, Vec<SessionId>) = match which {
            Ending::One(id) => (true, vec![id.clone()]),
            Ending::AllExcept(kept) => (false, kept.to_vec()),
            _ => (false, Vec::new()),
        };
        blocking::run(move || {
            let which = match ids.first() {
                Some(id) if one => Ending::One(id),
                Some(_) => Ending::AllExcept(&ids),
                None => Ending::All,
            };
            layout.end_owned(&owner, which, now)
        })
        .await
    }
}

/// Configures a [`FileStorage`].
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("sessions-b-{}", std::process::id()));
/// let storage = session::FileStorage::builder(&dir).build()?;
/// assert!(storage.root().is_dir());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct FileStorageBuilder {
    dir: PathBuf,
    lock_timeout: Duration,
    undated_max_age: Option<Duration>,
}

impl FileStorageBuilder {
    /// Bounds how long a write waits for its shard's lock
    /// ([`FileStorage::DEFAULT_LOCK_TIMEOUT`] unless set); past it the write fails with
    /// [`Error::Io`](crate::Error::Io) of kind [`TimedOut`](io::ErrorKind::TimedOut) and
    /// changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("sessions-lock-{}", std::process::id()));
    /// let storage = session::FileStorage::builder(&dir)
    ///     .lock_timeout(std::time::Duration::from_millis(500))
    ///     .build()?;
    /// # let _ = storage;
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Sets how long [`sweep_expired`](FileStorage::sweep_expired) keeps a record without a
    /// deadline after its last write ([`FileStorage::DEFAULT_UNDATED_MAX_AGE`] unless set);
    /// `None` keeps such records until they are deleted. Records with a deadline go when it
    /// passes, whatever this says.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("sessions-undated-{}", std::process::id()));
    /// let storage = session::FileStorage::builder(&dir)
    ///     .undated_max_age(Some(std::time::Duration::from_secs(30 * 86_400)))
    ///     .build()?;
    /// # let _ = storage;
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), session::Error>(())
    /// ```
    pub fn undated_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.undated_max_age = max_age;
        self
    }

    /// Checks the directory, creating it (`0700`) if missing, and builds the storage.
    ///
    /// An existing directory must be private to this process's user: owned by it, and
    /// writable by neither its group nor others (on Unix), and so must its `.locks`
    /// directory, which must not be a symlink. Anyone else who can write there could plant
    /// a forged session or hold every lock.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NotADirectory`] when the path names something else;
    /// [`ConfigError::UnsafeDirectory`] when another user owns it or can write to it;
    /// [`Error::Io`](crate::Error::Io) when it cannot be created or inspected.
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
        match std_fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(ConfigError::NotADirectory { path: root }.into()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => create_dirs(&root)?,
            Err(error) => return Err(error.into()),
        }
        // From here on the store reaches everything through these two handles, so what was
        // checked is what is used.
        let dir = Dir::open(&root)?;
        check_private(&dir)?;
        match dir.create_dir(LOCKS) {
            Err(error) if error.kind() != io::ErrorKind::AlreadyExists => return Err(error.into()),
            _ => {}
        }
        let locks = match dir.open_dir(LOCKS) {
            Ok(locks) => locks,
            Err(error) if is_symlink_error(&error) => {
                return Err(ConfigError::UnsafeDirectory {
                    path: root.join(LOCKS),
                    reason: "it is a symlink",
                }
                .into());
            }
            Err(error) => return Err(error.into()),
        };
        check_private(&locks)?;
        Ok(FileStorage {
            layout: Arc::new(Layout {
                root,
                dir,
                locks,
                lock_timeout: self.lock_timeout,
                undated_max_age: self.undated_max_age,
            }),
        })
    }
}

#[derive(Debug)]
struct Layout {
    root: PathBuf,
    /// The root, opened once at build; every file is reached through it.
    dir: Dir,
    /// `<root>/.locks`, opened once at build.
    locks: Dir,
    lock_timeout: Duration,
    /// How long a record without a deadline may go unwritten before the sweep removes it.
    undated_max_age: Option<Duration>,
}

impl Layout {
    fn load(&self, id: &SessionId) -> Result<Option<Stored>> {
        Ok(match read(&self.dir, &Names::of(id))? {
            OnDisk::Entry(Entry::Record(record)) => Some(Stored::Record {
                record,
                version: Version::UNVERSIONED,
            }),
            OnDisk::Entry(Entry::Forward { to, .. }) => Some(Stored::Forward { to }),
            OnDisk::Entry(Entry::Superseded { .. }) => Some(Stored::Superseded),
            OnDisk::Missing | OnDisk::Unusable => None,
        })
    }

    fn write(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        let base = Names::of(plan.base());
        if plan.moves() || plan.owner_change().is_change() {
            return self.write_owned(plan);
        }
        let _guard = lock(&self.locks, self.lock_timeout, &base.shard)?;
        Ok(match bytes_for(plan, read(&self.dir, &base)?) {
            Ok(bytes) => {
                write_atomic(&self.dir, &base, &bytes)?;
                WriteOutcome::Written
            }
            Err(outcome) => outcome,
        })
    }

    /// A write that may change the owner index: a regeneration, or an owner set or cleared.
    /// It holds the lock of the owner it joins the session to (taken before any shard lock,
    /// as `end_owned` takes it), then both shards' locks.
    fn write_owned(&self, plan: &WritePlan<'_>) -> Result<WriteOutcome> {
        let mut owner = plan.expected_join().cloned();
        for _ in 0..3 {
            let index = owner.as_ref().map(Index::of);
            let _owner_lock = match &index {
                Some(index) => Some(lock(&self.locks, self.lock_timeout, &index.lock)?),
                None => None,
            };
            match self.write_locked(plan, owner.as_ref(), index.as_ref())? {
                Locked::Done(outcome) => return Ok(outcome),
                Locked::Lock(other) => owner = Some(other),
            }
        }
        Err(crate::error::Error::storage(
            "the session's owner kept changing under a login; nothing was saved",
        ))
    }

    fn write_locked(
        &self,
        plan: &WritePlan<'_>,
        locked: Option<&Owner>,
        index: Option<&Index>,
    ) -> Result<Locked> {
        let (base, target) = (Names::of(plan.base()), Names::of(plan.target()));
        // With the owner's lock held no session joins the owner's index, so the sessions it
        // names are all the limit may end: their shards are locked too, all in name order,
        // and held for the whole write.
        // A damaged index names nobody: the limit then counts only what logs in from now on
        // (an ending scans every file instead, see `end_owned`).
        let ids = match index {
            Some(index) => index.ids(&self.dir)?.unwrap_or_default(),
            None => Vec::new(),
        };
        let mut shards: Vec<String> = ids.iter().map(|id| Names::of(id).shard).collect();
        shards.extend([base.shard.clone(), target.shard.clone()]);
        shards.sort_unstable();
        shards.dedup();
        let _guards = shards
            .iter()
            .map(|shard| lock(&self.locks, self.lock_timeout, shard))
            .collect::<io::Result<Vec<_>>>()?;
        let (record, before) = match resolve(plan, read(&self.dir, &base)?) {
            Ok(resolved) => resolved,
            Err(outcome) => return Ok(Locked::Done(outcome)),
        };
        if plan.moves() && !matches!(read(&self.dir, &target)?, OnDisk::Missing) {
            return Ok(Locked::Done(WriteOutcome::Taken));
        }
        let change = plan.index_change(before.as_ref(), record.owner());
        if let Some(joins) = change.joins {
            let (Some(index), true) = (index, locked == Some(joins)) else {
                return Ok(Locked::Lock(joins.clone()));
            };
            let owned = self.owned_of(joins, &ids, plan.now())?;
            let ended: Vec<SessionId> = match plan.admit(&owned) {
                Ok(victims) => victims.into_iter().cloned().collect(),
                Err(outcome) => return Ok(Locked::Done(outcome)),
            };
            // Named before the session is written: the index never misses a session.
            let mut kept: Vec<SessionId> = owned
                .into_iter()
                .map(|entry| entry.id)
                .filter(|id| !ended.contains(id))
                .collect();
            if !kept.contains(plan.target()) {
                kept.push(plan.target().clone());
            }
            index.store(&self.dir, &kept)?;
            for id in &ended {
                remove(&self.dir, &Names::of(id))?;
            }
        }
        // The new file first, then the old one goes.
        write_atomic(&self.dir, &target, &record.to_json())?;
        if plan.moves() {
            match plan.retire() {
                Retire::Keep => {}
                Retire::Delete => remove(&self.dir, &base)?,
                Retire::Forward { until } => {
                    write_atomic(&self.dir, &base, &forward_json(plan.target(), until))?;
                }
                Retire::Supersede { until } => {
                    write_atomic(&self.dir, &base, &superseded_json(until))?;
                }
            }
        }
        // An index left naming the base is pruned at the owner's next login or ending.
        Ok(Locked::Done(WriteOutcome::Written))
    }

    /// The live sessions of `owner` among `ids`, each read from its own file.
    fn owned_of(&self, owner: &Owner, ids: &[SessionId], now: u64) -> Result<Vec<OwnedRecord>> {
        let mut listed = Vec::new();
        for id in ids {
            if let OnDisk::Entry(Entry::Record(record)) = read(&self.dir, &Names::of(id))?
                && is_live_of(&record, owner, now)
            {
                listed.push(OwnedRecord::of(id.clone(), &record));
            }
        }
        Ok(listed)
    }

    fn owned(&self, owner: &Owner, now: u64) -> Result<Vec<OwnedRecord>> {
        let ids = Index::of(owner).ids(&self.dir)?.unwrap_or_default();
        self.owned_of(owner, &ids, now)
    }

    fn end_owned(&self, owner: &Owner, which: Ending<'_>, now: u64) -> Result<usize> {
        let index = Index::of(owner);
        let _owner_lock = lock(&self.locks, self.lock_timeout, &index.lock)?;
        let Some(ids) = index.ids(&self.dir)? else {
            let ended = self.end_by_scan(owner, which, now)?;
            index.store(&self.dir, &[])?;
            return Ok(ended);
        };
        let mut kept = Vec::new();
        let mut ended = 0;
        for id in ids {
            let names = Names::of(&id);
            let _guard = lock(&self.locks, self.lock_timeout, &names.shard)?;
            let OnDisk::Entry(Entry::Record(record)) = read(&self.dir, &names)? else {
                continue;
            };
            if record.owner() != Some(owner) {
                continue;
            }
            let live = record.deadline().is_none_or(|deadline| deadline >= now);
            if live && which.includes(&id) {
                remove(&self.dir, &names)?;
                ended += 1;
            } else {
                kept.push(id);
            }
        }
        index.store(&self.dir, &kept)?;
        Ok(ended)
    }

    /// Ends `owner`'s sessions without the index (which is damaged): every session file is
    /// read under its shard's lock, so "log out everywhere" still reaches them all.
    fn end_by_scan(&self, owner: &Owner, which: Ending<'_>, now: u64) -> Result<usize> {
        let kept: Vec<String> = match which {
            Ending::AllExcept(kept) => kept.iter().map(|id| Names::of(id).file).collect(),
            _ => Vec::new(),
        };
        let only = match which {
            Ending::One(id) => Some(Names::of(id).file),
            _ => None,
        };
        let mut ended = 0;
        self.each_shard(|name, shard| {
            for (file, kind) in shard.entries()? {
                if kind != Kind::File || !is_hex(&file, 62) || kept.contains(&file) {
                    continue;
                }
                if only.as_ref().is_some_and(|only| *only != file) {
                    continue;
                }
                let names = Names {
                    shard: name.to_owned(),
                    file,
                };
                if let OnDisk::Entry(Entry::Record(record)) = read(&self.dir, &names)?
                    && is_live_of(&record, owner, now)
                {
                    remove(&self.dir, &names)?;
                    ended += 1;
                }
            }
            Ok(())
        })?;
        Ok(ended)
    }

    /// Runs `visit` on each shard directory, holding its lock; a shard gone since the listing,
    /// or swapped for a symlink, is skipped.
    fn each_shard(&self, mut visit: impl FnMut(&str, &Dir) -> Result<()>) -> Result<()> {
        for (name, kind) in self.dir.entries()? {
            if kind != Kind::Dir || !is_hex(&name, 2) {
                continue;
            }
            let _guard = lock(&self.locks, self.lock_timeout, &name)?;
            let Some(shard) = open_shard(&self.dir, &name)? else {
                continue;
            };
            visit(&name, &shard)?;
        }
        Ok(())
    }

    fn delete(&self, ids: &[SessionId]) -> Result<()> {
        for id in ids {
            let names = Names::of(id);
            let _guard = lock(&self.locks, self.lock_timeout, &names.shard)?;
            remove(&self.dir, &names)?;
        }
        Ok(())
    }

    /// Whether the sweep removes a session file holding `bytes`, last written `untouched`
    /// ago: an entry past its deadline; a record with no deadline (written under
    /// `Expiry::none()`) untouched for `undated_max_age`; a file that is no entry at all
    /// (corrupt) untouched for an hour. A file of a newer format version is left for the
    /// version that wrote it.
    fn sweeps(&self, bytes: &[u8], untouched: Duration, now: u64) -> bool {
        match crate::store::parse_entry(bytes) {
            Ok(entry) => match entry.deadline() {
                Some(deadline) => deadline < now,
                None => self.undated_max_age.is_some_and(|max| untouched > max),
            },
            Err(_) if crate::store::is_newer_format(bytes) => false,
            Err(_) => untouched > STALE_TEMP,
        }
    }

    fn sweep(&self, now: u64) -> Result<usize> {
        let mut removed = 0;
        self.each_shard(|name, shard| {
            for (file, kind) in shard.entries()? {
                if kind != Kind::File {
                    continue;
                }
                let is_session = is_hex(&file, 62);
                if !is_session && !file.starts_with(TEMP_PREFIX) {
                    continue;
                }
                let mut opened = match shard.open_file(&file, Open::Read) {
                    Ok(opened) => opened,
                    Err(error)
                        if error.kind() == io::ErrorKind::NotFound || is_symlink_error(&error) =>
                    {
                        continue;
                    }
                    Err(error) => return Err(error.into()),
                };
                let untouched = opened
                    .metadata()?
                    .modified()?
                    .elapsed()
                    .unwrap_or(Duration::ZERO);
                let goes = if is_session {
                    let mut bytes = Vec::new();
                    io::Read::read_to_end(&mut opened, &mut bytes)?;
                    self.sweeps(&bytes, untouched, now)
                } else {
                    untouched > STALE_TEMP
                };
                if goes {
                    remove_in(shard, &file)?;
                    removed += usize::from(is_session);
                }
            }
            if shard.entries()?.is_empty() {
                match self.dir.remove_dir(name) {
                    // A writer holding no lock of this shard cannot be in it, but a file
                    // may have been made by something else since: leave the directory.
                    Err(error) if error.kind() == io::ErrorKind::DirectoryNotEmpty => {}
                    removed_dir => removed_dir?,
                }
            }
            Ok(())
        })?;
        Ok(removed)
    }
}

/// Whether `record` is a live session of `owner` at `now`.
fn is_live_of(record: &Record, owner: &Owner, now: u64) -> bool {
    record.owner() == Some(owner) && record.deadline().is_none_or(|deadline| deadline >= now)
}

/// How a write under an owner's lock ended.
enum Locked {
    Done(WriteOutcome),
    /// The write joins the session to an owner whose lock it does not hold.
    Lock(Owner),
}

/// The record a plan leaves given what its base file holds and the owner of the record there,
/// or the outcome that writes nothing.
fn resolve(plan: &WritePlan<'_>, on_disk: OnDisk) -> Result<(Record, Option<Owner>), WriteOutcome> {
    let found = found(plan, &on_disk);
    let before = match &on_disk {
        OnDisk::Entry(Entry::Record(record)) => record.owner().cloned(),
        _ => None,
    };
    let record = match (plan.check(found)?, on_disk) {
        (Write::Merge, OnDisk::Entry(Entry::Record(mut record))) => {
            record.apply(plan);
            record
        }
        _ => plan.to_record(),
    };
    Ok((record, before))
}

/// What a base file holds, for [`WritePlan::check`].
fn found<'a>(plan: &WritePlan<'_>, on_disk: &'a OnDisk) -> Found<'a> {
    match on_disk {
        OnDisk::Missing => Found::Nothing,
        OnDisk::Entry(Entry::Forward { until, .. }) if *until < plan.now() => Found::Nothing,
        OnDisk::Entry(Entry::Forward { to, .. }) => Found::Forward(to),
        OnDisk::Entry(Entry::Superseded { until }) if *until < plan.now() => Found::Nothing,
        OnDisk::Entry(Entry::Superseded { .. }) => Found::Superseded,
        // Written by something else: a record all the same, which this request's state
        // replaces.
        OnDisk::Entry(Entry::Record(_)) | OnDisk::Unusable => Found::Record(Version::UNVERSIONED),
    }
}

/// The bytes a plan leaves given what its base file holds, or the outcome that writes nothing.
/// The file store keeps no versions, so a record is always merged onto.
fn bytes_for(plan: &WritePlan<'_>, on_disk: OnDisk) -> Result<Vec<u8>, WriteOutcome> {
    let found = found(plan, &on_disk);
    Ok(match (plan.check(found)?, on_disk) {
        (Write::Merge, OnDisk::Entry(Entry::Record(mut record))) => {
            record.apply(plan);
            record.to_json()
        }
        _ => plan.to_record_json(),
    })
}
