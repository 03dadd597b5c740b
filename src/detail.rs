//! Photo detail passes: look again, closer, at each person the model found.
//!
//! The selfie model sees the whole frame at 256 pixels across, so a person who fills a tenth of a
//! group photo gets a few dozen of its pixels: the outline is coarse and small limbs vanish. For a
//! photo there is time to look again. A detail pass finds the connected regions of the current
//! mask (`≥ 0.5`, 4-connected), and for each region of a useful size crops the frame around its
//! bounding box — widened by half the box's size on every side, so the model sees the person in
//! context, as in a selfie — runs the model on the crop and writes the crop's mask, upsampled to
//! the crop's size, back over that part of the mask. The next pass starts from the improved mask
//! (a crop around an arm now includes it).
//!
//! Before the passes, a **tile search** lets the model see each of four overlapping quarters of
//! the photo, at twice the scale: people too small for the whole-frame view show up there (the
//! mask takes the larger of the two answers), and the detail passes then look at them closely —
//! a crop's answer replaces its region, which also undoes what a tile saw wrongly. Outside every
//! crop the whole-frame answer is restored: the tiles only say where to look.
//!
//! Regions smaller than 0.2% of the frame are left alone (noise, or too small for a crop to
//! help); a region whose box covers more than 80% of the frame is already seen at the model's
//! best scale. On `../shared/testdata/photos` the tile search and two passes raise the selfie
//! model's mean IoU from 0.439 to 0.482 and its boundary F from 0.319 to 0.385 (with the
//! refinement: 0.483 / 0.391; `BENCHMARKS.md`); the search costs four inferences, each pass one
//! per person.

use crate::error::Result;
use crate::frame::FrameRef;
use crate::mask::{Mask, Regions};
use crate::resample::Resampler;
use crate::segment::SegmenterSession;

/// Regions below this fraction of the frame are not refined.
const MIN_AREA: f64 = 0.002;
/// Regions whose bounding box covers more than this fraction of the frame are not refined.
const MAX_AREA: f64 = 0.8;
/// The crop extends the bounding box by this fraction of its size on each side.
const MARGIN: f64 = 0.5;

/// A tile of the search spans 1 / 1.75 of the frame each way: neighbours overlap by a quarter
/// of a tile.
const TILE_SPAN: f64 = 1.75;

/// A crop rectangle: `x0..x1 × y0..y1` in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub(crate) x0: usize,
    pub(crate) y0: usize,
    pub(crate) x1: usize,
    pub(crate) y1: usize,
}

/// Scratch space of the detail passes, reused between photos.
#[derive(Debug, Default)]
pub(crate) struct Detail {
    labels: Vec<u32>,
    regions: Regions,
    /// The whole-frame mask before the tile search, and which pixels a detail crop covered.
    whole: Mask,
    covered: Vec<bool>,
    boxes: Vec<Rect>,
    rects: Vec<Rect>,
    low: Mask,
    crop: Mask,
    resampler: Resampler,
}

impl Detail {
    /// Runs the tile search and then `passes` detail passes over `mask` (frame size); returns
    /// how many crops were segmented. Nothing happens for `passes == 0`.
    pub(crate) fn run(
        &mut self,
        session: &mut SegmenterSession,
        frame: FrameRef<'_>,
        mask: &mut Mask,
        passes: u8,
    ) -> Result<usize> {
        if passes == 0 {
            return Ok(0);
        }
        // The tiles only say where to look: wherever no crop looks closer, the whole-frame answer
        // stays (a tile's faint, uncorroborated guesses do not survive).
        self.whole.clone_from(mask);
        self.covered.clear();
        self.covered.resize(mask.data().len(), false);
        let mut crops = self.search_tiles(session, frame, mask)?;
        for _ in 0..passes {
            self.find_regions(mask);
            let w = mask.width() as usize;
            for i in 0..self.rects.len() {
                let r = self.rects[i];
                self.segment_crop(session, frame, r)?;
                let cw = r.x1 - r.x0;
                for (y, src) in self.crop.data().chunks_exact(cw).enumerate() {
                    let start = (r.y0 + y) * w + r.x0;
                    mask.data_mut()[start..start + cw].copy_from_slice(src);
                    self.covered[start..start + cw].fill(true);
                }
                crops += 1;
            }
        }
        for ((m, &whole), &covered) in mask.data_mut().iter_mut().zip(self.whole.data()).zip(&self.covered) {
            if !covered {
                *m = whole;
            }
        }
        Ok(crops)
    }

    /// The tile search: the model looks at each of four overlapping quarters of the frame (each
    /// 1/1.75 of the frame's width and height, so neighbours overlap by a quarter), and the mask
    /// becomes the larger of what it had and what a tile saw. People too small for the
    /// whole-frame view are found here; the detail passes then look at each of them closely,
    /// which also removes what a tile saw wrongly (a crop's answer replaces the region).
    fn search_tiles(&mut self, session: &mut SegmenterSession, frame: FrameRef<'_>, mask: &mut Mask) -> Result<usize> {
        let (w, h) = (mask.width() as usize, mask.height() as usize);
        let (tw, th) = (((w as f64 / TILE_SPAN) as usize).max(1), ((h as f64 / TILE_SPAN) as usize).max(1));
        if tw >= w || th >= h {
            return Ok(0);
        }
        let mut count = 0;
        for (x0, y0) in [(0, 0), (w - tw, 0), (0, h - th), (w - tw, h - th)] {
            self.segment_crop(session, frame, Rect { x0, y0, x1: x0 + tw, y1: y0 + th })?;
            for (y, src) in self.crop.data().chunks_exact(tw).enumerate() {
                let start = (y0 + y) * w + x0;
                for (m, &t) in mask.data_mut()[start..start + tw].iter_mut().zip(src) {
                    *m = m.max(t);
                }
            }
            count += 1;
        }
        Ok(count)
    }

    /// Runs the model on `r` of `frame` and leaves its mask, at the crop's size, in `self.crop`.
    fn segment_crop(&mut self, session: &mut SegmenterSession, frame: FrameRef<'_>, r: Rect) -> Result<()> {
        let (cw, ch) = ((r.x1 - r.x0) as u32, (r.y1 - r.y0) as u32);
        session.segment_crop_into(frame.crop(r.x0 as u32, r.y0 as u32, cw, ch), &mut self.low)?;
        self.crop.reset(cw, ch);
        self.low.resize_with(&mut self.crop, &mut self.resampler);
        Ok(())
    }

    /// Combines a matting model's alpha (`matte`, frame size) with the selfie model's `mask`
    /// into `mask`: the matte wherever it found the person, and the selfie mask for each person
    /// region the matte missed (less than half of the region's pixels at `≥ 0.5` in the matte).
    /// Matting models draw better edges and hair; the selfie model finds more people (crowds,
    /// people far away), so this keeps the best of both.
    pub(crate) fn combine_matte(&mut self, mask: &mut Mask, matte: &Mask) {
        self.label(mask, 0.0, 1.0);
        let w = mask.width() as usize;
        let mut missed = vec![false; self.boxes.len()];
        for (i, b) in self.boxes.iter().enumerate() {
            let (mut inside, mut found) = (0usize, 0usize);
            for y in b.y0..b.y1 {
                for x in b.x0..b.x1 {
                    if self.labels[y * w + x] == i as u32 + 1 {
                        inside += 1;
                        found += (matte.data()[y * w + x] >= 0.5) as usize;
                    }
                }
            }
            missed[i] = found * 2 < inside;
        }
        // Outside the missed regions' boxes, the matte; inside, the larger of the two.
        let mut keep = vec![false; mask.data().len()];
        for (b, _) in self.boxes.iter().zip(&missed).filter(|(_, m)| **m) {
            for y in b.y0..b.y1 {
                keep[y * w + b.x0..y * w + b.x1].fill(true);
            }
        }
        for ((m, &a), &k) in mask.data_mut().iter_mut().zip(matte.data()).zip(&keep) {
            *m = if k { m.max(a) } else { a };
        }
    }

    /// Fills `self.rects` with the crop of every region worth a closer look.
    fn find_regions(&mut self, mask: &Mask) {
        self.label(mask, MIN_AREA, MAX_AREA);
        let (w, h) = (mask.width() as usize, mask.height() as usize);
        self.rects.clear();
        for b in &self.boxes {
            let (bw, bh) = (b.x1 - b.x0, b.y1 - b.y0);
            let (mx, my) = ((MARGIN * bw as f64) as usize, (MARGIN * bh as f64) as usize);
            self.rects.push(Rect {
                x0: b.x0.saturating_sub(mx),
                y0: b.y0.saturating_sub(my),
                x1: (b.x1 + mx).min(w),
                y1: (b.y1 + my).min(h),
            });
        }
    }

    /// Labels the 4-connected regions of `mask ≥ 0.5`: `boxes` gets the bounding box of each
    /// region whose box covers a fraction of the frame within `min_area..=max_area`, and its
    /// pixels in `labels` get 1 + its index there (0: not person; `u32::MAX - 1`: a region
    /// outside the size range).
    fn label(&mut self, mask: &Mask, min_area: f64, max_area: f64) {
        let (w, h) = (mask.width() as usize, mask.height() as usize);
        self.labels.clear();
        self.labels.resize(w * h, 0);
        self.boxes.clear();
        let frame_area = (w * h) as f64;
        let (labels, boxes) = (&mut self.labels, &mut self.boxes);
        self.regions.each(mask, |members, [x0, y0, x1, y1]| {
            let area = ((x1 - x0) * (y1 - y0)) as f64 / frame_area;
            // Kept regions get their number; the others a label that matches no box.
            let label = if (min_area..=max_area).contains(&area) {
                boxes.push(Rect { x0, y0, x1, y1 });
                boxes.len() as u32
            } else {
                u32::MAX - 1
            };
            for &i in members {
                labels[i] = label;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_become_widened_crops_and_tiny_or_huge_ones_are_skipped() {
        let (w, h) = (200usize, 100usize);
        let mut data = vec![0.0f32; w * h];
        // A 20×40 person at (30, 20), a 2×2 speck at (150, 10), an L-shaped region at (120, 50).
        for y in 20..60 {
            data[y * w + 30..y * w + 50].fill(0.9);
        }
        for y in 10..12 {
            data[y * w + 150..y * w + 152].fill(1.0);
        }
        for y in 50..90 {
            data[y * w + 120..y * w + 126].fill(0.7);
        }
        data[89 * w + 120..89 * w + 160].fill(0.7);
        let mask = Mask::from_vec(data, w as u32, h as u32).expect("mask");
        let mut d = Detail::default();
        d.find_regions(&mask);
        assert_eq!(d.rects, [Rect { x0: 20, y0: 0, x1: 60, y1: 80 }, Rect { x0: 100, y0: 30, x1: 180, y1: 100 },]);
        // One region covering the frame is left to the whole-frame pass.
        let full = Mask::from_vec(vec![1.0; w * h], w as u32, h as u32).expect("mask");
        d.find_regions(&full);
        assert!(d.rects.is_empty());
    }
}
