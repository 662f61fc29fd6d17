//! [`Text`]: an immutable string that may be a slice of a larger shared one, so that the keys
//! and values read from one cookie payload or record share the payload's single allocation
//! instead of taking one each.
//!
//! A parse opts in with [`within`]: while it runs, [`Text::read`] turns a `&str` that lies
//! inside the payload into a slice of it, and copies anything else (an unescaped key, text
//! from another buffer). Whether a `&str` lies inside is decided from its address, so a
//! stale or foreign payload can only make it copy, never alias the wrong bytes.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;

/// An immutable string: all of a shared `Arc<str>`, or a range of one.
#[derive(Clone)]
pub(crate) struct Text {
    base: Arc<str>,
    /// Byte offsets into `base`, on character boundaries; `end` is [`WHOLE`] for all of it
    /// (of any length).
    start: u32,
    end: u32,
}

/// The `end` of a text that is all of its base.
const WHOLE: u32 = u32::MAX;

thread_local! {
    /// The payload being parsed on this thread, if a parse opted in.
    static PAYLOAD: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// Runs `parse` (which reads `payload`) with [`Text::read`] sharing it; the previous payload
/// (if a parse runs inside another) is restored afterwards, even on a panic.
pub(crate) fn within<T>(payload: &Arc<str>, parse: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<str>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            PAYLOAD.with(|slot| *slot.borrow_mut() = previous);
        }
    }
    let previous = PAYLOAD.with(|slot| slot.borrow_mut().replace(Arc::clone(payload)));
    let _restore = Restore(previous);
    parse()
}

impl Text {
    /// Text read from a parser's input: a slice of the payload [`within`] shares when it
    /// lies inside it (no allocation), else a copy.
    pub(crate) fn read(text: &str) -> Self {
        PAYLOAD
            .with(|slot| {
                let payload = slot.borrow();
                let payload = payload.as_ref()?;
                let range = range_within(payload, text)?;
                // A slice ending at `WHOLE` or beyond is copied (never, for a payload this
                // crate reads).
                let end = u32::try_from(range.end).ok().filter(|&end| end != WHOLE)?;
                Some(Self {
                    base: Arc::clone(payload),
                    start: u32::try_from(range.start).ok()?,
                    end,
                })
            })
            .unwrap_or_else(|| text.into())
    }

    pub(crate) fn as_str(&self) -> &str {
        if self.end == WHOLE {
            return &self.base;
        }
        // The range was taken from `base` on character boundaries; `get` keeps it checked.
        self.base
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// Where `inner` sits in `outer`, if it is a slice of it.
fn range_within(outer: &str, inner: &str) -> Option<Range<usize>> {
    let outer_start = outer.as_ptr() as usize;
    let inner_start = inner.as_ptr() as usize;
    let start = inner_start.checked_sub(outer_start)?;
    let end = start.checked_add(inner.len())?;
    (end <= outer.len() && outer.is_char_boundary(start) && outer.is_char_boundary(end))
        .then_some(start..end)
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self::from(Arc::<str>::from(text))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self::from(Arc::<str>::from(text))
    }
}

impl From<Arc<str>> for Text {
    fn from(base: Arc<str>) -> Self {
        Self {
            base,
            start: 0,
            end: WHOLE,
        }
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

/// Hashes as the `str` it holds, so a map keyed by `Text` is looked up by `&str`.
impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_a_shared_payload_text_is_a_slice_and_outside_it_a_copy() {
        let payload: Arc<str> = Arc::from(r#"{"a":"héllo"}"#);
        let elsewhere = String::from("héllo");
        let (inner, outer) = within(&payload, || {
            (Text::read(&payload[5..13]), Text::read(&elsewhere))
        });
        assert_eq!(inner.as_str(), r#""héllo""#);
        assert!(Arc::ptr_eq(&inner.base, &payload), "shares the payload");
        assert_eq!(outer.as_str(), "héllo");
        assert!(!Arc::ptr_eq(&outer.base, &payload), "copied");
        // Outside any parse nothing is shared.
        assert!(!Arc::ptr_eq(&Text::read(&payload[5..13]).base, &payload));
        assert_eq!(Text::from("x"), Text::read("x"));
    }

    #[test]
    fn a_nested_parse_restores_the_outer_payload() {
        let outer: Arc<str> = Arc::from("outer text");
        let inner: Arc<str> = Arc::from("inner text");
        within(&outer, || {
            within(&inner, || {
                assert!(Arc::ptr_eq(&Text::read(&inner).base, &inner));
            });
            assert!(Arc::ptr_eq(&Text::read(&outer).base, &outer));
        });
        assert!(PAYLOAD.with(|slot| slot.borrow().is_none()));
    }

    #[test]
    fn a_range_is_taken_only_on_character_boundaries() {
        let text = "aé";
        assert_eq!(range_within(text, &text[1..]), Some(1..3));
        assert_eq!(range_within(text, "b"), None);
        let other = String::from(text);
        assert_eq!(range_within(text, &other), None);
    }
}
