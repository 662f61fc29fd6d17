//! The model the derive works on: a `Container` and its `Field`s, borrowing from the
//! `syn::DeriveInput`, with every session key already computed (unraw → rename or rename_all →
//! prefix). Unsupported shapes (enums, unions, tuple and unit structs) stop here.

use proc_macro2::Ident;
use syn::ext::IdentExt as _;
use syn::{Data, DeriveInput, Fields, GenericArgument, PathArguments, Type};

use crate::attr;
use crate::ctxt::Ctxt;

pub(crate) struct Container<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: attr::Container,
    pub(crate) fields: Vec<Field<'a>>,
    pub(crate) original: &'a DeriveInput,
}

pub(crate) struct Field<'a> {
    /// The field as written, raw or not (`r#type`).
    pub(crate) member: &'a Ident,
    /// The field name without `r#`, in snake_case: the base of every generated name.
    pub(crate) name: String,
    pub(crate) attrs: attr::Field,
    pub(crate) ty: &'a Type,
    /// `T` when the field is written `Option<T>` (a syntactic check: a type alias of `Option`
    /// is treated as a plain type).
    pub(crate) option_inner: Option<&'a Type>,
    /// The session key.
    pub(crate) key: String,
}

impl<'a> Container<'a> {
    /// Builds the model, or returns `None` (with the error recorded) for a shape that cannot
    /// have a schema.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let attrs = attr::Container::from_ast(cx, &input.attrs);
        let shape_error = |what: &str| {
            cx.error_spanned_by(
                &input.ident,
                format!(
                    "`SessionSchema` cannot be derived for {what}; use a struct with named fields"
                ),
            );
        };
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(_) => {
                    shape_error("tuple structs");
                    return None;
                }
                Fields::Unit => {
                    shape_error("unit structs");
                    return None;
                }
            },
            Data::Enum(_) => {
                shape_error("enums");
                return None;
            }
            Data::Union(_) => {
                shape_error("unions");
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .map(|field| {
                let member = field.ident.as_ref().expect("named fields have idents");
                let name = member.unraw().to_string();
                let attrs = attr::Field::from_ast(cx, &field.attrs);
                let key = attrs
                    .rename
                    .as_ref()
                    .map_or_else(|| name.clone(), |rename| rename.value.clone());
                Field {
                    member,
                    name,
                    attrs,
                    ty: &field.ty,
                    option_inner: option_inner(&field.ty),
                    key,
                }
            })
            .collect::<Vec<_>>();
        let mut container = Self {
            ident: &input.ident,
            attrs,
            fields,
            original: input,
        };
        container.apply_key_rules();
        Some(container)
    }

    /// Applies `rename_all` to fields without `rename`, then `prefix` to every key.
    fn apply_key_rules(&mut self) {
        for field in &mut self.fields {
            if field.attrs.rename.is_none()
                && let Some(rule) = self.attrs.rename_all
            {
                field.key = rule.apply(&field.name);
            }
            if let Some(prefix) = &self.attrs.prefix {
                field.key = format!("{prefix}{}", field.key);
            }
        }
    }
}

impl Field<'_> {
    pub(crate) fn is_skipped(&self) -> bool {
        self.attrs.skip.is_some()
    }

    pub(crate) fn is_flash(&self) -> bool {
        self.attrs.flash.is_some()
    }

    /// The field is the session's cookie lifetime (`session(lifetime)`), not a key.
    pub(crate) fn is_lifetime(&self) -> bool {
        self.attrs.lifetime.is_some()
    }

    /// The field is stored under a session key.
    pub(crate) fn has_key(&self) -> bool {
        !self.is_skipped() && !self.is_lifetime()
    }
}

/// `T` for a type written `Option<T>`, `core::option::Option<T>` or `std::option::Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    let is_option = matches!(
        segments.iter().map(String::as_str).collect::<Vec<_>>()[..],
        ["Option"] | ["core" | "std", "option", "Option"]
    );
    if !is_option {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &path.path.segments.last()?.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>()[..] {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}
