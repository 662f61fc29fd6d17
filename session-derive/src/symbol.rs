//! The words of the `#[session(...)]` attribute, compared as `meta.path == RENAME`.

use std::fmt::{self, Display};

use syn::{Ident, Path};

/// One attribute word.
#[derive(Copy, Clone)]
pub(crate) struct Symbol(pub(crate) &'static str);

pub(crate) const SESSION: Symbol = Symbol("session");
pub(crate) const RENAME: Symbol = Symbol("rename");
pub(crate) const DEFAULT: Symbol = Symbol("default");
pub(crate) const FLASH: Symbol = Symbol("flash");
pub(crate) const SKIP: Symbol = Symbol("skip");
pub(crate) const LIFETIME: Symbol = Symbol("lifetime");
pub(crate) const RENAME_ALL: Symbol = Symbol("rename_all");
pub(crate) const PREFIX: Symbol = Symbol("prefix");
pub(crate) const CRATE: Symbol = Symbol("crate");

/// Field attribute words, in the order error messages list them.
pub(crate) const FIELD_WORDS: &[Symbol] = &[RENAME, DEFAULT, FLASH, SKIP, LIFETIME];

/// Container attribute words, in the order error messages list them.
pub(crate) const CONTAINER_WORDS: &[Symbol] = &[RENAME_ALL, PREFIX, CRATE];

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
