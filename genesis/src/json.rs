//! A JSON tree that keeps every object member in order, duplicates included.
//!
//! `serde_json::Value` silently keeps the last of two members with the same key, and a typed
//! `Deserialize` stops at the first problem. Neither suits a consensus-critical document
//! checked by people: two tools could read a duplicated key differently, and an operator wants
//! every mistake listed in one run. So the text is read into this tree (syntax errors stop
//! here, with line and column), and `validate` walks it, reporting everything it finds.
//!
//! Depth is bounded by serde_json's recursion limit (128), size by the caller's file limit.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Node>),
    /// Members in document order; a key may repeat.
    Object(Vec<(String, Node)>),
}

impl Node {
    /// What kind of value this is, for messages ("expected a string, got an array").
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Number(_) => "a number",
            Node::String(_) => "a string",
            Node::Array(_) => "an array",
            Node::Object(_) => "an object",
        }
    }
}

/// Parses `text` into a tree. The error carries serde_json's line and column.
pub(crate) fn parse(text: &str) -> Result<Node, serde_json::Error> {
    serde_json::from_str(text)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Node, E> {
        Ok(Node::Bool(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Node, E> {
        Ok(Node::Number(value.into()))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Node, E> {
        // JSON text cannot spell NaN or infinity, and serde_json refuses numbers it cannot
        // represent as a finite f64, so `from_f64` always succeeds here; keep a null otherwise
        // rather than trusting that, and let the walker report a type error.
        Ok(serde_json::Number::from_f64(value).map(Node::Number).unwrap_or(Node::Null))
    }

    fn visit_str<E>(self, value: &str) -> Result<Node, E> {
        Ok(Node::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Node, E> {
        Ok(Node::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            members.push((key, value));
        }
        Ok(Node::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duplicate_keys_in_order() {
        let node = parse(r#"{"a": 1, "b": [true, null, "x"], "a": 2}"#).expect("valid JSON");
        let Node::Object(members) = node else { panic!("expected an object") };
        let keys: Vec<&str> = members.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "a"]);
        assert_eq!(members[2].1, Node::Number(2u64.into()));
        assert_eq!(members[1].1, Node::Array(vec![Node::Bool(true), Node::Null, Node::String("x".into())]));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let error = parse("{\n  \"a\": 1,\n  \"b\" 2\n}").expect_err("missing colon");
        assert_eq!((error.line(), error.column()), (3, 7));
    }

    #[test]
    fn refuses_trailing_text_and_deep_nesting() {
        assert!(parse(r#"{"a": 1} x"#).is_err());
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        assert!(parse(&deep).is_err());
    }
}
