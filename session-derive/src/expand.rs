//! Code generation: the `SessionSchema` impl, the typed view with its accessors, and the key
//! constants. Pure and infallible: every mistake was reported before this runs. Generated code
//! names std through `::core` and the runtime through `#krate`, never through the prelude.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{DeriveInput, GenericParam, Generics, Ident, Type, parse_quote};

use crate::ast::{Container, Field};
use crate::attr::Default;
use crate::check::{key_const_name, writer_names};
use crate::ctxt::Ctxt;
use crate::{check, fallback};

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    try_expand(input).unwrap_or_else(|error| fallback::expand(input, &error))
}

fn try_expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let Some(container) = Container::from_ast(&cx, input) else {
        return Err(cx.check().err().unwrap_or_else(|| {
            syn::Error::new(Span::call_site(), "unsupported input for `SessionSchema`")
        }));
    };
    check::check(&cx, &container);
    cx.check()?;
    Ok(expand_container(&container))
}

/// The path to the runtime crate.
pub(crate) fn krate(path: Option<&syn::Path>) -> TokenStream {
    path.map_or_else(|| quote!(::session), ToTokens::to_token_stream)
}

fn expand_container(container: &Container<'_>) -> TokenStream {
    let krate = krate(container.attrs.krate.as_ref());
    let ident = container.ident;
    let vis = &container.original.vis;
    let view = Ident::new(&format!("{ident}View"), Span::call_site());
    let fields: Vec<&Field<'_>> = container
        .fields
        .iter()
        .filter(|f| !f.is_skipped())
        .collect();
    // Fields stored under a key; a `session(lifetime)` field is the cookie's lifetime instead.
    let keyed: Vec<&Field<'_>> = fields.iter().copied().filter(|f| f.has_key()).collect();

    let generics = &container.original.generics;
    let type_params: Vec<&Ident> = generics.type_params().map(|p| &p.ident).collect();
    let bounded = with_field_bounds(generics, &keyed, &type_params, &krate);
    let (impl_generics, ty_generics, where_clause) = bounded.split_for_impl();

    let view_def = with_view_param(generics, None);
    let (_, view_ty_generics, _) = view_def.split_for_impl();
    let view_where = &view_def.where_clause;
    let session_ty = quote!(#krate::Session);
    let read = with_view_param(&bounded, Some(quote!(::core::convert::AsRef<#session_ty>)));
    let (read_impl, _, read_where) = read.split_for_impl();
    let write = with_view_param(&bounded, Some(quote!(::core::convert::AsMut<#session_ty>)));
    let (write_impl, _, write_where) = write.split_for_impl();

    let getters = fields.iter().map(|f| getter(f, &krate, vis));
    let setters = fields.iter().map(|f| setters(f, &krate, vis));
    let keys = keyed.iter().map(|f| &f.key);
    let key_consts = keyed.iter().map(|f| key_const(f, vis));
    let load = load(container, &krate);
    let store = store(&fields, &krate);

    let view_doc = format!(
        "Typed accessors over a session for the fields of [`{ident}`], made by \
         `#[derive(SessionSchema)]`. Get one with `{ident}::view(&session)` (reads) or \
         `{ident}::view(&mut session)` (reads and writes)."
    );
    quote! {
        #[doc = #view_doc]
        #[allow(dead_code)]
        #vis struct #view #view_def #view_where {
            __session_inner: __S,
            __session_marker: ::core::marker::PhantomData<fn() -> #ident #ty_generics>,
        }

        #[automatically_derived]
        #[allow(dead_code, unused_qualifications, clippy::all, clippy::pedantic)]
        impl #read_impl #view #view_ty_generics #read_where {
            #(#getters)*
        }

        #[automatically_derived]
        #[allow(dead_code, unused_qualifications, clippy::all, clippy::pedantic)]
        impl #write_impl #view #view_ty_generics #write_where {
            #(#setters)*
        }

        #[automatically_derived]
        #[allow(dead_code, unused_qualifications, clippy::all, clippy::pedantic)]
        impl #impl_generics #ident #ty_generics #where_clause {
            #(#key_consts)*
        }

        #[automatically_derived]
        #[allow(dead_code, unused_qualifications, clippy::all, clippy::pedantic)]
        impl #impl_generics #krate::SessionSchema for #ident #ty_generics #where_clause {
            const KEYS: &'static [&'static str] = &[#(#keys),*];
            type View<__S> = #view #view_ty_generics;

            fn view<__S>(session: __S) -> Self::View<__S> {
                #view {
                    __session_inner: session,
                    __session_marker: ::core::marker::PhantomData,
                }
            }

            #load
            #store
        }

    }
}

/// The type a getter returns and a setter takes, without `Option`, unless the field has a
/// default (then the whole field type).
fn value_type<'a>(field: &Field<'a>) -> &'a Type {
    if field.attrs.default.is_some() {
        field.ty
    } else {
        field.option_inner.unwrap_or(field.ty)
    }
}

fn default_fn(field: &Field<'_>) -> Option<TokenStream> {
    let ty = field.ty;
    field
        .attrs
        .default
        .as_ref()
        .map(|default| match &default.value {
            Default::Trait => {
                quote_spanned!(default.span=> <#ty as ::core::default::Default>::default)
            }
            Default::Path(path) => path.to_token_stream(),
        })
}

/// `Slot::Value` or `Slot::Flash`.
fn slot(field: &Field<'_>, krate: &TokenStream) -> TokenStream {
    if field.is_flash() {
        quote!(#krate::__private::Slot::Flash)
    } else {
        quote!(#krate::__private::Slot::Value)
    }
}

/// The expression reading a field from `session`, as `Result<Option<V>>`. Spanned at the
/// field's type, so a type that does not deserialize is reported there.
fn read_expr(field: &Field<'_>, krate: &TokenStream, session: &TokenStream) -> TokenStream {
    let value_ty = value_type(field);
    let key = &field.key;
    let slot = slot(field, krate);
    quote_spanned!(value_ty.span()=> #krate::__private::read::<#value_ty>(#session, #slot, #key))
}

/// The statement writing `value` (an `Option<&V>`) to `session`, spanned at the field's type.
fn write_expr(
    field: &Field<'_>,
    krate: &TokenStream,
    session: &TokenStream,
    value: &TokenStream,
) -> TokenStream {
    let value_ty = value_type(field);
    let key = &field.key;
    let slot = slot(field, krate);
    quote_spanned!(value_ty.span()=> #krate::__private::write::<#value_ty>(#session, #slot, #key, #value))
}

fn getter(field: &Field<'_>, krate: &TokenStream, vis: &syn::Visibility) -> TokenStream {
    let member = field.member;
    if field.is_lifetime() {
        let ty = field.ty;
        let session = quote!(::core::convert::AsRef::as_ref(&self.__session_inner));
        return quote_spanned! {member.span()=>
            /// Reads how long the browser keeps this session's cookie (`session(lifetime)`).
            #[must_use]
            #vis fn #member(&self) -> #ty {
                #krate::Session::lifetime(#session)
            }
        };
    }
    let key = &field.key;
    let value_ty = value_type(field);
    let session = quote!(::core::convert::AsRef::as_ref(&self.__session_inner));
    let read = read_expr(field, krate, &session);
    let what = if field.is_flash() {
        "the flash value that arrived with this request"
    } else {
        "the session value"
    };
    if let Some(default) = default_fn(field) {
        let doc = format!(
            "Reads {what} under `\"{key}\"`, or the field's default when it is missing or \
             does not fit the type."
        );
        quote_spanned! {member.span()=>
            #[doc = #doc]
            #[must_use]
            #vis fn #member(&self) -> #value_ty {
                #krate::__private::or_default(#read, #key, #default)
            }
        }
    } else {
        let doc = format!(
            "Reads {what} under `\"{key}\"`: `None` when it is missing.\n\n\
             # Errors\n\n`session::Error::Deserialize` (naming the key) when the stored value \
             does not fit the type."
        );
        quote_spanned! {member.span()=>
            #[doc = #doc]
            #vis fn #member(&self) -> #krate::Result<::core::option::Option<#value_ty>> {
                #read
            }
        }
    }
}

fn setters(field: &Field<'_>, krate: &TokenStream, vis: &syn::Visibility) -> TokenStream {
    let member = field.member;
    if field.is_lifetime() {
        let ty = field.ty;
        let [set] = writer_idents(field);
        let session = quote!(::core::convert::AsMut::as_mut(&mut self.__session_inner));
        return quote_spanned! {member.span()=>
            /// Chooses how long the browser keeps this session's cookie (`session(lifetime)`):
            /// a write when it differs from the current one.
            ///
            /// # Errors
            ///
            /// `session::Error::Destroyed` after the session was destroyed.
            #vis fn #set(&mut self, lifetime: #ty) -> #krate::Result<()> {
                #krate::Session::set_lifetime(#session, lifetime)
            }
        };
    }
    let key = &field.key;
    let value_ty = value_type(field);
    let session = quote!(::core::convert::AsMut::as_mut(&mut self.__session_inner));
    let write = write_expr(
        field,
        krate,
        &session,
        &quote!(::core::option::Option::Some(&value)),
    );
    let errors = "\n\n# Errors\n\n`session::Error::Destroyed` after the session was destroyed; \
                  `session::Error::Serialize` when the value cannot become JSON.";
    if field.is_flash() {
        let [flash] = writer_idents(field);
        let doc = format!(
            "Flashes a value under `\"{key}\"`, readable on the next request only.{errors}"
        );
        quote_spanned! {member.span()=>
            #[doc = #doc]
            #vis fn #flash(&mut self, value: #value_ty) -> #krate::Result<()> {
                #write
            }
        }
    } else {
        let [set, remove] = writer_idents(field);
        let set_doc = format!("Stores a value under `\"{key}\"`.{errors}");
        let remove_doc = format!(
            "Removes the value under `\"{key}\"`.\n\n# Errors\n\n`session::Error::Destroyed` \
             after the session was destroyed."
        );
        quote_spanned! {member.span()=>
            #[doc = #set_doc]
            #vis fn #set(&mut self, value: #value_ty) -> #krate::Result<()> {
                #write
            }

            #[doc = #remove_doc]
            #vis fn #remove(&mut self) -> #krate::Result<()> {
                #krate::__private::remove(#session, #key)
            }
        }
    }
}

/// The writer idents of a field, named by `check::writer_names` and spanned at the field.
fn writer_idents<const N: usize>(field: &Field<'_>) -> [Ident; N] {
    let names = writer_names(field);
    std::array::from_fn(|index| Ident::new(&names[index], field.member.span()))
}

fn key_const(field: &Field<'_>, vis: &syn::Visibility) -> TokenStream {
    let name = Ident::new(&key_const_name(field), field.member.span());
    let key = &field.key;
    let doc = format!("The session key of the field `{}`.", field.name);
    quote! {
        #[doc = #doc]
        #vis const #name: &'static str = #key;
    }
}

fn load(container: &Container<'_>, krate: &TokenStream) -> TokenStream {
    let session = quote!(__session_session);
    let inits = container.fields.iter().map(|field| {
        let member = field.member;
        if field.is_skipped() {
            return quote!(#member: ::core::default::Default::default());
        }
        if field.is_lifetime() {
            return quote!(#member: #krate::Session::lifetime(#session));
        }
        let key = &field.key;
        let read = read_expr(field, krate, &session);
        if let Some(default) = default_fn(field) {
            quote!(#member: #krate::__private::or_default(#read, #key, #default))
        } else if field.option_inner.is_some() {
            quote!(#member: #read?)
        } else {
            quote!(#member: #krate::__private::required(#read, #key)?)
        }
    });
    quote! {
        fn load(#session: &#krate::Session) -> #krate::Result<Self> {
            ::core::result::Result::Ok(Self { #(#inits,)* })
        }
    }
}

fn store(fields: &[&Field<'_>], krate: &TokenStream) -> TokenStream {
    let session = quote!(__session_session);
    let writes = fields.iter().map(|field| {
        let member = field.member;
        if field.is_lifetime() {
            return quote!(#krate::Session::set_lifetime(#session, self.#member)?;);
        }
        let value = if field.option_inner.is_some() && field.attrs.default.is_none() {
            quote!(::core::option::Option::as_ref(&self.#member))
        } else {
            quote!(::core::option::Option::Some(&self.#member))
        };
        let write = write_expr(field, krate, &session, &value);
        quote!(#write?;)
    });
    quote! {
        fn store(&self, #session: &mut #krate::Session) -> #krate::Result<()> {
            #(#writes)*
            ::core::result::Result::Ok(())
        }
    }
}

/// The struct's generics plus `Serialize + DeserializeOwned` bounds on every field value type
/// that uses a type parameter (as serde infers its bounds).
fn with_field_bounds(
    generics: &Generics,
    fields: &[&Field<'_>],
    type_params: &[&Ident],
    krate: &TokenStream,
) -> Generics {
    let mut generics = generics.clone();
    let predicates: Vec<syn::WherePredicate> = fields
        .iter()
        .map(|field| value_type(field))
        .filter(|ty| mentions_any(ty, type_params))
        .map(|ty| {
            parse_quote!(#ty: #krate::__private::Serialize + #krate::__private::DeserializeOwned)
        })
        .collect();
    if !predicates.is_empty() {
        generics.make_where_clause().predicates.extend(predicates);
    }
    generics
}

/// The generics with the view's session parameter `__S` added after the lifetimes.
fn with_view_param(generics: &Generics, bound: Option<TokenStream>) -> Generics {
    let mut generics = generics.clone();
    let position = generics.lifetimes().count();
    let param: GenericParam = match bound {
        Some(bound) => parse_quote!(__S: #bound),
        None => parse_quote!(__S),
    };
    generics.params.insert(position, param);
    generics
}

/// Whether a type's tokens name any of the type parameters.
fn mentions_any(ty: &Type, params: &[&Ident]) -> bool {
    fn walk(tokens: TokenStream, params: &[&Ident]) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => params.iter().any(|param| **param == ident),
            TokenTree::Group(group) => walk(group.stream(), params),
            _ => false,
        })
    }
    !params.is_empty() && walk(ty.to_token_stream(), params)
}
