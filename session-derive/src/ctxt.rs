//! `Ctxt`: the one way to report a mistake in the input. Errors accumulate, so a compile shows
//! every mistake at once; forgetting to `check` them is a bug, caught on drop.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// Collects errors while the input is parsed and checked.
pub(crate) struct Ctxt {
    /// `None` once `check` took them.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error spanning the tokens of `object`.
    pub(crate) fn error_spanned_by<A: ToTokens, T: Display>(&self, object: A, message: T) {
        self.syn_error(syn::Error::new_spanned(object.into_token_stream(), message));
    }

    /// Records an error made elsewhere.
    pub(crate) fn syn_error(&self, error: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("errors are recorded before `check`")
            .push(error);
    }

    /// Returns every recorded error combined into one, in the order recorded.
    pub(crate) fn check(self) -> syn::Result<()> {
        let mut errors = self
            .errors
            .borrow_mut()
            .take()
            .expect("`check` runs once")
            .into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        assert!(
            std::thread::panicking() || self.errors.borrow().is_none(),
            "forgot to check for errors"
        );
    }
}
