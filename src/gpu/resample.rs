//! The resampling stages (`shaders/resample.wgsl`, twin of `src/resample.rs`): the frame to the
//! model's input (preprocess), the model's mask to the frame (upsample), and the mask's own
//! way in and out (`set_mask`, `read_mask`).

use super::*;

impl GpuPixels {
    /// The preprocess stage on the uploaded frame: resamples it to `size` (the model's input)
    /// with `sampling`'s taps, normalises it and reads the tensor back into `out` in `layout`
    /// order. Waits for the GPU.
    pub fn preprocess(
        &mut self,
        size: (u32, u32),
        sampling: Sampling,
        normalization: Normalization,
        layout: Layout,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let src = self.preprocess_on_device(size, sampling, normalization, layout)?;
        let n = size.0 as u64 * size.1 as u64 * 3;
        let dst = self.bufs.model_readback.get()?.clone();
        self.encoder().copy_buffer_to_buffer(&src, 0, &dst, 0, n * 4);
        self.submit();
        out.resize(n as usize, 0.0);
        self.read(&dst, n * 4, "reading the model input back", |bytes| {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        })
    }

    /// Like [`GpuPixels::preprocess`], leaving the tensor on the GPU for a model that runs there
    /// ([`crate::gpu::GpuModel`]): the work is submitted, not waited for, and the buffer holding
    /// the tensor (its first `3 × width × height` floats) is returned.
    pub fn preprocess_on_device(
        &mut self,
        size: (u32, u32),
        sampling: Sampling,
        normalization: Normalization,
        layout: Layout,
    ) -> Result<wgpu::Buffer> {
        let f = self.shape()?;
        let (mw, mh) = size;
        let n = mw as u64 * mh as u64 * 3;
        let sizes = (sampling, (f.width, f.height), size);
        let taps = match self.model_key {
            Some((key, taps)) if key == sizes => taps,
            _ => {
                let wx = Weights::for_sampling(sampling, f.width as usize, mw as usize);
                let wy = Weights::for_sampling(sampling, f.height as usize, mh as usize);
                let table = taps_table(&wx, &wy);
                self.ensure(|b| &mut b.model_taps, table.len() as u64);
                self.ctx.queue.write_buffer(self.bufs.model_taps.get()?, 0, &table);
                self.ensure(|b| &mut b.model_in, n * 4);
                self.ensure(|b| &mut b.model_readback, n * 4);
                let taps = (wx.taps as u32, wy.taps as u32);
                self.model_key = Some((sizes, taps));
                taps
            }
        };
        // The parameters (80 bytes) are written every frame: the normalisation and layout can
        // change with the model variant while the sizes stay the same.
        let [r, g, b] = f.format.rgb_offsets().map(|o| o as u32);
        let nchw = u32::from(layout == Layout::Nchw);
        let bpp = f.format.bytes_per_pixel() as u32;
        let params = ResampleParams {
            src_w: f.width,
            src_h: f.height,
            dst_w: mw,
            dst_h: mh,
            taps_x: taps.0,
            taps_y: taps.1,
            bpp,
            nchw,
            off_r: r,
            off_g: g,
            off_b: b,
            scale: std::array::from_fn(|c| if c < 3 { 1.0 / (255.0 * normalization.std[c]) } else { 0.0 }),
            offset: std::array::from_fn(|c| if c < 3 { -normalization.mean[c] / normalization.std[c] } else { 0.0 }),
            ..Default::default()
        };
        self.write_params(|b| &mut b.model_params, &params)?;
        if self.groups.frame_to_model.is_none() {
            let b = &self.bufs;
            let entries = [(0, &b.model_params), (1, &b.model_taps), (2, &b.frame), (3, &b.model_in)];
            self.groups.frame_to_model = Some(self.bind(|k| &k.frame_to_model, &entries, false)?);
        }
        let group = self.groups.frame_to_model.clone().ok_or_else(|| gpu_error("preprocess", "no bind group"))?;
        self.dispatch(|k| &k.frame_to_model, &group, groups_2d(mw, mh));
        self.submit();
        Ok(self.bufs.model_in.get()?.clone())
    }

    /// The upsample stage: `low` (the model's mask, any size) to the uploaded frame's size.
    pub fn upsample(&mut self, low: &Mask) -> Result<()> {
        let f = self.shape()?;
        let src = (low.width(), low.height());
        let n = low.data().len() as u64;
        self.ensure(|b| &mut b.low_mask, n * 4);
        self.scratch.clear();
        self.scratch.extend(low.data().iter().flat_map(|v| v.to_le_bytes()));
        self.ctx.queue.write_buffer(self.bufs.low_mask.get()?, 0, &self.scratch);
        if self.mask_key != Some((src, (f.width, f.height))) {
            let wx = Weights::triangle(src.0 as usize, f.width as usize);
            let wy = Weights::triangle(src.1 as usize, f.height as usize);
            let table = taps_table(&wx, &wy);
            self.ensure(|b| &mut b.mask_taps, table.len() as u64);
            self.ctx.queue.write_buffer(self.bufs.mask_taps.get()?, 0, &table);
            let params = ResampleParams {
                src_w: src.0,
                src_h: src.1,
                dst_w: f.width,
                dst_h: f.height,
                taps_x: wx.taps as u32,
                taps_y: wy.taps as u32,
                ..Default::default()
            };
            self.write_params(|b| &mut b.mask_params, &params)?;
            self.ensure(|b| &mut b.mask, f.width as u64 * f.height as u64 * 4);
            self.mask_key = Some((src, (f.width, f.height)));
        }
        if self.groups.mask_up.is_none() {
            let b = &self.bufs;
            let entries = [(0, &b.mask_params), (1, &b.mask_taps), (4, &b.low_mask), (5, &b.mask)];
            self.groups.mask_up = Some(self.bind(|k| &k.mask_up, &entries, false)?);
        }
        let group = self.groups.mask_up.clone().ok_or_else(|| gpu_error("upsample", "no bind group"))?;
        self.dispatch(|k| &k.mask_up, &group, groups_2d(f.width, f.height));
        self.mask_size = Some((f.width, f.height));
        Ok(())
    }

    /// Uploads a full-resolution mask made elsewhere (by the CPU's detail passes or matting) in
    /// place of the upsample stage; it must have the uploaded frame's size.
    pub fn set_mask(&mut self, mask: &Mask) -> Result<()> {
        let f = self.shape()?;
        if (mask.width(), mask.height()) != (f.width, f.height) {
            return Err(Error::SizeMismatch {
                what: "mask",
                expected: crate::error::Dims(f.width, f.height),
                actual: crate::error::Dims(mask.width(), mask.height()),
            });
        }
        self.ensure(|b| &mut b.mask, f.width as u64 * f.height as u64 * 4);
        self.scratch.clear();
        self.scratch.extend(mask.data().iter().flat_map(|v| v.to_le_bytes()));
        self.ctx.queue.write_buffer(self.bufs.mask.get()?, 0, &self.scratch);
        self.mask_size = Some((f.width, f.height));
        Ok(())
    }

    /// Copies the full-resolution mask (after upsample, and refine if it ran) into `out`,
    /// waiting for the GPU: for callers who want the mask as well as the picture.
    pub fn read_mask(&mut self, out: &mut Mask) -> Result<()> {
        let (w, h) = self.mask_size.ok_or_else(|| gpu_error("reading the mask back", "no mask on the GPU"))?;
        if (out.width(), out.height()) != (w, h) {
            *out = Mask::new(w, h);
        }
        let len = w as u64 * h as u64 * 4;
        self.ensure(|b| &mut b.mask_readback, len);
        let (src, dst) = (self.bufs.mask.get()?.clone(), self.bufs.mask_readback.get()?.clone());
        self.encoder().copy_buffer_to_buffer(&src, 0, &dst, 0, len);
        self.submit();
        self.read(&dst, len, "reading the mask back", |bytes| {
            for (o, b) in out.data_mut().iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        })
    }
}
