//! A minimal reader for NumPy `.npy` files holding little-endian `f4`/`f8` arrays
//! (format versions 1–3), enough for the golden fixtures. C- and Fortran-ordered arrays are
//! both returned in C (row-major) order.

use std::path::Path;

/// A dense array: `shape` and row-major `data`.
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

pub fn read(path: &Path) -> Array {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{}: not a .npy file",
        path.display()
    );
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).expect("ascii header");
    let field = |key: &str| -> &str {
        let at = header
            .find(key)
            .unwrap_or_else(|| panic!("no {key} in {header}"));
        &header[at + key.len()..]
    };
    let descr = field("'descr':").trim_start();
    let width = if descr.starts_with("'<f4'") {
        4
    } else if descr.starts_with("'<f8'") {
        8
    } else {
        panic!("unsupported dtype in {header}")
    };
    let fortran = field("'fortran_order':").trim_start().starts_with("True");
    let shape_text = field("'shape':");
    let shape_text = &shape_text[shape_text.find('(').unwrap() + 1..shape_text.find(')').unwrap()];
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("shape"))
        .collect();
    let raw = &bytes[start + header_len..];
    let n: usize = shape.iter().product();
    assert_eq!(raw.len(), n * width, "{}: size mismatch", path.display());
    let values: Vec<f64> = raw
        .chunks_exact(width)
        .map(|c| match width {
            4 => f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64,
            _ => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let data = if fortran && shape.len() == 2 {
        let (rows, cols) = (shape[0], shape[1]);
        let mut d = vec![0.0; n];
        for r in 0..rows {
            for c in 0..cols {
                d[r * cols + c] = values[c * rows + r];
            }
        }
        d
    } else {
        assert!(
            !fortran || shape.len() < 2,
            "Fortran order only for 1-D/2-D arrays"
        );
        values
    };
    Array { shape, data }
}
