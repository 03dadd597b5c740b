//! The refinement stage (`shaders/refine.wgsl`, twin of `src/refine.rs`): the fast guided filter
//! with the frame as the guide, its coefficients smoothed over time in video.

use super::*;

impl GpuPixels {
    /// The refinement stage (the CPU's [`crate::Refiner`]): refines the mask on the GPU (after
    /// [`GpuPixels::upsample`] or [`GpuPixels::set_mask`]) in place, with the uploaded frame as
    /// the guide. With `temporal`, the window coefficients are smoothed against the last frame's
    /// as the CPU does for video; [`GpuPixels::reset_refine`] forgets them.
    pub fn refine(&mut self, refine: &Refine, temporal: Option<&Temporal>) -> Result<()> {
        refine.validate()?;
        let f = self.shape()?;
        if self.mask_size != Some((f.width, f.height)) {
            return Err(gpu_error("refine", "no mask of the uploaded frame's size (upsample or set one first)"));
        }
        let guided = refine.reduction(f.width, f.height);
        let ramp = refine.has_ramp();
        if guided.is_none() && !ramp {
            return Ok(());
        }
        let (factor, radius) = guided.map_or((1, 1), |(f, r)| (f as u32, r as u32));
        let (lw, lh) = (f.width.div_ceil(factor), f.height.div_ceil(factor));
        let mode = match temporal {
            Some(_) if self.refine_prev == Some((lw, lh)) => 2,
            Some(_) => 1,
            None => 0,
        };
        if guided.is_some() {
            self.refine_prev = temporal.map(|_| (lw, lh));
        }
        let (min_weight, inv_full) = temporal.map_or((1.0, 1.0), |t| (t.min_weight, 1.0 / t.full_change));
        let [r, g, b] = f.format.rgb_offsets().map(|o| o as u32);
        let flags = u32::from(guided.is_some()) | u32::from(ramp) << 1;
        let params = |groups: u32| RefineParams {
            fw: f.width,
            fh: f.height,
            bpp: f.format.bytes_per_pixel() as u32,
            off_r: r,
            off_g: g,
            off_b: b,
            factor,
            lw,
            lh,
            radius,
            groups,
            temporal: mode,
            eps: refine.eps,
            threshold: refine.threshold,
            inv_feather: 1.0 / refine.feather,
            flags,
            min_weight,
            inv_full,
            ..Default::default()
        };
        let (stats_params, coef_params) = (params(4), params(1));
        self.write_params(|b| &mut b.refine_params, &stats_params)?;
        self.write_params(|b| &mut b.refine_coef_params, &coef_params)?;
        let cells = lw as u64 * lh as u64;
        self.ensure(|b| &mut b.refine_partial, lw as u64 * f.height as u64 * 16);
        self.ensure(|b| &mut b.refine_stats, cells * 64);
        self.ensure(|b| &mut b.refine_tmp, cells * 64);
        self.ensure(|b| &mut b.refine_coef, cells * 16);
        self.ensure(|b| &mut b.refine_coef_tmp, cells * 16);
        self.ensure(|b| &mut b.refine_prev, cells * 32);
        let groups = match self.groups.refine.clone() {
            Some(groups) => groups,
            None => {
                let b = &self.bufs;
                let (params, coef_params) = ((0, &b.refine_params), (0, &b.refine_coef_params));
                let (stats, tmp, coef, coef_tmp) = (&b.refine_stats, &b.refine_tmp, &b.refine_coef, &b.refine_coef_tmp);
                let partial = (8, &b.refine_partial);
                let groups = RefineGroups {
                    row_sums: self.bind(
                        |k| &k.refine_row_sums,
                        &[params, (1, &b.frame), (2, &b.mask), partial],
                        false,
                    )?,
                    stats: self.bind(|k| &k.refine_stats, &[params, partial, (5, stats)], false)?,
                    rows_stats: self.bind(|k| &k.refine_rows, &[params, (3, stats), (4, tmp)], false)?,
                    cols_stats: self.bind(|k| &k.refine_cols, &[params, (3, tmp), (4, stats)], false)?,
                    solve: self.bind(|k| &k.refine_solve, &[params, (5, stats), (6, coef)], false)?,
                    rows_coef: self.bind(|k| &k.refine_rows, &[coef_params, (3, coef), (4, coef_tmp)], false)?,
                    cols_coef: self.bind(|k| &k.refine_cols, &[coef_params, (3, coef_tmp), (4, coef)], false)?,
                    smooth: self.bind(
                        |k| &k.refine_smooth,
                        &[params, (5, stats), (6, coef), (7, &b.refine_prev)],
                        false,
                    )?,
                    apply: self.bind(|k| &k.refine_apply, &[params, (1, &b.frame), (2, &b.mask), (6, coef)], false)?,
                };
                self.groups.refine = Some(groups.clone());
                groups
            }
        };
        if guided.is_some() {
            let cells = groups_2d(lw, lh);
            self.dispatch(|k| &k.refine_row_sums, &groups.row_sums, groups_2d(lw, f.height));
            self.dispatch(|k| &k.refine_stats, &groups.stats, cells);
            self.dispatch(|k| &k.refine_rows, &groups.rows_stats, cells);
            self.dispatch(|k| &k.refine_cols, &groups.cols_stats, cells);
            self.dispatch(|k| &k.refine_solve, &groups.solve, cells);
            self.dispatch(|k| &k.refine_rows, &groups.rows_coef, cells);
            self.dispatch(|k| &k.refine_cols, &groups.cols_coef, cells);
            if mode > 0 {
                self.dispatch(|k| &k.refine_smooth, &groups.smooth, cells);
            }
        }
        self.dispatch(|k| &k.refine_apply, &groups.apply, groups_2d(f.width, f.height));
        Ok(())
    }

    /// Forgets the last frame's refinement coefficients (after a cut, or when smoothing is
    /// turned off).
    pub fn reset_refine(&mut self) {
        self.refine_prev = None;
    }
}
