//! Chain archives (`tally-node export` writes them, `tally-node import` reads them): the
//! header, then every record until the end marker or the first error, decoded strictly as
//! import decodes them. Each record's bytes come from the input, so the reader's length checks
//! run on what the input claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_types::archive::ArchiveReader;

/// More records than any seed holds; the reader stops itself at the first error anyway.
const RECORDS_MAX: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = ArchiveReader::new(data) else { return };
    let _ = reader.header().chain_id.to_string();
    for _ in 0..RECORDS_MAX {
        match reader.next_record() {
            Ok(Some(record)) => {
                let _ = record.block.id();
            }
            Ok(None) => break,
            Err(error) => {
                assert!(!error.to_string().is_empty());
                assert!(matches!(reader.next_record(), Ok(None)), "a reader goes on after an error");
                break;
            }
        }
    }
});
