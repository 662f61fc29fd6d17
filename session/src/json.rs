//! JSON written the way JavaScript's `JSON.stringify` writes it, so that a cookie payload is
//! byte-identical to the one a Remix app makes from the same session.
//!
//! Two things differ from serde_json's defaults: object keys that look like array indices come
//! first, in ascending numeric order (JavaScript's property order), and numbers use ECMAScript's
//! `Number::toString` (`1` not `1.0`, `1e+21` not `1e21`). String escaping already matches.

use std::cell::RefCell;
use std::io;
use std::sync::Arc;

use serde::Serialize;
use serde_json::ser::Formatter;

/// Serializes `value` as JavaScript's `JSON.stringify` would, returning the text and how
/// deeply it nests. serde_json writes keys in the order the value gives them; only when an
/// object has an integer-like key (which JavaScript puts first) is the text rewritten, with
/// those keys moved to the front and everything else as it was.
///
/// The text is written into a buffer this thread reuses, so the one allocation is the shared
/// text itself.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<(Arc<str>, usize)> {
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    // Taken, not borrowed: a `Serialize` impl that encodes a value itself gets its own buffer.
    let mut out = SCRATCH.with(|scratch| std::mem::take(&mut *scratch.borrow_mut()));
    out.clear();
    let encoded = encode_into(&mut out, value);
    if out.capacity() <= SCRATCH_KEPT {
        SCRATCH.with(|scratch| *scratch.borrow_mut() = out);
    }
    encoded
}

/// The most bytes of scratch a thread keeps between two encodes.
const SCRATCH_KEPT: usize = 4096;

fn encode_into<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> serde_json::Result<(Arc<str>, usize)> {
    write(out, value)?;
    let shape = shape(out);
    let text = std::str::from_utf8(out).map_err(serde::ser::Error::custom)?;
    // Deeper values are refused by `set` anyway; the rewrite recurses, so it never sees one.
    if shape.index_keys && shape.depth <= MAX_READ_DEPTH {
        let mut reordered = Vec::with_capacity(text.len());
        write_in_js_order(&mut reordered, text, false)?;
        let text = std::str::from_utf8(&reordered).map_err(serde::ser::Error::custom)?;
        return Ok((text.into(), shape.depth));
    }
    Ok((text.into(), shape.depth))
}

/// JSON text as `JSON.stringify` would write the value it holds: no whitespace, integer-like
/// keys first, ECMAScript numbers, strings escaped as serde_json (and JavaScript) escape them.
/// For text from outside the crate; text this crate or JavaScript wrote is that already.
pub(crate) fn canonical(text: &str) -> serde_json::Result<String> {
    if nests_too_deeply(text.as_bytes()) {
        return Err(serde::de::Error::custom("JSON nests too deeply"));
    }
    let mut out = Vec::with_capacity(text.len());
    write_canonical(&mut out, text.trim())?;
    String::from_utf8(out).map_err(serde::de::Error::custom)
}

fn write_canonical(out: &mut Vec<u8>, text: &str) -> serde_json::Result<()> {
    match text.as_bytes().first() {
        Some(b'{' | b'[') => write_in_js_order(out, text, true),
        Some(b'"') => {
            match serde_json::from_str::<String>(text) {
                Ok(string) => write_str(out, &string),
                // A lone surrogate, which no Rust string holds: kept as written.
                Err(_) => out.extend_from_slice(text.as_bytes()),
            }
            Ok(())
        }
        Some(b'-' | b'0'..=b'9') => {
            let integer = text.strip_prefix('-').unwrap_or(text);
            if integer.bytes().all(|b| b.is_ascii_digit())
                && (integer == "0" || !integer.starts_with('0'))
            {
                out.extend_from_slice(if text == "-0" { b"0" } else { text.as_bytes() });
            } else {
                let number: f64 = serde_json::from_str(text)?;
                out.extend_from_slice(js_number(number).as_bytes());
            }
            Ok(())
        }
        _ => {
            out.extend_from_slice(text.as_bytes());
            Ok(())
        }
    }
}

/// Copies the JSON `text` with every object's integer-like keys moved first (ascending), the
/// other keys in their order; scalars as they were, or (`canonical`) as
/// [`write_canonical`] writes them.
fn write_in_js_order(out: &mut Vec<u8>, text: &str, canonical: bool) -> serde_json::Result<()> {
    use serde_json::value::RawValue;
    match text.as_bytes().first() {
        Some(b'{') => {
            let crate::data::Borrowed(map) = serde_json::from_str(text)?;
            let mut fields = Vec::with_capacity(map.len());
            for (key, value) in map.iter() {
                let mut inner = Vec::with_capacity(value.as_str().len());
                write_in_js_order(&mut inner, value.as_str(), canonical)?;
                fields.push((key, inner));
            }
            fields.sort_by_key(|&(key, _)| js_rank(key));
            write_members(
                out,
                fields.iter().map(|(key, inner)| (*key, inner.as_slice())),
            );
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)?;
            out.push(b'[');
            for (n, item) in items.into_iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_in_js_order(out, item.get(), canonical)?;
            }
            out.push(b']');
        }
        _ if canonical => write_canonical(out, text)?,
        _ => out.extend_from_slice(text.as_bytes()),
    }
    Ok(())
}

/// The deepest nesting the crate reads: serde_json's own parser limit, which a payload or a
/// record nesting deeper would have hit before values were kept as text. Deeper input is
/// refused as malformed, so `get` can always decode what was loaded.
pub(crate) const MAX_READ_DEPTH: usize = 128;

/// Whether valid JSON `text` nests deeper than [`MAX_READ_DEPTH`]; text too short to do so
/// is not scanned.
pub(crate) fn nests_too_deeply(text: &[u8]) -> bool {
    text.len() > 2 * MAX_READ_DEPTH && shape(text).depth > MAX_READ_DEPTH
}

/// What [`shape`] finds in a JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Levels of arrays and objects (a scalar: 0).
    pub(crate) depth: usize,
    /// Whether some object has a key JavaScript orders first (an array index).
    pub(crate) index_keys: bool,
}

/// One pass over valid JSON text: how deeply it nests and whether an object holds an
/// integer-like key. Allocates nothing.
pub(crate) fn shape(text: &[u8]) -> Shape {
    // Bit `n` of `objects`: the container at level `n` (for the first 128) is an object.
    let mut objects: u128 = 0;
    let mut level = 0usize;
    let mut depth = 0usize;
    let mut expect_key = false;
    let mut index_keys = false;
    let in_object = |objects: u128, level: usize| {
        level > 0 && level <= 128 && objects & (1u128 << (level - 1)) != 0
    };
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                loop {
                    let next = text
                        .get(i..)
                        .and_then(|rest| rest.iter().position(|&b| b == b'"' || b == b'\\'));
                    let Some(at) = next else {
                        i = text.len(); // unterminated: the rest is string
                        break;
                    };
                    i += at;
                    if text[i] == b'"' {
                        break;
                    }
                    i += 2; // an escape and the byte it escapes
                }
                if expect_key {
                    let key = text.get(start..i).unwrap_or_default();
                    index_keys |=
                        std::str::from_utf8(key).is_ok_and(|key| array_index(key).is_some());
                }
                expect_key = false;
            }
            open @ (b'{' | b'[') => {
                level += 1;
                depth = depth.max(level);
                if level <= 128 {
                    if open == b'{' {
                        objects |= 1u128 << (level - 1);
                    } else {
                        objects &= !(1u128 << (level - 1));
                    }
                }
                expect_key = open == b'{';
            }
            b'}' | b']' => {
                level = level.saturating_sub(1);
                expect_key = false;
            }
            b',' => expect_key = in_object(objects, level),
            _ => {}
        }
        i += 1;
    }
    Shape { depth, index_keys }
}

/// Appends `map` as a JSON object: keys in the map's order, or in JavaScript's
/// (integer-like keys first, ascending) when `js_order`; each value's text as it is.
pub(crate) fn write_object(out: &mut Vec<u8>, map: &crate::data::Map, js_order: bool) {
    fn text<'a>((key, value): (&'a str, &'a crate::data::Json)) -> (&'a str, &'a [u8]) {
        (key, value.as_str().as_bytes())
    }
    if js_order && map.keys().any(|key| array_index(key).is_some()) {
        let mut members: Vec<_> = map.iter().collect();
        members.sort_by_key(|&(key, _)| js_rank(key));
        write_members(out, members.into_iter().map(text));
    } else {
        write_members(out, map.iter().map(text));
    }
}

/// Where JavaScript puts a key: array indices first, ascending, then every other key. Used
/// with a stable sort, the other keys keep their order.
fn js_rank(key: &str) -> (bool, u32) {
    array_index(key).map_or((true, 0), |index| (false, index))
}

/// Appends `{"key":value,...}`, each key escaped and each value's text as it is.
pub(crate) fn write_members<'a>(
    out: &mut Vec<u8>,
    members: impl Iterator<Item = (&'a str, &'a [u8])>,
) {
    out.push(b'{');
    for (n, (key, value)) in members.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        out.extend_from_slice(value);
    }
    out.push(b'}');
}

/// Appends `text` as a JSON string, escaped as `JSON.stringify` escapes it.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Serializes `value` as JavaScript would, appending to `out`.
pub(crate) fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, JsNumbers);
    value.serialize(&mut ser)
}

/// Returns the index if `key` is a canonical array index (`0` to `4294967294`), the keys that
/// JavaScript orders first.
fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    let canonical = match bytes {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.len() < 10 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if !canonical {
        return None;
    }
    key.parse::<u32>().ok().filter(|&index| index < u32::MAX)
}

/// A serde_json formatter that writes floating-point numbers like ECMAScript `Number::toString`.
#[derive(Debug, Clone, Copy)]
struct JsNumbers;

impl Formatter for JsNumbers {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(js_number(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }
}

/// Formats a finite `f64` as ECMAScript's `Number::toString(10)` does.
pub(crate) fn js_number(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    if !value.is_finite() {
        // JSON.stringify writes non-finite numbers as null; serde_json never produces them.
        return "null".to_owned();
    }
    let sign = if value < 0.0 { "-" } else { "" };
    // Rust's `{:e}` prints the shortest digits that round-trip, like ECMAScript requires.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` output always holds an exponent");
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent
        .parse()
        .expect("`{:e}` output always has an integer exponent");
    break_tie_to_even(value.abs(), &mut digits, exponent);
    let k = i32::try_from(digits.len()).expect("an f64 has at most 17 significant digits");
    let n = exponent + 1;
    let body = if k <= n && n <= 21 {
        format!(
            "{digits}{}",
            "0".repeat(usize::try_from(n - k).unwrap_or(0))
        )
    } else if 0 < n && n <= 21 {
        let split = usize::try_from(n).unwrap_or(0);
        format!("{}.{}", &digits[..split], &digits[split..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat(usize::try_from(-n).unwrap_or(0)))
    } else {
        let e = n - 1;
        let e_sign = if e < 0 { '-' } else { '+' };
        if k == 1 {
            format!("{digits}e{e_sign}{}", e.abs())
        } else {
            format!("{}.{}e{e_sign}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    format!("{sign}{body}")
}

/// ECMAScript breaks a tie between two shortest digit strings (the value lies exactly halfway
/// between them) towards the even one; Rust's shortest formatting may pick the odd one. A tie
/// means the exact decimal expansion of `value` is the shortest digits with one more `5`.
fn break_tie_to_even(value: f64, digits: &mut String, exponent: i32) {
    let Some(&last) = digits.as_bytes().last() else {
        return;
    };
    if (last - b'0').is_multiple_of(2) {
        return;
    }
    // A double's exact decimal expansion has at most 767 significant digits.
    let exact = format!("{value:.800e}");
    let Some((mantissa, exact_exponent)) = exact.split_once('e') else {
        return;
    };
    if exact_exponent.parse::<i32>() != Ok(exponent) {
        return;
    }
    let exact_digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exact_digits = exact_digits.trim_end_matches('0');
    let k = digits.len();
    if exact_digits.len() != k + 1 || !exact_digits.ends_with('5') {
        return;
    }
    let head = &exact_digits[..k];
    let (stem, _) = digits.split_at(k - 1);
    // In a real tie neither candidate ends in 0 (a shorter string would exist), so moving the
    // last digit by one never carries.
    let replacement = if head == digits.as_str() {
        last + 1 // value = D.5: D is odd, D + 1 is even
    } else if head.as_bytes()[..k - 1] == *stem.as_bytes() && head.as_bytes()[k - 1] + 1 == last {
        last - 1 // value = (D - 1).5: D - 1 is even
    } else {
        return;
    };
    digits.truncate(k - 1);
    digits.push(char::from(replacement));
}

/// Rewrites every `\uXXXX` escape of a lone UTF-16 surrogate in JSON text as `\ufffd`, the
/// replacement character; `None` when there is none. JavaScript's `JSON.stringify` writes such
/// escapes for a string cut in the middle of a surrogate pair, and serde_json refuses them, as
/// a Rust `String` cannot hold one. A proper pair (`\ud83d\ude00`) is left alone.
pub(crate) fn replace_lone_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                let Some(unit) = escaped_unit(bytes, i) else {
                    i += 2;
                    continue;
                };
                let paired = (0xD800..=0xDBFF).contains(&unit)
                    && escaped_unit(bytes, i + 6)
                        .is_some_and(|low| (0xDC00..=0xDFFF).contains(&low));
                if paired {
                    i += 12;
                    continue;
                }
                if (0xD800..=0xDFFF).contains(&unit) {
                    let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                    out.push_str(&text[copied..i]);
                    out.push_str("\\ufffd");
                    copied = i + 6;
                }
                i += 6;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// The code unit of a `\uXXXX` escape starting at `at`, if one does.
fn escaped_unit(bytes: &[u8], at: usize) -> Option<u32> {
    let escape = bytes.get(at..at + 6)?;
    if escape[0] != b'\\' || escape[1] != b'u' {
        return None;
    }
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn js(value: &Value) -> String {
        encode(value).unwrap().0.to_string()
    }

    /// Where doubles are 1/64 apart, so `x.125` lies halfway between two shortest strings.
    const BIG: f64 = 78_866_959_565_065.0;

    #[test]
    fn a_value_that_encodes_another_while_it_serializes_gets_both_right() {
        // `encode` lends its thread's buffer out; a `Serialize` impl that calls it again must
        // neither see nor clobber the outer text.
        struct Nested;
        impl Serialize for Nested {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct as _;
                let inner = encode(&[1, 2, 3]).map_err(serde::ser::Error::custom)?.0;
                let mut st = s.serialize_struct("Nested", 2)?;
                st.serialize_field("before", "x")?;
                st.serialize_field("inner", &*inner)?;
                st.end()
            }
        }
        let (text, _) = encode(&Nested).unwrap();
        assert_eq!(&*text, r#"{"before":"x","inner":"[1,2,3]"}"#);
        let (again, _) = encode(&"after").unwrap();
        assert_eq!(&*again, r#""after""#);
    }

    #[test]
    fn numbers_follow_ecmascript() {
        let cases = [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (123_456_789.125, "123456789.125"),
            (-0.0, "0"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (2.5e22, "2.5e+22"),
            // Ties between two shortest strings go to the even one, as in V8.
            (-(BIG + 0.125), "-78866959565065.12"),
            (BIG + 0.375, "78866959565065.38"),
            (BIG + 0.625, "78866959565065.62"),
            (BIG + 0.875, "78866959565065.88"),
        ];
        for (value, expected) in cases {
            assert_eq!(js_number(value), expected, "{value:?}");
        }
    }

    #[test]
    fn integer_like_keys_come_first() {
        let text = r#"{"b":1,"a":2,"10":3,"2":4,"01":5,"4294967295":6}"#;
        let map: crate::data::Map = serde_json::from_str(text).unwrap();
        let mut out = Vec::new();
        write_object(&mut out, &map, true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"2":4,"10":3,"b":1,"a":2,"01":5,"4294967295":6}"#
        );
        let mut out = Vec::new();
        write_object(&mut out, &map, false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            text,
            "a record keeps the map's order"
        );
    }

    #[test]
    fn encoding_writes_javascript_text_and_reorders_only_when_it_must() {
        #[derive(serde::Serialize)]
        struct Order {
            zeta: f64,
            alpha: [u8; 0],
            nested: std::collections::BTreeMap<&'static str, u8>,
        }
        let order = Order {
            zeta: 1.0,
            alpha: [],
            nested: [("10", 1), ("9", 2), ("x", 3)].into(),
        };
        let (text, depth) = encode(&order).unwrap();
        assert_eq!(
            &*text,
            r#"{"zeta":1,"alpha":[],"nested":{"9":2,"10":1,"x":3}}"#
        );
        assert_eq!(depth, 2);
        // No integer-like key: serde's order, untouched.
        let (text, _) = encode(&serde_json::json!(["z", {"b": 1e21}])).unwrap();
        assert_eq!(&*text, r#"["z",{"b":1e+21}]"#);
    }

    #[test]
    fn outside_text_is_made_canonical_once_and_for_all() {
        let cases = [
            (
                " [1.0, -0, 1E2, 1e21, 12345678901234567890] ",
                "[1,0,100,1e+21,12345678901234567890]",
            ),
            (
                r#"{"b" : {"10":1,"9":2}, "a":"\u0041\ud800"}"#,
                r#"{"b":{"9":2,"10":1},"a":"\u0041\ud800"}"#,
            ), // a lone surrogate: as written
            (r#""\u00e9\n""#, r#""é\n""#),
            ("null", "null"),
            ("[[], {}, true]", "[[],{},true]"),
        ];
        for (text, expected) in cases {
            let once = canonical(text).unwrap();
            assert_eq!(once, expected, "{text}");
            assert_eq!(canonical(&once).unwrap(), once, "idempotent: {text}");
        }
        assert!(canonical(&format!("{}1{}", "[".repeat(200), "]".repeat(200))).is_err());
    }

    #[test]
    fn the_shape_of_a_text_is_its_nesting_and_its_keys() {
        let shape = |text: &str| shape(text.as_bytes());
        assert_eq!(
            shape("1"),
            Shape {
                depth: 0,
                index_keys: false
            }
        );
        assert_eq!(
            shape(r#"[[{"a":[]}]]"#),
            Shape {
                depth: 4,
                index_keys: false
            }
        );
        assert!(shape(r#"{"a":{"1":0}}"#).index_keys);
        assert!(
            !shape(r#"{"a":"1","b":["1"]}"#).index_keys,
            "values are not keys"
        );
        assert!(!shape(r#"{"a\"1":0,"01":1}"#).index_keys);
        assert!(shape(r#"[{"x":0},{"y":0,"7":1}]"#).index_keys);
        assert_eq!(shape(&"[".repeat(300)).depth, 300);
    }

    #[test]
    fn nested_objects_are_ordered_and_strings_escaped_like_json_stringify() {
        let value = serde_json::json!({"x": [{"1": 1.0, "0": "a\u{1}\u{2028}/"}]});
        assert_eq!(
            js(&value),
            "{\"x\":[{\"0\":\"a\\u0001\u{2028}/\",\"1\":1}]}"
        );
    }

    #[test]
    fn lone_surrogates_are_replaced_and_pairs_and_text_are_not() {
        use super::replace_lone_surrogates as fix;
        assert_eq!(fix(r#"{"a":"\ud83d\ude00"}"#), None, "a pair");
        assert_eq!(fix(r#"{"a":"\\ud800"}"#), None, "an escaped backslash");
        assert_eq!(
            fix(r#"{"\ud800":1}"#).as_deref(),
            Some(r#"{"\ufffd":1}"#),
            "in a key"
        );
        assert_eq!(
            fix(r#"["\udc00\ud800x", "\ud800"]"#).as_deref(),
            Some(r#"["\ufffd\ufffdx", "\ufffd"]"#)
        );
        assert_eq!(
            fix(r#"["\ud800\u00e9"]"#).as_deref(),
            Some(r#"["\ufffd\u00e9"]"#)
        );
        assert_eq!(
            fix(r#"["\ud8"]"#),
            None,
            "a truncated escape is left to the parser"
        );
        assert_eq!(fix(r#"["é\udfff"]"#).as_deref(), Some(r#"["é\ufffd"]"#));
    }
}
