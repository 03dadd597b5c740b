//! The composite stage (`shaders/composite.wgsl`, twin of `src/composite.rs`): blend, replace,
//! cut out or write the mask, and the replacement background's upload.

use super::*;

impl GpuPixels {
    /// Uploads a replacement background already fitted to the frame (linear RGB, one per pixel)
    /// unless the same one (by `id`) is there already.
    pub(crate) fn set_replacement(&mut self, id: u64, fitted: &[[f32; 3]]) -> Result<()> {
        let f = self.shape()?;
        if self.replaced_key == Some((id, f.width, f.height)) {
            return Ok(());
        }
        self.ensure(|b| &mut b.replaced, fitted.len() as u64 * 16);
        self.scratch.clear();
        self.scratch.extend(fitted.iter().flat_map(|p| [p[0], p[1], p[2], 0.0]).flat_map(|v| v.to_le_bytes()));
        self.ctx.queue.write_buffer(self.bufs.replaced.get()?, 0, &self.scratch);
        self.replaced_key = Some((id, f.width, f.height));
        Ok(())
    }

    /// The composite stage for `mode` (after [`GpuPixels::upsample`], and [`GpuPixels::blur`]
    /// for [`Mode::Blur`]): the output stays on the GPU until [`GpuPixels::download`].
    pub fn composite(&mut self, mode: Mode) -> Result<()> {
        self.composite_with(mode, false)
    }

    /// [`GpuPixels::composite`], with colour decontamination of edge pixels in replace and cutout
    /// modes against the last [`GpuPixels::blur`] (the old background's estimate).
    pub fn composite_with(&mut self, mode: Mode, decontaminate: bool) -> Result<()> {
        let f = self.shape()?;
        let bpp = f.format.bytes_per_pixel() as u32;
        let [r, g, b] = f.format.rgb_offsets().map(|o| o as u32);
        let ch = channel_map(f.format);
        let (lw, lh, factor) = self.blur_low.unwrap_or((1, 1, 1));
        let alpha = f.format.alpha_offset().map_or(NO_ALPHA, |a| a as u32);
        let params = CompositeParams {
            w: f.width,
            h: f.height,
            bpp,
            ch0: ch[0],
            ch1: ch[1],
            ch2: ch[2],
            ch3: ch[3],
            off_r: r,
            off_g: g,
            off_b: b,
            off_a: alpha,
            lw,
            lh,
            factor,
            decontaminate: u32::from(decontaminate),
            pad1: 0,
        };
        self.write_params(|b| &mut b.comp_params, &params)?;
        let pixels = f.width as u64 * f.height as u64;
        let out_bytes = pixels * Self::out_bpp(mode, f.format) as u64;
        self.ensure(|b| &mut b.out, out_bytes);
        self.ensure(|b| &mut b.out_readback, out_bytes);
        // The two blends share one function, so both bind both backgrounds; the one a mode does
        // not use must still exist.
        self.ensure(|b| &mut b.blurred, 16);
        self.ensure(|b| &mut b.replaced, 16);
        let (which, items): (Kernel, u64) = match mode {
            Mode::Blur => (|k| &k.blend_blurred, out_bytes.div_ceil(4)),
            Mode::Replace => (|k| &k.blend_replaced, out_bytes.div_ceil(4)),
            Mode::Cutout => (|k| &k.cutout, pixels),
            Mode::Mask => (|k| &k.mask8, pixels.div_ceil(4)),
        };
        let group = match self.groups.composite(mode).clone() {
            Some(group) => group,
            None => {
                let b = &self.bufs;
                let (frame, mask, out) = ((1, &b.frame), (2, &b.mask), (6, &b.out));
                let params = (0, &b.comp_params);
                let group = match mode {
                    Mode::Blur | Mode::Replace => {
                        let backgrounds = [(4, &b.blurred), (5, &b.replaced)];
                        self.bind(which, &[params, frame, mask, backgrounds[0], backgrounds[1], out], true)?
                    }
                    Mode::Cutout => self.bind(which, &[params, frame, mask, (4, &b.blurred), out], true)?,
                    Mode::Mask => self.bind(which, &[params, mask, out], false)?,
                };
                *self.groups.composite(mode) = Some(group.clone());
                group
            }
        };
        self.dispatch(which, &group, linear_groups(items));
        Ok(())
    }

    pub(super) fn out_bpp(mode: Mode, format: PixelFormat) -> usize {
        match mode {
            Mode::Blur | Mode::Replace => format.bytes_per_pixel(),
            Mode::Cutout => 4,
            Mode::Mask => 1,
        }
    }
}
