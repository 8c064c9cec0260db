//! The write-ahead log of fact batches accepted over HTTP: what makes an
//! acknowledged `POST /v1/facts` survive a crash.
//!
//! `DIR/facts.log` is a sequence of records, each
//! `length (u32 LE) | CRC-32 of the payload (u32 LE) | payload`, the payload
//! being the batch as JSON. A batch is appended and synced to disk before it
//! serves and before the client hears 200, so the log holds exactly the
//! batches that took effect, in order. At start (and on every reload) the
//! policy files are loaded and the log replayed on top of them.
//!
//! Compaction (see `compact.rs`) replaces the log with one record standing
//! for every batch in it, written to a new file that is synced and renamed
//! over the log.
//!
//! A crash while appending leaves a torn last record: shorter than its
//! length says. It was never acknowledged, so it is dropped (the file is cut
//! back to the last whole record) with a message. A whole record whose
//! checksum fails, or a batch that no longer applies, is not a crash's
//! doing: the server refuses to start and says which record, rather than
//! serve without a batch it once acknowledged.

use crate::facts::Facts;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A batch of facts to add and remove, all or nothing: the body of
/// `POST /v1/facts` and one record of the log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactBatch {
    /// Facts to add.
    #[serde(default)]
    pub add: Facts,
    /// Facts to remove (applied first).
    #[serde(default)]
    pub remove: Facts,
}

impl FactBatch {
    /// The engine's batch: data only, never policy text.
    pub fn to_batch(&self) -> crate::Batch {
        crate::Batch::new()
            .remove_facts(&self.remove)
            .add_facts(&self.add)
    }
}

/// One record of the log: a batch, and for the one record of a compacted
/// log, the revisions it stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The batch.
    pub batch: FactBatch,
    /// The revision served once the batch was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Set on a compacted log's record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// What a compacted record replaced: replayed on policy files of revision
/// `base`, it gives the facts that the batches it replaced gave (which were
/// served as its `revision`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The revision of the policy files (and data files) it was made on.
    pub base: String,
}

/// Largest record the log reads back (a request body is far smaller).
const MAX_RECORD: u32 = 256 << 20;
const HEADER: usize = 8;

/// An open log, positioned at its end.
pub struct Wal {
    file: File,
    path: PathBuf,
    /// The records in the log, in order.
    records: Vec<Record>,
}

/// What opening a log found.
pub struct Opened {
    /// The log, ready to append to.
    pub wal: Wal,
    /// Set when a torn last record was dropped: what was dropped.
    pub dropped: Option<String>,
}

impl Wal {
    /// Opens (or creates) the log in `dir` and reads every whole record.
    pub fn open(dir: &Path) -> Result<Opened, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the state directory `{}`: {e}", dir.display()))?;
        let path = dir.join("facts.log");
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| format!("cannot open `{}`: {e}", path.display()))?;
        sync_dir(dir);
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let (records, good) = read_records(&bytes, &path)?;
        let dropped = (good < bytes.len()).then(|| {
            format!(
                "`{}`: dropped a torn last record ({} bytes at offset {good}), never acknowledged",
                path.display(),
                bytes.len() - good
            )
        });
        if dropped.is_some() {
            file.set_len(good as u64)
                .and_then(|_| file.sync_all())
                .map_err(|e| format!("cannot cut `{}` back: {e}", path.display()))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| format!("cannot seek `{}`: {e}", path.display()))?;
        Ok(Opened {
            wal: Wal {
                file,
                path,
                records,
            },
            dropped,
        })
    }

    /// The records logged so far, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a batch, with the revision it gives, and syncs it to disk.
    pub fn append(&mut self, batch: &FactBatch, revision: &str) -> io::Result<()> {
        let record = Record {
            batch: batch.clone(),
            revision: Some(revision.to_string()),
            checkpoint: None,
        };
        let bytes = encode(&record)?;
        let end = self.file.seek(SeekFrom::End(0))?;
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|_| self.file.sync_data());
        if let Err(e) = written {
            // Leave no partial record behind a failed append.
            let _ = self.file.set_len(end);
            return Err(e);
        }
        self.records.push(record);
        Ok(())
    }

    /// Replaces the whole log with one record, atomically: it is written to
    /// a new file, synced, and renamed over the log, so that a crash leaves
    /// either the old log or the new one.
    pub fn replace_with(&mut self, record: Record) -> io::Result<()> {
        let fresh = self.path.with_extension("log.compacting");
        let mut file = File::create(&fresh)?;
        file.write_all(&encode(&record)?)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&fresh, &self.path)?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir);
        }
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.records = vec![record];
        Ok(())
    }
}

/// A record's bytes: length, checksum, payload.
fn encode(record: &Record) -> io::Result<Vec<u8>> {
    let payload = serde_json::to_vec(record).map_err(io::Error::other)?;
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| l <= MAX_RECORD)
        .ok_or_else(|| io::Error::other("the batch is too large to log"))?;
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// Every whole record, and where the whole records end.
fn read_records(bytes: &[u8], path: &Path) -> Result<(Vec<Record>, usize), String> {
    let mut batches = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some(header) = bytes.get(at..at + HEADER) else {
            break; // torn header
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD {
            return Err(corrupt(
                path,
                batches.len(),
                at,
                "its length is out of range",
            ));
        }
        let Some(payload) = bytes.get(at + HEADER..at + HEADER + len as usize) else {
            break; // torn payload
        };
        if crc32fast::hash(payload) != crc {
            return Err(corrupt(
                path,
                batches.len(),
                at,
                "its checksum does not match",
            ));
        }
        let batch: Record = serde_json::from_slice(payload)
            .map_err(|e| corrupt(path, batches.len(), at, &format!("it is not a batch: {e}")))?;
        batches.push(batch);
        at += HEADER + len as usize;
    }
    Ok((batches, at))
}

fn corrupt(path: &Path, index: usize, offset: usize, why: &str) -> String {
    format!(
        "`{}`: record {} (offset {offset}) is damaged: {why}. It is not a torn write; \
         restore the file from a backup, or move it aside to start without the batches it holds",
        path.display(),
        index + 1
    )
}

/// Makes a file's creation durable (best effort: not every platform can
/// sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(user: &str) -> Record {
        Record {
            batch: batch(user),
            revision: Some("r".into()),
            checkpoint: None,
        }
    }

    fn batch(user: &str) -> FactBatch {
        let facts = Facts::from_json(
            "t",
            &format!(r#"{{"users": [{{"name": "{user}", "in": ["team:acme"]}}]}}"#),
        )
        .unwrap();
        FactBatch {
            add: facts,
            remove: Facts::default(),
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("grantlog-wal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn batches_are_read_back_in_order() {
        let d = dir("order");
        let mut w = Wal::open(&d).unwrap().wal;
        w.append(&batch("a"), "r").unwrap();
        w.append(&batch("b"), "r").unwrap();
        let opened = Wal::open(&d).unwrap();
        assert_eq!(opened.wal.records(), &[record("a"), record("b")]);
        assert!(opened.dropped.is_none());
    }

    #[test]
    fn a_torn_last_record_is_dropped_and_cut_off() {
        let d = dir("torn");
        let mut w = Wal::open(&d).unwrap().wal;
        w.append(&batch("a"), "r").unwrap();
        w.append(&batch("b"), "r").unwrap();
        let path = d.join("facts.log");
        let len = std::fs::metadata(&path).unwrap().len();
        for cut in [len - 1, len - 20] {
            let f = OpenOptions::new().write(true).open(&path).unwrap();
            f.set_len(cut).unwrap();
            let opened = Wal::open(&d).unwrap();
            assert_eq!(opened.wal.records(), &[record("a")]);
            let dropped = opened.dropped.unwrap();
            assert!(dropped.contains("dropped a torn last record"), "{dropped}");
            // The next append starts a whole record where the torn one was.
            let mut w = opened.wal;
            w.append(&batch("b"), "r").unwrap();
            assert_eq!(Wal::open(&d).unwrap().wal.records().len(), 2);
        }
    }

    #[test]
    fn replacing_the_log_leaves_one_record_and_appends_after_it() {
        let d = dir("replace");
        let mut w = Wal::open(&d).unwrap().wal;
        w.append(&batch("a"), "r").unwrap();
        w.append(&batch("b"), "r").unwrap();
        let squashed = Record {
            batch: batch("ab"),
            revision: Some("2".into()),
            checkpoint: Some(Checkpoint { base: "1".into() }),
        };
        w.replace_with(squashed.clone()).unwrap();
        w.append(&batch("c"), "r").unwrap();
        let opened = Wal::open(&d).unwrap();
        assert_eq!(opened.wal.records(), &[squashed, record("c")]);
        assert!(!d.join("facts.log.compacting").exists());
    }

    #[test]
    fn a_damaged_whole_record_refuses_to_open() {
        let d = dir("damaged");
        let mut w = Wal::open(&d).unwrap().wal;
        w.append(&batch("a"), "r").unwrap();
        w.append(&batch("b"), "r").unwrap();
        let path = d.join("facts.log");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER + 2] ^= 0x20;
        std::fs::write(&path, &bytes).unwrap();
        let e = Wal::open(&d).err().unwrap();
        assert!(
            e.contains("record 1 (offset 0) is damaged: its checksum does not match"),
            "{e}"
        );
    }
}
