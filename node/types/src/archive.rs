//! The portable chain archive: every finalized block with its certificate, in height order, in
//! one streamable file (`tally-node export` writes it; `tally audit` and `tally badge verify
//! --archive` read it).
//!
//! Layout (all integers little-endian, as borsh writes them):
//!
//! | part | bytes |
//! |---|---|
//! | magic | `TALLYARC` (8) |
//! | format version | `u32` = [`ARCHIVE_FORMAT_VERSION`] |
//! | chain id | borsh [`ChainId`] (`u32` length + 3..=64 bytes) |
//! | genesis hash | 32: the genesis file's hash (`tally-genesis hash`, `Genesis::hash`) |
//! | record *i* (i = 1, 2, ...) | `u32` length (1..=[`RECORD_BYTES_MAX`]) + borsh [`ArchiveRecord`] (the block at height *i* and its certificate) |
//! | end marker | `u32` 0, then `u64` the number of records |
//!
//! The end marker tells a complete archive from one cut at a record boundary. Every record is
//! length-prefixed and bounded, and decoded with the strict codec ([`crate::codec::decode`]),
//! so a reader never allocates more than one record's limit and every record has exactly one
//! encoding.
//!
//! This module only parses. It does not check that record *i* holds height *i*, that parents
//! link, or that certificates verify: that is the auditor's job, and an archive that parses
//! may still be a forgery.

use std::io::{self, Read, Write};

use borsh::{BorshDeserialize, BorshSerialize};

use crate::block::Block;
use crate::codec::{Bounded, DecodeError, decode, encode};
use crate::consensus::Certificate;
use crate::hash::Hash;
use crate::ids::ChainId;
use crate::limits;

/// The first bytes of every archive.
pub const ARCHIVE_MAGIC: [u8; 8] = *b"TALLYARC";
/// The format version this code writes and reads.
pub const ARCHIVE_FORMAT_VERSION: u32 = 1;
/// The longest encoded record: the largest block and the largest certificate.
pub const RECORD_BYTES_MAX: usize = limits::BLOCK_BYTES_MAX + limits::CERTIFICATE_BYTES_MAX;

// A record length must fit the u32 prefix, and 0 is the end marker, never a record.
const _: () = assert!(RECORD_BYTES_MAX <= u32::MAX as usize);

/// What an archive says about itself before its first record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveHeader {
    pub chain_id: ChainId,
    /// The genesis hash: `Domain::Genesis` over the genesis document, as `tally-genesis hash`
    /// prints it. Block 1's parent id is this hash.
    pub genesis_hash: Hash,
}

/// One block and the finalization certificate it was stored with (its own, or a descendant's
/// that finalized it together with its ancestors).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ArchiveRecord {
    pub block: Block,
    pub certificate: Certificate,
}

impl Bounded for ArchiveRecord {
    const MAX_ENCODED_SIZE: usize = RECORD_BYTES_MAX;
}

/// Why an archive could not be written or read. Record numbers count from 1 and equal the
/// height the record should hold.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive I/O failed {during}: {source}")]
    Io {
        during: String,
        #[source]
        source: io::Error,
    },
    #[error("not a Tally archive: the first bytes are {found:02x?}, expected `TALLYARC`")]
    BadMagic { found: Vec<u8> },
    #[error("archive format version {found} is not supported; this build reads version {supported}")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("archive header: {what}")]
    BadHeader { what: String },
    #[error("archive is truncated in record {record}: {what}")]
    Truncated { record: u64, what: &'static str },
    #[error("record {record} claims {length} bytes, more than the limit of {max}")]
    Oversize { record: u64, length: u64, max: usize },
    #[error("record {record} does not decode: {error}")]
    Undecodable { record: u64, error: DecodeError },
    #[error("archive end marker counts {declared} records, but {read} were read")]
    CountMismatch { declared: u64, read: u64 },
    #[error("{trailing} bytes follow the archive's end marker")]
    TrailingBytes { trailing: u64 },
    #[error("records may not be appended after the end marker")]
    Finished,
}

fn io_error(during: impl Into<String>) -> impl FnOnce(io::Error) -> ArchiveError {
    let during = during.into();
    move |source| ArchiveError::Io { during, source }
}

/// Writes an archive to any [`Write`]. Call [`ArchiveWriter::finish`] at the end: without the
/// end marker a reader reports the archive as truncated.
pub struct ArchiveWriter<W: Write> {
    writer: W,
    records: u64,
    finished: bool,
}

impl<W: Write> ArchiveWriter<W> {
    /// Writes the header.
    pub fn new(mut writer: W, header: &ArchiveHeader) -> Result<Self, ArchiveError> {
        let mut bytes = Vec::with_capacity(8 + 4 + 4 + limits::CHAIN_ID_BYTES_MAX + 32);
        bytes.extend_from_slice(&ARCHIVE_MAGIC);
        bytes.extend_from_slice(&ARCHIVE_FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&encode(&header.chain_id));
        bytes.extend_from_slice(header.genesis_hash.as_bytes());
        writer.write_all(&bytes).map_err(io_error("writing the header"))?;
        Ok(ArchiveWriter { writer, records: 0, finished: false })
    }

    /// Appends the next record (the block at height `records written + 1`, by convention; not
    /// checked here).
    pub fn append(&mut self, block: &Block, certificate: &Certificate) -> Result<(), ArchiveError> {
        // Encoding a borrowed pair gives the same bytes as an owned ArchiveRecord.
        let body = encode(&(block, certificate));
        self.append_encoded(&body)
    }

    /// Appends a record already encoded as borsh `(Block, Certificate)`. The bytes are not
    /// decoded here; only their length is checked.
    pub fn append_encoded(&mut self, body: &[u8]) -> Result<(), ArchiveError> {
        if self.finished {
            return Err(ArchiveError::Finished);
        }
        let record = self.records + 1;
        if body.is_empty() || body.len() > RECORD_BYTES_MAX {
            return Err(ArchiveError::Oversize { record, length: body.len() as u64, max: RECORD_BYTES_MAX });
        }
        let during = || format!("writing record {record}");
        self.writer.write_all(&(body.len() as u32).to_le_bytes()).map_err(io_error(during()))?;
        self.writer.write_all(body).map_err(io_error(during()))?;
        self.records = record;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes the end marker, flushes, and gives the writer back.
    pub fn finish(mut self) -> Result<W, ArchiveError> {
        let mut marker = [0u8; 12];
        marker[4..].copy_from_slice(&self.records.to_le_bytes());
        self.writer.write_all(&marker).map_err(io_error("writing the end marker"))?;
        self.writer.flush().map_err(io_error("flushing"))?;
        self.finished = true;
        Ok(self.writer)
    }
}

/// Reads an archive from any [`Read`] (wrap files in a `BufReader`), one record at a time.
/// As an iterator it yields records until the end marker, then `None`; after an error it
/// yields nothing more.
pub struct ArchiveReader<R: Read> {
    reader: R,
    header: ArchiveHeader,
    /// Records read so far.
    records: u64,
    done: bool,
}

/// Reads exactly `buffer.len()` bytes; `Ok(false)` when the input ended before the first byte,
/// and `Truncated` when it ended part way.
fn read_exact_or_end<R: Read>(
    reader: &mut R,
    buffer: &mut [u8],
    record: u64,
    what: &'static str,
) -> Result<bool, ArchiveError> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(ArchiveError::Truncated { record, what }),
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(io_error(format!("reading record {record}"))(error)),
        }
    }
    Ok(true)
}

impl<R: Read> ArchiveReader<R> {
    /// Reads and checks the header.
    pub fn new(mut reader: R) -> Result<Self, ArchiveError> {
        let mut magic = [0u8; 8];
        let mut filled = 0;
        while filled < magic.len() {
            match reader.read(&mut magic[filled..]) {
                Ok(0) => return Err(ArchiveError::BadMagic { found: magic[..filled].to_vec() }),
                Ok(read) => filled += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(io_error("reading the header")(error)),
            }
        }
        if magic != ARCHIVE_MAGIC {
            return Err(ArchiveError::BadMagic { found: magic.to_vec() });
        }
        let truncated = |_| ArchiveError::BadHeader { what: "the header is truncated".to_owned() };
        let mut version = [0u8; 4];
        reader.read_exact(&mut version).map_err(truncated)?;
        let version = u32::from_le_bytes(version);
        if version != ARCHIVE_FORMAT_VERSION {
            return Err(ArchiveError::UnsupportedVersion {
                found: version,
                supported: ARCHIVE_FORMAT_VERSION,
            });
        }
        // ChainId's own decoder bounds the length before reading and validates the text.
        let chain_id = ChainId::deserialize_reader(&mut reader)
            .map_err(|error| ArchiveError::BadHeader { what: format!("chain id: {error}") })?;
        let mut genesis_hash = [0u8; 32];
        reader.read_exact(&mut genesis_hash).map_err(truncated)?;
        Ok(ArchiveReader {
            reader,
            header: ArchiveHeader { chain_id, genesis_hash: Hash(genesis_hash) },
            records: 0,
            done: false,
        })
    }

    /// The archive's header.
    pub fn header(&self) -> &ArchiveHeader {
        &self.header
    }

    /// Records read so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// The next record's encoded bytes (length-checked, not decoded), or `None` after the end
    /// marker.
    pub fn next_encoded(&mut self) -> Result<Option<Vec<u8>>, ArchiveError> {
        if self.done {
            return Ok(None);
        }
        let result = self.read_encoded();
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result
    }

    fn read_encoded(&mut self) -> Result<Option<Vec<u8>>, ArchiveError> {
        let record = self.records + 1;
        let mut length = [0u8; 4];
        if !read_exact_or_end(&mut self.reader, &mut length, record, "length prefix")? {
            return Err(ArchiveError::Truncated { record, what: "the archive ends without its end marker" });
        }
        let length = u32::from_le_bytes(length);
        if length == 0 {
            return self.read_end_marker().map(|()| None);
        }
        if length as usize > RECORD_BYTES_MAX {
            return Err(ArchiveError::Oversize { record, length: u64::from(length), max: RECORD_BYTES_MAX });
        }
        let mut body = vec![0u8; length as usize];
        if !read_exact_or_end(&mut self.reader, &mut body, record, "record body")? {
            return Err(ArchiveError::Truncated { record, what: "record body" });
        }
        self.records = record;
        Ok(Some(body))
    }

    fn read_end_marker(&mut self) -> Result<(), ArchiveError> {
        let record = self.records + 1;
        let mut count = [0u8; 8];
        if !read_exact_or_end(&mut self.reader, &mut count, record, "end marker")? {
            return Err(ArchiveError::Truncated { record, what: "end marker" });
        }
        let declared = u64::from_le_bytes(count);
        if declared != self.records {
            return Err(ArchiveError::CountMismatch { declared, read: self.records });
        }
        // Count (without keeping) whatever follows, up to a bound: one byte is already wrong.
        let trailing = io::copy(&mut (&mut self.reader).take(1 << 20), &mut io::sink())
            .map_err(io_error("reading after the end marker"))?;
        if trailing > 0 {
            return Err(ArchiveError::TrailingBytes { trailing });
        }
        Ok(())
    }

    /// The next record, decoded strictly, or `None` after the end marker.
    pub fn next_record(&mut self) -> Result<Option<ArchiveRecord>, ArchiveError> {
        match self.next_encoded()? {
            None => Ok(None),
            Some(body) => decode::<ArchiveRecord>(&body).map(Some).map_err(|error| {
                self.done = true;
                ArchiveError::Undecodable { record: self.records, error }
            }),
        }
    }
}

impl<R: Read> Iterator for ArchiveReader<R> {
    type Item = Result<ArchiveRecord, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Header;
    use crate::codec::{BoundedBytes, BoundedVec};
    use crate::consensus::Subject;
    use crate::ids::{Height, ValidatorIndex, View};
    use crate::keys::Signature;
    use crate::{BlockId, Hash};

    fn chain() -> ChainId {
        ChainId::new("tally-test").expect("valid chain id")
    }

    fn record(height: u64) -> (Block, Certificate) {
        let header = Header {
            chain_id: chain(),
            height: Height(height),
            view: View(height),
            parent_id: BlockId(Hash([height as u8; 32])),
            time_ms: 1_000 + height,
            proposer: ValidatorIndex(0),
            tx_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            state_root: Hash::ZERO,
            validators_hash: Hash::ZERO,
        };
        let block = Block { header, txs: BoundedVec::empty() };
        let certificate = Certificate {
            subject: Subject::Finalize { view: View(height), block_id: block.id() },
            signers: BoundedBytes::new(vec![0b111]).expect("one byte fits"),
            signatures: BoundedVec::new(vec![Signature([7; 64]); 3]).expect("three fit"),
        };
        (block, certificate)
    }

    fn header() -> ArchiveHeader {
        ArchiveHeader { chain_id: chain(), genesis_hash: Hash([9; 32]) }
    }

    fn archive(records: u64) -> Vec<u8> {
        let mut writer = ArchiveWriter::new(Vec::new(), &header()).expect("in memory");
        for height in 1..=records {
            let (block, certificate) = record(height);
            writer.append(&block, &certificate).expect("in memory");
        }
        writer.finish().expect("in memory")
    }

    #[test]
    fn round_trip() {
        let bytes = archive(3);
        let mut reader = ArchiveReader::new(bytes.as_slice()).expect("header");
        assert_eq!(reader.header(), &header());
        let records: Vec<ArchiveRecord> = (&mut reader).collect::<Result<_, _>>().expect("all records");
        assert_eq!(records.len(), 3);
        for (index, read) in records.iter().enumerate() {
            let (block, certificate) = record(index as u64 + 1);
            assert_eq!(read, &ArchiveRecord { block, certificate });
        }
        assert_eq!(reader.records_read(), 3);
        assert!(reader.next().is_none());
    }

    #[test]
    fn empty_archive_has_only_header_and_marker() {
        let bytes = archive(0);
        let mut reader = ArchiveReader::new(bytes.as_slice()).expect("header");
        assert!(reader.next().is_none());
    }

    #[test]
    fn bad_magic_and_version_are_named() {
        let mut bytes = archive(1);
        bytes[0] = b'X';
        assert!(matches!(ArchiveReader::new(bytes.as_slice()), Err(ArchiveError::BadMagic { .. })));
        let mut bytes = archive(1);
        bytes[8] = 2;
        assert!(matches!(
            ArchiveReader::new(bytes.as_slice()),
            Err(ArchiveError::UnsupportedVersion { found: 2, supported: 1 })
        ));
        assert!(matches!(ArchiveReader::new(&b"TALL"[..]), Err(ArchiveError::BadMagic { .. })));
    }

    #[test]
    fn every_cut_is_an_error_never_a_shorter_archive() {
        let bytes = archive(2);
        for cut in 0..bytes.len() {
            let outcome =
                ArchiveReader::new(&bytes[..cut]).and_then(|reader| reader.collect::<Result<Vec<_>, _>>());
            assert!(outcome.is_err(), "archive cut at {cut} of {} bytes read fine", bytes.len());
        }
    }

    #[test]
    fn truncation_names_the_record() {
        let bytes = archive(2);
        let mut reader = ArchiveReader::new(&bytes[..bytes.len() - 20]).expect("header");
        assert!(reader.next().expect("first").is_ok());
        match reader.next() {
            Some(Err(ArchiveError::Truncated { record: 2, .. })) => {}
            other => panic!("expected record 2 truncated, got {other:?}"),
        }
        assert!(reader.next().is_none(), "nothing after an error");
    }

    #[test]
    fn oversize_length_is_refused_before_allocating() {
        let mut bytes = archive(1);
        let header_len = 8 + 4 + 4 + chain().as_str().len() + 32;
        bytes[header_len..header_len + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut reader = ArchiveReader::new(bytes.as_slice()).expect("header");
        assert!(matches!(reader.next(), Some(Err(ArchiveError::Oversize { record: 1, .. }))));
    }

    #[test]
    fn undecodable_and_non_canonical_records_are_refused() {
        let (block, certificate) = record(1);
        let mut body = encode(&(&block, &certificate));
        // The certificate's signer bitmap length prefix: make the bitmap claim 200 bytes.
        let bitmap_at = encode(&block).len() + encode(&certificate.subject).len();
        body[bitmap_at..bitmap_at + 4].copy_from_slice(&200u32.to_le_bytes());
        let mut writer = ArchiveWriter::new(Vec::new(), &header()).expect("in memory");
        writer.append_encoded(&body).expect("length fits");
        let bytes = writer.finish().expect("in memory");
        let mut reader = ArchiveReader::new(bytes.as_slice()).expect("header");
        assert!(matches!(reader.next(), Some(Err(ArchiveError::Undecodable { record: 1, .. }))));
    }

    #[test]
    fn end_marker_count_and_trailing_bytes_are_checked() {
        let mut bytes = archive(1);
        let last = bytes.len() - 8;
        bytes[last] = 5;
        let reader = ArchiveReader::new(bytes.as_slice()).expect("header");
        let outcome: Result<Vec<_>, _> = reader.collect();
        assert!(matches!(outcome, Err(ArchiveError::CountMismatch { declared: 5, read: 1 })));
        let mut bytes = archive(1);
        bytes.push(0);
        let reader = ArchiveReader::new(bytes.as_slice()).expect("header");
        let outcome: Result<Vec<_>, _> = reader.collect();
        assert!(matches!(outcome, Err(ArchiveError::TrailingBytes { trailing: 1 })));
    }

    #[test]
    fn writer_refuses_after_finish_and_empty_records() {
        let mut writer = ArchiveWriter::new(Vec::new(), &header()).expect("in memory");
        assert!(matches!(
            writer.append_encoded(&[]),
            Err(ArchiveError::Oversize { record: 1, length: 0, .. })
        ));
        let (block, certificate) = record(1);
        writer.append(&block, &certificate).expect("fits");
        assert_eq!(writer.records(), 1);
        let _ = writer.finish().expect("in memory");
    }
}
