//! The `#[session(...)]` grammar: container attributes (`rename_all`, `prefix`, `crate`) and
//! field attributes (`rename`, `default`, `flash`, `skip`). Parsing never stops at the first
//! mistake: a bad piece is recorded as absent, the error goes to `Ctxt`, and parsing goes on.

use std::fmt::Write as _;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr, Meta, Token};

use crate::case::{RULES, RenameRule};
use crate::ctxt::Ctxt;
use crate::symbol::{
    CONTAINER_WORDS, CRATE, DEFAULT, FIELD_WORDS, FLASH, LIFETIME, PREFIX, RENAME, RENAME_ALL,
    SESSION, SKIP, Symbol,
};

/// A value set at most once; the second setting is an error at its own tokens.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Self {
            cx,
            name,
            value: None,
        }
    }

    fn set<A: ToTokens>(&mut self, object: A, value: T) {
        if self.value.is_some() {
            self.cx.error_spanned_by(
                object,
                format!("duplicate `session({})` attribute", self.name),
            );
        } else {
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }
}

/// A value with the span it was written at.
#[derive(Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// Container attributes.
pub(crate) struct Container {
    pub(crate) rename_all: Option<RenameRule>,
    pub(crate) prefix: Option<String>,
    /// The path to the `session` crate; `::session` when absent.
    pub(crate) krate: Option<syn::Path>,
}

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut rename_all = Attr::none(cx, RENAME_ALL);
        let mut prefix = Attr::none(cx, PREFIX);
        let mut krate = Attr::none(cx, CRATE);
        for_each_session_meta(cx, attrs, |meta| {
            if meta.path == RENAME_ALL {
                let lit = lit_str(RENAME_ALL, &meta)?;
                if let Some(rule) = RenameRule::from_str(&lit.value()) {
                    rename_all.set(&meta.path, rule);
                } else {
                    let valid: Vec<String> =
                        RULES.iter().map(|(name, _)| format!("`{name}`")).collect();
                    cx.error_spanned_by(
                        &lit,
                        format!(
                            "unknown rename rule `{}`; expected one of {}",
                            lit.value(),
                            valid.join(", ")
                        ),
                    );
                }
            } else if meta.path == PREFIX {
                let lit = lit_str(PREFIX, &meta)?;
                prefix.set(&meta.path, lit.value());
            } else if meta.path == CRATE {
                let lit = lit_str(CRATE, &meta)?;
                match lit.parse::<syn::Path>() {
                    Ok(path) => krate.set(&meta.path, path),
                    Err(_) => cx.error_spanned_by(
                        &lit,
                        format!("invalid `session(crate)` path `{}`", lit.value()),
                    ),
                }
            } else {
                unknown(cx, &meta, "container", CONTAINER_WORDS)?;
            }
            Ok(())
        });
        Self {
            rename_all: rename_all.get(),
            prefix: prefix.get(),
            krate: krate.get(),
        }
    }
}

/// How a field fills in for a missing or unreadable value.
#[derive(Clone)]
pub(crate) enum Default {
    /// `Default::default()`.
    Trait,
    /// A function given as `default = "path"`.
    Path(syn::ExprPath),
}

/// Field attributes.
pub(crate) struct Field {
    pub(crate) rename: Option<Spanned<String>>,
    pub(crate) default: Option<Spanned<Default>>,
    pub(crate) flash: Option<Span>,
    pub(crate) skip: Option<Span>,
    /// The field is the session's cookie lifetime, not a key.
    pub(crate) lifetime: Option<Span>,
}

impl Field {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut rename = Attr::none(cx, RENAME);
        let mut default = Attr::none(cx, DEFAULT);
        let mut flash = Attr::none(cx, FLASH);
        let mut skip = Attr::none(cx, SKIP);
        let mut lifetime = Attr::none(cx, LIFETIME);
        for_each_session_meta(cx, attrs, |meta| {
            let span = meta
                .path
                .get_ident()
                .map_or_else(Span::call_site, syn::Ident::span);
            if meta.path == RENAME {
                let lit = lit_str(RENAME, &meta)?;
                if lit.value().is_empty() {
                    cx.error_spanned_by(&lit, "`session(rename)` needs a non-empty key");
                } else {
                    rename.set(
                        &meta.path,
                        Spanned {
                            value: lit.value(),
                            span: lit.span(),
                        },
                    );
                }
            } else if meta.path == DEFAULT {
                let value = if meta.input.peek(Token![=]) {
                    let lit = lit_str(DEFAULT, &meta)?;
                    if let Ok(path) = lit.parse::<syn::ExprPath>() {
                        Default::Path(path)
                    } else {
                        cx.error_spanned_by(
                            &lit,
                            format!("invalid `session(default)` function `{}`", lit.value()),
                        );
                        return Ok(());
                    }
                } else {
                    Default::Trait
                };
                default.set(&meta.path, Spanned { value, span });
            } else if meta.path == FLASH {
                no_value(FLASH, &meta)?;
                flash.set(&meta.path, span);
            } else if meta.path == SKIP {
                no_value(SKIP, &meta)?;
                skip.set(&meta.path, span);
            } else if meta.path == LIFETIME {
                no_value(LIFETIME, &meta)?;
                lifetime.set(&meta.path, span);
            } else {
                unknown(cx, &meta, "field", FIELD_WORDS)?;
            }
            Ok(())
        });
        Self {
            rename: rename.get(),
            default: default.get(),
            flash: flash.get(),
            skip: skip.get(),
            lifetime: lifetime.get(),
        }
    }
}

/// Runs `logic` on every item of every `#[session(...)]` attribute, recording errors.
fn for_each_session_meta(
    cx: &Ctxt,
    attrs: &[Attribute],
    mut logic: impl FnMut(ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|attr| attr.path() == &SESSION) {
        match &attr.meta {
            Meta::List(list) if list.tokens.is_empty() => {
                cx.error_spanned_by(attr, "empty `#[session()]` attribute");
            }
            Meta::List(_) => {
                if let Err(error) = attr.parse_nested_meta(&mut logic) {
                    cx.syn_error(error);
                }
            }
            Meta::Path(_) | Meta::NameValue(_) => {
                cx.error_spanned_by(attr, "expected `#[session(...)]`");
            }
        }
    }
}

fn lit_str(name: Symbol, meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let value = meta
        .value()
        .map_err(|_| meta.error(format!("expected `session({name} = \"...\")`")))?;
    let expr: syn::Expr = value.parse()?;
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!("expected a string literal for `session({name})`"),
        )),
    }
}

fn no_value(name: Symbol, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!("`session({name})` takes no value")));
    }
    Ok(())
}

/// Reports an unknown word with the list of valid ones and the closest, then skips its value
/// so that parsing can go on.
fn unknown(cx: &Ctxt, meta: &ParseNestedMeta<'_>, kind: &str, words: &[Symbol]) -> syn::Result<()> {
    let word = meta.path.to_token_stream().to_string().replace(' ', "");
    let valid: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    let mut message = format!(
        "unknown {kind} attribute `session({word})`; expected one of {}",
        valid.join(", ")
    );
    if let Some(closest) = words
        .iter()
        .map(|w| (edit_distance(&word, w.0), w))
        .filter(|&(distance, _)| distance <= 2)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, w)| w)
    {
        let _ = write!(message, "; did you mean `{closest}`?");
    }
    cx.error_spanned_by(&meta.path, message);
    if meta.input.peek(Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _: TokenStream = meta.input.parse::<proc_macro2::Group>()?.stream();
    }
    Ok(())
}

/// Levenshtein distance, for did-you-mean suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("flsh", "flash"), 1);
        assert_eq!(edit_distance("renam", "rename"), 1);
        assert_eq!(edit_distance("skip", "skip"), 0);
        assert_eq!(edit_distance("xyz", "flash"), 5);
    }
}
