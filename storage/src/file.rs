//! `file://` backend: std::fs on a blocking thread, with fsync of files and directories so a
//! committed (renamed) file survives a power cut, not only a process crash.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{FileEntry, Storage, StorageError, StorageResult};

#[derive(Debug, Clone)]
pub struct FileStorage {
    root: PathBuf,
    url: String,
}

impl FileStorage {
    pub fn new(root: impl AsRef<Path>) -> StorageResult<FileStorage> {
        let root = root.as_ref().to_path_buf();
        if !root.is_absolute() {
            return Err(StorageError::Permanent {
                op: "open",
                path: root.display().to_string(),
                msg: "file:// lake roots must be absolute (file:///path)".into(),
            });
        }
        Ok(FileStorage {
            url: format!("file://{}", root.display()),
            root,
        })
    }

    fn abs(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }
}

fn classify(op: &'static str, path: &Path, e: std::io::Error) -> StorageError {
    let path = path.display().to_string();
    match e.kind() {
        ErrorKind::NotFound => StorageError::NotFound { op, path },
        ErrorKind::AlreadyExists => StorageError::AlreadyExists { op, path },
        ErrorKind::PermissionDenied | ErrorKind::InvalidInput | ErrorKind::ReadOnlyFilesystem => {
            StorageError::Permanent {
                op,
                path,
                msg: e.to_string(),
            }
        }
        _ => StorageError::Transient {
            op,
            path,
            msg: e.to_string(),
        },
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

async fn blocking<T: Send + 'static>(
    op: &'static str,
    f: impl FnOnce() -> StorageResult<T> + Send + 'static,
) -> StorageResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Permanent {
            op,
            path: String::new(),
            msg: format!("blocking task failed: {e}"),
        })?
}

impl Storage for FileStorage {
    fn root(&self) -> &str {
        &self.url
    }

    async fn put(&self, path: &str, data: Bytes) -> StorageResult<()> {
        let abs = self.abs(path);
        blocking("put", move || {
            let dir = abs.parent().unwrap_or(Path::new("/")).to_path_buf();
            fs::create_dir_all(&dir).map_err(|e| classify("put", &dir, e))?;
            let mut f = fs::File::create(&abs).map_err(|e| classify("put", &abs, e))?;
            f.write_all(&data).map_err(|e| classify("put", &abs, e))?;
            f.sync_all().map_err(|e| classify("put", &abs, e))?;
            sync_dir(&dir).map_err(|e| classify("put", &dir, e))
        })
        .await
    }

    async fn rename(&self, from: &str, to: &str, overwrite: bool) -> StorageResult<()> {
        let (from, to) = (self.abs(from), self.abs(to));
        blocking("rename", move || {
            let dir = to.parent().unwrap_or(Path::new("/")).to_path_buf();
            fs::create_dir_all(&dir).map_err(|e| classify("rename", &dir, e))?;
            if overwrite {
                fs::rename(&from, &to).map_err(|e| classify("rename", &from, e))?;
            } else {
                // link() refuses an existing destination atomically, which rename() would
                // silently replace. A crash between link and unlink leaves both names;
                // recovery sees the committed one and drops the temporary.
                match fs::hard_link(&from, &to) {
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                        return Err(classify("rename", &to, e))
                    }
                    r => r.map_err(|e| classify("rename", &from, e))?,
                }
                fs::remove_file(&from).map_err(|e| classify("rename", &from, e))?;
            }
            sync_dir(&dir).map_err(|e| classify("rename", &dir, e))?;
            if let Some(src_dir) = from.parent().filter(|d| *d != dir) {
                sync_dir(src_dir).map_err(|e| classify("rename", src_dir, e))?;
            }
            Ok(())
        })
        .await
    }

    async fn list(&self, dir: &str) -> StorageResult<Vec<FileEntry>> {
        let root = self.root.clone();
        let start = self.abs(dir);
        blocking("list", move || {
            let mut out = Vec::new();
            let mut stack = vec![start];
            while let Some(d) = stack.pop() {
                let entries = match fs::read_dir(&d) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(classify("list", &d, e)),
                };
                for entry in entries {
                    let entry = entry.map_err(|e| classify("list", &d, e))?;
                    let path = entry.path();
                    // A file may vanish between readdir and stat (another cleanup): skip it.
                    let meta = match entry.metadata() {
                        Ok(m) => m,
                        Err(e) if e.kind() == ErrorKind::NotFound => continue,
                        Err(e) => return Err(classify("list", &path, e)),
                    };
                    if meta.is_dir() {
                        stack.push(path);
                    } else if let Ok(rel) = path.strip_prefix(&root) {
                        out.push(FileEntry {
                            path: rel.to_string_lossy().replace('\\', "/"),
                            len: meta.len(),
                        });
                    }
                }
            }
            out.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(out)
        })
        .await
    }

    async fn delete(&self, path: &str) -> StorageResult<()> {
        let abs = self.abs(path);
        blocking("delete", move || match fs::remove_file(&abs) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(classify("delete", &abs, e)),
        })
        .await
    }

    async fn read(&self, path: &str) -> StorageResult<Bytes> {
        let abs = self.abs(path);
        blocking("read", move || {
            fs::read(&abs)
                .map(Bytes::from)
                .map_err(|e| classify("read", &abs, e))
        })
        .await
    }

    async fn exists(&self, path: &str) -> StorageResult<bool> {
        let abs = self.abs(path);
        blocking("exists", move || match fs::metadata(&abs) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(classify("exists", &abs, e)),
        })
        .await
    }
}
