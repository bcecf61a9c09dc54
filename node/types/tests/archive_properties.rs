//! Property tests of the archive reader (a decoder of files that come from anywhere):
//!
//! - random bytes never panic the reader, and it stops (an error or the end) within a bound;
//! - an archive written by `ArchiveWriter` reads back exactly the bodies written;
//! - the same archive with bytes flipped, cut, or extended never panics the reader, and a
//!   changed archive is never read back as the original header and bodies (the reader frames;
//!   whether the header's chain and genesis are the right ones is the auditor's check).

use proptest::collection::vec;
use proptest::prelude::*;
use tally_types::archive::{ArchiveHeader, ArchiveReader, ArchiveWriter};
use tally_types::{ChainId, Hash};

fn header() -> ArchiveHeader {
    ArchiveHeader { chain_id: ChainId::new("tally-props").expect("valid"), genesis_hash: Hash([7; 32]) }
}

/// An archive holding `bodies` as records (not decodable blocks: the reader's framing is under
/// test, `next_encoded` hands bodies back without decoding them).
fn archive(bodies: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = ArchiveWriter::new(Vec::new(), &header()).expect("header");
    for body in bodies {
        writer.append_encoded(body).expect("append");
    }
    writer.finish().expect("finish")
}

/// Everything the reader yields: the header and the bodies up to the end marker, or `None`
/// on any error. Bounded: a record is at least one byte, so no more records than bytes.
fn read_all(bytes: &[u8]) -> Option<(ArchiveHeader, Vec<Vec<u8>>)> {
    let mut reader = ArchiveReader::new(bytes).ok()?;
    let header = reader.header().clone();
    let mut bodies = Vec::new();
    for _ in 0..=bytes.len() {
        match reader.next_encoded() {
            Ok(Some(body)) => bodies.push(body),
            Ok(None) => return Some((header, bodies)),
            Err(_) => return None,
        }
    }
    panic!("the reader went on past {} records in {} bytes", bytes.len() + 1, bytes.len());
}

fn bodies() -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(vec(any::<u8>(), 1..64), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let _ = read_all(&bytes);
        // Random bytes after a valid start too.
        let mut prefixed = archive(&[]);
        prefixed.truncate(prefixed.len() - 12);
        prefixed.extend_from_slice(&bytes);
        let _ = read_all(&prefixed);
    }

    #[test]
    fn written_bodies_read_back(bodies in bodies()) {
        prop_assert_eq!(read_all(&archive(&bodies)), Some((header(), bodies)));
    }

    #[test]
    fn mutated_archives_never_panic_nor_pass_as_the_original(
        bodies in bodies(),
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<bool>(),
        extra in vec(any::<u8>(), 1..8),
    ) {
        let original = archive(&bodies);
        let expected = Some((header(), bodies.clone()));
        let at = position.index(original.len());
        let mut flipped = original.clone();
        flipped[at] ^= flip;
        prop_assert_ne!(read_all(&flipped), expected.clone(), "a flipped byte at {} went unnoticed", at);
        let mut changed = original.clone();
        if cut {
            changed.truncate(at);
        } else {
            changed.extend_from_slice(&extra);
        }
        prop_assert_ne!(read_all(&changed), expected);
    }
}
