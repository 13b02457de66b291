//! The layers of `jobs/src` depend on each other one way only (see docs/ARCHITECTURE.md):
//! model -> storage -> task -> client -> worker -> testing, each folder depending only on
//! the ones before it, and within the task layer each file only on the files before it.
//! This test reads the sources and fails on any path that reaches up, so a cycle cannot
//! come back unnoticed.

use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom up: a folder of `src/` and what its files may name with `crate::`.
const LAYERS: [&str; 6] = ["model", "storage", "task", "client", "worker", "testing"];

/// The files of the task layer, bottom up: each may name (with `super::`) only the ones
/// before it.
const TASK_FILES: [&str; 6] = [
    "periodic",
    "handle",
    "error",
    "context",
    "definition",
    "registry",
];

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The code of a file without its comments (doc links may point anywhere).
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The layers and root re-exports (`crate::Name`) that `code` names after `crate::`.
fn crate_paths(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .filter(|(at, _)| {
            // `$crate::` in macros is the crate root seen from outside: not a layer.
            !code[..*at].ends_with('$')
        })
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn no_layer_names_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (level, layer) in LAYERS.iter().enumerate() {
        let files = sources(&src.join(layer));
        assert!(!files.is_empty(), "no sources under src/{layer}");
        for file in files {
            for name in crate_paths(&code(&file)) {
                let allowed = match LAYERS.iter().position(|l| *l == name) {
                    Some(target) => target <= level,
                    // A root re-export (`crate::Error`) hides which layer it comes from:
                    // only the top layer, which may use any, names them.
                    None if name.starts_with(char::is_uppercase) => *layer == "testing",
                    // `crate::__private` and the like: the macro's support.
                    None => *layer == "testing",
                };
                if !allowed {
                    wrong.push(format!("{} names crate::{name}", file.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "paths that reach up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_task_layer_files_depend_in_one_order() {
    let task = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/task");
    let mut wrong = Vec::new();
    for (level, file) in TASK_FILES.iter().enumerate() {
        let code = code(&task.join(format!("{file}.rs")));
        for (at, _) in code.match_indices("super::") {
            let name: String = code[at + "super::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            match TASK_FILES.iter().position(|f| *f == name) {
                Some(target) if target < level => {}
                // `super::*` in a unit test is the file's own items.
                _ if name.is_empty() => {}
                _ => wrong.push(format!("task/{file}.rs names super::{name}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "task files that reach up:\n{}",
        wrong.join("\n")
    );
}
