//! Reading `.deb` packages without dpkg: an `ar` archive holding `debian-binary` ("2.0"),
//! `control.tar.*` and `data.tar.*` (deb(5)). The data tarball is decompressed as a stream
//! (xz, zstd, gzip or none) and its members listed or unpacked with [`RootWriter`].

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use crate::ar::ArReader;
use crate::unpack::{Kind, RootWriter};
use crate::Error;

/// One member of a package's data tarball.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebEntry {
    /// The name as stored (`./usr/bin/x`).
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub size: u64,
    /// Symlink target or hard link source.
    pub link: Option<String>,
}

type DataReader<'a> = Box<dyn Read + 'a>;

/// Decompressing reader for a `data.tar*` member by its name.
fn decompressor<'a>(name: &str, raw: impl Read + 'a) -> Result<DataReader<'a>, Error> {
    let ext = name.strip_prefix("data.tar").unwrap_or("");
    Ok(match ext {
        "" => Box::new(raw),
        ".xz" => Box::new(liblzma::read::XzDecoder::new_multi_decoder(raw)),
        ".zst" => Box::new(
            zstd::stream::read::Decoder::new(raw)
                .map_err(|e| Error::Archive(format!("{name}: {e}")))?,
        ),
        ".gz" => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        other => {
            return Err(Error::Archive(format!(
                "unsupported data member compression data.tar{other}"
            )))
        }
    })
}

/// Whether an entry should be visited further: `Continue` or `Stop` (rest of the tarball is
/// then neither read nor checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

fn kind_of(t: tar::EntryType) -> Kind {
    match t {
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Symlink => Kind::Symlink,
        tar::EntryType::Link => Kind::HardLink,
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        _ if t.is_file() => Kind::File,
        _ => Kind::Special,
    }
}

/// Call `f` for every member of the data tarball of the package read from `reader`, with its
/// description and a reader of its content. `what` names the package in errors.
pub fn for_each_entry<R: Read>(
    reader: R,
    what: &str,
    mut f: impl FnMut(&DebEntry, &mut dyn Read) -> Result<Flow, Error>,
) -> Result<(), Error> {
    let ctx = |e: Error| e.context(what);
    let mut ar = ArReader::new(reader, what);
    let first = ar
        .next_member()?
        .ok_or_else(|| Error::Archive(format!("{what}: empty archive, not a Debian package")))?;
    if first.name != "debian-binary" {
        return Err(Error::Archive(format!(
            "{what}: not a Debian package (first member is '{}')",
            first.name
        )));
    }
    let mut version = String::new();
    ar.data()
        .take(64)
        .read_to_string(&mut version)
        .map_err(|e| Error::Archive(format!("{what}: debian-binary: {e}")))?;
    if !version.starts_with("2.") {
        return Err(Error::Archive(format!(
            "{what}: unsupported package format version '{}'",
            version.trim()
        )));
    }
    let data_name = loop {
        let member = ar.next_member()?.ok_or_else(|| {
            Error::Archive(format!("{what}: no data.tar member (truncated package?)"))
        })?;
        if member.name.starts_with("data.tar") {
            break member.name;
        }
    };
    let tar_err = |e: io::Error| Error::Archive(format!("{what}: {data_name}: {e}"));
    let mut stream = decompressor(&data_name, ar.data()).map_err(ctx)?;
    {
        let mut archive = tar::Archive::new(&mut stream);
        for entry in archive.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            let header = entry.header();
            let kind = kind_of(header.entry_type());
            let mode = header.mode().map_err(tar_err)?;
            let size = entry.size();
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let link = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let desc = DebEntry {
                path,
                kind,
                mode,
                size,
                link,
            };
            match f(&desc, &mut entry).map_err(ctx)? {
                Flow::Continue => {}
                Flow::Stop => return Ok(()),
            }
            // The tar reader skips unread content itself; errors surface on the next entry.
        }
    }
    // Drain the rest of the compressed stream: truncation after the tar end is detected too.
    io::copy(&mut stream, &mut io::sink()).map_err(tar_err)?;
    Ok(())
}

/// List the data members of a package file.
pub fn list(path: &Path) -> Result<Vec<DebEntry>, Error> {
    let what = file_label(path);
    let file = File::open(path).map_err(|e| Error::Io(format!("{what}: {e}")))?;
    let mut out = Vec::new();
    for_each_entry(BufReader::new(file), &what, |e, _| {
        out.push(e.clone());
        Ok(Flow::Continue)
    })?;
    Ok(out)
}

/// Unpack a package file's data members into `writer`'s root.
pub fn unpack(path: &Path, writer: &mut RootWriter) -> Result<(), Error> {
    let what = file_label(path);
    let file = File::open(path).map_err(|e| Error::Io(format!("{what}: {e}")))?;
    unpack_from(BufReader::new(file), &what, writer)
}

/// Unpack a package read from `reader`.
pub fn unpack_from<R: Read>(reader: R, what: &str, writer: &mut RootWriter) -> Result<(), Error> {
    for_each_entry(reader, what, |e, data| {
        let name = Path::new(&e.path);
        match (e.kind, &e.link) {
            (Kind::Dir, _) => writer.dir(name)?,
            (Kind::File, _) => {
                let mut limited = data.take(e.size);
                writer.file(name, e.mode, &mut limited)?;
            }
            (Kind::Symlink, Some(target)) => writer.symlink(name, Path::new(target))?,
            (Kind::HardLink, Some(target)) => writer.hardlink(name, Path::new(target))?,
            (Kind::Symlink | Kind::HardLink, None) => {
                return Err(Error::Archive(format!("link {} has no target", e.path)))
            }
            (Kind::Special, _) => writer.skip(),
        }
        Ok(Flow::Continue)
    })
}

pub(crate) fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
