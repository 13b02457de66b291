//! A typed view of the task fn: its arguments sorted into the `Context` and the payload
//! fields, with the signature rules checked on the way, and the names derived from it.
//! The `#[cfg]` conditions of a parameter are read in [`cfg`].

mod cfg;

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, Item, ItemFn, Pat, ReturnType, Type};

use crate::fallback::Errors;

pub(crate) use self::cfg::Cfg;

/// Attributes that rustc accepts on a fn parameter, so they stay there; every other
/// attribute (`#[serde(default)]`, a doc comment) moves to the payload field. The
/// conditions of `cfg` and `cfg_attr` are also copied wherever the parameter is used.
const PARAM_ATTRS: &[&str] = &[
    "cfg", "cfg_attr", "allow", "warn", "deny", "forbid", "expect",
];

/// The task fn.
pub(crate) struct TaskFn {
    /// The fn as it is emitted: as written, minus the parameter attributes that moved to
    /// the payload's fields.
    pub(crate) item: ItemFn,
    /// Every parameter, in order.
    pub(crate) params: Vec<Param>,
}

/// One parameter of the task fn.
pub(crate) enum Param {
    /// The `jobs::Context` of the attempt, and when the parameter exists; not part of
    /// the payload.
    Context(Cfg),
    /// A field of the payload.
    Field(Field),
}

/// A payload field, from a parameter `ident: ty`.
pub(crate) struct Field {
    pub(crate) ident: Ident,
    pub(crate) ty: Box<Type>,
    /// The parameter's attributes that belong on the field.
    pub(crate) attrs: Vec<Attribute>,
    /// When the parameter, hence the field, exists.
    pub(crate) cfg: Cfg,
}

impl TaskFn {
    /// The payload's fields, in order.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &Field> {
        self.params.iter().filter_map(|param| match param {
            Param::Context(_) => None,
            Param::Field(field) => Some(field),
        })
    }

    /// When a parameter takes the `Context`: `None` when none does.
    pub(crate) fn context(&self) -> Option<&Cfg> {
        self.params.iter().find_map(|param| match param {
            Param::Context(cfg) => Some(cfg),
            Param::Field(_) => None,
        })
    }

    /// The fn's name without `r#`.
    pub(crate) fn name(&self) -> String {
        self.item.sig.ident.unraw().to_string()
    }

    /// The task name when the attribute gives none: `notify_user` -> `notify-user`.
    pub(crate) fn default_task_name(&self) -> String {
        let name = self.name();
        match kebab(&name) {
            kebab if kebab.is_empty() => name,
            kebab => kebab,
        }
    }

    /// The payload's name when the attribute gives none: `notify_user` -> `NotifyUser`,
    /// made a valid identifier if it is not one (a fn `self_` gives `TaskSelf`). It has
    /// the fn name's span, so errors about it (a clash with another item) point there.
    pub(crate) fn default_payload(&self) -> Ident {
        let span = self.item.sig.ident.span();
        let camel = camel(&self.name());
        let mut ident = [camel.clone(), format!("Task{camel}")]
            .iter()
            .find_map(|candidate| syn::parse_str::<Ident>(candidate).ok())
            .unwrap_or_else(|| Ident::new("TaskPayload", span));
        ident.set_span(span);
        ident
    }

    /// Where the return type is written (or the fn's name when there is none), for
    /// errors about what the fn returns.
    pub(crate) fn output_span(&self) -> Span {
        match &self.item.sig.output {
            ReturnType::Default => self.item.sig.ident.span(),
            ReturnType::Type(_, ty) => ty.span(),
        }
    }
}

/// Reads the item under the attribute. When it is not a fn at all, reports that and
/// gives the tokens back to be emitted unchanged.
pub(crate) fn parse(item: TokenStream, errors: &mut Errors) -> Result<TaskFn, TokenStream> {
    let item_fn = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(item_fn)) => item_fn,
        Ok(_) => {
            errors.at(
                Span::call_site(),
                "`#[jobs::task]` goes on an `async fn`, e.g. \
                 `async fn notify_user(user_id: String) -> Result<(), jobs::TaskError>`",
            );
            return Err(item);
        }
        Err(error) => {
            errors.push(error);
            return Err(item);
        }
    };
    Ok(read(item_fn, errors))
}

fn read(mut item: ItemFn, errors: &mut Errors) -> TaskFn {
    let sig = &mut item.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            "a task must be an `async fn`; add `async` before `fn`",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(unsafety, "a task fn cannot be `unsafe`");
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            "a task fn cannot be generic: its arguments become the fields of one concrete \
             payload struct",
        );
    }

    let mut params = Vec::new();
    let mut context = false;
    for input in &mut sig.inputs {
        let arg = match input {
            FnArg::Receiver(receiver) => {
                errors.spanned(
                    &*receiver,
                    "a task cannot take `self`; write a free `async fn`, outside any `impl`",
                );
                continue;
            }
            FnArg::Typed(arg) => arg,
        };
        if is_context(&arg.ty) {
            if context {
                errors.spanned(&arg.ty, "a task takes at most one `Context` argument");
            }
            context = true;
            params.push(Param::Context(Cfg::of(&arg.attrs)));
            continue;
        }
        let cfg = Cfg::of(&arg.attrs);
        let attrs = take_field_attrs(&mut arg.attrs);
        check_type(&arg.ty, errors);
        match &*arg.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                params.push(Param::Field(Field {
                    ident: pat.ident.clone(),
                    ty: arg.ty.clone(),
                    attrs,
                    cfg,
                }));
            }
            pat => errors.spanned(
                pat,
                "a task argument must be a plain name, like `user_id: String`: \
                 it becomes a field of the payload struct",
            ),
        }
    }
    TaskFn { item, params }
}

/// Whether `ty` is a path ending in `Context`: `jobs::Context`, `Context`, ...
fn is_context(ty: &Type) -> bool {
    match ty {
        Type::Group(group) => is_context(&group.elem),
        Type::Paren(paren) => is_context(&paren.elem),
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "Context" && last.arguments.is_none()),
        _ => false,
    }
}

/// Rejects argument types that cannot be a field of an owned, concrete payload.
fn check_type(ty: &Type, errors: &mut Errors) {
    match ty {
        Type::Group(group) => check_type(&group.elem, errors),
        Type::Paren(paren) => check_type(&paren.elem, errors),
        Type::Reference(_) => errors.spanned(
            ty,
            "a task argument must own its data, since it is stored between enqueue and run; \
             take e.g. `String` instead of `&str`, `Vec<T>` instead of `&[T]`",
        ),
        Type::ImplTrait(_) => errors.spanned(
            ty,
            "a task argument cannot be `impl Trait`: the payload needs concrete types",
        ),
        _ => {}
    }
}

/// Removes and returns the attributes of a parameter that belong on its field.
fn take_field_attrs(attrs: &mut Vec<Attribute>) -> Vec<Attribute> {
    let (stay, moved) = std::mem::take(attrs)
        .into_iter()
        .partition(|attr| PARAM_ATTRS.iter().any(|name| attr.path().is_ident(name)));
    *attrs = stay;
    moved
}

/// `notify_user` -> `notify-user`. Underscores at the ends or doubled are dropped.
pub(crate) fn kebab(fn_name: &str) -> String {
    words(fn_name)
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

/// `notify_user` -> `NotifyUser`: each word's first letter is capitalised, the rest kept.
pub(crate) fn camel(fn_name: &str) -> String {
    words(fn_name)
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect()
}

fn words(fn_name: &str) -> impl Iterator<Item = &str> {
    let fn_name = fn_name.strip_prefix("r#").unwrap_or(fn_name);
    fn_name.split('_').filter(|word| !word.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{ToTokens, quote};

    fn read_tokens(tokens: TokenStream) -> (Option<TaskFn>, Vec<String>) {
        let mut errors = Errors::default();
        let task = parse(tokens, &mut errors).ok();
        let messages = errors
            .into_error()
            .into_iter()
            .flatten()
            .map(|e| e.to_string())
            .collect();
        (task, messages)
    }

    #[test]
    fn context_anywhere_and_attributes_moved() {
        let (task, errors) = read_tokens(quote! {
            async fn f(
                #[serde(default)] #[allow(unused)] a: u32,
                ctx: jobs::Context,
                /// The b.
                mut b: String,
            ) {}
        });
        assert!(errors.is_empty(), "{errors:?}");
        let task = task.expect("a fn");
        assert!(task.context().is_some());
        let fields: Vec<String> = task.fields().map(|f| f.ident.to_string()).collect();
        assert_eq!(fields, ["a", "b"]);
        let moved: Vec<usize> = task.fields().map(|f| f.attrs.len()).collect();
        assert_eq!(moved, [1, 1]);
        let emitted = task.item.to_token_stream().to_string();
        assert!(
            !emitted.contains("serde") && !emitted.contains("The b"),
            "{emitted}"
        );
        assert!(emitted.contains("allow"), "{emitted}");
    }

    #[test]
    fn cfg_conditions_read_and_kept() {
        let (task, errors) = read_tokens(quote! {
            async fn f(#[cfg(a)] #[serde(default)] x: u8, #[cfg(b)] ctx: Context, y: u8) {}
        });
        assert!(errors.is_empty(), "{errors:?}");
        let task = task.expect("a fn");
        let conditions: Vec<usize> = task.fields().map(|f| f.cfg.predicates().len()).collect();
        assert_eq!(conditions, [1, 0]);
        let context = task.context().map(|cfg| cfg.predicates().len());
        assert_eq!(context, Some(1));
        let emitted = task.item.to_token_stream().to_string();
        assert!(
            emitted.contains("# [cfg (a)] x : u8 , # [cfg (b)] ctx : Context"),
            "{emitted}"
        );
    }

    #[test]
    fn context_paths() {
        for ty in [
            quote!(Context),
            quote!(jobs::Context),
            quote!(::jobs::Context),
        ] {
            let (task, _) = read_tokens(quote!(async fn f(c: #ty) {}));
            assert!(task.is_some_and(|t| t.context().is_some()), "{ty}");
        }
        for ty in [quote!(Context<'a>), quote!(ContextX), quote!(&Context)] {
            let (task, _) = read_tokens(quote!(async fn f(c: #ty) {}));
            assert!(task.is_some_and(|t| t.context().is_none()), "{ty}");
        }
    }

    #[test]
    fn every_rule() {
        let (task, errors) = read_tokens(quote! {
            unsafe fn f<T>(&self, (a, b): (u32, u32), c: Context, d: jobs::Context, e: &str, x @ _: u8) {}
        });
        assert!(task.is_some());
        assert_eq!(errors.len(), 8, "{errors:?}");
        assert!(errors[0].starts_with("a task must be an `async fn`"));
        assert!(errors[1].starts_with("a task fn cannot be `unsafe`"));
        assert!(errors[2].starts_with("a task fn cannot be generic"));
        assert!(errors[3].starts_with("a task cannot take `self`"));
        assert!(errors[4].starts_with("a task argument must be a plain name"));
        assert!(errors[5].starts_with("a task takes at most one `Context`"));
        assert!(errors[6].starts_with("a task argument must own its data"));
        assert!(errors[7].starts_with("a task argument must be a plain name"));
    }

    #[test]
    fn not_a_fn() {
        let (task, errors) = read_tokens(quote!(
            struct S;
        ));
        assert!(task.is_none());
        assert!(errors[0].contains("goes on an `async fn`"));
    }

    #[test]
    fn kebab_case() {
        assert_eq!(kebab("notify_user"), "notify-user");
        assert_eq!(kebab("send"), "send");
        assert_eq!(kebab("send_v2_email"), "send-v2-email");
        assert_eq!(kebab("_private__task_"), "private-task");
        assert_eq!(kebab("r#type"), "type");
        assert_eq!(kebab("import_CSV"), "import-csv");
    }

    #[test]
    fn camel_case() {
        assert_eq!(camel("notify_user"), "NotifyUser");
        assert_eq!(camel("send"), "Send");
        assert_eq!(camel("send_v2_email"), "SendV2Email");
        assert_eq!(camel("_private__task_"), "PrivateTask");
        assert_eq!(camel("r#type"), "Type");
        assert_eq!(camel("import_CSV"), "ImportCSV");
        assert_eq!(camel("élan_vital"), "ÉlanVital");
        assert_eq!(camel("run_2"), "Run2");
    }

    #[test]
    fn default_names() {
        let names = |tokens: TokenStream| {
            let (task, _) = read_tokens(tokens);
            let task = task.expect("a fn");
            (task.default_task_name(), task.default_payload().to_string())
        };
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            names(quote!(
                async fn notify_user() {}
            )),
            pair("notify-user", "NotifyUser")
        );
        assert_eq!(
            names(quote!(
                async fn self_() {}
            )),
            pair("self", "TaskSelf")
        );
        assert_eq!(
            names(quote!(
                async fn __() {}
            )),
            pair("__", "Task")
        );
        assert_eq!(
            names(quote!(
                async fn r#type() {}
            )),
            pair("type", "Type")
        );
        assert_eq!(
            names(quote!(
                async fn _1() {}
            )),
            pair("1", "Task1")
        );
    }
}
