//! Access labels and the grants that admit them. A document carries labels (`subject:p-123`,
//! `team:oncology`, `public`); a caller holds grants, parsed here from patterns: `*` (everything,
//! documents without labels included), an exact label, or a prefix ending in `*` (`team:*`). A
//! document is visible iff at least one of its labels is granted. The grammars below are checked
//! before anything reaches the store.

pub use seam_store::{Grants, MetaFilter};

/// Why a grant pattern, label, document id or collection name was refused: one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GrantError(pub String);

fn label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._:@/+-".contains(&b)
}

/// A label: 1 to 128 characters of `[A-Za-z0-9._:@/+-]`.
pub fn valid_label(label: &str) -> bool {
    (1..=128).contains(&label.len()) && label.bytes().all(label_byte)
}

/// A document id: 1 to 200 characters of `[A-Za-z0-9._:@/+-]`.
pub fn valid_document_id(id: &str) -> bool {
    (1..=200).contains(&id.len()) && id.bytes().all(label_byte)
}

/// A collection name: 1 to 64 characters of `[a-z0-9_-]`.
pub fn valid_collection(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Patterns → [`Grants`]: `*` grants all; `team:*` the prefix `team:`; anything else one exact
/// label. Only a trailing `*` is allowed, and the rest must be label characters. No patterns:
/// nothing is visible.
pub fn parse_grants(patterns: &[String]) -> Result<Grants, GrantError> {
    let mut g = Grants::default();
    for p in patterns {
        if p == "*" {
            g.all = true;
            continue;
        }
        let (body, prefix) = match p.strip_suffix('*') {
            Some(body) => (body, true),
            None => (p.as_str(), false),
        };
        if !valid_label(body) {
            return Err(GrantError(format!(
                "the label pattern \"{}\" is not 1 to 128 characters of letters, digits and ._:@/+- with at most a trailing *",
                p.escape_debug()
            )));
        }
        let list = if prefix {
            &mut g.prefixes
        } else {
            &mut g.exact
        };
        if !list.iter().any(|x| x == body) {
            list.push(body.to_owned());
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    fn pats(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn patterns_parse() {
        let g = parse_grants(&pats(&["public", "team:*", "public", "subject:p-1"])).unwrap();
        assert!(!g.all);
        assert_eq!(g.exact, ["public", "subject:p-1"]);
        assert_eq!(g.prefixes, ["team:"]);
        assert!(g.permits("team:onc") && g.permits("public") && !g.permits("subject:p-2"));
        assert!(parse_grants(&pats(&["*"])).unwrap().all);
        assert!(parse_grants(&[]).unwrap().is_empty());
        for bad in [
            "",
            "**",
            "a*b",
            "*a",
            "team :x",
            "a\"b",
            "é",
            "a\n",
            &"x".repeat(129),
        ] {
            let e = parse_grants(&pats(&[bad])).unwrap_err().to_string();
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn names_follow_their_grammars() {
        for (s, label, id, coll) in [
            ("public", true, true, true),
            ("subject:p-123", true, true, false),
            ("docs/a b.md", false, false, false),
            ("docs/a_b.md", true, true, false),
            ("Handbook", true, true, false),
            ("hand_book-2", true, true, true),
            ("", false, false, false),
        ] {
            assert_eq!(valid_label(s), label, "{s}");
            assert_eq!(valid_document_id(s), id, "{s}");
            assert_eq!(valid_collection(s), coll, "{s}");
        }
        assert!(valid_document_id(&"x".repeat(200)) && !valid_document_id(&"x".repeat(201)));
        assert!(valid_label(&"x".repeat(128)) && !valid_label(&"x".repeat(129)));
        assert!(valid_collection(&"x".repeat(64)) && !valid_collection(&"x".repeat(65)));
    }
}
