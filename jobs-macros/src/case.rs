//! The default task name (kebab-case) and payload name (CamelCase) of a fn.

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
}
