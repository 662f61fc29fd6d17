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
    for field in &container.fields {
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
    for field in container.fields.iter().filter(|f| !f.is_skipped()) {
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

/// The accessor names a field gets.
pub(crate) fn accessor_names(field: &Field<'_>) -> Vec<String> {
    let name = &field.name;
    if field.is_flash() {
        vec![name.clone(), format!("flash_{name}")]
    } else {
        vec![
            name.clone(),
            format!("set_{name}"),
            format!("remove_{name}"),
        ]
    }
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
