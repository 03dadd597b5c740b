//! Helpers shared by the integration tests (also included by the CLI's tests).
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod clips;

use std::path::{Path, PathBuf};

/// `../shared` beside the repository (or `$BOKEH_SHARED`), if present. Tests that need it call
/// this and skip, loudly, when it is absent.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BOKEH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("shared"));
    let dir = if dir.join("models").is_dir() {
        dir
    } else {
        // The CLI's tests run one level deeper.
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
    };
    if dir.join("models").is_dir() && dir.join("testdata").is_dir() {
        Some(dir)
    } else {
        eprintln!("\n*** SKIPPED: ../shared (models, testdata) not found; set BOKEH_SHARED to run this test ***\n");
        None
    }
}

/// Reads a little-endian float32 `.npy` array: (shape, values).
pub fn read_npy_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{}: not an npy file", path.display());
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).expect("ascii header");
    assert!(header.contains("'descr': '<f4'"), "{}: expected <f4, got {header}", path.display());
    assert!(header.contains("'fortran_order': False"), "{}: fortran order", path.display());
    let shape_text = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).expect("shape");
    let shape: Vec<usize> = shape_text.split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let data: Vec<f32> =
        bytes[start + header_len..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert_eq!(data.len(), shape.iter().product::<usize>(), "{}: size", path.display());
    (shape, data)
}

/// Intersection over union of two masks thresholded at 0.5 (`score.py`'s rule: a pixel is person
/// when its value is at least half the maximum, 127.5 on 8 bits). Two empty masks score 1.
pub fn iou(pred: &[u8], truth: &[u8]) -> f64 {
    assert_eq!(pred.len(), truth.len());
    let (mut inter, mut union) = (0u64, 0u64);
    for (&p, &t) in pred.iter().zip(truth) {
        let (p, t) = (p >= 128, t >= 128);
        inter += (p && t) as u64;
        union += (p || t) as u64;
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// Boundary F-measure of two masks thresholded at 0.5 (`score.py`'s rule): a boundary pixel is
/// a person pixel with a background pixel in its 3×3 neighbourhood (the image border does not
/// count); a predicted boundary pixel is a hit when a true one lies within `band` pixels
/// (Chebyshev), and the other way round; F = 2PR / (P + R). Both without boundary score 1.
pub fn boundary_f(pred: &[u8], truth: &[u8], width: usize, band: usize) -> f64 {
    let (p, t) = (boundary(pred, width), boundary(truth, width));
    let (np, nt) = (p.iter().filter(|&&b| b).count(), t.iter().filter(|&&b| b).count());
    match (np, nt) {
        (0, 0) => return 1.0,
        (0, _) | (_, 0) => return 0.0,
        _ => {}
    }
    let (pd, td) = (dilate(&p, width, band), dilate(&t, width, band));
    let precision = p.iter().zip(&td).filter(|(a, b)| **a && **b).count() as f64 / np as f64;
    let recall = t.iter().zip(&pd).filter(|(a, b)| **a && **b).count() as f64 / nt as f64;
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

fn boundary(mask: &[u8], width: usize) -> Vec<bool> {
    let on: Vec<bool> = mask.iter().map(|&v| v >= 128).collect();
    // Eroding with a 3×3 square is dilating the background; outside the image counts as person.
    let background: Vec<bool> = on.iter().map(|&v| !v).collect();
    let grown = dilate(&background, width, 1);
    on.iter().zip(&grown).map(|(&m, &g)| m && g).collect()
}

/// Binary dilation with a `(2r+1)²` square, clipped at the image border.
fn dilate(a: &[bool], width: usize, r: usize) -> Vec<bool> {
    let height = a.len() / width;
    let mut rows = vec![false; a.len()];
    for y in 0..height {
        for x in 0..width {
            let (lo, hi) = (x.saturating_sub(r), (x + r).min(width - 1));
            rows[y * width + x] = a[y * width + lo..=y * width + hi].iter().any(|&v| v);
        }
    }
    let mut out = vec![false; a.len()];
    for y in 0..height {
        let (lo, hi) = (y.saturating_sub(r), (y + r).min(height - 1));
        for x in 0..width {
            out[y * width + x] = (lo..=hi).any(|yy| rows[yy * width + x]);
        }
    }
    out
}
