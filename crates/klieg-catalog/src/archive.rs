//! Plugin archives: `klieg plugin pack` makes a reproducible `.tar.gz` of a plugin folder (the
//! same files give the same bytes, so the same sha256, on any machine), and unpacking checks
//! every entry before anything is written: no `..`, no absolute paths, no links or devices,
//! and caps on files and bytes against decompression bombs. Runs on the caller's thread.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Files one archive may hold, and bytes once unpacked.
pub const MAX_ARCHIVE_FILES: usize = 512;
pub const MAX_UNPACKED_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {error}")]
    Io { path: String, error: String },
    #[error("{}", rust_i18n::t!("catalog.archive_entry", entry = .entry, error = .error))]
    BadEntry { entry: String, error: String },
    #[error("{}", rust_i18n::t!("catalog.archive_too_big", files = MAX_ARCHIVE_FILES, bytes = MAX_UNPACKED_BYTES))]
    TooBig,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ArchiveError + '_ {
    move |error| ArchiveError::Io { path: path.display().to_string(), error: error.to_string() }
}

/// The plugin folder's files, relative and sorted: regular files only, hidden ones left out; a
/// link is refused (an archive carries what lies in the folder, nothing it points at).
fn files_of(folder: &Path) -> Result<Vec<PathBuf>, ArchiveError> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let dir = folder.join(&relative);
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            let path = relative.join(&name);
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                found.push(path);
            } else {
                let error = "not a regular file".to_string();
                return Err(ArchiveError::BadEntry { entry: path.display().to_string(), error });
            }
        }
    }
    found.sort();
    if found.len() > MAX_ARCHIVE_FILES {
        return Err(ArchiveError::TooBig);
    }
    Ok(found)
}

/// The sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A reproducible `.tar.gz` of `folder`: its files in sorted order, each with mode 0644, owner
/// 0, time 0, and a gzip header without a name or time.
pub fn pack(folder: &Path) -> Result<Vec<u8>, ArchiveError> {
    let files = files_of(folder)?;
    let gzip = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gzip);
    tar.mode(tar::HeaderMode::Deterministic);
    for relative in &files {
        let path = folder.join(relative);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        let name = relative.to_string_lossy().replace('\\', "/");
        tar.append_data(&mut header, &name, bytes.as_slice()).map_err(io(&path))?;
    }
    let gzip = tar.into_inner().map_err(io(folder))?;
    gzip.finish().map_err(io(folder))
}

/// Unpacks `archive` into `into` (a fresh staging folder), checking each entry first.
pub fn unpack(archive: &[u8], into: &Path) -> Result<usize, ArchiveError> {
    let gzip = flate2::read::GzDecoder::new(archive);
    let mut tar = tar::Archive::new(gzip);
    let (mut files, mut total) = (0usize, 0u64);
    for entry in tar.entries().map_err(io(into))? {
        let mut entry = entry.map_err(io(into))?;
        let path = entry.path().map_err(io(into))?.into_owned();
        let shown = path.display().to_string();
        let refuse =
            |error: &str| ArchiveError::BadEntry { entry: shown.chars().take(200).collect(), error: error.into() };
        if !path.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(refuse("a path outside the plugin's folder (.. or absolute)"));
        }
        match entry.header().entry_type() {
            tar::EntryType::Regular => {}
            tar::EntryType::Directory => continue,
            _ => return Err(refuse("not a regular file (a link or a device)")),
        }
        files += 1;
        total = total.saturating_add(entry.header().size().map_err(io(into))?);
        if files > MAX_ARCHIVE_FILES || total > MAX_UNPACKED_BYTES {
            return Err(ArchiveError::TooBig);
        }
        let target = into.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        // Read no more than the header said (and the cap allows): a lying header cannot grow it.
        let mut bytes = Vec::new();
        entry.by_ref().take(MAX_UNPACKED_BYTES).read_to_end(&mut bytes).map_err(io(&target))?;
        std::fs::write(&target, &bytes).map_err(io(&target))?;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::{ArchiveError, pack, sha256_hex, unpack};

    fn plugin(dir: &std::path::Path) {
        std::fs::write(dir.join("plugin.toml"), "id = \"io.example.a\"\n").expect("write");
        std::fs::create_dir_all(dir.join("lib")).expect("dir");
        std::fs::write(dir.join("init.luau"), "return 1").expect("write");
        std::fs::write(dir.join("lib").join("util.luau"), "return 2").expect("write");
        std::fs::write(dir.join(".hidden"), "left out").expect("write");
    }

    #[test]
    fn the_same_files_pack_to_the_same_bytes_and_unpack_whole() {
        let (a, b) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
        plugin(a.path());
        plugin(b.path());
        let (first, second) = (pack(a.path()).expect("pack"), pack(b.path()).expect("pack"));
        assert_eq!(sha256_hex(&first), sha256_hex(&second), "reproducible across folders and times");
        std::fs::write(b.path().join("init.luau"), "return 3").expect("edit");
        assert_ne!(sha256_hex(&first), sha256_hex(&pack(b.path()).expect("pack")), "a change changes the hash");
        let out = tempfile::tempdir().expect("dir");
        assert_eq!(unpack(&first, out.path()).expect("unpack"), 3);
        assert_eq!(std::fs::read_to_string(out.path().join("lib/util.luau")).expect("read"), "return 2");
        assert!(!out.path().join(".hidden").exists());
    }

    /// A hand-made archive with one entry, its path and type written raw (as a hostile one is).
    fn hostile(name: &str, kind: tar::EntryType) -> Vec<u8> {
        let mut header = tar::Header::new_gnu();
        let raw = header.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(4);
        header.set_mode(0o644);
        header.set_entry_type(kind);
        header.set_cksum();
        let mut tar = tar::Builder::new(Vec::new());
        tar.append(&header, &b"evil"[..]).expect("append");
        let bytes = tar.into_inner().expect("tar");
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gzip, &bytes).expect("gzip");
        gzip.finish().expect("gzip")
    }

    #[test]
    fn paths_outside_links_and_bombs_are_refused_before_anything_is_written() {
        let out = tempfile::tempdir().expect("dir");
        for (name, kind) in [
            ("../escape.luau", tar::EntryType::Regular),
            ("/etc/evil", tar::EntryType::Regular),
            ("link", tar::EntryType::Symlink),
            ("device", tar::EntryType::Char),
        ] {
            let refused = unpack(&hostile(name, kind), out.path()).expect_err(name);
            assert!(matches!(refused, ArchiveError::BadEntry { .. }), "{name}: {refused}");
        }
        assert_eq!(std::fs::read_dir(out.path()).expect("dir").count(), 0, "nothing was written");
        // A bomb: 40 MiB of zeros compress to a few KiB.
        let big = tempfile::tempdir().expect("dir");
        std::fs::write(big.path().join("zeros.luau"), vec![0u8; 40 * 1024 * 1024]).expect("write");
        let bomb = pack(big.path()).expect("pack");
        assert!(bomb.len() < 200 * 1024, "it compresses: {} bytes", bomb.len());
        assert!(matches!(unpack(&bomb, out.path()), Err(ArchiveError::TooBig)));
    }
}
