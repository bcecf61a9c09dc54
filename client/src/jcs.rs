//! RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value, so that a hash
//! over it names the value, whatever whitespace, member order or escapes the issuer wrote.
//!
//! The parser is our own rather than serde_json because JCS needs what a general parser hides:
//! duplicate member names must be refused (RFC 8785 §3.1 requires I-JSON, RFC 7493), lone
//! surrogates in `\u` escapes must be refused rather than replaced, and errors must say where
//! in the text they are. Canonical output (§3.2):
//! - no whitespace between tokens;
//! - object members sorted by their names' UTF-16 code units (§3.2.3), compared as unsigned
//!   integers, after escapes are decoded;
//! - strings escaped only where JSON requires it (§3.2.2.2): `"` and `\`, and control
//!   characters below U+0020, with the short forms `\b \t \n \f \r` and `\u00xx` (lower-case
//!   hex) for the rest; every other character is written as its UTF-8 bytes;
//! - numbers as IEEE 754 doubles written by ECMAScript's `Number.prototype.toString`
//!   (§3.2.2.3), so `1E30` becomes `1e+30` and `4.50` becomes `4.5`;
//! - `true`, `false`, `null` as they are.
//!
//! Everything that grows with the input is bounded: the input size ([`INPUT_BYTES_MAX`]) and
//! the nesting depth ([`DEPTH_MAX`]), which also bounds the recursion of the parser and writer.

use std::cmp::Ordering;
use std::fmt;

/// The largest JSON text accepted, in bytes. Badge assertions are a few KiB; an Open Badges 2.0
/// badge class may embed its image as a `data:` URI, which can take a few hundred KiB more.
pub const INPUT_BYTES_MAX: usize = 4 * 1024 * 1024;
/// The deepest nesting of arrays and objects accepted. Open Badges documents nest fewer than ten
/// levels; the bound keeps the recursive parser's stack use small and fixed.
pub const DEPTH_MAX: usize = 64;

/// Where in the input text something was found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Position {
    /// Byte offset from the start of the text, from 0.
    pub byte: usize,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Position {
    fn of(text: &str, byte: usize) -> Position {
        let before = &text.as_bytes()[..byte.min(text.len())];
        let line = 1 + before.iter().filter(|b| **b == b'\n').count();
        let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
        // Counting UTF-8 lead bytes counts characters without re-validating the text.
        let column = 1 + before[line_start..].iter().filter(|b| (**b & 0xC0) != 0x80).count();
        Position { byte, line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {} (byte {})", self.line, self.column, self.byte)
    }
}

/// Why a text could not be canonicalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JcsError {
    #[error("JSON text is {len} bytes, more than the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("JSON text is not valid UTF-8 at byte {byte}")]
    NotUtf8 { byte: usize },
    #[error("JSON text is empty")]
    Empty,
    #[error("JSON text starts with a byte order mark (U+FEFF); RFC 8259 §8.1 forbids adding one, remove it")]
    ByteOrderMark,
    #[error("at {at}: {problem}")]
    Syntax { at: Position, problem: String },
    #[error("at {at}: arrays and objects nest deeper than the limit of {max} levels")]
    TooDeep { at: Position, max: usize },
    #[error(
        "at {at}: duplicate member name {name:?} in one object (RFC 8785 requires I-JSON: names must be unique)"
    )]
    DuplicateName { at: Position, name: String },
    #[error(
        "at {at}: lone surrogate \\u{code_unit:04x} in a string (RFC 8785 requires I-JSON: no lone surrogates)"
    )]
    LoneSurrogate { at: Position, code_unit: u16 },
    #[error("at {at}: number {text} is outside the range of an IEEE 754 double")]
    NumberOutOfRange { at: Position, text: String },
    #[error("at {at}: text continues after the JSON value")]
    TrailingText { at: Position },
}

/// A parsed JSON value, as JCS sees it: numbers are doubles, object members are unique and
/// held in canonical order (sorted by their names' UTF-16 code units).
#[derive(Clone, PartialEq, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    /// Never NaN or infinite: JSON cannot express them and out-of-range numbers are refused.
    Number(f64),
    String(String),
    Array(Vec<Value>),
    /// Members in canonical order, names unique.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `name` of an object; `None` for a missing member or a non-object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(key, _)| key == name).map(|(_, value)| value),
            _ => None,
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The items of an array value.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// A short name of the value's JSON type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// The canonical UTF-8 bytes of this value (RFC 8785 §3.2).
    pub fn to_canonical(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_value(self, &mut out);
        out
    }
}

/// Parses `json_text` strictly (RFC 8259 grammar, I-JSON names and strings, the limits of this
/// module) into a [`Value`] with members in canonical order.
pub fn parse(json_text: &str) -> Result<Value, JcsError> {
    if json_text.len() > INPUT_BYTES_MAX {
        return Err(JcsError::TooLarge { len: json_text.len(), max: INPUT_BYTES_MAX });
    }
    if json_text.starts_with('\u{feff}') {
        return Err(JcsError::ByteOrderMark);
    }
    let mut parser = Parser { text: json_text, bytes: json_text.as_bytes(), at: 0 };
    parser.skip_whitespace();
    if parser.at == parser.bytes.len() {
        return Err(JcsError::Empty);
    }
    let value = parser.value(0)?;
    parser.skip_whitespace();
    if parser.at != parser.bytes.len() {
        return Err(JcsError::TrailingText { at: parser.position(parser.at) });
    }
    Ok(value)
}

/// The RFC 8785 canonical form of `json_text`, as UTF-8 bytes.
pub fn canonicalize(json_text: &str) -> Result<Vec<u8>, JcsError> {
    Ok(parse(json_text)?.to_canonical())
}

/// [`canonicalize`] for bytes that should be UTF-8 JSON text (a file as read from disk).
pub fn canonicalize_bytes(json_bytes: &[u8]) -> Result<Vec<u8>, JcsError> {
    canonicalize(utf8(json_bytes)?)
}

/// Checks the size before the UTF-8 scan, so an oversize input is refused without reading it.
pub(crate) fn utf8(json_bytes: &[u8]) -> Result<&str, JcsError> {
    if json_bytes.len() > INPUT_BYTES_MAX {
        return Err(JcsError::TooLarge { len: json_bytes.len(), max: INPUT_BYTES_MAX });
    }
    std::str::from_utf8(json_bytes).map_err(|error| JcsError::NotUtf8 { byte: error.valid_up_to() })
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn position(&self, byte: usize) -> Position {
        Position::of(self.text, byte)
    }

    fn syntax(&self, byte: usize, problem: impl Into<String>) -> JcsError {
        JcsError::Syntax { at: self.position(byte), problem: problem.into() }
    }

    /// Describes what is at `byte` for an error message: the character, or the end of the text.
    fn found(&self, byte: usize) -> String {
        match self.text.get(byte..).and_then(|rest| rest.chars().next()) {
            Some(c) => format!("found {c:?}"),
            None => "found the end of the text".to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// RFC 8259 §2: whitespace is space, tab, line feed and carriage return only.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JcsError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            _ => Err(self.syntax(self.at, format!("expected a JSON value, {}", self.found(self.at)))),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, JcsError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.syntax(self.at, format!("expected `{word}`")))
        }
    }

    fn enter(&self, depth: usize) -> Result<(), JcsError> {
        if depth > DEPTH_MAX {
            return Err(JcsError::TooDeep { at: self.position(self.at), max: DEPTH_MAX });
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<Value, JcsError> {
        self.enter(depth)?;
        self.at += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => {
                    return Err(self.syntax(
                        self.at,
                        format!("expected ',' or ']' in an array, {}", self.found(self.at)),
                    ));
                }
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JcsError> {
        self.enter(depth)?;
        self.at += 1; // '{'
        // Each member keeps the offset of its name, so a duplicate can be reported where it is.
        let mut members: Vec<(String, Value, usize)> = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(Vec::new()));
        }
        loop {
            self.skip_whitespace();
            let name_at = self.at;
            if self.peek() != Some(b'"') {
                return Err(self.syntax(
                    self.at,
                    format!("expected a member name in double quotes, {}", self.found(self.at)),
                ));
            }
            let name = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self
                    .syntax(self.at, format!("expected ':' after a member name, {}", self.found(self.at))));
            }
            self.at += 1;
            self.skip_whitespace();
            let value = self.value(depth)?;
            members.push((name, value, name_at));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    break;
                }
                _ => {
                    return Err(self.syntax(
                        self.at,
                        format!("expected ',' or '}}' in an object, {}", self.found(self.at)),
                    ));
                }
            }
        }
        // A stable sort keeps equal names in text order, so the second of a pair is the duplicate.
        members.sort_by(|a, b| compare_utf16(&a.0, &b.0));
        if let Some(pair) = members.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            let at = pair[0].2.max(pair[1].2);
            return Err(JcsError::DuplicateName { at: self.position(at), name: pair[1].0.clone() });
        }
        Ok(Value::Object(members.into_iter().map(|(name, value, _)| (name, value)).collect()))
    }

    /// A string token, with escapes decoded. The text is already valid UTF-8, so only the
    /// escapes can produce something that is not a Unicode scalar value: a lone surrogate.
    fn string(&mut self) -> Result<String, JcsError> {
        let open = self.at;
        self.at += 1; // '"'
        let mut out = String::new();
        loop {
            // Copy the run of plain characters up to the next quote, backslash or control byte.
            let run_start = self.at;
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The run ends at an ASCII byte or the end, so it is a whole number of characters.
            out.push_str(&self.text[run_start..self.at]);
            match self.peek() {
                None => return Err(self.syntax(open, "string is not closed")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(byte) => {
                    return Err(self.syntax(
                        self.at,
                        format!("control character U+{byte:04X} must be escaped in a string"),
                    ));
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), JcsError> {
        let escape_at = self.at;
        let Some(&kind) = self.bytes.get(self.at + 1) else {
            return Err(self.syntax(escape_at, "string is not closed"));
        };
        self.at += 2;
        let decoded = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape(escape_at)?,
            _ => {
                return Err(self
                    .syntax(escape_at, format!("invalid escape; after '\\' {}", self.found(escape_at + 1))));
            }
        };
        out.push(decoded);
        Ok(())
    }

    /// `\uXXXX`, or a surrogate pair `\uD8xx\uDCxx`; `self.at` is just past the first `\u`.
    fn unicode_escape(&mut self, escape_at: usize) -> Result<char, JcsError> {
        let first = self.hex4(escape_at)?;
        match first {
            0xD800..=0xDBFF => {
                let second_at = self.at;
                let has_second = self.bytes[self.at..].starts_with(b"\\u");
                if has_second {
                    self.at += 2;
                    let second = self.hex4(second_at)?;
                    if (0xDC00..=0xDFFF).contains(&second) {
                        let scalar =
                            0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00);
                        return Ok(
                            char::from_u32(scalar).expect("a surrogate pair decodes to a scalar value")
                        );
                    }
                }
                Err(JcsError::LoneSurrogate { at: self.position(escape_at), code_unit: first })
            }
            0xDC00..=0xDFFF => {
                Err(JcsError::LoneSurrogate { at: self.position(escape_at), code_unit: first })
            }
            _ => {
                Ok(char::from_u32(u32::from(first)).expect("a non-surrogate BMP code unit is a scalar value"))
            }
        }
    }

    fn hex4(&mut self, escape_at: usize) -> Result<u16, JcsError> {
        let digits = self.bytes.get(self.at..self.at + 4);
        let value = digits.and_then(|digits| {
            digits.iter().try_fold(0u16, |acc, byte| {
                let digit = (*byte as char).to_digit(16)?;
                Some(acc << 4 | digit as u16)
            })
        });
        match value {
            Some(value) => {
                self.at += 4;
                Ok(value)
            }
            None => Err(self.syntax(escape_at, "\\u must be followed by four hex digits")),
        }
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, then the nearest
    /// double (Rust's `f64::from_str` rounds correctly, as RFC 8785 §3.2.2.3 assumes).
    fn number(&mut self) -> Result<Value, JcsError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.at += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.syntax(start, "a number may not have leading zeros"));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.syntax(self.at, format!("expected a digit, {}", self.found(self.at)))),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax(
                    self.at,
                    format!("expected a digit after the decimal point, {}", self.found(self.at)),
                ));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self
                    .syntax(self.at, format!("expected a digit in the exponent, {}", self.found(self.at))));
            }
            self.digits();
        }
        let text = &self.text[start..self.at];
        let number: f64 =
            text.parse().map_err(|_| self.syntax(start, format!("number {text} does not parse")))?;
        if !number.is_finite() {
            return Err(JcsError::NumberOutOfRange { at: self.position(start), text: text.to_owned() });
        }
        Ok(Value::Number(number))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }
}

/// Orders names by their UTF-16 code units (RFC 8785 §3.2.3). This differs from UTF-8 byte
/// order only for characters above U+FFFF against U+E000..=U+FFFF: a surrogate (0xD800..) sorts
/// before them in UTF-16.
fn compare_utf16(left: &str, right: &str) -> Ordering {
    left.encode_utf16().cmp(right.encode_utf16())
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(*number, out),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            out.push(b'{');
            for (index, (name, item)) in members.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write_value(item, out);
            }
            out.push(b'}');
        }
    }
}

/// RFC 8785 §3.2.2.2: escape `"`, `\` and the C0 controls only; all else is literal UTF-8.
fn write_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &byte in text.as_bytes() {
        // Bytes of multi-byte characters are all >= 0x80, so per-byte escaping is per-character.
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0A => out.extend_from_slice(b"\\n"),
            0x0C => out.extend_from_slice(b"\\f"),
            0x0D => out.extend_from_slice(b"\\r"),
            0x00..=0x1F => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xF)]);
            }
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

/// Writes a finite double as ECMAScript's `Number.prototype.toString` does (ECMA-262
/// Number::toString, the algorithm RFC 8785 §3.2.2.3 adopts): ryu-js's shortest round-trip
/// digits in ECMAScript's layout (`-0` as `0`, exponents from 1e21 and below 1e-6, signed).
fn write_number(number: f64, out: &mut Vec<u8>) {
    debug_assert!(number.is_finite(), "the parser refuses numbers that are not finite");
    out.extend_from_slice(ryu_js::Buffer::new().format_finite(number).as_bytes());
}

/// The JCS form of a double (ECMAScript `Number.prototype.toString`); `None` for NaN and the
/// infinities, which JSON cannot express.
pub fn number_to_string(number: f64) -> Option<String> {
    if !number.is_finite() {
        return None;
    }
    let mut out = Vec::new();
    write_number(number, &mut out);
    Some(String::from_utf8(out).expect("number text is ASCII"))
}
