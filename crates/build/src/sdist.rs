//! Source distributions as build input: `manywheel build NAME-VERSION.tar.gz` unpacks the
//! sdist once into the cache (`build/sdist/<sha256 prefix>/`) and builds its top folder.
//!
//! Only regular files and folders are taken; a member with an absolute path, a `..`
//! component, a link or a device is refused, so nothing can land outside the folder. The
//! folder appears under its final name only when complete.

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use manywheel_target::Cache;

use crate::BuildError;

/// Whether `path` names an sdist archive (PEP 625 `.tar.gz`, or a legacy `.zip`-less `.tgz`).
pub fn is_sdist(path: &Path) -> bool {
    let n = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    path.is_file() && (n.ends_with(".tar.gz") || n.ends_with(".tgz"))
}

/// The project folder to build: `path` itself, or the top folder of the unpacked sdist.
pub fn project_dir(cache: &Cache, path: &Path) -> Result<PathBuf, BuildError> {
    if !path.exists() {
        return Err(BuildError::Usage(format!(
            "{}: no such project folder or sdist",
            path.display()
        )));
    }
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if !is_sdist(path) {
        return Err(BuildError::Usage(format!(
            "{}: not a project folder nor an sdist (.tar.gz)",
            path.display()
        )));
    }
    let digest = crate::sha256_file(path)?;
    let dest = cache.root().join("build/sdist").join(&digest[..16]);
    if !dest.is_dir() {
        let parent = dest.parent().expect("has a parent");
        fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(parent)
            .map_err(|e| BuildError::io(parent, e))?;
        unpack(path, tmp.path())?;
        let tmp = tmp.keep();
        if fs::rename(&tmp, &dest).is_err() {
            // Another build unpacked it meanwhile.
            let _ = fs::remove_dir_all(&tmp);
        }
    }
    let tops: Vec<PathBuf> = fs::read_dir(&dest)
        .map_err(|e| BuildError::io(&dest, e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    match tops.as_slice() {
        [one] if one.is_dir() => Ok(one.clone()),
        _ => Err(BuildError::Usage(format!(
            "{}: an sdist holds one top folder NAME-VERSION/, this one holds {} entries",
            path.display(),
            tops.len()
        ))),
    }
}

fn unpack(archive: &Path, dest: &Path) -> Result<(), BuildError> {
    let bad = |why: String| BuildError::Usage(format!("{}: {why}", archive.display()));
    let file = fs::File::open(archive).map_err(|e| BuildError::io(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = tar
        .entries()
        .map_err(|e| bad(format!("not a gzip'd tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("damaged archive: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| bad(format!("bad member name: {e}")))?
            .into_owned();
        if name
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(bad(format!("unsafe member name {}", name.display())));
        }
        let out = dest.join(&name);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            fs::create_dir_all(&out).map_err(|e| BuildError::io(&out, e))?;
        } else if kind.is_file() {
            if let Some(p) = out.parent() {
                fs::create_dir_all(p).map_err(|e| BuildError::io(p, e))?;
            }
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| bad(format!("{}: {e}", name.display())))?;
            fs::write(&out, bytes).map_err(|e| BuildError::io(&out, e))?;
            let mode = entry.header().mode().unwrap_or(0o644);
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&out, fs::Permissions::from_mode(mode & 0o755 | 0o644));
        } else if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        } else {
            return Err(bad(format!(
                "member {} is a link or special file ({kind:?}); sdists hold files and folders",
                name.display()
            )));
        }
    }
    Ok(())
}
