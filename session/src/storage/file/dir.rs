//! A directory handle for the file store. Every open, create, rename and remove goes through a
//! directory opened once, by name relative to it, so a path swapped after a check (a shard
//! directory replaced by a symlink, a directory moved) cannot redirect the store's writes.
//!
//! On Unix the handle is a file descriptor and each call is the `*at` system call on it
//! (`openat`, `mkdirat`, `renameat`, `unlinkat`), through rustix. Elsewhere it is the
//! directory's path, with a symlink check before each step. Both keep one rule: a name is a
//! single path component, and a symlink met at it is never followed.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

#[cfg(unix)]
pub(super) use self::fd::Dir;
#[cfg(not(unix))]
pub(super) use self::path::Dir;

/// How [`Dir::open_file`] opens a file; every mode refuses a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Open {
    /// Read only; the file must exist.
    Read,
    /// Read and write, created `0600` if missing, never truncated: a lock file.
    Lock,
    /// Write only, created `0600`; fails if the name exists: a temp file.
    CreateNew,
}

/// What a directory entry is, as far as the store cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Dir,
    /// A symlink, a socket, anything else: never opened.
    Other,
}

/// Whether `error` says a name was a symlink (or not a directory where one was asked for),
/// which the store refuses to follow.
pub(super) fn is_symlink_error(error: &io::Error) -> bool {
    #[cfg(unix)]
    return error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
        || error.kind() == io::ErrorKind::NotADirectory;
    #[cfg(not(unix))]
    return error.kind() == io::ErrorKind::NotADirectory;
}

/// The owner and permission bits of an open directory, to check it is private.
#[derive(Debug, Clone, Copy)]
pub(super) struct Owner {
    /// Whether this process's effective user owns it.
    pub(super) is_ours: bool,
    /// Whether its group or others may write to it.
    pub(super) shared_write: bool,
}

#[cfg(unix)]
mod fd {
    //! The Unix handle: an `O_DIRECTORY` file descriptor and the `*at` calls on it.

    use std::ffi::OsString;
    use std::os::fd::OwnedFd;
    use std::os::unix::ffi::OsStringExt as _;

    use rustix::fs::{self, AtFlags, CWD, FileType, Mode, OFlags};

    use super::{File, Kind, Open, Owner, Path, PathBuf, io};

    /// An open directory; the path is kept for messages only and never used to reach it.
    #[derive(Debug)]
    pub(in crate::storage::file) struct Dir {
        fd: OwnedFd,
        path: PathBuf,
    }

    impl Dir {
        /// Opens the directory at `path`. A symlink here is followed (a configured root may
        /// be one): the handle then holds what it named, whatever the link says later.
        pub(in crate::storage::file) fn open(path: &Path) -> io::Result<Self> {
            let fd = fs::openat(
                CWD,
                path,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok(Self {
                fd,
                path: path.to_path_buf(),
            })
        }

        /// Opens the subdirectory `name`; a symlink there is an error, not followed.
        pub(in crate::storage::file) fn open_dir(&self, name: &str) -> io::Result<Self> {
            let fd = fs::openat(
                &self.fd,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok(Self {
                fd,
                path: self.path.join(name),
            })
        }

        /// Creates the subdirectory `name`, `0700`.
        pub(in crate::storage::file) fn create_dir(&self, name: &str) -> io::Result<()> {
            Ok(fs::mkdirat(&self.fd, name, Mode::RWXU)?)
        }

        /// Opens the file `name` in this directory; a symlink there is an error.
        pub(in crate::storage::file) fn open_file(
            &self,
            name: &str,
            how: Open,
        ) -> io::Result<File> {
            let flags = match how {
                Open::Read => OFlags::RDONLY,
                Open::Lock => OFlags::RDWR | OFlags::CREATE,
                Open::CreateNew => OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
            };
            let fd = fs::openat(
                &self.fd,
                name,
                flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::RUSR | Mode::WUSR,
            )?;
            Ok(File::from(fd))
        }

        /// Renames `from` to `to`, both in this directory, replacing `to`.
        pub(in crate::storage::file) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            Ok(fs::renameat(&self.fd, from, &self.fd, to)?)
        }

        /// Removes the file `name` (a symlink there goes, its target stays).
        pub(in crate::storage::file) fn remove_file(&self, name: &str) -> io::Result<()> {
            Ok(fs::unlinkat(&self.fd, name, AtFlags::empty())?)
        }

        /// Removes the empty subdirectory `name`.
        pub(in crate::storage::file) fn remove_dir(&self, name: &str) -> io::Result<()> {
            Ok(fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)?)
        }

        /// Flushes the directory itself (the names in it) to disk.
        pub(in crate::storage::file) fn sync(&self) -> io::Result<()> {
            Ok(fs::fsync(&self.fd)?)
        }

        /// The names in this directory with what each is (`.` and `..` left out; names that
        /// are not UTF-8 are no name the store writes, so they are left out too).
        pub(in crate::storage::file) fn entries(&self) -> io::Result<Vec<(String, Kind)>> {
            let mut entries = Vec::new();
            for entry in fs::Dir::read_from(&self.fd)? {
                let entry = entry?;
                let bytes = entry.file_name().to_bytes();
                if bytes == b"." || bytes == b".." {
                    continue;
                }
                let Ok(name) = OsString::from_vec(bytes.to_vec()).into_string() else {
                    continue;
                };
                let kind = match entry.file_type() {
                    FileType::Unknown => {
                        let stat = fs::statat(&self.fd, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
                        FileType::from_raw_mode(stat.st_mode)
                    }
                    known => known,
                };
                let kind = match kind {
                    FileType::RegularFile => Kind::File,
                    FileType::Directory => Kind::Dir,
                    _ => Kind::Other,
                };
                entries.push((name, kind));
            }
            Ok(entries)
        }

        /// Who owns this directory and who may write to it.
        pub(in crate::storage::file) fn owner(&self) -> io::Result<Owner> {
            let stat = fs::fstat(&self.fd)?;
            Ok(Owner {
                is_ours: stat.st_uid == rustix::process::geteuid().as_raw(),
                shared_write: stat.st_mode & 0o022 != 0,
            })
        }

        /// The directory's path, for messages.
        pub(in crate::storage::file) fn path(&self) -> &Path {
            &self.path
        }
    }
}

#[cfg(any(not(unix), test))]
mod path {
    //! The portable handle: the directory's path, each step checked for a symlink first.
    //! It cannot close the gap between the check and the use that a descriptor closes; on
    //! Unix it is compiled for the tests only, which hold it to the same behaviour.

    use std::fs::{self, OpenOptions};

    use super::{File, Kind, Open, Owner, Path, PathBuf, io};

    #[derive(Debug)]
    #[cfg_attr(unix, allow(dead_code, reason = "on Unix only the tests use it"))]
    pub(in crate::storage::file) struct Dir {
        path: PathBuf,
    }

    fn refuse_symlink(path: &Path) -> io::Result<()> {
        if fs::symlink_metadata(path)?.file_type().is_symlink() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is a symlink; not followed", path.display()),
            ));
        }
        Ok(())
    }

    #[cfg_attr(unix, allow(dead_code, reason = "on Unix only the tests use it"))]
    impl Dir {
        pub(in crate::storage::file) fn open(path: &Path) -> io::Result<Self> {
            if !fs::metadata(path)?.is_dir() {
                return Err(io::ErrorKind::NotADirectory.into());
            }
            Ok(Self {
                path: path.to_path_buf(),
            })
        }

        pub(in crate::storage::file) fn open_dir(&self, name: &str) -> io::Result<Self> {
            let path = self.path.join(name);
            refuse_symlink(&path)?;
            Self::open(&path)
        }

        pub(in crate::storage::file) fn create_dir(&self, name: &str) -> io::Result<()> {
            fs::create_dir(self.path.join(name))
        }

        pub(in crate::storage::file) fn open_file(
            &self,
            name: &str,
            how: Open,
        ) -> io::Result<File> {
            let path = self.path.join(name);
            match refuse_symlink(&path) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                checked => checked?,
            }
            let mut options = OpenOptions::new();
            match how {
                Open::Read => options.read(true),
                Open::Lock => options.read(true).write(true).create(true).truncate(false),
                Open::CreateNew => options.write(true).create_new(true),
            };
            options.open(path)
        }

        pub(in crate::storage::file) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            fs::rename(self.path.join(from), self.path.join(to))
        }

        pub(in crate::storage::file) fn remove_file(&self, name: &str) -> io::Result<()> {
            fs::remove_file(self.path.join(name))
        }

        pub(in crate::storage::file) fn remove_dir(&self, name: &str) -> io::Result<()> {
            fs::remove_dir(self.path.join(name))
        }

        /// Directories cannot be opened as files everywhere; where they can, this flushes.
        pub(in crate::storage::file) fn sync(&self) -> io::Result<()> {
            File::open(&self.path).and_then(|dir| dir.sync_all())
        }

        pub(in crate::storage::file) fn entries(&self) -> io::Result<Vec<(String, Kind)>> {
            let mut entries = Vec::new();
            for entry in fs::read_dir(&self.path)? {
                let entry = entry?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let kind = entry.file_type()?;
                let kind = if kind.is_file() {
                    Kind::File
                } else if kind.is_dir() {
                    Kind::Dir
                } else {
                    Kind::Other
                };
                entries.push((name, kind));
            }
            Ok(entries)
        }

        /// Without Unix owners, every directory counts as private.
        #[allow(
            clippy::unused_self,
            clippy::unnecessary_wraps,
            reason = "the Unix handle's signature"
        )]
        pub(in crate::storage::file) fn owner(&self) -> io::Result<Owner> {
            Ok(Owner {
                is_ours: true,
                shared_write: false,
            })
        }

        pub(in crate::storage::file) fn path(&self) -> &Path {
            &self.path
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::{Kind, Open, is_symlink_error};

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("session-dir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The same behaviour from both handles: the one the store uses here and the portable one.
    macro_rules! behaves {
        ($module:ident, $Dir:ty) => {
            mod $module {
                use super::*;

                #[test]
                fn creates_renames_lists_and_removes_by_name() {
                    let root = scratch(concat!(stringify!($module), "-crud"));
                    let dir = <$Dir>::open(&root).unwrap();
                    dir.create_dir("ab").unwrap();
                    let shard = dir.open_dir("ab").unwrap();
                    let mut temp = shard.open_file(".tmp-1", Open::CreateNew).unwrap();
                    temp.write_all(b"record").unwrap();
                    temp.sync_all().unwrap();
                    drop(temp);
                    assert!(
                        shard.open_file(".tmp-1", Open::CreateNew).is_err(),
                        "create_new"
                    );
                    shard.rename(".tmp-1", "cd").unwrap();
                    shard.sync().unwrap();
                    let mut text = String::new();
                    shard
                        .open_file("cd", Open::Read)
                        .unwrap()
                        .read_to_string(&mut text)
                        .unwrap();
                    assert_eq!(text, "record");
                    assert_eq!(shard.entries().unwrap(), [("cd".to_owned(), Kind::File)]);
                    assert_eq!(dir.entries().unwrap(), [("ab".to_owned(), Kind::Dir)]);
                    assert!(dir.remove_dir("ab").is_err(), "not empty");
                    shard.remove_file("cd").unwrap();
                    let gone = shard.open_file("cd", Open::Read).unwrap_err();
                    assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
                    dir.remove_dir("ab").unwrap();
                    assert!(dir.entries().unwrap().is_empty());
                    assert!(shard.path().ends_with("ab"));
                    std::fs::remove_dir_all(&root).unwrap();
                }

                #[cfg(unix)]
                #[test]
                fn never_follows_a_symlink() {
                    let root = scratch(concat!(stringify!($module), "-links"));
                    let elsewhere = scratch(concat!(stringify!($module), "-elsewhere"));
                    std::fs::write(elsewhere.join("secret"), b"x").unwrap();
                    std::os::unix::fs::symlink(&elsewhere, root.join("ab")).unwrap();
                    std::os::unix::fs::symlink(elsewhere.join("secret"), root.join("f")).unwrap();
                    let dir = <$Dir>::open(&root).unwrap();
                    assert!(is_symlink_error(&dir.open_dir("ab").unwrap_err()));
                    for how in [Open::Read, Open::Lock, Open::CreateNew] {
                        let error = dir.open_file("f", how).unwrap_err();
                        assert!(
                            is_symlink_error(&error)
                                || error.kind() == std::io::ErrorKind::AlreadyExists,
                            "{how:?}: {error}"
                        );
                    }
                    let kinds: Vec<_> =
                        dir.entries().unwrap().into_iter().map(|(_, k)| k).collect();
                    assert_eq!(kinds, [Kind::Other, Kind::Other]);
                    assert_eq!(std::fs::read(elsewhere.join("secret")).unwrap(), b"x");
                    std::fs::remove_dir_all(&root).unwrap();
                    std::fs::remove_dir_all(&elsewhere).unwrap();
                }
            }
        };
    }

    #[cfg(unix)]
    behaves!(descriptor, super::super::fd::Dir);
    behaves!(portable, super::super::path::Dir);

    #[cfg(unix)]
    #[test]
    fn a_directory_moved_after_opening_is_still_the_one_written_to() {
        let root = scratch("moved");
        let moved = root.with_file_name(format!("session-dir-moved-away-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&moved);
        let dir = super::Dir::open(&root).unwrap();
        std::fs::rename(&root, &moved).unwrap();
        std::fs::create_dir(&root).unwrap();
        dir.open_file("x", Open::CreateNew).unwrap();
        assert!(moved.join("x").is_file(), "written where the handle points");
        assert!(!root.join("x").exists(), "not where the path points now");
        std::fs::remove_dir_all(&root).unwrap();
        std::fs::remove_dir_all(&moved).unwrap();
    }
}
