//! The data file of a durable node (`clustersim-node --dir`): an append-only journal of everything a [`Disk`]
//! is told, each record written and fsync'd before the call that made it returns — so before Raft acknowledges
//! the vote, append or apply it records.
//!
//! ```text
//! file   := magic record*            magic = "clustersim-journal-1\n"
//! record := len:u32le crc:u32le payload[len]     crc = CRC-32 (IEEE) of payload; payload = JSON of a `Record`
//! ```
//!
//! Opening replays the records into the in-memory stores the simulation uses too (the model: a write is
//! complete when its call returns). A file whose magic, length, checksum or record does not read back is
//! refused with its path, byte offset and reason — never silently shortened, since a record that was written
//! may already have been acknowledged to a peer.
//!
//! [`Disk`]: super::Disk

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use openraft::alias::{LogIdOf, SnapshotMetaOf, StoredMembershipOf, VoteOf};
use serde::{Deserialize, Serialize};

use super::{GroupId, TypeConfig};
use crate::meta::{MetaState, NodeId};

type C = TypeConfig;
pub(crate) type Entry = <C as openraft::RaftTypeConfig>::Entry;

pub const MAGIC: &[u8] = b"clustersim-journal-1\n";
/// The journal's file name inside the data directory.
pub const FILE_NAME: &str = "raft.journal";
/// Largest record accepted when reading (a table of 16,384 slots is far below it): a bigger length is damage.
const RECORD_MAX: u32 = 64 << 20;

/// One change to a node's durable state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Record {
    /// A new Raft instance replaces whatever the disk held (found, join).
    /// `peers`: for a joined instance, the bus addresses of the group's members when it joined (whom to ask
    /// whether the join went through); absent in files written before it existed.
    Instance {
        me: NodeId,
        group: GroupId,
        joined: bool,
        local: MetaState,
        #[serde(default)]
        peers: Vec<String>,
    },
    Vote(VoteOf<C>),
    Committed(Option<LogIdOf<C>>),
    Append(Vec<Entry>),
    TruncateAfter(Option<LogIdOf<C>>),
    Purge(LogIdOf<C>),
    /// The state machine applied the log up to and including this entry.
    Applied(LogIdOf<C>),
    /// The state machine was replaced by a snapshot (install).
    Machine {
        last_applied: Option<LogIdOf<C>>,
        last_membership: StoredMembershipOf<C>,
        state: MetaState,
    },
    /// The current snapshot (built or installed).
    Snapshot {
        meta: SnapshotMetaOf<C>,
        state: MetaState,
    },
}

/// Why a data file was refused.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: corrupt at byte {offset} (record {record}): {why}")]
    Corrupt { path: PathBuf, offset: u64, record: usize, why: String },
}

/// An open journal, appended to under a lock.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

impl Journal {
    /// Opens (or creates) `dir/raft.journal` and returns it with every record it holds, in order, each with its
    /// byte offset.
    pub fn open(dir: &Path) -> Result<(Journal, Vec<(u64, Record)>), JournalError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JournalError::Io { path: path.clone(), source }
        };
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&path).map_err(io_err(&path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err(&path))?;
        let records = if bytes.is_empty() {
            file.write_all(MAGIC).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
            // The new file's name must survive a crash too.
            File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
            Vec::new()
        } else {
            decode(&bytes).map_err(|(offset, record, why)| JournalError::Corrupt {
                path: path.clone(),
                offset,
                record,
                why,
            })?
        };
        Ok((Journal { path, file: Mutex::new(file) }, records))
    }

    /// Appends one record and fsyncs it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&self, record: &Record) -> io::Result<()> {
        let frame = encode(record)?;
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&frame)
            .and_then(|()| file.sync_data())
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }
}

/// One record as it sits in the file.
pub(crate) fn encode(record: &Record) -> io::Result<Vec<u8>> {
    let payload = serde_json::to_vec(record).map_err(io::Error::other)?;
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| *l <= RECORD_MAX)
        .ok_or_else(|| io::Error::other("journal record too large"))?;
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Reads a whole file into (byte offset, record). Errors are (byte offset, record number, reason).
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<(u64, Record)>, (u64, usize, String)> {
    if !bytes.starts_with(MAGIC) {
        let why = if MAGIC.starts_with(bytes) {
            "truncated inside the file header"
        } else {
            "not a clustersim journal (bad magic)"
        };
        return Err((0, 0, why.to_string()));
    }
    let mut at = MAGIC.len();
    let mut records = Vec::new();
    while at < bytes.len() {
        let n = records.len() + 1;
        let rest = &bytes[at..];
        if rest.len() < 8 {
            return Err((at as u64, n, format!("truncated: a record header needs 8 bytes, {} remain", rest.len())));
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if len > RECORD_MAX {
            return Err((at as u64, n, format!("record length {len} is beyond any record this node writes")));
        }
        let Some(payload) = rest.get(8..8 + len as usize) else {
            return Err((at as u64, n, format!("truncated: the record needs {len} bytes, {} remain", rest.len() - 8)));
        };
        if crc32fast::hash(payload) != crc {
            return Err((at as u64, n, "checksum mismatch".to_string()));
        }
        let record: Record =
            serde_json::from_slice(payload).map_err(|e| (at as u64, n, format!("unreadable record: {e}")))?;
        if records.is_empty() && !matches!(record, Record::Instance { .. }) {
            return Err((at as u64, n, "the first record does not start an instance".to_string()));
        }
        records.push((at as u64, record));
        at += 8 + len as usize;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::NodeInfo;

    fn instance(n: u64) -> Record {
        let me = NodeId::from_u64(n);
        Record::Instance {
            me,
            group: 7,
            joined: false,
            local: MetaState::new(NodeInfo::new(me, "127.0.0.1", 7000, 17000)),
            peers: Vec::new(),
        }
    }

    fn file(records: &[Record]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        for r in records {
            bytes.extend(encode(r).unwrap());
        }
        bytes
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("clustersim-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn records_read_back_in_order_with_their_offsets() {
        let bytes = file(&[instance(1), Record::Committed(None), instance(2)]);
        let records = decode(&bytes).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].0, MAGIC.len() as u64);
        assert!(matches!(&records[2].1, Record::Instance { me, .. } if *me == NodeId::from_u64(2)));
    }

    #[test]
    fn a_file_cut_anywhere_inside_a_record_is_refused_as_truncated() {
        let bytes = file(&[instance(1), Record::Committed(None)]);
        let whole = decode(&bytes).unwrap();
        let boundaries: Vec<usize> = whole.iter().map(|(o, _)| *o as usize).chain([bytes.len()]).collect();
        for cut in 0..bytes.len() {
            let result = decode(&bytes[..cut]);
            if boundaries.contains(&cut) {
                assert!(result.is_ok(), "cut at a record boundary {cut} reads the records before it");
            } else {
                let (_, _, why) = result.expect_err("a cut inside a record is refused");
                assert!(why.starts_with("truncated"), "cut at {cut}: {why}");
            }
        }
    }

    #[test]
    fn every_flipped_bit_in_a_record_is_refused() {
        let bytes = file(&[instance(1)]);
        for at in MAGIC.len()..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                assert!(decode(&damaged).is_err(), "flip of bit {bit} at byte {at} went unnoticed");
            }
        }
    }

    #[test]
    fn a_foreign_file_is_refused_at_byte_zero() {
        let (offset, _, why) = decode(b"*1\r\n$4\r\nPING\r\n").unwrap_err();
        assert_eq!((offset, why.as_str()), (0, "not a clustersim journal (bad magic)"));
    }

    #[test]
    fn a_journal_not_starting_with_an_instance_is_refused() {
        let (_, record, why) = decode(&file(&[Record::Committed(None)])).unwrap_err();
        assert_eq!((record, why.as_str()), (1, "the first record does not start an instance"));
    }

    #[test]
    fn a_disk_reopened_from_its_directory_holds_its_last_instance() {
        let dir = scratch_dir("reopen");
        let disk = crate::raft::Disk::open(&dir).unwrap();
        assert!(disk.is_empty());
        let me = NodeId::from_u64(9);
        disk.start_instance(me, 1, false, MetaState::empty(), Vec::new()).unwrap();
        disk.start_instance(me, 2, true, MetaState::empty(), Vec::new()).unwrap();
        drop(disk);
        let again = crate::raft::Disk::open(&dir).unwrap();
        let p = again.load().expect("an instance was kept");
        assert_eq!((p.me, p.group, p.joined), (me, 2, true));
        assert_eq!(again.node_id(), Some(me));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_data_file_is_reported_with_its_path_and_offset() {
        let dir = scratch_dir("damaged");
        let disk = crate::raft::Disk::open(&dir).unwrap();
        disk.start_instance(NodeId::from_u64(3), 1, false, MetaState::empty(), Vec::new()).unwrap();
        drop(disk);
        let path = dir.join(FILE_NAME);
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 1).unwrap();
        let error = crate::raft::Disk::open(&dir).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("{}: corrupt at byte {} (record 1): truncated", path.display(), MAGIC.len())),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
