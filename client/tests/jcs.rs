//! RFC 8785 (JCS): the RFC's published examples, ECMAScript number formatting, string
//! escaping, member ordering, and every refusal with its position.
//!
//! The expected values were checked during development against an independent implementation
//! (node's `JSON.stringify` with keys sorted by `Array.prototype.sort`, which compares UTF-16
//! code units, as JCS is defined to match), including 2 million random doubles.

use tally_client::jcs::{self, DEPTH_MAX, INPUT_BYTES_MAX, JcsError, Position, Value};

fn canonical(text: &str) -> String {
    let bytes =
        jcs::canonicalize(text).unwrap_or_else(|error| panic!("{text:?} should canonicalize: {error}"));
    String::from_utf8(bytes).expect("canonical output is UTF-8")
}

fn hex_bytes(spaced_hex: &str) -> Vec<u8> {
    hex::decode(spaced_hex.split_whitespace().collect::<String>()).expect("test hex is valid")
}

/// RFC 8785 §3.2.2: the example input, its canonical form (§3.2.2), and its UTF-8 bytes (§3.2.4).
#[test]
fn rfc8785_section_3_2_2_example() {
    let input = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
    let expected = r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
    assert_eq!(canonical(input), expected);
    let expected_bytes = hex_bytes(
        "7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
         75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
         5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
         65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
         5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
         30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d",
    );
    assert_eq!(jcs::canonicalize(input).expect("valid"), expected_bytes);
}

/// RFC 8785 §3.2.3: names sort by UTF-16 code units, so the emoji (a surrogate pair starting
/// 0xD83D) sorts before U+FB33, although its UTF-8 and code point order is after.
#[test]
fn rfc8785_section_3_2_3_sorting_example() {
    let input = r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"#;
    // Escapes, not literals, so that no editor's Unicode normalization can change the text
    // (U+FB33 decomposes under NFC).
    let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
                    \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
                    \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(canonical(input), expected);
    let value = jcs::parse(input).expect("valid");
    let Value::Object(members) = value else { panic!("an object") };
    let names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["\r", "1", "\u{80}", "\u{f6}", "\u{20ac}", "\u{1f600}", "\u{fb33}"]);
}

/// RFC 8785 Appendix B: IEEE 754 bit patterns and their JSON form. Each row is also checked in
/// reverse (the text reads back as exactly those bits), so a mistyped row cannot pass. All rows
/// were confirmed against node's `String(x)`; the NaN and Infinity rows of the appendix are
/// covered by `non_finite_numbers_have_no_json_form`.
#[test]
fn rfc8785_appendix_b_numbers() {
    let table: [(u64, &str); 24] = [
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),      // minus zero
        (0x0000000000000001, "5e-324"), // min positive
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"), // max positive
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"), // 2^53, max exact integer
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"), // ~2^68
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        (0x43143ff3c1cb0959, "1424953923781206.2"), // a tie, settled to the even digit
    ];
    for (bits, expected) in table {
        let number = f64::from_bits(bits);
        assert_eq!(jcs::number_to_string(number).as_deref(), Some(expected), "bits {bits:016x}");
        let back: f64 = expected.parse().expect("table text is a number");
        assert_eq!(back.to_bits() & !(1 << 63), bits & !(1 << 63), "row {bits:016x} reads back");
        // The same number inside a JSON document.
        assert_eq!(canonical(&format!("[{}]", format_rust(number))), format!("[{expected}]"));
    }
}

/// Rust's own shortest form, which the parser must read to the same double.
fn format_rust(number: f64) -> String {
    format!("{number:e}")
}

#[test]
fn non_finite_numbers_have_no_json_form() {
    assert_eq!(jcs::number_to_string(f64::NAN), None); // 0x7fffffffffffffff
    assert_eq!(jcs::number_to_string(f64::INFINITY), None); // 0x7ff0000000000000
    assert_eq!(jcs::number_to_string(f64::NEG_INFINITY), None);
    for text in ["[1e400]", "[-1e400]", "[1.8e308]"] {
        assert!(
            matches!(jcs::canonicalize(text), Err(JcsError::NumberOutOfRange { .. })),
            "{text} is beyond the largest double"
        );
    }
    for text in ["[NaN]", "[Infinity]", "[-Infinity]"] {
        assert!(matches!(jcs::canonicalize(text), Err(JcsError::Syntax { .. })), "{text} is not JSON");
    }
    // Underflow rounds to zero, as any IEEE 754 parser does.
    assert_eq!(canonical("[1e-400, -1e-400]"), "[0,0]");
}

/// The layout rules of ECMA-262 Number::toString at each boundary (confirmed with node).
#[test]
fn ecmascript_layout_boundaries() {
    let cases: [(f64, &str); 21] = [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123e18, "123000000000000000000"),
        (1e-6, "0.000001"),
        (1.5e-6, "0.0000015"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (123e-20, "1.23e-18"),
        (100.0, "100"),
        (0.1, "0.1"),
        (1.5, "1.5"),
        (-1.5, "-1.5"),
        (4.5, "4.5"),
        (0.002, "0.002"),
        (1e-27, "1e-27"),
        (1e30, "1e+30"),
        (1e300, "1e+300"),
        (9007199254740994.0, "9007199254740994"),
        (12345678901234567890.0, "12345678901234567000"),
        (0.1 + 0.2, "0.30000000000000004"),
        (-0.0, "0"),
    ];
    for (number, expected) in cases {
        assert_eq!(jcs::number_to_string(number).as_deref(), Some(expected), "{number:e}");
    }
}

/// Doubles exactly halfway between two shortest candidates: ECMA-262 takes the even digit,
/// where Rust's `{:e}` rounds up. Found by the node cross-check; expected values are node's.
#[test]
fn ties_take_the_even_digit() {
    let cases: [(u64, &str); 5] = [
        (0x42ea8090bb0f6d84, "233115890514796.12"),
        (0xc30c9bbde3da0f6a, "-1006567402717677.2"),
        (0xc2d2403c35e85ec8, "-80268389491067.12"),
        (0x4311184eabbe07d1, "1202950192988660.2"),
        (0x43143ff3c1cb0959, "1424953923781206.2"),
    ];
    for (bits, expected) in cases {
        let number = f64::from_bits(bits);
        assert_eq!(jcs::number_to_string(number).as_deref(), Some(expected), "{bits:016x}");
        assert_eq!(expected.parse::<f64>().map(f64::to_bits), Ok(bits));
    }
}

/// A small xorshift generator: deterministic, so a failure reproduces.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The significant digits of a number in JCS form, and its decimal exponent (value =
/// 0.digits × 10^n).
fn digits_and_exponent(text: &str) -> (String, i32) {
    let text = text.trim_start_matches('-');
    let (mantissa, exponent) = match text.split_once('e') {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().expect("exponent")),
        None => (text, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{integer}{fraction}");
    let leading_zeros = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0').to_owned();
    let n = integer.len() as i32 - leading_zeros as i32 + exponent;
    (digits, n)
}

/// For random doubles: the text reads back as the same double, and no decimal with one digit
/// fewer does (either neighbour at that length), so the output is the shortest.
#[test]
fn random_doubles_are_shortest_and_round_trip() {
    let mut random = Xorshift(0x2545_F491_4F6C_DD1D);
    for round in 0..20_000 {
        // Half raw bit patterns (mostly exponent form), half decimals of everyday size.
        let number = if round % 2 == 0 {
            f64::from_bits(random.next())
        } else {
            (random.next() % (1 << 53)) as f64 / 10f64.powi((random.next() % 25) as i32)
        };
        let Some(text) = jcs::number_to_string(number) else { continue };
        assert_eq!(text.parse::<f64>().map(f64::to_bits), Ok(number.to_bits()), "{text}");
        let (digits, n) = digits_and_exponent(&text);
        let k = digits.len() as i32;
        if k == 1 {
            continue;
        }
        let shorter: u64 = digits[..digits.len() - 1].parse().expect("digits");
        for candidate in [shorter, shorter + 1] {
            let candidate_text = format!("{candidate}e{}", n - (k - 1));
            let back: f64 = candidate_text.parse().expect("candidate parses");
            assert_ne!(
                back.abs().to_bits(),
                number.abs().to_bits(),
                "{candidate_text} is shorter than {text}"
            );
        }
    }
}

#[test]
fn strings_escape_only_what_rfc8785_requires() {
    let short_forms = [(0x08, "\\b"), (0x09, "\\t"), (0x0A, "\\n"), (0x0C, "\\f"), (0x0D, "\\r")];
    for code in 0u32..0x20 {
        let input = format!("[\"\\u{code:04X}\"]");
        let expected = match short_forms.iter().find(|(short, _)| *short == code) {
            Some((_, form)) => format!("[\"{form}\"]"),
            None => format!("[\"\\u{code:04x}\"]"),
        };
        assert_eq!(canonical(&input), expected, "U+{code:04X}");
    }
    // Quote and backslash are escaped; the solidus, DEL, non-ASCII and U+2028 are literal.
    assert_eq!(canonical(r#"["\"\\\/"]"#), r#"["\"\\/"]"#);
    assert_eq!(canonical("[\"\\u007f\\u00e9\\u2028\"]"), "[\"\u{7f}é\u{2028}\"]");
    assert_eq!(canonical("[\"\u{7f}é\u{2028}\"]"), "[\"\u{7f}é\u{2028}\"]");
    // A surrogate pair escape becomes the 4-byte UTF-8 character, in either hex case.
    assert_eq!(canonical(r#"["\uD83D\uDE00", "\ud83d\ude00"]"#), "[\"😀\",\"😀\"]");
    assert_eq!(jcs::canonicalize(r#""\uD83D\uDE00""#).expect("valid"), [b'"', 0xF0, 0x9F, 0x98, 0x80, b'"']);
    // Non-characters are kept: RFC 8785 and its reference implementations accept them.
    assert_eq!(canonical("[\"\\uffff\"]"), "[\"\u{ffff}\"]");
}

#[test]
fn whitespace_order_and_escapes_do_not_change_the_canonical_form() {
    let compact = r#"{"b":[1,{"y":2,"x":1}],"a":"é","c":{}}"#;
    let spaced = "\r\n {\t\"c\" : { } ,\n  \"\\u0061\" : \"\\u00e9\",\n  \"b\" : [ 1.0 , { \"x\" : 1e0 , \"y\" : 20e-1 } ] }\n";
    assert_eq!(canonical(compact), r#"{"a":"é","b":[1,{"x":1,"y":2}],"c":{}}"#);
    assert_eq!(canonical(spaced), canonical(compact));
    // The canonical form is a fixed point.
    let once = canonical(spaced);
    assert_eq!(canonical(&once), once);
    // Scalars and empty containers at the top level.
    assert_eq!(canonical(" true "), "true");
    assert_eq!(canonical("null"), "null");
    assert_eq!(canonical("\"x\""), "\"x\"");
    assert_eq!(canonical("-0"), "0");
    assert_eq!(canonical("[ ]"), "[]");
    assert_eq!(canonical("{ }"), "{}");
}

fn error_of(text: &str) -> JcsError {
    match jcs::canonicalize(text) {
        Ok(bytes) => panic!("{text:?} should be refused, got {:?}", String::from_utf8_lossy(&bytes)),
        Err(error) => error,
    }
}

#[test]
fn duplicate_names_are_refused_where_the_second_one_is() {
    let text = "{\n  \"a\": 1,\n  \"b\": 2,\n  \"a\": 3\n}";
    let error = error_of(text);
    assert_eq!(
        error,
        JcsError::DuplicateName { at: Position { byte: 24, line: 4, column: 3 }, name: "a".into() }
    );
    assert!(error.to_string().contains("line 4, column 3"), "{error}");
    // Duplicates are found after escapes are decoded, and in nested objects.
    assert!(matches!(error_of(r#"{"a":1,"\u0061":2}"#), JcsError::DuplicateName { name, .. } if name == "a"));
    assert!(
        matches!(error_of(r#"[{"x":{"k":1,"k":1}}]"#), JcsError::DuplicateName { name, .. } if name == "k")
    );
    // The same name in sibling objects is fine.
    assert_eq!(canonical(r#"[{"k":1},{"k":2}]"#), r#"[{"k":1},{"k":2}]"#);
}

#[test]
fn lone_surrogates_are_refused() {
    for (text, unit, byte) in [
        (r#"["\ud800"]"#, 0xD800, 2),
        (r#"["ab\udc00"]"#, 0xDC00, 4),
        (r#"["\ud83dx"]"#, 0xD83D, 2),
        (r#"["\ud83d\u0041"]"#, 0xD83D, 2),
        (r#"["\ud83d\ud83d"]"#, 0xD83D, 2),
        (r#"{"\udfff":1}"#, 0xDFFF, 2),
    ] {
        match error_of(text) {
            JcsError::LoneSurrogate { at, code_unit } => {
                assert_eq!((code_unit, at.byte), (unit, byte), "{text}");
            }
            other => panic!("{text}: expected a lone surrogate, got {other}"),
        }
    }
    let message = error_of(r#"["\ud800"]"#).to_string();
    assert!(message.contains("lone surrogate \\ud800"), "{message}");
}

#[test]
fn nesting_is_bounded() {
    let deepest = format!("{}{}", "[".repeat(DEPTH_MAX), "]".repeat(DEPTH_MAX));
    assert_eq!(canonical(&deepest), deepest);
    let too_deep = format!("{}{}", "[".repeat(DEPTH_MAX + 1), "]".repeat(DEPTH_MAX + 1));
    assert!(matches!(error_of(&too_deep), JcsError::TooDeep { max: DEPTH_MAX, at } if at.byte == DEPTH_MAX));
    let objects = format!("{}1{}", "{\"a\":".repeat(DEPTH_MAX + 1), "}".repeat(DEPTH_MAX + 1));
    assert!(matches!(error_of(&objects), JcsError::TooDeep { .. }));
    // Far deeper input is refused the same way, without exhausting the stack.
    let very_deep = "[".repeat(1_000_000);
    assert!(matches!(error_of(&very_deep), JcsError::TooDeep { .. }));
}

#[test]
fn size_is_bounded() {
    let padding = " ".repeat(INPUT_BYTES_MAX - 2);
    assert_eq!(canonical(&format!("{padding}[]")), "[]");
    let too_large = format!("{padding} []");
    assert_eq!(error_of(&too_large), JcsError::TooLarge { len: INPUT_BYTES_MAX + 1, max: INPUT_BYTES_MAX });
    assert_eq!(
        jcs::canonicalize_bytes(too_large.as_bytes()),
        Err(JcsError::TooLarge { len: INPUT_BYTES_MAX + 1, max: INPUT_BYTES_MAX })
    );
}

#[test]
fn malformed_text_is_refused_with_its_position() {
    let cases: [(&str, usize, &str); 19] = [
        ("[1,]", 3, "expected a JSON value"),
        ("{\"a\":1,}", 7, "expected a member name"),
        ("{a:1}", 1, "expected a member name"),
        ("{\"a\" 1}", 5, "expected ':'"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"),
        ("[01]", 1, "leading zeros"),
        ("[-]", 2, "expected a digit"),
        ("[1.]", 3, "after the decimal point"),
        ("[1e]", 3, "in the exponent"),
        ("[+1]", 1, "expected a JSON value"),
        ("[.5]", 1, "expected a JSON value"),
        ("[tru]", 1, "expected `true`"),
        ("[nul]", 1, "expected `null`"),
        ("[\"abc", 1, "string is not closed"),
        ("[\"a\tb\"]", 3, "control character U+0009"),
        ("[\"\\x\"]", 2, "invalid escape"),
        ("[\"\\u12G4\"]", 2, "four hex digits"),
        ("[\"\\u12\"]", 2, "four hex digits"),
    ];
    for (text, byte, problem_part) in cases {
        match error_of(text) {
            JcsError::Syntax { at, problem } => {
                assert_eq!(at.byte, byte, "{text}: {problem}");
                assert!(problem.contains(problem_part), "{text}: {problem}");
            }
            other => panic!("{text}: expected a syntax error, got {other}"),
        }
    }
    assert_eq!(error_of("[1] [2]"), JcsError::TrailingText { at: Position { byte: 4, line: 1, column: 5 } });
    assert_eq!(error_of(""), JcsError::Empty);
    assert_eq!(error_of(" \n\t"), JcsError::Empty);
    assert_eq!(error_of("\u{feff}{}"), JcsError::ByteOrderMark);
    // Whitespace is JSON's four characters only.
    assert!(matches!(error_of("[1,\u{a0}2]"), JcsError::Syntax { .. }));
    assert!(matches!(error_of("\u{c}[]"), JcsError::Syntax { .. }));
}

#[test]
fn positions_count_lines_and_characters() {
    // Column counts characters: "é" is two bytes but one column.
    match error_of("{\n  \"é\": x\n}") {
        JcsError::Syntax { at, .. } => assert_eq!(at, Position { byte: 10, line: 2, column: 8 }),
        other => panic!("expected a syntax error, got {other}"),
    }
}

#[test]
fn invalid_utf8_is_refused_with_its_offset() {
    assert_eq!(jcs::canonicalize_bytes(b"[\"ab\xff\"]"), Err(JcsError::NotUtf8 { byte: 4 }));
    assert_eq!(jcs::canonicalize_bytes(b"[1]").expect("valid"), b"[1]");
}

#[test]
fn parsed_values_are_inspectable() {
    let value = jcs::parse(r#"{"@context":["a","b"],"n":2,"t":true}"#).expect("valid");
    assert_eq!(value.get("@context").and_then(Value::as_array).map(<[Value]>::len), Some(2));
    assert_eq!(value.get("n"), Some(&Value::Number(2.0)));
    assert_eq!(value.get("missing"), None);
    assert_eq!(value.get("t").map(Value::type_name), Some("boolean"));
    assert_eq!(Value::Null.get("x"), None);
}
