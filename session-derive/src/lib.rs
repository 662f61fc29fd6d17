//! Implementation detail of the `session` crate; see `session::SessionSchema`.

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
mod expand;
mod fallback;
mod symbol;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `session::SessionSchema`: typed accessors over a `session::Session` for each field.
/// The attribute reference lives on the `SessionSchema` trait.
#[proc_macro_derive(SessionSchema, attributes(session))]
pub fn derive_session_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
