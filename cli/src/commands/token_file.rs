//! The file `campaign -- COMMAND` keeps the current fencing token in.
//!
//! The token changes at every renewal and COMMAND must guard its writes
//! with the newest one, so the file is replaced atomically (written beside
//! it, then renamed over it): a reader sees the old token or the new one,
//! never a torn or empty file. It is removed when leadership is lost, so a
//! reader then finds no token rather than a stale one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use elector_host::bindings::{Hlc, HumanText as _};

pub struct TokenFile {
    /// Private to this process (mode 0700); removed with everything in it
    /// when the file is dropped.
    dir: TempDir,
    path: PathBuf,
}

impl TokenFile {
    /// A new file holding `token`.
    pub fn create(token: &Hlc) -> std::io::Result<TokenFile> {
        let dir = tempfile::Builder::new().prefix("elector-").tempdir()?;
        let path = dir.path().join("fencing-token");
        let file = TokenFile { dir, path };
        file.write(token)?;
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the token, atomically.
    pub fn write(&self, token: &Hlc) -> std::io::Result<()> {
        let mut next = tempfile::NamedTempFile::new_in(self.dir.path())?;
        writeln!(next, "{}", token.text())?;
        next.persist(&self.path).map_err(|error| error.error)?;
        Ok(())
    }

    /// Takes the token away: there is none to use any more.
    pub fn remove(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(counter: u32) -> Hlc {
        Hlc {
            wall_clock_ms: 1_795_690_343_609,
            counter,
            node_id: "n".into(),
        }
    }

    #[test]
    fn the_file_holds_the_newest_token_until_it_is_removed() {
        let file = TokenFile::create(&token(1)).unwrap();
        let read = || std::fs::read_to_string(file.path()).unwrap();
        assert_eq!(read(), "001795690343609:00001:n\n");
        file.write(&token(2)).unwrap();
        assert_eq!(read(), "001795690343609:00002:n\n");
        // Only the token is left in the directory: no temporary files.
        assert_eq!(std::fs::read_dir(file.dir.path()).unwrap().count(), 1);
        file.remove().unwrap();
        assert!(!file.path().exists());
        file.remove().unwrap();
        let dir = file.dir.path().to_owned();
        drop(file);
        assert!(!dir.exists());
    }
}
