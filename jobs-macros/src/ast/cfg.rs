//! When a parameter exists: the conditions of its `#[cfg(...)]` attributes, including
//! those a `#[cfg_attr(...)]` expands to. The payload field, its check, its binding and
//! its place in the call must carry the same conditions as the parameter itself.

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;
use syn::{Attribute, Meta};

/// The configuration predicates under which a parameter is compiled in: all of them must
/// hold. None means always.
#[derive(Default)]
pub(crate) struct Cfg {
    predicates: Vec<TokenStream>,
}

impl Cfg {
    /// The conditions written among a parameter's `attrs`. Attributes that cannot remove
    /// the parameter (lints, or a `cfg_attr` without a `cfg` inside) add none; a malformed
    /// one adds none either, and rustc reports it on the fn.
    pub(crate) fn of(attrs: &[Attribute]) -> Self {
        let predicates = attrs
            .iter()
            .filter_map(|attr| presence(&attr.meta))
            .collect();
        Cfg { predicates }
    }

    /// Each predicate, to be emitted as one `#[cfg(...)]`.
    pub(crate) fn predicates(&self) -> &[TokenStream] {
        &self.predicates
    }
}

/// The predicate under which the attribute `meta` keeps what it is on, when it can remove
/// it: `cfg(p)` gives `p`; `cfg_attr(c, a, b)` gives "not `c`, or what `a` and `b` give".
fn presence(meta: &Meta) -> Option<TokenStream> {
    let Meta::List(list) = meta else {
        return None;
    };
    if list.path.is_ident("cfg") {
        return Some(list.tokens.clone());
    }
    if !list.path.is_ident("cfg_attr") {
        return None;
    }
    let mut parts = split_commas(list.tokens.clone()).into_iter();
    let condition = parts.next()?;
    let inner: Vec<TokenStream> = parts
        .filter_map(|attr| presence(&syn::parse2(attr).ok()?))
        .collect();
    if inner.is_empty() {
        return None;
    }
    Some(quote!(any(not(#condition), all(#(#inner),*))))
}

/// `a, b(c, d), e` -> `a`, `b(c, d)`, `e`: the top-level comma-separated parts, without
/// empty ones (a trailing comma).
fn split_commas(tokens: TokenStream) -> Vec<TokenStream> {
    let mut parts = Vec::new();
    let mut part = TokenStream::new();
    for tree in tokens {
        match tree {
            TokenTree::Punct(punct) if punct.as_char() == ',' => {
                parts.push(std::mem::take(&mut part));
            }
            tree => part.extend([tree]),
        }
    }
    parts.push(part);
    parts.retain(|part| !part.is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse::Parser;

    fn predicates(attrs: TokenStream) -> Vec<String> {
        let attrs = match Attribute::parse_outer.parse2(attrs) {
            Ok(attrs) => attrs,
            Err(error) => panic!("{error}"),
        };
        let cfg = Cfg::of(&attrs);
        cfg.predicates().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn cfg_and_cfg_attr() {
        assert_eq!(
            predicates(quote! {
                #[cfg(feature = "a")]
                #[allow(unused)]
                #[serde(default)]
                #[cfg(not(unix))]
            }),
            ["feature = \"a\"", "not (unix)"]
        );
        assert_eq!(
            predicates(quote! {
                #[cfg_attr(test, allow(unused), cfg(x), cfg_attr(y, cfg(z)),)]
                #[cfg_attr(test, allow(unused))]
                #[cfg_attr(oops)]
                #[cfg]
            }),
            ["any (not (test) , all (x , any (not (y) , all (z))))"]
        );
    }

    #[test]
    fn commas() {
        let parts: Vec<String> = split_commas(quote!(a, b(c, d), , e = "f,",))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(parts, ["a", "b (c , d)", "e = \"f,\""]);
    }
}
