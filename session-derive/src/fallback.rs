//! What the derive emits when the input has mistakes: the errors, plus a stub
//! `impl SessionSchema` so that uses of the type elsewhere do not pile up secondary errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::attr;
use crate::ctxt::Ctxt;
use crate::expand::krate;

pub(crate) fn expand(input: &DeriveInput, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    // The container attributes again, only for a `crate = "..."` path; their errors were
    // reported already.
    let cx = Ctxt::new();
    let krate = krate(attr::Container::from_ast(&cx, &input.attrs).krate.as_ref());
    let _ = cx.check();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #errors

        #[automatically_derived]
        #[allow(unreachable_code, unused_variables, clippy::all)]
        impl #impl_generics #krate::SessionSchema for #ident #ty_generics #where_clause {
            const KEYS: &'static [&'static str] = &[];
            type View<__S> = ::core::marker::PhantomData<__S>;

            fn view<__S>(_: __S) -> Self::View<__S> {
                ::core::marker::PhantomData
            }

            fn load(_: &#krate::Session) -> #krate::Result<Self> {
                ::core::unreachable!("`SessionSchema` was derived with errors")
            }

            fn store(&self, _: &mut #krate::Session) -> #krate::Result<()> {
                ::core::unreachable!("`SessionSchema` was derived with errors")
            }
        }
    }
}
