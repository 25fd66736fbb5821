//! One process per data directory. Every command that opens the event log and the local store
//! of a data directory (`hcal serve`, `hcal replay`, `hcal demo`) first takes an exclusive
//! advisory lock on `{data_dir}/hcal.lock` and holds it for as long as it runs: two processes
//! on one directory would both consume every partition and write each mailbox's history twice
//! (see `docs/adr/009-one-process-per-data-directory.md`).
//!
//! The lock is the operating system's (`flock` on Unix, `LockFileEx` on Windows), so it ends
//! with its process however that ends, a crash or SIGKILL included: nothing stale can block the
//! next start. The pid written into the file is information for the message a second process
//! prints, never a reason to refuse. The file itself is never removed: removing it would let two
//! processes lock two different files of the same name.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// Name of the lock file in the data directory.
pub const LOCK_FILE: &str = "hcal.lock";

/// The exclusive lock on a data directory, held until dropped (or until the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    path: PathBuf,
}

/// Why a data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "the data directory {} is in use by another hcal process ({}); stop that process first, or give this one a data directory of its own",
        .dir.display(),
        holder(*.pid)
    )]
    Held {
        /// The data directory.
        dir: PathBuf,
        /// The holder's pid as its lock file records it (`None`: not readable, or not yet
        /// written by a holder that has only just started).
        pid: Option<u32>,
    },
    /// The directory or its lock file could not be created, opened or locked.
    #[error("locking the data directory {}: {source}", .dir.display())]
    Io {
        /// The data directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn holder(pid: Option<u32>) -> String {
    pid.map_or_else(|| "whose pid its lock file does not tell".to_owned(), |pid| format!("pid {pid}"))
}

impl DataDirLock {
    /// Locks `dir` (created if missing) for this process and records its pid in the lock file;
    /// fails at once, without waiting, when another process holds it.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let io = |source| LockError::Io { dir: dir.to_path_buf(), source };
        crate::private::create_dir_all(dir).map_err(io)?;
        let path = dir.join(LOCK_FILE);
        // Not truncated on open: a process that does not get the lock must leave the holder's
        // pid in place for the next one to read.
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io)?;
        // Called through the trait: the standard library's own `File::try_lock` is newer than
        // the workspace's minimum Rust version.
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(LockError::Held { dir: dir.to_path_buf(), pid: recorded_pid(&mut file) });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(io(e)),
        }
        // Whatever a process killed before it could unlock left there is replaced.
        file.set_len(0).map_err(io)?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(Self { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        // Emptied while still held, so that only a process that did not stop cleanly leaves a
        // pid behind; the lock itself goes with the file handle, right after.
        let _ = self.file.set_len(0);
    }
}

/// The pid a lock file records, if it can be read.
fn recorded_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_directory_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DataDirLock::acquire(&data).unwrap();
        assert_eq!(first.path(), data.join(LOCK_FILE));
        let recorded = std::fs::read_to_string(first.path()).unwrap();
        assert_eq!(recorded.trim(), std::process::id().to_string());
        // The lock is the open file's, so a second one in this very process is refused too.
        let err = DataDirLock::acquire(&data).unwrap_err();
        assert!(matches!(&err, LockError::Held { pid: Some(pid), .. } if *pid == std::process::id()), "{err}");
        let text = err.to_string();
        assert!(text.contains(&data.display().to_string()), "{text}");
        assert!(text.contains(&format!("pid {}", std::process::id())), "{text}");
        // The refused attempt left the holder's pid in place.
        assert_eq!(std::fs::read_to_string(first.path()).unwrap(), recorded);
        drop(first);
        assert_eq!(std::fs::read_to_string(data.join(LOCK_FILE)).unwrap(), "");
        let again = DataDirLock::acquire(&data).unwrap();
        drop(again);
    }

    #[test]
    fn a_stale_pid_left_by_a_killed_process_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "4194304\n").unwrap();
        let lock = DataDirLock::acquire(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(lock.path()).unwrap().trim(), std::process::id().to_string());
    }

    #[test]
    fn an_unreadable_pid_is_said_so() {
        let err = LockError::Held { dir: PathBuf::from("/srv/hcal"), pid: None };
        assert!(err.to_string().contains("/srv/hcal is in use by another hcal process (whose pid"), "{err}");
    }
}
