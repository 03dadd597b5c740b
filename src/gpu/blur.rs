//! The blur stage (`shaders/blur.wgsl`, twin of `src/blur/`): downsample, aperture or Gaussian,
//! focus falloff, highlight bloom.

use super::*;

impl GpuPixels {
    /// The blur stage: the uploaded frame's background (weighted by the upsampled mask as
    /// [`BlurParams::weights`] says) as `params` say, at the reduced resolution the CPU uses
    /// ([`crate::BlurredBackground::compute`] is its twin).
    pub fn blur(&mut self, params: &BlurParams) -> Result<()> {
        let f = self.shape()?;
        let plan = params.plan()?;
        let (kind, bloom, factor, low_radius, falloff) =
            (params.kind, plan.bloom, plan.factor, plan.low_radius, plan.low_falloff);
        let (lw, lh) = (f.width.div_ceil(factor as u32), f.height.div_ceil(factor as u32));
        // The aperture or Gaussian tables go up only when they change (not every frame).
        let key = (kind, low_radius.to_bits(), falloff.unwrap_or(0.0).to_bits());
        if self.shape_key != Some(key) {
            self.scratch.clear();
            match kind {
                BlurKind::Disc | BlurKind::Hexagon => {
                    // Per level (first span, number of spans), then the spans (the CPU's tables).
                    let a = &mut self.apertures;
                    a.fill(kind, low_radius, falloff);
                    let header = a.levels.len() * 2;
                    let levels = a.levels.iter().flat_map(|&(start, n)| [(header + start) as u32, n as u32]);
                    let all = levels.chain(a.spans.iter().map(|&s| s as u32));
                    self.scratch.extend(all.flat_map(u32::to_le_bytes));
                }
                BlurKind::Gaussian => {
                    gaussian_kernel(low_radius / 2.0, &mut self.kernel);
                    self.scratch.extend(self.kernel.iter().flat_map(|k| k.to_le_bytes()));
                }
            }
            self.ensure(|b| &mut b.shape, self.scratch.len() as u64);
            self.ctx.queue.write_buffer(self.bufs.shape.get()?, 0, &self.scratch);
            if falloff.is_some() {
                let table = words(&self.apertures.table);
                self.ensure(|b| &mut b.falloff_table, table.len() as u64);
                self.ctx.queue.write_buffer(self.bufs.falloff_table.get()?, 0, &table);
            }
            self.shape_key = Some(key);
        }
        let count = match kind {
            BlurKind::Disc | BlurKind::Hexagon => self.apertures.levels.len(),
            BlurKind::Gaussian => self.kernel.len(),
        };
        // The plan refused falloff with a Gaussian.
        let with_falloff = falloff.is_some();
        let table_len = if with_falloff { self.apertures.table.len() as u32 } else { 0 };
        let [r, g, b] = f.format.rgb_offsets().map(|o| o as u32);
        let shader_params = BlurShaderParams {
            fw: f.width,
            fh: f.height,
            bpp: f.format.bytes_per_pixel() as u32,
            off_r: r,
            off_g: g,
            off_b: b,
            factor: factor as u32,
            lw,
            lh,
            count: count as u32,
            bloom,
            background_only: u32::from(params.weights == BlurWeights::BackgroundOnly),
            falloff: u32::from(with_falloff),
            table_len,
            ..Default::default()
        };
        self.write_params(|b| &mut b.blur_params, &shader_params)?;
        let texels = lw as u64 * lh as u64 * 16;
        self.ensure(|b| &mut b.low, texels);
        self.ensure(|b| &mut b.tmp, texels);
        self.ensure(|b| &mut b.blurred, texels);
        self.ensure(|b| &mut b.falloff_dist, texels / 4);
        self.ensure(|b| &mut b.cell_level, texels / 4);
        self.ensure(|b| &mut b.falloff_table, 16);
        if self.groups.downsample.is_none() {
            let b = &self.bufs;
            let entries = [(0, &b.blur_params), (1, &b.frame), (2, &b.mask), (4, &b.low)];
            self.groups.downsample = Some(self.bind(|k| &k.downsample, &entries, true)?);
            let entries = [(0, &b.blur_params), (4, &b.low), (5, &b.shape), (7, &b.blurred), (9, &b.cell_level)];
            self.groups.disc = Some(self.bind(|k| &k.disc, &entries, false)?);
            let entries = [(0, &b.blur_params), (4, &b.low), (8, &b.falloff_dist)];
            self.groups.distance_cols = Some(self.bind(|k| &k.distance_cols, &entries, false)?);
            let entries = [(0, &b.blur_params), (8, &b.falloff_dist), (9, &b.cell_level), (10, &b.falloff_table)];
            self.groups.distance_rows = Some(self.bind(|k| &k.distance_rows, &entries, false)?);
            let entries = [(0, &b.blur_params), (4, &b.low), (5, &b.shape), (6, &b.tmp)];
            self.groups.gauss_h = Some(self.bind(|k| &k.gauss_h, &entries, false)?);
            let entries = [(0, &b.blur_params), (5, &b.shape), (6, &b.tmp), (7, &b.blurred)];
            self.groups.gauss_v = Some(self.bind(|k| &k.gauss_v, &entries, false)?);
        }
        let missing = || gpu_error("blur", "no bind group");
        let g = &self.groups;
        let down = g.downsample.clone().ok_or_else(missing)?;
        let (disc, gh, gv) = (g.disc.clone().ok_or_else(missing)?, g.gauss_h.clone(), g.gauss_v.clone());
        let (dc, dr) = (g.distance_cols.clone(), g.distance_rows.clone());
        let grid = groups_2d(lw, lh);
        self.dispatch(|k| &k.downsample, &down, grid);
        match kind {
            BlurKind::Disc | BlurKind::Hexagon => {
                if with_falloff {
                    self.dispatch(|k| &k.distance_cols, &dc.ok_or_else(missing)?, (lw.div_ceil(64), 1));
                    self.dispatch(|k| &k.distance_rows, &dr.ok_or_else(missing)?, grid);
                }
                self.dispatch(|k| &k.disc, &disc, grid)
            }
            BlurKind::Gaussian => {
                self.dispatch(|k| &k.gauss_h, &gh.ok_or_else(missing)?, grid);
                self.dispatch(|k| &k.gauss_v, &gv.ok_or_else(missing)?, grid);
            }
        }
        self.blur_low = Some((lw, lh, factor as u32));
        Ok(())
    }
}
