//! Rules that need several fields at once: two fields on one key, generated accessors or key
//! constants that collide, and attributes that cannot go together. This step only looks.

use std::collections::HashMap;

use crate::ast::{Container, Field};
use crate::ctxt::Ctxt;

pub(crate) fn check(cx: &Ctxt, container: &Container<'_>) {
    check_conflicting_attributes(cx, container);
    check_keys(cx, container);
    check_generated_names(cx, container);
}

fn check_conflicting_attributes(cx: &Ctxt, container: &Container<'_>) {
    let mut lifetime_field: Option<&Field<'_>> = None;
    for field in &container.fields {
        if let Some(lifetime) = field.attrs.lifetime {
            for (other, present) in [
                ("flash", field.attrs.flash.is_some()),
                ("rename", field.attrs.rename.is_some()),
                ("default", field.attrs.default.is_some()),
                ("skip", field.attrs.skip.is_some()),
            ] {
                if present {
                    cx.syn_error(syn::Error::new(
                        lifetime,
                        format!("`session(lifetime)` cannot be combined with `session({other})`"),
                    ));
                }
            }
            let names_lifetime = matches!(field.ty, syn::Type::Path(path)
                if path.qself.is_none()
                    && path.path.segments.last().is_some_and(|last| last.ident == "Lifetime"));
            if !names_lifetime {
                cx.error_spanned_by(
                    field.ty,
                    "a `session(lifetime)` field has the type `session::expiry::Lifetime`",
                );
            }
            if let Some(first) = lifetime_field {
                cx.syn_error(syn::Error::new(
                    lifetime,
                    format!(
                        "a session has one lifetime: field `{}` is `session(lifetime)` already",
                        first.name
                    ),
                ));
            } else {
                lifetime_field = Some(field);
            }
            continue;
        }
        let Some(skip) = field.attrs.skip else {
            continue;
        };
        for (other, present) in [
            ("flash", field.attrs.flash.is_some()),
            ("rename", field.attrs.rename.is_some()),
            ("default", field.attrs.default.is_some()),
        ] {
            if present {
                cx.syn_error(syn::Error::new(
                    skip,
                    format!("`session(skip)` cannot be combined with `session({other})`"),
                ));
            }
        }
    }
}

fn check_keys(cx: &Ctxt, container: &Container<'_>) {
    let mut seen: HashMap<&str, &Field<'_>> = HashMap::new();
    for field in container.fields.iter().filter(|f| f.has_key()) {
        if let Some(first) = seen.get(field.key.as_str()) {
            cx.error_spanned_by(
                field.member,
                format!(
                    "field `{}` maps to the session key `{}`, already used by field `{}`",
                    field.name, field.key, first.name
                ),
            );
        } else {
            seen.insert(&field.key, field);
        }
    }
}

/// The writer names a field gets, besides its getter (named as the field).
pub(crate) fn writer_names(field: &Field<'_>) -> Vec<String> {
    let name = &field.name;
    if field.is_flash() {
        vec![format!("flash_{name}")]
    } else if field.is_lifetime() {
        vec![format!("set_{name}")]
    } else {
        vec![format!("set_{name}"), format!("remove_{name}")]
    }
}

/// Every accessor name a field gets.
fn accessor_names(field: &Field<'_>) -> Vec<String> {
    let mut names = vec![field.name.clone()];
    names.extend(writer_names(field));
    names
}

/// The key constant a field gets.
pub(crate) fn key_const_name(field: &Field<'_>) -> String {
    format!("{}_KEY", field.name.to_ascii_uppercase())
}

fn check_generated_names(cx: &Ctxt, container: &Container<'_>) {
    let mut accessors: HashMap<String, &Field<'_>> = HashMap::new();
    let mut constants: HashMap<String, &Field<'_>> = HashMap::new();
    for field in container.fields.iter().filter(|f| !f.is_skipped()) {
        for accessor in accessor_names(field) {
            if let Some(first) = accessors.get(&accessor) {
                cx.error_spanned_by(
                    field.member,
                    format!(
                        "the accessor `{accessor}` of field `{}` collides with the accessor `{accessor}` of field `{}`",
                        field.name, first.name
                    ),
                );
            } else {
                accessors.insert(accessor, field);
            }
        }
        if field.is_lifetime() {
            continue;
        }
        let constant = key_const_name(field);
        if let Some(first) = constants.get(&constant) {
            cx.error_spanned_by(
                field.member,
                format!(
                    "the key constant `{constant}` of field `{}` collides with that of field `{}`",
                    field.name, first.name
                ),
            );
        } else {
            constants.insert(constant, field);
        }
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::check;
    use crate::ast::Container;
    use crate::ctxt::Ctxt;

    fn errors(input: &syn::DeriveInput) -> Vec<String> {
        let cx = Ctxt::new();
        if let Some(container) = Container::from_ast(&cx, input) {
            check(&cx, &container);
        }
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_clean_input_has_no_errors() {
        let input = parse_quote! {
            #[session(rename_all = "camelCase", prefix = "p.")]
            struct Ok { a: Option<u8>, #[session(flash, default)] b: u8, #[session(skip)] c: u8 }
        };
        assert!(errors(&input).is_empty());
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let input = parse_quote! {
            #[session(prefx = "p.")]
            struct Bad {
                #[session(renam = "x", flash, flash)]
                a: Option<u8>,
                #[session(skip, default)]
                b: u8,
                #[session(rename = "c")]
                d: u8,
                c: u8,
                set_e: u8,
                e: u8,
            }
        };
        let found = errors(&input);
        assert_eq!(found.len(), 6, "{found:#?}");
        assert!(found[0].contains("did you mean `prefix`"));
        assert!(found[1].contains("did you mean `rename`"));
        assert!(found[2].contains("duplicate `session(flash)`"));
        assert!(found[3].contains("cannot be combined with `session(default)`"));
        assert!(found[4].contains("session key `c`"));
        assert!(found[5].contains("accessor `set_e`"));
    }

    #[test]
    fn unsupported_shapes_stop_early() {
        let input = parse_quote!(
            enum E {
                A,
            }
        );
        assert_eq!(errors(&input).len(), 1);
        let input = parse_quote!(
            struct T(u8);
        );
        assert!(errors(&input)[0].contains("tuple structs"));
    }
}
