//! The request `Cookie` header, read exactly as Remix's `@remix-run/headers` reads it (spec
//! §4.4), so both apps pick the same pair out of the same header.
//!
//! Remix scans with the JavaScript regex
//! `(?:^|;)\s*([^=;\s]+)(\s*=\s*(?:"((?:[^"\\]|\\.)*)"|((?:[^;]|\\;)+))?)?`, then replaces every
//! `\x` in a value by `x` and trims it; `\s` and trimming use JavaScript's whitespace set. This
//! module is a hand-written, allocation-free twin of that scan: the first pair with the exact
//! name wins.

use std::borrow::Cow;

/// Returns the value of the first pair named `name` in a `Cookie` header, or `None` when no
/// pair has that name. A pair without `=` has the empty value.
pub(crate) fn find<'a>(header: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let mut start = 0;
    loop {
        if let Some(pair) = match_at(header, start) {
            if pair.name == name {
                return Some(clean_value(pair.raw_value));
            }
            start = pair.end;
        } else {
            start += header[start..].chars().next().map_or(1, char::len_utf8);
        }
        // The next match can only begin at a `;`.
        start += header.get(start..)?.find(';')?;
    }
}

/// One `name=value` pair the regex matched.
struct Pair<'a> {
    name: &'a str,
    /// The value before unescaping and trimming; empty when absent.
    raw_value: &'a str,
    /// Byte offset just after the match.
    end: usize,
}

/// Tries the regex at byte offset `at`, which is 0 or the offset of a `;`.
fn match_at(header: &str, at: usize) -> Option<Pair<'_>> {
    if at == 0 {
        // `^` is tried before `;`; at offset 0 both alternatives are possible.
        if let Some(pair) = match_body(header, 0) {
            return Some(pair);
        }
    }
    if header[at..].starts_with(';') {
        return match_body(header, at + 1);
    }
    None
}

/// Matches `\s*([^=;\s]+)(\s*=\s*(value)?)?` from `from`.
fn match_body(header: &str, from: usize) -> Option<Pair<'_>> {
    let name_start = skip_space(header, from);
    let name_end = header[name_start..]
        .char_indices()
        .find(|&(_, c)| c == '=' || c == ';' || is_js_space(c))
        .map_or(header.len(), |(offset, _)| name_start + offset);
    if name_end == name_start {
        return None;
    }
    let name = &header[name_start..name_end];
    let before_eq = skip_space(header, name_end);
    if !header[before_eq..].starts_with('=') {
        return Some(Pair {
            name,
            raw_value: "",
            end: name_end,
        });
    }
    let value_start = skip_space(header, before_eq + 1);
    let (raw_value, end) = match_value(header, value_start);
    Some(Pair {
        name,
        raw_value,
        end,
    })
}

/// Matches the optional value: a quoted string with `\x` escapes, else a run of non-`;`.
fn match_value(header: &str, from: usize) -> (&str, usize) {
    let rest = &header[from..];
    if rest.starts_with('"') {
        let mut chars = rest.char_indices().skip(1);
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => return (&rest[1..offset], from + offset + 1),
                '\\' => match chars.next() {
                    Some((_, escaped)) if !is_line_terminator(escaped) => {}
                    _ => break,
                },
                _ => {}
            }
        }
    }
    let len = rest.find(';').unwrap_or(rest.len());
    (&rest[..len], from + len)
}

/// Replaces every `\x` by `x` (except before a line terminator, which JavaScript's `.` does not
/// match) and trims JavaScript whitespace.
fn clean_value(raw: &str) -> Cow<'_, str> {
    let unescaped = if raw.contains('\\') {
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\'
                && let Some(&next) = chars.peek()
                && !is_line_terminator(next)
            {
                out.push(next);
                chars.next();
                continue;
            }
            out.push(c);
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(raw)
    };
    match unescaped {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim_matches(is_js_space)),
        Cow::Owned(s) => Cow::Owned(s.trim_matches(is_js_space).to_owned()),
    }
}

fn skip_space(header: &str, from: usize) -> usize {
    header[from..]
        .char_indices()
        .find(|&(_, c)| !is_js_space(c))
        .map_or(header.len(), |(offset, _)| from + offset)
}

/// JavaScript's `\s`: WhiteSpace plus LineTerminator (note U+FEFF is in, U+0085 is out).
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(header: &str, name: &str) -> Option<String> {
        find(header, name).map(Cow::into_owned)
    }

    #[test]
    fn observed_remix_results() {
        // Spec §4.4, each line observed with @remix-run/headers 0.21.1.
        assert_eq!(get(r"a=x\;y; b=2", "a").as_deref(), Some(r"x\"));
        assert_eq!(get(r"a=x\;y; b=2", "y").as_deref(), Some(""));
        assert_eq!(get(r"a=x\;y; b=2", "b").as_deref(), Some("2"));
        assert_eq!(get(r#"a="x;y"; b=1"#, "a").as_deref(), Some("x;y"));
        assert_eq!(
            get(r#"a="unterminated; b=1"#, "a").as_deref(),
            Some("\"unterminated")
        );
        assert_eq!(get(" a = v w ; b=2", "a").as_deref(), Some("v w"));
        assert_eq!(get("=v; a=1", "a").as_deref(), Some("1"));
        assert_eq!(get("=v; a=1", "v"), None);
        assert_eq!(get("a; a=2", "a").as_deref(), Some(""));
        assert_eq!(get("a=1, b=2", "a").as_deref(), Some("1, b=2"));
        assert_eq!(get("A=1; a=2", "a").as_deref(), Some("2"));
        assert_eq!(get("A=1; a=2", "A").as_deref(), Some("1"));
    }

    #[test]
    fn headers_suite_cases() {
        assert_eq!(get("", "a"), None);
        assert_eq!(
            get("name1=value1; name2=value2", "name2").as_deref(),
            Some("value2")
        );
        let dup = "session=child; session=parent; theme=dark";
        assert_eq!(get(dup, "session").as_deref(), Some("child"));
        assert_eq!(
            get(" name1 = value1 ;  name2  =  value2 ", "name2").as_deref(),
            Some("value2")
        );
        assert_eq!(get("name1=value1; name2", "name2").as_deref(), Some(""));
        assert_eq!(get("name=", "name").as_deref(), Some(""));
        assert_eq!(get("name=\"\"", "name").as_deref(), Some(""));
        assert_eq!(get("a=1", "missing"), None);
    }

    #[test]
    fn unicode_whitespace_and_escapes() {
        assert_eq!(get("a=\u{FEFF}v\u{A0}", "a").as_deref(), Some("v"));
        assert_eq!(get("a=\u{85}v", "a").as_deref(), Some("\u{85}v"));
        assert_eq!(get(r#"a="q\"uote""#, "a").as_deref(), Some("q\"uote"));
        assert_eq!(get("é=1; a=2", "é").as_deref(), Some("1"));
        assert_eq!(get("x=1;;; a=2", "a").as_deref(), Some("2"));
        assert_eq!(get(";a=1", "a").as_deref(), Some("1"));
    }
}
