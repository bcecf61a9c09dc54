//! The canonical codec: borsh, decoded only through a bounded, strict [`decode`].
//!
//! Strictness means: the input may not exceed the type's [`Bounded::MAX_ENCODED_SIZE`]; every
//! collection carries its own length limit ([`BoundedVec`], [`BoundedBytes`],
//! [`BoundedString`]) and a longer one is refused before anything is allocated for it;
//! trailing bytes are refused; and the value must re-encode to exactly the input bytes, so
//! that every value has one encoding and hashes and signatures over encodings are unambiguous.

use std::fmt;
use std::io::{Read, Write};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is longer than any valid encoding of the type.
    #[error("{type_name}: input is {len} bytes, more than the limit of {max} bytes")]
    TooLong { type_name: &'static str, len: usize, max: usize },
    /// Borsh could not read a value (truncated input, bad tag, oversize collection, bad UTF-8,
    /// or a field that fails validation).
    #[error("{type_name}: {reason}")]
    Invalid { type_name: &'static str, reason: String },
    /// Bytes remain after one complete value.
    #[error("{type_name}: {trailing} trailing bytes after the value")]
    TrailingBytes { type_name: &'static str, trailing: usize },
    /// The value decodes but re-encodes to different bytes.
    #[error("{type_name}: encoding is not canonical")]
    NonCanonical { type_name: &'static str },
}

/// A type with a known upper bound on its encoded size.
pub trait Bounded {
    /// No valid encoding of the type is longer than this.
    const MAX_ENCODED_SIZE: usize;
}

/// Encodes a value canonically.
pub fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    // Writing into a Vec cannot fail; an error here would be a bug in a Serialize impl.
    borsh::to_vec(value).expect("borsh serialization into a Vec cannot fail")
}

/// Decodes untrusted bytes strictly: bounded size, no trailing bytes, canonical.
pub fn decode<T>(bytes: &[u8]) -> Result<T, DecodeError>
where
    T: BorshDeserialize + BorshSerialize + Bounded,
{
    let type_name = short_type_name::<T>();
    if bytes.len() > T::MAX_ENCODED_SIZE {
        return Err(DecodeError::TooLong { type_name, len: bytes.len(), max: T::MAX_ENCODED_SIZE });
    }
    let mut reader = bytes;
    let value = T::deserialize_reader(&mut reader)
        .map_err(|error| DecodeError::Invalid { type_name, reason: error.to_string() })?;
    if !reader.is_empty() {
        return Err(DecodeError::TrailingBytes { type_name, trailing: reader.len() });
    }
    if encode(&value) != bytes {
        return Err(DecodeError::NonCanonical { type_name });
    }
    Ok(value)
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    // `tally_types::tx::SignedTransaction` -> `SignedTransaction`; generics keep their path.
    match full.find('<') {
        Some(_) => full,
        None => full.rsplit("::").next().unwrap_or(full),
    }
}

fn invalid_data(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// Reads a borsh `u32` length prefix and checks it against `max` before anything is allocated.
fn read_len<R: Read>(reader: &mut R, max: usize, what: &str) -> std::io::Result<usize> {
    let len = u32::deserialize_reader(reader)? as usize;
    if len > max {
        return Err(invalid_data(format!("{what} length {len} exceeds the limit of {max}")));
    }
    Ok(len)
}

/// A vector of at most `N` elements; longer input is refused on decode.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct BoundedVec<T, const N: usize>(Vec<T>);

impl<T, const N: usize> BoundedVec<T, N> {
    /// Wraps `items`, or gives them back if there are more than `N`.
    pub fn new(items: Vec<T>) -> Result<Self, Vec<T>> {
        if items.len() > N { Err(items) } else { Ok(Self(items)) }
    }
    /// An empty vector.
    pub fn empty() -> Self {
        Self(Vec::new())
    }
    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
    /// The elements, by value.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Iterates over the elements.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T, const N: usize> std::ops::Deref for BoundedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a BoundedVec<T, N> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for BoundedVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: BorshSerialize, const N: usize> BorshSerialize for BoundedVec<T, N> {
    fn serialize<W: Write>(&self, writer: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&self.0, writer)
    }
}

impl<T: BorshDeserialize, const N: usize> BorshDeserialize for BoundedVec<T, N> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
        let len = read_len(reader, N, "list")?;
        // Allocation grows with what was actually read, never with the claimed length alone.
        let mut items = Vec::with_capacity(len.min(64));
        for _ in 0..len {
            items.push(T::deserialize_reader(reader)?);
        }
        Ok(Self(items))
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for BoundedVec<T, N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = <Vec<T> as Deserialize>::deserialize(deserializer)?;
        let len = items.len();
        Self::new(items).map_err(|_| {
            serde::de::Error::custom(format!("list has {len} items, more than the limit of {N}"))
        })
    }
}

/// At most `N` bytes; longer input is refused on decode. JSON form: hex.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BoundedBytes<const N: usize>(Vec<u8>);

impl<const N: usize> BoundedBytes<N> {
    /// Wraps `bytes`, or gives them back if there are more than `N`.
    pub fn new(bytes: Vec<u8>) -> Result<Self, Vec<u8>> {
        if bytes.len() > N { Err(bytes) } else { Ok(Self(bytes)) }
    }
    /// No bytes.
    pub fn empty() -> Self {
        Self(Vec::new())
    }
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<const N: usize> fmt::Debug for BoundedBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(&self.0))
    }
}

impl<const N: usize> BorshSerialize for BoundedBytes<N> {
    fn serialize<W: Write>(&self, writer: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&self.0, writer)
    }
}

impl<const N: usize> BorshDeserialize for BoundedBytes<N> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
        let len = read_len(reader, N, "byte string")?;
        let mut bytes = vec![0u8; len];
        reader.read_exact(&mut bytes)?;
        Ok(Self(bytes))
    }
}

impl<const N: usize> Serialize for BoundedBytes<N> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de, const N: usize> Deserialize<'de> for BoundedBytes<N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        let bytes =
            hex::decode(&text).map_err(|error| serde::de::Error::custom(format!("not hex: {error}")))?;
        let len = bytes.len();
        Self::new(bytes)
            .map_err(|_| serde::de::Error::custom(format!("{len} bytes, more than the limit of {N}")))
    }
}

/// A UTF-8 string of at most `N` bytes; longer input is refused on decode.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct BoundedString<const N: usize>(String);

impl<const N: usize> BoundedString<N> {
    /// Wraps `text`, or gives it back if it is longer than `N` bytes.
    pub fn new(text: impl Into<String>) -> Result<Self, String> {
        let text = text.into();
        if text.len() > N { Err(text) } else { Ok(Self(text)) }
    }
    /// The empty string.
    pub fn empty() -> Self {
        Self(String::new())
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<const N: usize> fmt::Debug for BoundedString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<const N: usize> fmt::Display for BoundedString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const N: usize> BorshSerialize for BoundedString<N> {
    fn serialize<W: Write>(&self, writer: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&self.0, writer)
    }
}

impl<const N: usize> BorshDeserialize for BoundedString<N> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> std::io::Result<Self> {
        let len = read_len(reader, N, "string")?;
        let mut bytes = vec![0u8; len];
        reader.read_exact(&mut bytes)?;
        String::from_utf8(bytes).map(Self).map_err(|_| invalid_data("string is not valid UTF-8".to_owned()))
    }
}

impl<'de, const N: usize> Deserialize<'de> for BoundedString<N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        let len = text.len();
        Self::new(text)
            .map_err(|_| serde::de::Error::custom(format!("{len} bytes, more than the limit of {N}")))
    }
}

/// Implements [`Bounded`] for fixed-size types.
macro_rules! bounded_fixed {
    ($($ty:ty => $size:expr),* $(,)?) => {
        $(impl Bounded for $ty { const MAX_ENCODED_SIZE: usize = $size; })*
    };
}
bounded_fixed!(u8 => 1, u16 => 2, u32 => 4, u64 => 8, u128 => 16, [u8; 32] => 32);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(BorshSerialize, BorshDeserialize, Debug, PartialEq)]
    struct Sample {
        items: BoundedVec<u16, 3>,
        text: BoundedString<5>,
        flag: bool,
    }

    impl Bounded for Sample {
        const MAX_ENCODED_SIZE: usize = 4 + 3 * 2 + 4 + 5 + 1;
    }

    #[derive(BorshSerialize, BorshDeserialize, Debug, PartialEq)]
    struct Wrapped<T>(T);

    impl Bounded for Wrapped<u16> {
        const MAX_ENCODED_SIZE: usize = 2;
    }

    fn sample() -> Sample {
        Sample {
            items: BoundedVec::new(vec![1, 2]).expect("within limit"),
            text: BoundedString::new("abc").expect("within limit"),
            flag: true,
        }
    }

    #[test]
    fn round_trip() {
        let bytes = encode(&sample());
        assert_eq!(decode::<Sample>(&bytes), Ok(sample()));
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = encode(&sample());
        bytes.push(0);
        assert!(matches!(decode::<Sample>(&bytes), Err(DecodeError::TrailingBytes { trailing: 1, .. })));
    }

    #[test]
    fn errors_name_the_type_without_its_path_unless_generic() {
        let mut bytes = encode(&sample());
        bytes.push(0);
        let error = decode::<Sample>(&bytes).expect_err("a trailing byte");
        assert!(matches!(error, DecodeError::TrailingBytes { type_name: "Sample", .. }), "{error:?}");
        // A generic type keeps its whole name, so its parameters stay readable.
        let error = decode::<Wrapped<u16>>(&[1, 0, 0]).expect_err("longer than its bound");
        assert!(
            matches!(
                error,
                DecodeError::TooLong { type_name: "tally_types::codec::tests::Wrapped<u16>", .. }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn bounded_bytes_and_strings_say_whether_they_are_empty_and_show_themselves() {
        let bytes: BoundedBytes<4> = BoundedBytes::new(vec![0xab, 0x01]).expect("within limit");
        assert!(!bytes.is_empty());
        assert!(BoundedBytes::<4>::empty().is_empty());
        assert_eq!(format!("{bytes:?}"), "0xab01");
        let text: BoundedString<5> = BoundedString::new("abc").expect("within limit");
        assert!(!text.is_empty());
        assert!(BoundedString::<5>::empty().is_empty());
        assert_eq!(format!("{text:?}"), "\"abc\"");
        assert_eq!(text.to_string(), "abc");
    }

    #[test]
    fn a_bounded_vec_iterates_by_reference_and_debugs_as_its_items() {
        let items: BoundedVec<u16, 3> = BoundedVec::new(vec![4, 5]).expect("within limit");
        let mut seen = Vec::new();
        for item in &items {
            seen.push(*item);
        }
        assert_eq!(seen, vec![4, 5]);
        assert_eq!(format!("{items:?}"), "[4, 5]");
    }

    #[test]
    fn rejects_oversize_collection_before_reading_it() {
        let mut bytes = encode(&sample());
        bytes[0..4].copy_from_slice(&4u32.to_le_bytes());
        let error = decode::<Sample>(&bytes).expect_err("4 items exceed the limit of 3");
        assert!(error.to_string().contains("exceeds the limit of 3"), "{error}");
    }

    #[test]
    fn rejects_input_longer_than_type_bound() {
        let bytes = vec![0u8; Sample::MAX_ENCODED_SIZE + 1];
        assert!(matches!(decode::<Sample>(&bytes), Err(DecodeError::TooLong { .. })));
    }

    #[test]
    fn rejects_non_boolean_byte() {
        let mut bytes = encode(&sample());
        let last = bytes.len() - 1;
        bytes[last] = 2;
        assert!(matches!(decode::<Sample>(&bytes), Err(DecodeError::Invalid { .. })));
    }

    #[test]
    fn rejects_truncated_input() {
        let bytes = encode(&sample());
        for cut in 0..bytes.len() {
            assert!(decode::<Sample>(&bytes[..cut]).is_err(), "prefix of {cut} bytes decoded");
        }
    }

    #[test]
    fn rejects_invalid_utf8() {
        let mut bytes = encode(&sample());
        // items: 4 + 2*2 bytes, then the string's length (4) and its first byte.
        bytes[12] = 0xff;
        assert!(matches!(decode::<Sample>(&bytes), Err(DecodeError::Invalid { .. })));
    }
}
