//! Writing Klieg's own files whole: to a temporary file beside the target, flushed to disk,
//! mode 0600, renamed over it, the folder (made 0700 if new) flushed too, so a crash or a power
//! cut leaves the old file or the new one, never half of one. Blocking: call it off the UI
//! thread and off the runtime's async threads.

use std::path::Path;

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder)?;
    let mut temporary = tempfile::NamedTempFile::new_in(folder)?;
    std::io::Write::write_all(&mut temporary, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temporary.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    if let Ok(folder) = std::fs::File::open(folder) {
        // Not every file system can flush a folder; the file itself is on disk already.
        let _ = folder.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn files_are_replaced_whole_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join("settings.json");
        super::write_atomic(&path, b"{\"first\": true}").expect("written");
        super::write_atomic(&path, b"{}").expect("replaced");
        assert_eq!(std::fs::read(&path).expect("read"), b"{}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().expect("folder")), 0o700);
        }
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("folder")).expect("list").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }
}
