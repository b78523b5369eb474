//! A unified line diff for `seam prompts diff`: Myers' algorithm (O((N+M)·D) time and space,
//! D the number of edits, small for two versions of one prompt), printed as `diff -u` prints it.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Equal,
    Delete,
    Insert,
}

/// The shortest edit script from `a` to `b`, in order.
fn script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len(), b.len());
    let max = n + m;
    // `v[k + max + 1]`: the furthest x reached on diagonal k = x - y.
    let mut v = vec![0usize; 2 * max + 3];
    let at = |k: isize| -> usize { (k + max as isize + 1) as usize };
    let mut trace = Vec::new();
    'search: for d in 0..=max as isize {
        trace.push(v.clone());
        for k in (-d..=d).step_by(2) {
            let mut x = if k == -d || (k != d && v[at(k - 1)] < v[at(k + 1)]) {
                v[at(k + 1)]
            } else {
                v[at(k - 1)] + 1
            };
            let mut y = (x as isize - k) as usize;
            while x < n && y < m && a[x] == b[y] {
                x += 1;
                y += 1;
            }
            v[at(k)] = x;
            if x >= n && y >= m {
                break 'search;
            }
        }
    }
    // Walk back from the end through each step's furthest points.
    let mut ops = Vec::with_capacity(max);
    let (mut x, mut y) = (n as isize, m as isize);
    for (d, v) in trace.iter().enumerate().rev() {
        let (d, k) = (d as isize, x - y);
        let prev_k = if k == -d || (k != d && v[at(k - 1)] < v[at(k + 1)]) {
            k + 1
        } else {
            k - 1
        };
        let prev_x = v[at(prev_k)] as isize;
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            ops.push(Op::Equal);
            x -= 1;
            y -= 1;
        }
        if d > 0 {
            ops.push(if x == prev_x { Op::Insert } else { Op::Delete });
        }
        (x, y) = (prev_x, prev_y);
    }
    ops.reverse();
    ops
}

/// `a` → `b` as a unified diff with `context` lines around each change, headed `--- from` and
/// `+++ to`; `None` when they are the same.
pub fn unified(a: &str, b: &str, from: &str, to: &str, context: usize) -> Option<String> {
    let a: Vec<&str> = a.split_inclusive('\n').collect();
    let b: Vec<&str> = b.split_inclusive('\n').collect();
    let ops = script(&a, &b);
    let changes: Vec<usize> = (0..ops.len()).filter(|&i| ops[i] != Op::Equal).collect();
    let first = *changes.first()?;
    // Lines of `a` and `b` consumed before each op.
    let mut pos = vec![(0, 0)];
    for op in &ops {
        let (i, j) = pos[pos.len() - 1];
        pos.push(match op {
            Op::Equal => (i + 1, j + 1),
            Op::Delete => (i + 1, j),
            Op::Insert => (i, j + 1),
        });
    }
    let mut out = format!("--- {from}\n+++ {to}\n");
    let (mut start, mut last) = (first, first);
    for &c in changes.iter().skip(1).chain([&usize::MAX]) {
        // Changes closer than twice the context share a hunk.
        if c != usize::MAX && c - last - 1 <= 2 * context {
            last = c;
            continue;
        }
        let lo = start.saturating_sub(context);
        let hi = (last + context + 1).min(ops.len());
        let (a0, b0) = pos[lo];
        let (a1, b1) = pos[hi];
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(a0, a1 - a0),
            range(b0, b1 - b0)
        ));
        for (op, &(i, j)) in ops[lo..hi].iter().zip(&pos[lo..hi]) {
            let (sign, line) = match op {
                Op::Equal => (' ', a[i]),
                Op::Delete => ('-', a[i]),
                Op::Insert => ('+', b[j]),
            };
            out.push(sign);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
        (start, last) = (c, c);
    }
    Some(out)
}

/// A hunk's range as `diff -u` writes it: 1-based start, the length unless it is 1, and the line
/// before for an empty range.
fn range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{len}", start + 1),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn lines(s: &str) -> Vec<&str> {
        s.split_inclusive('\n').collect()
    }

    /// Applying the script to `a` gives `b`, and it is no longer than the LCS allows.
    fn check_script(a: &str, b: &str, edits: usize) {
        let (la, lb) = (lines(a), lines(b));
        let ops = script(&la, &lb);
        let (mut i, mut j, mut rebuilt) = (0, 0, Vec::new());
        for op in &ops {
            match op {
                Op::Equal => {
                    assert_eq!(la[i], lb[j], "{a:?} → {b:?}");
                    rebuilt.push(la[i]);
                    i += 1;
                    j += 1;
                }
                Op::Delete => i += 1,
                Op::Insert => {
                    rebuilt.push(lb[j]);
                    j += 1;
                }
            }
        }
        assert_eq!((i, j), (la.len(), lb.len()));
        assert_eq!(rebuilt, lb);
        let n = ops.iter().filter(|o| **o != Op::Equal).count();
        assert_eq!(n, edits, "{a:?} → {b:?}: {ops:?}");
    }

    #[test]
    fn the_script_is_a_shortest_edit() {
        for (a, b, edits) in [
            ("", "", 0),
            ("", "x\n", 1),
            ("x\n", "", 1),
            ("a\nb\nc\n", "a\nb\nc\n", 0),
            ("a\nb\nc\n", "a\nB\nc\n", 2),
            ("a\nb\nc\na\nb\nb\na\n", "c\nb\na\nb\na\nc\n", 5), // Myers' paper: D = 5
            ("a\nb\n", "b\na\n", 2),
            ("a\nb", "a\nb\n", 2), // the last line gained its newline
        ] {
            check_script(a, b, edits);
        }
    }

    #[test]
    fn hunks_have_three_lines_of_context_and_merge_when_close() {
        // Lines 1..=20 with `edit` applied to each number: a replacement, or `None` to drop it.
        let numbers = |edit: &dyn Fn(u32) -> Option<String>| -> String {
            (1..=20).filter_map(|i| edit(i).map(|l| l + "\n")).collect()
        };
        let a = numbers(&|i| Some(i.to_string()));
        let b = numbers(&|i| match i {
            5 => Some("five".into()),
            17 => None,
            _ => Some(i.to_string()),
        });
        let d = unified(&a, &b, "p@old", "p@new", 3).unwrap();
        assert_eq!(
            d,
            "--- p@old\n+++ p@new\n\
             @@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n\
             @@ -14,7 +14,6 @@\n 14\n 15\n 16\n-17\n 18\n 19\n 20\n"
        );
        // Six equal lines between two changes: one hunk.
        let c = numbers(&|i| match i {
            5 => Some("five".into()),
            12 => Some("twelve".into()),
            _ => Some(i.to_string()),
        });
        let d = unified(&a, &c, "x", "y", 3).unwrap();
        assert_eq!(d.matches("@@ -").count(), 1, "{d}");
        assert!(d.contains("@@ -2,14 +2,14 @@\n"), "{d}");
        assert_eq!(unified(&a, &a, "x", "y", 3), None);
    }

    #[test]
    fn edges_print_as_diff_u_prints_them() {
        assert_eq!(
            unified("", "new\n", "x", "y", 3).unwrap(),
            "--- x\n+++ y\n@@ -0,0 +1 @@\n+new\n"
        );
        assert_eq!(
            unified("a\nb", "a\nc", "x", "y", 3).unwrap(),
            "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
        );
    }
}
