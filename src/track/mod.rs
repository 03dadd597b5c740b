//! Subject tracking for video: the model looks where the people are, at no extra model cost.
//!
//! The selfie model sees the whole frame at 256 pixels across. A person who fills 3% of a
//! 16:9 frame then gets a few hundred of its pixels, and on some frames none: the mask blinks
//! out and portrait mode blurs the person away with the background. Photos have time for tile
//! searches and detail passes ([`crate::detail`]); a live stream has one model run per frame.
//! So that one run goes where the people were: a [`Tracker`] keeps a box around the people of
//! the last frames, and the model runs on a crop around it, at twice or four times the scale.
//!
//! **Schedule** (exactly one model run per frame, so every frame costs the same in a live
//! preview; [`TrackStats`] counts the kinds):
//! - while **nobody is tracked**: the whole frame, then each quarter of the frame (1/1.75 of
//!   it each way, at twice the scale) in turn, then the whole frame again (with
//!   [`Tracking::scan`]): people too small for the whole frame are found within five frames,
//!   and nothing is lost meanwhile (there was no one to lose);
//! - while people are tracked: the **crop** — the tracked box widened by [`Tracking::margin`] of
//!   its size on each side (at least 3% of the frame), at least a quarter of the frame each
//!   way, its aspect within [`Tracking::max_stretch`] of the square model's (which sees the
//!   crop stretched, as the photo detail passes and MediaPipe's own whole-frame input are),
//!   shifted inside the frame; it stays put while it still holds the people with half the
//!   margin (a crop that moves every frame makes the model's edges shimmer);
//!   A crop as large as the frame is still a crop (the default [`Tracking::max_crop_area`] is
//!   1): the square crop model sees a 16:9 frame with 1.8 times the rows of the landscape
//!   model, and a group spread over the frame or a large person is segmented better so
//!   (small-subject clips 0.445 → 0.479 mean IoU, dance-twirl 0.704 → 0.740; its inference
//!   costs ≈ 1.5 times the landscape model's, hidden behind the pixel stages in a stream);
//! - the **whole frame** every [`Tracking::full_frame_interval`]-th frame (people who walk in
//!   are found) and while the crop would cover more than [`Tracking::max_crop_area`] of the
//!   frame, when that is set below 1 (a fifth of hysteresis against switching back and forth).
//!   On the scheduled look the tracked people keep the last crop's mask for that one frame (the
//!   whole frame sees them worse, and a mask that changes for one frame in fifteen is a blink);
//! - the **whole frame on the next frame** when the crop's mask is empty or reaches an edge of
//!   the crop that is not the frame's (someone was cut off): this frame keeps the crop's answer
//!   (the temporal filter's blink rule bridges an empty one where the picture did not change),
//!   and the next holds it inside the crop, as a scheduled look does. A second model run on the
//!   same frame would find the cut-off part one frame sooner (small-subject clips 0.470 vs
//!   0.463, 3% more model runs) but makes that frame late in a live preview.
//!
//! **Masks** come out at a fixed *working size* for the frame (the frame itself, or shrunk so its
//! long side is [`WORK_LONG_SIDE`]), whatever was segmented: a crop's or quarter's mask is pasted
//! into it in frame coordinates (bilinear), a whole-frame mask is resampled to it, and everything
//! outside the crop is background. The temporal filter and the upsampling then see one mask
//! size, and the crop's extra detail survives (a 256-pixel crop mask over a third of the frame
//! keeps about 170 pixels of it in 512, where a whole-frame mask has 85).
//!
//! **The box** is that of the main people in the working mask after each run: the 4-connected
//! regions of `≥ 0.5` with at least a fifth of the largest one's pixels ([`SUBJECT_SHARE`];
//! smaller people far behind are background a lens would blur, and following them would widen
//! the crop until it is useless). It is smoothed: an edge that moves out is followed at once
//! (never cut the person off), one that moves in follows by a fraction [`Tracking::shrink`] per
//! frame. A scheduled whole-frame look that sees nobody does not end the tracking. One frame
//! of latency is all it adds: the crop for frame N comes from frames before N, and frame N's
//! mask is computed from frame N's pixels.
//!
//! **Measured** (`tests/small_subjects.rs`, six pan-and-zoom clips of people filling 2–10% of a
//! 640×360 frame, `tests/common/clips.rs`): mean IoU 0.304 without the crop (30 frames with an
//! empty mask where the photo pipeline finds the person) → 0.463 with it (1 such frame, the
//! clip's first ones before the scan finds the person); the photo pipeline scores 0.534. A lone
//! person comes within 0.01 of the photo pipeline; groups spread across the frame do not (one
//! crop around all of them zooms little; the photo pipeline crops each person, with six or more
//! model runs). On dance-twirl (a large dancer) the crop raises the mean IoU from 0.631 to
//! 0.731.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::frame::FrameRef;
use crate::mask::{Mask, Regions};
use crate::resample::Resampler;
use crate::segment::{Segmenter, SegmenterSession};

/// The working mask's long side when the frame is larger.
pub(crate) const WORK_LONG_SIDE: u32 = 512;

/// Settings of the subject-tracking crop. `Default` is what video uses.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Tracking {
    /// Run the model on the whole frame at least every this many frames (≥ 1; 1 = never crop).
    pub full_frame_interval: u32,
    /// While nobody is tracked, look at the frame's quarters in turn between whole-frame looks
    /// (people too small for the whole frame are found).
    pub scan: bool,
    /// How far the crop's aspect may differ from the crop model's (the model sees it stretched,
    /// as MediaPipe stretches whole frames): a factor ≥ 1.
    pub max_stretch: f32,
    /// The crop extends the tracked box by this fraction of its size on each side (0..=2).
    pub margin: f32,
    /// Crops larger than this fraction of the frame are not worth it: the whole frame is
    /// segmented instead, with the model for its shape (0 < v ≤ 1; 1, the default: always the
    /// crop model, on as much of the frame as the people need).
    pub max_crop_area: f32,
    /// How far a tracked box edge moves inwards per frame, as a fraction of the way (0 < v ≤ 1).
    pub shrink: f32,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            full_frame_interval: 15,
            scan: true,
            max_stretch: 2.0,
            margin: 0.35,
            max_crop_area: 1.0,
            shrink: 0.3,
        }
    }
}

impl Tracking {
    /// Checks the settings are in range.
    pub fn validate(&self) -> Result<()> {
        let ok = self.full_frame_interval >= 1
            && (0.0..=2.0).contains(&self.margin)
            && self.max_crop_area > 0.0
            && self.max_crop_area <= 1.0
            && self.shrink > 0.0
            && self.shrink <= 1.0
            && self.max_stretch >= 1.0;
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidOption(format!(
                "tracking {self:?}: need full_frame_interval >= 1, 0 <= margin <= 2, 0 < max_crop_area <= 1, \
                 0 < shrink <= 1"
            )))
        }
    }

    /// Sets how often the whole frame is segmented.
    pub fn with_full_frame_interval(mut self, frames: u32) -> Self {
        self.full_frame_interval = frames;
        self
    }
}

/// What the tracker did so far: frames, model runs and their kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackStats {
    /// Frames segmented.
    pub frames: u64,
    /// Frames segmented through a crop.
    pub crops: u64,
    /// Frames segmented whole (the scheduled looks and those after a fallback).
    pub full_frames: u64,
    /// Frames segmented through a quarter of the frame (the scan while nobody is tracked).
    pub tiles: u64,
    /// Crops that came back empty or cut someone off (the next frame is segmented whole).
    pub fallbacks: u64,
}

impl TrackStats {
    /// Model runs per frame on average (one, by the schedule; kept as a check).
    pub fn runs_per_frame(&self) -> f64 {
        (self.crops + self.full_frames + self.tiles) as f64 / self.frames.max(1) as f64
    }
}

/// A rectangle in frame pixels, `x0..x1 × y0..y1` (floats while smoothed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Box2 {
    pub(crate) x0: f64,
    pub(crate) y0: f64,
    pub(crate) x1: f64,
    pub(crate) y1: f64,
}

impl Box2 {
    fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    fn height(&self) -> f64 {
        self.y1 - self.y0
    }
}

/// Where the model looks this frame.
enum Look {
    Whole,
    /// A quarter of the frame, while nobody is tracked.
    Tile(Crop),
    /// Around the tracked people.
    Crop(Crop),
}

/// Tiles of the scan while nobody is tracked.
const TILES: usize = 4;

/// A crop in whole frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Crop {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) w: u32,
    pub(crate) h: u32,
}

/// The working mask size for a `width × height` frame.
pub(crate) fn work_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= WORK_LONG_SIDE {
        return (width, height);
    }
    let scale = WORK_LONG_SIDE as f64 / long as f64;
    let side = |v: u32| ((v as f64 * scale).round() as u32).max(1);
    (side(width), side(height))
}

/// One stream's tracking state (see the module documentation).
#[derive(Debug)]
pub(crate) struct Tracker {
    frame_size: (u32, u32),
    /// The crop model's input aspect (width / height).
    crop_aspect: f64,
    /// Position in the scan while nobody is tracked (0: the whole frame).
    scan: usize,
    /// The last crop asked for was too large: the whole frame was segmented instead.
    too_large: bool,
    regions: Regions,
    /// Pixel count and box of each region of the last mask.
    found: Vec<(usize, [usize; 4])>,
    tracked: Option<Box2>,
    /// Frames since the last look at more than the crop.
    since_explored: u32,
    /// The working mask of the last frame segmented through a crop, and that crop, while the
    /// crops go on (an exploring look holds it for the tracked people).
    crop_mask: Mask,
    last_crop: Option<Crop>,
    low: Mask,
    whole: Mask,
    resampler: Resampler,
    stats: TrackStats,
}

impl Tracker {
    /// A tracker for `segmenter`'s models (crops go to its first, for the embedded models the
    /// square, variant).
    pub(crate) fn new(segmenter: &Segmenter) -> Self {
        Tracker {
            frame_size: (0, 0),
            crop_aspect: segmenter.crop_aspect(),
            scan: 0,
            too_large: false,
            regions: Regions::default(),
            found: Vec::new(),
            tracked: None,
            since_explored: 0,
            crop_mask: Mask::default(),
            last_crop: None,
            low: Mask::default(),
            whole: Mask::default(),
            resampler: Resampler::default(),
            stats: TrackStats::default(),
        }
    }

    /// Forgets the tracked people (after a scene cut): the next frame is segmented whole.
    pub(crate) fn reset(&mut self) {
        self.tracked = None;
        self.since_explored = 0;
        self.scan = 0;
        self.last_crop = None;
    }

    pub(crate) fn stats(&self) -> TrackStats {
        self.stats
    }

    /// Segments `frame` into `out` (the working size, see [`work_size`]) as the schedule says;
    /// returns the time spent preprocessing and in the model.
    pub(crate) fn segment(
        &mut self,
        session: &mut SegmenterSession,
        frame: FrameRef<'_>,
        settings: &Tracking,
        out: &mut Mask,
    ) -> Result<(Duration, Duration)> {
        let (w, h) = (frame.width(), frame.height());
        if self.frame_size != (w, h) {
            self.reset();
            self.frame_size = (w, h);
        }
        let (ww, wh) = work_size(w, h);
        out.reset(ww, wh);
        self.stats.frames += 1;
        let explore = self.since_explored + 1 >= settings.full_frame_interval;
        let mut times = (Duration::ZERO, Duration::ZERO);
        let exploring = self.tracked.is_some() && explore;
        let look = match self.tracked {
            Some(b) if !explore => self.crop_for(b, settings).map_or(Look::Whole, Look::Crop),
            // While people are tracked the quarters are not scanned: what a quarter sees at
            // twice the scale would come and go with the scan.
            Some(_) => Look::Whole,
            None => self.next_exploration(settings),
        };
        let crop = match look {
            Look::Whole => {
                self.segment_whole(session, frame, out, &mut times)?;
                None
            }
            Look::Tile(c) => {
                run_model(session, frame.crop(c.x, c.y, c.w, c.h), &mut self.low, &mut times, false)?;
                self.stats.tiles += 1;
                self.since_explored = 0;
                out.data_mut().fill(0.0);
                paste(&self.low, c, (w, h), out);
                None
            }
            Look::Crop(c) => {
                run_model(session, frame.crop(c.x, c.y, c.w, c.h), &mut self.low, &mut times, true)?;
                self.stats.crops += 1;
                self.since_explored += 1;
                out.data_mut().fill(0.0);
                let (empty, cut) = self.inspect_crop(c);
                if empty || cut {
                    // The crop lost the people or cut someone off: the next frame looks at the
                    // whole frame (not this one: a frame with two model runs is a stall in a
                    // live preview). A cut crop's mask is held there for the people inside it.
                    self.stats.fallbacks += 1;
                    self.since_explored = settings.full_frame_interval;
                }
                if empty {
                    None
                } else {
                    paste(&self.low, c, (w, h), out);
                    Some(c)
                }
            }
        };
        match (exploring, self.last_crop) {
            (true, Some(last)) => {
                // An exploring look sees the tracked people no closer than the whole frame does
                // (or not at all): for this frame they keep the last crop's mask.
                hold(&self.crop_mask, last, (w, h), out);
            }
            (false, _) => {
                self.last_crop = crop;
                // Kept only for the exploring look that comes next (one frame in
                // `full_frame_interval`), not copied on every crop.
                if crop.is_some() && self.since_explored + 1 >= settings.full_frame_interval {
                    self.crop_mask.clone_from(out);
                }
            }
            (true, None) => {}
        }
        self.follow(out, settings, exploring);
        Ok(times)
    }

    /// The next look of the exploration cycle: the whole frame, then (with [`Tracking::scan`])
    /// each quarter in turn.
    fn next_exploration(&mut self, settings: &Tracking) -> Look {
        let look = match self.scan.checked_sub(1) {
            Some(tile) if settings.scan => Look::Tile(self.tile(tile)),
            _ => Look::Whole,
        };
        self.scan = if settings.scan { (self.scan + 1) % (TILES + 1) } else { 0 };
        look
    }

    /// Quarter `i` of the scan: 1/1.75 of the frame each way, at a corner (neighbours overlap).
    fn tile(&self, i: usize) -> Crop {
        let (fw, fh) = self.frame_size;
        let (tw, th) = (((fw as f64 / 1.75) as u32).max(1), ((fh as f64 / 1.75) as u32).max(1));
        let x = if i.is_multiple_of(2) { 0 } else { fw - tw };
        let y = if i < 2 { 0 } else { fh - th };
        Crop { x, y, w: tw, h: th }
    }

    fn segment_whole(
        &mut self,
        session: &mut SegmenterSession,
        frame: FrameRef<'_>,
        out: &mut Mask,
        times: &mut (Duration, Duration),
    ) -> Result<()> {
        run_model(session, frame, &mut self.whole, times, false)?;
        self.stats.full_frames += 1;
        self.since_explored = 0;
        self.whole.resize_with(out, &mut self.resampler);
        Ok(())
    }

    /// (no person pixel in the crop's mask, a person pixel on a crop edge inside the frame).
    fn inspect_crop(&self, c: Crop) -> (bool, bool) {
        let (lw, lh) = (self.low.width() as usize, self.low.height() as usize);
        let m = self.low.data();
        if !m.iter().any(|&v| v >= 0.5) {
            return (true, false);
        }
        let (fw, fh) = self.frame_size;
        let on = |i: usize| m[i] >= 0.5;
        let left = c.x > 0 && (0..lh).any(|y| on(y * lw));
        let right = c.x + c.w < fw && (0..lh).any(|y| on(y * lw + lw - 1));
        let top = c.y > 0 && (0..lw).any(on);
        let bottom = c.y + c.h < fh && (0..lw).any(|x| on((lh - 1) * lw + x));
        (false, left || right || top || bottom)
    }

    /// The crop for the tracked box `b`, or `None` when the whole frame is as good: the box
    /// widened by the margin, at least a quarter of the frame each way, its aspect within
    /// [`Tracking::max_stretch`] of the crop model's. Steady: the last crop stays while it
    /// holds the box with half the margin and is not much larger than needed (a crop that
    /// moves every frame makes the model's edges shimmer), and once the people grew too large
    /// for a crop they must shrink a fifth below the limit to get one again.
    fn crop_for(&mut self, b: Box2, settings: &Tracking) -> Option<Crop> {
        let (fw, fh) = (self.frame_size.0 as f64, self.frame_size.1 as f64);
        let m = settings.margin as f64;
        let widen = |size: f64, frame: f64, k: f64| size + 2.0 * (k * m * size).max(k * 0.03 * frame);
        let mut cw = widen(b.width(), fw, 1.0).max(fw / 4.0);
        let mut ch = widen(b.height(), fh, 1.0).max(fh / 4.0);
        let (aspect, stretch) = (self.crop_aspect, settings.max_stretch as f64);
        (cw, ch) = (cw.max(ch * aspect / stretch), ch.max(cw / aspect / stretch));
        (cw, ch) = (cw.min(fw), ch.min(fh));
        let limit = settings.max_crop_area as f64 * if self.too_large { 0.8 } else { 1.0 };
        self.too_large = cw * ch > limit * fw * fh;
        if self.too_large {
            return None;
        }
        if let Some(p) = self.last_crop {
            let (hw, hh) = (widen(b.width(), fw, 0.5) / 2.0, widen(b.height(), fh, 0.5) / 2.0);
            let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
            let inside = p.x as f64 <= cx - hw
                && (p.x + p.w) as f64 >= cx + hw
                && p.y as f64 <= cy - hh
                && (p.y + p.h) as f64 >= cy + hh;
            if inside && (p.w as f64 * p.h as f64) <= 1.4 * cw * ch {
                return Some(p);
            }
        }
        let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
        let x0 = (cx - cw / 2.0).clamp(0.0, fw - cw);
        let y0 = (cy - ch / 2.0).clamp(0.0, fh - ch);
        let (x, y) = ((x0.round() as u32).min(fw as u32 - 1), (y0.round() as u32).min(fh as u32 - 1));
        let w = (cw.round() as u32).min(self.frame_size.0 - x).max(1);
        let h = (ch.round() as u32).min(self.frame_size.1 - y).max(1);
        Some(Crop { x, y, w, h })
    }

    /// Updates the tracked box from the working mask `out` (nobody there: the tracking ends,
    /// unless `keep`).
    fn follow(&mut self, out: &Mask, settings: &Tracking, keep: bool) {
        let Some(seen) = subject_box(&mut self.regions, &mut self.found, out, self.frame_size, SUBJECT_SHARE) else {
            if !keep {
                self.tracked = None;
            }
            return;
        };
        let k = settings.shrink as f64;
        let inward = |old: f64, new: f64, outward: bool| if outward { new } else { old + k * (new - old) };
        self.tracked = Some(match self.tracked {
            None => seen,
            Some(o) => Box2 {
                x0: inward(o.x0, seen.x0, seen.x0 < o.x0),
                y0: inward(o.y0, seen.y0, seen.y0 < o.y0),
                x1: inward(o.x1, seen.x1, seen.x1 > o.x1),
                y1: inward(o.y1, seen.y1, seen.y1 > o.y1),
            },
        });
    }
}

/// Preprocess + inference on `frame` (with the crop model when `crop`, else the variant for its
/// shape), the times added to `times`.
fn run_model(
    session: &mut SegmenterSession,
    frame: FrameRef<'_>,
    mask: &mut Mask,
    times: &mut (Duration, Duration),
    crop: bool,
) -> Result<()> {
    let t0 = Instant::now();
    let prepared = if crop { session.preprocess_crop(frame)? } else { session.preprocess(frame)? };
    let t1 = Instant::now();
    session.infer_into(prepared, mask)?;
    times.0 += t1 - t0;
    times.1 += t1.elapsed();
    Ok(())
}

/// People smaller than this share of the largest one (in mask pixels) are background people:
/// not followed by the crop (a lens would blur them too).
const SUBJECT_SHARE: f64 = 0.2;

/// The box, in the coordinates of a `frame`-sized picture, around the regions of `mask` that
/// have at least `share` of the largest region's pixels; `None` when there are none.
fn subject_box(
    regions: &mut Regions,
    found: &mut Vec<(usize, [usize; 4])>,
    mask: &Mask,
    frame: (u32, u32),
    share: f64,
) -> Option<Box2> {
    found.clear();
    regions.each(mask, |members, b| found.push((members.len(), b)));
    let largest = found.iter().map(|r| r.0).max()?;
    let keep = (largest as f64 * share).ceil() as usize;
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let b = found
        .iter()
        .filter(|r| r.0 >= keep)
        .fold([w, h, 0, 0], |a, r| [a[0].min(r.1[0]), a[1].min(r.1[1]), a[2].max(r.1[2]), a[3].max(r.1[3])]);
    let (sx, sy) = (frame.0 as f64 / w as f64, frame.1 as f64 / h as f64);
    Some(Box2 { x0: b[0] as f64 * sx, y0: b[1] as f64 * sy, x1: b[2] as f64 * sx, y1: b[3] as f64 * sy })
}

/// Over the working pixels inside crop `c`, `out` becomes the larger of itself and `last` (the
/// same size; else nothing changes).
fn hold(last: &Mask, c: Crop, frame: (u32, u32), out: &mut Mask) {
    if last.data().len() != out.data().len() {
        return;
    }
    let (ow, oh) = (out.width() as usize, out.height() as usize);
    let (sx, sy) = (frame.0 as f64 / ow as f64, frame.1 as f64 / oh as f64);
    let (xs, ys) = (span(c.x, c.w, sx, ow), span(c.y, c.h, sy, oh));
    for y in ys {
        let row = y * ow;
        for (o, &l) in out.data_mut()[row + xs.start..row + xs.end].iter_mut().zip(&last.data()[row + xs.start..]) {
            *o = o.max(l);
        }
    }
}

/// The working pixels (of `n`, each `s` frame pixels wide) whose centres fall in
/// `start..start + len` frame pixels.
fn span(start: u32, len: u32, s: f64, n: usize) -> std::ops::Range<usize> {
    let first = ((start as f64 / s - 0.5).ceil().max(0.0)) as usize;
    let end = ((((start + len) as f64) / s - 0.5).ceil().max(0.0) as usize).min(n);
    first.min(end)..end
}

/// Writes `low` (the mask of crop `c` of a `frame`-sized picture) into the working mask `out`,
/// bilinearly, over the working pixels whose centres fall inside the crop.
fn paste(low: &Mask, c: Crop, frame: (u32, u32), out: &mut Mask) {
    let (ow, oh) = (out.width() as usize, out.height() as usize);
    let (lw, lh) = (low.width() as usize, low.height() as usize);
    if lw == 0 || lh == 0 {
        return;
    }
    let (sx, sy) = (frame.0 as f64 / ow as f64, frame.1 as f64 / oh as f64);
    // Working pixel i's centre in frame pixels, then in the crop mask's pixels.
    let (kx, ky) = (lw as f64 / c.w as f64, lh as f64 / c.h as f64);
    let tap = |v: f64, n: usize| {
        let v = v.clamp(0.0, (n - 1) as f64);
        let i = (v.floor() as usize).min(n.saturating_sub(2));
        (i, (v - i as f64) as f32, (i + 1).min(n - 1))
    };
    let m = low.data();
    for oy in span(c.y, c.h, sy, oh) {
        let (y0, fy, y1) = tap(((oy as f64 + 0.5) * sy - c.y as f64) * ky - 0.5, lh);
        let row = &mut out.data_mut()[oy * ow..(oy + 1) * ow];
        for ox in span(c.x, c.w, sx, ow) {
            let (x0, fx, x1) = tap(((ox as f64 + 0.5) * sx - c.x as f64) * kx - 0.5, lw);
            let top = m[y0 * lw + x0] + fx * (m[y0 * lw + x1] - m[y0 * lw + x0]);
            let bottom = m[y1 * lw + x0] + fx * (m[y1 * lw + x1] - m[y1 * lw + x0]);
            row[ox] = top + fy * (bottom - top);
        }
    }
}

#[cfg(test)]
mod tests;
