//! Owner-only files: the device store and the server's database, their `-wal` and `-shm`
//! companions, and key files are readable and writable by their owner only (0600), and the
//! server's data folder is 0700, whatever the process umask (docs/decisions/0015).
//!
//! SQLite creates `-wal` and `-shm` with the permissions of the database file, so creating the
//! database file 0600 before SQLite opens it covers them; [`private_companions`] tightens ones
//! left looser by an older version.

use std::io;
use std::path::{Path, PathBuf};

/// Owner-only permission bits for files and folders.
pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and missing parents) owner-only; tightens an existing `dir` that others could
/// read, saying so in the log.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
        }
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != DIR_MODE {
            if mode & 0o077 != 0 {
                tracing::warn!(path = %dir.display(), mode = format!("{mode:o}"), "the data folder was open to other users; made it owner-only (700)");
            }
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Creates `path` empty and owner-only if it does not exist (an empty file is an empty SQLite
/// database); makes an existing one owner-only. Never truncates.
pub fn private_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    let file = options.open(path)?;
    tighten(&file)
}

/// Makes the database's `-wal`, `-shm` and `-journal` files owner-only where they exist.
pub fn private_companions(db: &Path) -> io::Result<()> {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        match std::fs::File::open(&path) {
            Ok(file) => tighten(&file)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn tighten(file: &std::fs::File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The umask filtered the mode at creation; set it outright.
        if file.metadata()?.permissions().mode() & 0o777 != FILE_MODE {
            file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}
