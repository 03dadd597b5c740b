//! Soft person masks and the upsampling stage.
//!
//! The model answers at its own small resolution (256×144 for the landscape selfie model); the
//! pixel stages need one weight per frame pixel. [`Mask::resize_into`] is that separate stage:
//! plain bilinear interpolation today, so an edge-aware refinement can replace or follow it
//! without touching segmentation or compositing.

use crate::error::{Error, Result};
use crate::frame::{Frame, PixelFormat};
use crate::resample::Resampler;

/// A soft mask: one `f32` per pixel, 0 = background, 1 = person, row-major without padding.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    width: u32,
    height: u32,
    data: Vec<f32>,
}

impl Default for Mask {
    /// An empty (0×0) mask.
    fn default() -> Self {
        Mask::new(0, 0)
    }
}

impl Mask {
    /// An all-background mask.
    pub fn new(width: u32, height: u32) -> Self {
        Mask { width, height, data: vec![0.0; width as usize * height as usize] }
    }

    /// Wraps row-major values; the length must be `width × height`.
    pub fn from_vec(data: Vec<f32>, width: u32, height: u32) -> Result<Self> {
        if width == 0 || height == 0 || data.len() != width as usize * height as usize {
            return Err(Error::InvalidFrame(format!("mask of {} values does not match {width}x{height}", data.len())));
        }
        Ok(Mask { width, height, data })
    }

    /// Builds a mask from 8-bit grey levels (255 = person).
    pub fn from_gray8(pixels: &[u8], width: u32, height: u32) -> Result<Self> {
        Self::from_vec(pixels.iter().map(|&v| v as f32 / 255.0).collect(), width, height)
    }

    /// Makes this a `width × height` mask, keeping the allocation when it is large enough
    /// (values are unspecified afterwards).
    pub(crate) fn reset(&mut self, width: u32, height: u32) {
        self.width = width;
        self.height = height;
        self.data.resize(width as usize * height as usize, 0.0);
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The values, row after row.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, writable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Resizes (the mask upsampling stage) into `out`, which keeps its size; values stay in
    /// 0..1 (an empty source gives an all-background mask).
    pub fn resize_into(&self, out: &mut Mask) {
        self.resize_with(out, &mut Resampler::default());
    }

    /// [`Mask::resize_into`] with cached weights and scratch space (no allocation once warm).
    pub(crate) fn resize_with(&self, out: &mut Mask, resampler: &mut Resampler) {
        if self.data.is_empty() || out.data.is_empty() {
            out.data.fill(0.0);
            return;
        }
        let (src, dst) = ((self.width as usize, self.height as usize), (out.width as usize, out.height as usize));
        resampler.resample_f32::<1>(&self.data, src, &mut out.data, dst);
    }

    /// A resized copy.
    pub fn resized(&self, width: u32, height: u32) -> Mask {
        let mut out = Mask::new(width, height);
        self.resize_into(&mut out);
        out
    }

    /// The mask as an 8-bit grey frame (255 = person).
    pub fn to_gray8(&self) -> Frame {
        let data = self.data.iter().map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
        Frame::from_vec(data, self.width, self.height, PixelFormat::Gray8)
            .unwrap_or_else(|_| unreachable!("mask and frame sizes agree"))
    }
}

/// Scratch space for finding the people in a mask: its 4-connected regions of `≥ 0.5`.
#[derive(Debug, Default)]
pub(crate) struct Regions {
    seen: Vec<bool>,
    stack: Vec<usize>,
    members: Vec<usize>,
}

impl Regions {
    /// Calls `visit(members, [x0, y0, x1, y1])` for each 4-connected region of `mask ≥ 0.5`,
    /// with the indices of its pixels and its bounding box (in mask pixels, ends exclusive), in
    /// the order of each region's first pixel.
    pub(crate) fn each(&mut self, mask: &Mask, mut visit: impl FnMut(&[usize], [usize; 4])) {
        let (w, h) = (mask.width as usize, mask.height as usize);
        let m = &mask.data;
        self.seen.clear();
        self.seen.resize(m.len(), false);
        for start in 0..m.len() {
            if m[start] < 0.5 || self.seen[start] {
                continue;
            }
            self.seen[start] = true;
            self.stack.push(start);
            self.members.clear();
            let mut b = [w, h, 0, 0];
            while let Some(i) = self.stack.pop() {
                self.members.push(i);
                let (x, y) = (i % w, i / w);
                b = [b[0].min(x), b[1].min(y), b[2].max(x + 1), b[3].max(y + 1)];
                let neighbours = [
                    (x > 0).then(|| i - 1),
                    (x + 1 < w).then_some(i + 1),
                    (y > 0).then(|| i - w),
                    (y + 1 < h).then_some(i + w),
                ];
                for j in neighbours.into_iter().flatten() {
                    if m[j] >= 0.5 && !self.seen[j] {
                        self.seen[j] = true;
                        self.stack.push(j);
                    }
                }
            }
            visit(&self.members, b);
        }
    }
}
