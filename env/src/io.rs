//! Durable file writes: the one way Cadenza replaces a file.
//!
//! Checkpoints, models, logs' companions and MIDI files are all written with
//! [`write_atomic`], so that a reader never sees half a file and a crash or power cut leaves
//! either the old file or the new one, never an empty or torn one.

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

/// Flushes the directory holding `path`, so that a rename into it is on disk.
#[cfg(unix)]
fn sync_dir(path: &Path) -> io::Result<()> {
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
fn sync_dir(_path: &Path) -> io::Result<()> {
    Ok(())
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
        // Renaming a file over a non-empty directory fails.
        let blocked = dir.join("sub");
        fs::create_dir_all(blocked.join("inner")).unwrap();
        assert!(write_atomic(&blocked, b"lost").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"kept");
        assert_eq!(entries(&dir), ["a.bin", "sub"]);
        write_atomic_with(&path, |temp| fs::write(temp, b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let err = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
