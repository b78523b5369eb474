//! `file://` paths with wildcards, as promptfoo expands them for prompts and vars: `*` and `?`
//! within one path component, `[abc]` / `[!abc]` character classes, `**` for any number of
//! directories. Matches are sorted, so a suite expands the same way on every machine, and the
//! walk is bounded.

use std::path::{Path, PathBuf};

/// Directory entries a single expansion may look at.
const MAX_VISITED: usize = 100_000;

/// Whether `pattern` has wildcards.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// The files under `dir` matching `pattern` (relative to `dir`, or absolute), sorted.
///
/// # Errors
/// A message when a component is not a valid pattern or the walk looked at too many entries.
pub fn expand(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let (base, rest) = match pattern.strip_prefix('/') {
        Some(rest) => (PathBuf::from("/"), rest),
        None => (dir.to_path_buf(), pattern),
    };
    let parts: Vec<Part> = rest
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(Part::new)
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    let mut visited = 0;
    walk(&base, &parts, &mut out, &mut visited)?;
    out.sort();
    out.dedup();
    Ok(out)
}

enum Part {
    Literal(String),
    Pattern(regex::Regex),
    AnyDepth,
}

impl Part {
    fn new(component: &str) -> Result<Part, String> {
        if component == "**" {
            return Ok(Part::AnyDepth);
        }
        if !is_glob(component) {
            return Ok(Part::Literal(component.to_owned()));
        }
        let mut re = String::from("^");
        let mut chars = component.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                '[' => {
                    re.push('[');
                    if chars.peek() == Some(&'!') {
                        chars.next();
                        re.push('^');
                    }
                    for c in chars.by_ref() {
                        if c == ']' {
                            break;
                        }
                        if c == '\\' || c == '[' {
                            re.push('\\');
                        }
                        re.push(c);
                    }
                    re.push(']');
                }
                other => re.push_str(&regex::escape(&other.to_string())),
            }
        }
        re.push('$');
        regex::Regex::new(&re)
            .map(Part::Pattern)
            .map_err(|e| format!("`{component}` is not a valid pattern ({e})"))
    }
}

fn walk(
    dir: &Path,
    parts: &[Part],
    out: &mut Vec<PathBuf>,
    visited: &mut usize,
) -> Result<(), String> {
    let Some((first, rest)) = parts.split_first() else {
        if dir.is_file() {
            out.push(dir.to_path_buf());
        }
        return Ok(());
    };
    match first {
        Part::Literal(name) => walk(&dir.join(name), rest, out, visited),
        Part::AnyDepth => {
            walk(dir, rest, out, visited)?;
            for sub in entries(dir, visited)? {
                if sub.is_dir() {
                    walk(&sub, parts, out, visited)?;
                }
            }
            Ok(())
        }
        Part::Pattern(re) => {
            for entry in entries(dir, visited)? {
                let matches = entry
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| re.is_match(n) && !n.starts_with('.'));
                if matches {
                    walk(&entry, rest, out, visited)?;
                }
            }
            Ok(())
        }
    }
}

fn entries(dir: &Path, visited: &mut usize) -> Result<Vec<PathBuf>, String> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in read.flatten() {
        *visited += 1;
        if *visited > MAX_VISITED {
            return Err(format!(
                "the pattern looks at more than {MAX_VISITED} files; narrow it"
            ));
        }
        out.push(e.path());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn expands_sorted_within_and_across_directories() {
        let d = std::env::temp_dir().join(format!("seam-glob-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for f in [
            "p/b.txt",
            "p/a.txt",
            "p/c.md",
            "p/sub/d.txt",
            "p/.hidden.txt",
        ] {
            let path = d.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let names = |pattern: &str| -> Vec<String> {
            expand(&d, pattern)
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(&d).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(names("p/*.txt"), ["p/a.txt", "p/b.txt"]);
        assert_eq!(names("p/[!a].*"), ["p/b.txt", "p/c.md"]);
        assert_eq!(names("p/?.md"), ["p/c.md"]);
        assert_eq!(names("p/**/*.txt"), ["p/a.txt", "p/b.txt", "p/sub/d.txt"]);
        assert!(names("q/*.txt").is_empty());
        assert!(is_glob("p/*.txt") && !is_glob("p/a.txt"));
        let _ = std::fs::remove_dir_all(&d);
    }
}
