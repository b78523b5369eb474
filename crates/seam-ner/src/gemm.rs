//! `C = alpha · A·B + beta · C` on strided f32 views, single thread: ndarray's safe
//! `general_mat_mul`, which hands f32 to matrixmultiply's `sgemm` (AVX/FMA chosen at run time).
//! The workspace forbids `unsafe`, and matrixmultiply's own entry point is an `unsafe fn`.

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

/// A strided view: the slice, the row stride, the column stride (in elements).
pub(crate) type View<'a> = (&'a [f32], usize, usize);

/// Multiplies `a` (`m × k`) by `b` (`k × n`) into `c` (`m × n`). A view whose strides reach
/// past its slice is a bug in the caller; the product is then skipped and `false` returned.
#[allow(clippy::too_many_arguments, reason = "mirrors sgemm's shape")]
pub(crate) fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: View<'_>,
    b: View<'_>,
    beta: f32,
    c: (&mut [f32], usize, usize),
) -> bool {
    let a = cut(a.0, m, k, a.1, a.2);
    let b = cut(b.0, k, n, b.1, b.2);
    let (cs, crs, ccs) = c;
    let clen = reach(m, n, crs, ccs);
    let (Some(a), Some(b), Some(cs)) = (a, b, cs.get_mut(..clen)) else {
        return false;
    };
    let (Ok(a), Ok(b), Ok(mut c)) = (
        ArrayView2::from_shape((m, k).strides((a.1, a.2)), a.0),
        ArrayView2::from_shape((k, n).strides((b.1, b.2)), b.0),
        ArrayViewMut2::from_shape((m, n).strides((crs, ccs)), cs),
    ) else {
        return false;
    };
    ndarray::linalg::general_mat_mul(alpha, &a, &b, beta, &mut c);
    true
}

fn reach(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    (rows - 1) * rs + (cols - 1) * cs + 1
}

/// The slice trimmed to exactly what the strides reach.
fn cut(s: &[f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Option<View<'_>> {
    Some((s.get(..reach(rows, cols, rs, cs))?, rs, cs))
}
