//! Durable file writes: the one way Cadenza replaces a file.
//!
//! Checkpoints, models, logs' companions and MIDI files are all written with
//! [`write_atomic`], so that a reader never sees half a file and a crash or power cut leaves
//! either the old file or the new one, never an empty or torn one.
//!
//! What a path names is respected: a symbolic link is written through (the file it points
//! to is replaced, the link stays), and a path that names something other than a regular
//! file (a directory, a device such as `/dev/null`, a FIFO, a socket) is refused with an
//! error naming it, rather than replaced by a regular file.
//!
//! [`LockFile`] is the one way a process claims a run directory or a session log for
//! itself: an exclusive lock that names its holder, so that a second writer is refused with
//! a message saying who has it.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces the file at `path` with `bytes`, atomically and durably.
///
/// The bytes go to a temporary file in the same directory (named after `path`, the process
/// and a counter, so concurrent writers never share one), which is flushed to disk, renamed
/// over `path`, and the directory is then flushed so that the rename itself survives a
/// crash. On failure the temporary file is removed and `path` is left as it was.
///
/// A symbolic link at `path` (or a chain of them) is followed, and the file it points to is
/// the one replaced, in its own directory; the link itself is kept. An existing `path` that
/// is not a regular file (a directory, a device, a FIFO, a socket) is refused with an error
/// of kind [`io::ErrorKind::InvalidInput`] that names it.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("cadenza-io-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("notes.txt");
/// cadenza_env::io::write_atomic(&path, b"C D E")?;
/// assert_eq!(std::fs::read(&path)?, b"C D E");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |temp| fs::write(temp, bytes))
}

/// [`write_atomic`] for writers that want a path rather than bytes (a tensor library saving
/// its own file format): `write` creates the temporary file it is given, which then gets the
/// same flush, rename and directory flush. An error of `write` is returned as it is, after
/// the temporary file is removed.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let target = replaceable_target(path)?;
    let path = target.as_path();
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut temp_name = OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let temp: PathBuf = path.with_file_name(temp_name);
    let result = (|| {
        write(&temp)?;
        // Opened for writing: some systems refuse to flush a read-only handle.
        OpenOptions::new().write(true).open(&temp)?.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&temp);
    }
    result?;
    sync_dir(path)
}

/// Most symbolic links followed in a chain before giving up, as the kernel does (`ELOOP`).
const MAX_LINKS: usize = 40;

/// The file a write to `path` replaces: `path` itself, or where its chain of symbolic links
/// ends (which need not exist yet). Fails when that names an existing non-regular file.
fn replaceable_target(path: &Path) -> io::Result<PathBuf> {
    let mut target = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        let meta = match fs::symlink_metadata(&target) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(target),
            Err(e) => return Err(e),
        };
        let kind = meta.file_type();
        if kind.is_file() {
            return Ok(target);
        }
        if !kind.is_symlink() {
            let what = describe(&kind);
            let shown = if target == path {
                String::new()
            } else {
                format!(" (where the link {} leads)", path.display())
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "refusing to replace {}{shown}: it is {what}, not a regular file",
                    target.display()
                ),
            ));
        }
        let link = fs::read_link(&target)?;
        // A relative link is relative to the directory that holds it.
        target = match target.parent() {
            Some(dir) if link.is_relative() => dir.join(link),
            _ => link,
        };
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "refusing to write {}: more than {MAX_LINKS} symbolic links in a chain (a loop?)",
            path.display()
        ),
    ))
}

/// What a non-regular, non-link file is, in words.
fn describe(kind: &fs::FileType) -> &'static str {
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

/// Flushes the directory holding `path`, so that a rename into it is on disk.
#[cfg(unix)]
pub fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match File::open(dir).and_then(|d| d.sync_all()) {
        // Some file systems (network mounts, FUSE) cannot flush a directory: the file itself
        // is on disk and in place, which is all they can promise.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Directories cannot be opened as files here; the rename is as durable as the system makes it.
#[cfg(not(unix))]
pub fn sync_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// An exclusive lock on a resource (a run directory, a session log), held until the value
/// is dropped or the process ends, however it ends.
///
/// The lock is the operating system's advisory lock ([`File::try_lock`]) on a lock file;
/// the holder writes who it is into that file (process id, host, start time, command) so
/// that [`LockFile::acquire`] can tell a second process who holds it. The file is left in
/// place on release: removing it would let two processes lock two different files of the
/// same name.
#[derive(Debug)]
pub struct LockFile {
    // Only held: the lock lives as long as this handle.
    _file: File,
    path: PathBuf,
}

/// Why a [`LockFile`] could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds the lock.
    #[error("{} is in use by {holder} (lock file {}); wait for it to finish or stop it first", resource.display(), path.display())]
    Held {
        /// What is locked.
        resource: PathBuf,
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as it wrote itself into the lock file.
        holder: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl LockFile {
    /// Takes the exclusive lock at `path` (created if missing) for `resource`, without
    /// waiting, and writes the holder's description (`command` names what holds it, e.g.
    /// `cadenza train`) into it. If another process holds it, the error names that process.
    pub fn acquire(path: &Path, resource: &Path, command: &str) -> Result<Self, LockError> {
        let fail = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(fail)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = io::Read::read_to_string(&mut file, &mut text);
                let holder = match text.trim() {
                    "" => "another process (it has not yet written who it is)".to_string(),
                    who => who.to_string(),
                };
                return Err(LockError::Held {
                    resource: resource.to_path_buf(),
                    path: path.to_path_buf(),
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(fail(e)),
        }
        // Written in place, not replaced: a new file would not carry the lock.
        let holder = format!(
            "{command} (pid {} on {}, since {})\n",
            std::process::id(),
            host_name(),
            utc_now()
        );
        file.set_len(0)
            .and_then(|()| io::Write::write_all(&mut file, holder.as_bytes()))
            .and_then(|()| file.sync_data())
            .map_err(fail)?;
        Ok(Self {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// This machine's name, as far as the system tells it without a library.
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unnamed host".to_string())
}

/// The current time as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cadenza-io-{name}-{}-{}",
            std::process::id(),
            COUNTER_FOR_TESTS.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    static COUNTER_FOR_TESTS: AtomicU64 = AtomicU64::new(0);

    /// The names in `dir`, sorted.
    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_a_file_and_leaves_no_temporary() {
        let dir = scratch("replace");
        let path = dir.join("a.bin");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(entries(&dir), ["a.bin"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_no_temporary() {
        let dir = scratch("fail");
        let path = dir.join("a.bin");
        write_atomic(&path, b"kept").unwrap();
        let err = write_atomic_with(&path, |temp| {
            fs::write(temp, b"half")?;
            Err(io::Error::other("the writer gave up"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "the writer gave up");
        // A directory is not replaced.
        let blocked = dir.join("sub");
        fs::create_dir_all(blocked.join("inner")).unwrap();
        assert!(write_atomic(&blocked, b"lost").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"kept");
        assert_eq!(entries(&dir), ["a.bin", "sub"]);
        write_atomic_with(&path, |temp| fs::write(temp, b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_written_through_and_kept() {
        use std::os::unix::fs::symlink;
        let dir = scratch("link");
        let real = dir.join("real.mid");
        fs::write(&real, b"old").unwrap();
        // A relative link, and a link to that link.
        let link = dir.join("link.mid");
        symlink("real.mid", &link).unwrap();
        let link2 = dir.join("link2.mid");
        symlink(&link, &link2).unwrap();
        write_atomic(&link2, b"new").unwrap();
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::symlink_metadata(&link2)
            .unwrap()
            .file_type()
            .is_symlink());
        // A dangling link gets its target created, in the target's directory.
        let sub = dir.join("sub");
        fs::create_dir(&sub).unwrap();
        let dangling = dir.join("dangling.mid");
        symlink(sub.join("made.mid"), &dangling).unwrap();
        write_atomic(&dangling, b"made").unwrap();
        assert_eq!(fs::read(sub.join("made.mid")).unwrap(), b"made");
        assert!(fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(entries(&sub), ["made.mid"]);
        assert_eq!(
            entries(&dir),
            ["dangling.mid", "link.mid", "link2.mid", "real.mid", "sub"]
        );
        // A loop of links is an error, not a hang.
        symlink(dir.join("b"), dir.join("a")).unwrap();
        symlink(dir.join("a"), dir.join("b")).unwrap();
        let err = write_atomic(&dir.join("a"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_not_replaced() {
        use std::os::unix::fs::{symlink, FileTypeExt};
        let dir = scratch("special");
        // A directory, even an empty one that rename could replace.
        let empty = dir.join("empty");
        fs::create_dir(&empty).unwrap();
        let err = write_atomic(&empty, b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("a directory"), "{err}");
        assert!(err.to_string().contains(&*empty.to_string_lossy()), "{err}");
        // A character device, directly and through a link.
        let null = Path::new("/dev/null");
        if fs::metadata(null).is_ok_and(|m| m.file_type().is_char_device()) {
            let err = write_atomic(null, b"x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains("/dev/null"), "{err}");
            assert!(err.to_string().contains("character device"), "{err}");
            let link = dir.join("null.mid");
            symlink(null, &link).unwrap();
            let err = write_atomic(&link, b"x").unwrap_err();
            assert!(err.to_string().contains("/dev/null"), "{err}");
            assert!(fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
            assert!(fs::metadata(null).unwrap().file_type().is_char_device());
        }
        // Nothing was left behind: no temporary file beside the targets.
        assert!(
            entries(&dir).iter().all(|n| !n.starts_with('.')),
            "{:?}",
            entries(&dir)
        );
        assert!(entries(&empty).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let err = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_lock_is_exclusive_and_names_its_holder() {
        let dir = scratch("lock");
        let path = dir.join("lock");
        let held = LockFile::acquire(&path, &dir, "cadenza test").unwrap();
        assert_eq!(held.path(), path);
        let err = LockFile::acquire(&path, &dir, "cadenza other").unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, LockError::Held { .. }), "{message}");
        assert!(message.contains("is in use by cadenza test"), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains(" UTC"), "{message}");
        drop(held);
        let again = LockFile::acquire(&path, &dir, "cadenza other").unwrap();
        let text = fs::read_to_string(again.path()).unwrap();
        assert!(text.starts_with("cadenza other (pid "), "{text}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_424), (2025, 12, 2));
    }
}
