//! Collecting errors, and what to emit when there are any.
//!
//! Every phase reports into one [`Errors`] instead of stopping at the first problem, so
//! the user sees every mistake in one build. When there is at least one, the output is
//! the original item plus one `compile_error!` per mistake and nothing else: the fn still
//! exists, so calls to it do not cascade into further errors.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// Every error found so far, combined into one `syn::Error`.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Records an error that underlines all of `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error at `span`.
    pub(crate) fn at(&mut self, span: proc_macro2::Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Moves every error of `other` into `self`.
    pub(crate) fn append(&mut self, other: Errors) {
        if let Some(error) = other.combined {
            self.push(error);
        }
    }

    /// Whether nothing went wrong.
    pub(crate) fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    /// The combined error, if any.
    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.combined
    }
}

/// The output when something is wrong: `item` (as written, or cleaned up when it parsed)
/// followed by one `compile_error!` per error, and nothing that could cascade.
pub(crate) fn emit(item: TokenStream, errors: Errors) -> TokenStream {
    let error = errors.into_error().unwrap_or_else(|| {
        syn::Error::new(
            proc_macro2::Span::call_site(),
            "`#[jobs::task]` failed without saying why; please report this",
        )
    });
    let errors = error.into_compile_error();
    quote! {
        #item
        #errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    #[test]
    fn errors_combine_in_order() {
        let mut errors = Errors::default();
        assert!(errors.is_empty());
        errors.at(Span::call_site(), "first");
        errors.at(Span::call_site(), "second");
        let messages: Vec<String> = errors
            .into_error()
            .into_iter()
            .flatten()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn emit_keeps_the_item() {
        let mut errors = Errors::default();
        errors.spanned(quote!(x), "bad");
        let out = emit(
            quote!(
                fn f() {}
            ),
            errors,
        )
        .to_string();
        assert!(out.starts_with("fn f"), "{out}");
        assert!(out.contains("compile_error"), "{out}");
    }
}
