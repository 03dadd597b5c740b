//! Property tests: whatever frame descriptors, masks and settings a caller passes, the library
//! answers `Ok` or a typed error — never a panic — and what it writes stays in bounds.

use proptest::prelude::*;

use bokeh::{BlurKind, Error, Frame, FrameMut, FrameRef, Mask, Mode, Options, Pipeline, PixelFormat, Segmenter};

fn format() -> impl Strategy<Value = PixelFormat> {
    prop_oneof![Just(PixelFormat::Rgb8), Just(PixelFormat::Rgba8), Just(PixelFormat::Bgra8), Just(PixelFormat::Gray8)]
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Blur), Just(Mode::Replace), Just(Mode::Cutout), Just(Mode::Mask)]
}

/// Frame descriptors, often inconsistent with their buffer on purpose.
#[derive(Debug, Clone)]
struct Descriptor {
    width: u32,
    height: u32,
    stride_extra: i64,
    len_delta: i64,
    format: PixelFormat,
    seed: u8,
}

fn descriptor() -> impl Strategy<Value = Descriptor> {
    (0u32..48, 0u32..40, -4i64..9, -6i64..6, format(), any::<u8>()).prop_map(
        |(width, height, stride_extra, len_delta, format, seed)| Descriptor {
            width,
            height,
            stride_extra,
            len_delta,
            format,
            seed,
        },
    )
}

impl Descriptor {
    fn stride(&self) -> usize {
        (self.width as i64 * self.format.bytes_per_pixel() as i64 + self.stride_extra).max(0) as usize
    }

    fn buffer(&self) -> Vec<u8> {
        let len = (self.stride() as i64 * self.height as i64 + self.len_delta).max(0) as usize;
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(self.seed)).collect()
    }
}

fn segmenter() -> &'static Segmenter {
    static SEGMENTER: std::sync::OnceLock<Segmenter> = std::sync::OnceLock::new();
    SEGMENTER.get_or_init(|| Segmenter::new().expect("embedded model"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn frame_views_accept_exactly_the_layouts_that_fit(d in descriptor()) {
        let data = d.buffer();
        let bpp = d.format.bytes_per_pixel();
        let fits = d.width > 0
            && d.height > 0
            && d.stride() >= d.width as usize * bpp
            && data.len() >= d.stride() * (d.height as usize - 1) + d.width as usize * bpp;
        let view = FrameRef::new(&data, d.width, d.height, d.stride(), d.format);
        prop_assert_eq!(view.is_ok(), fits);
        if let Err(e) = view {
            prop_assert!(matches!(e, Error::InvalidFrame(_)), "{e}");
        }
    }

    #[test]
    fn pixel_stages_never_panic_and_keep_alpha_and_padding(
        d in descriptor(),
        mode in mode(),
        gaussian in any::<bool>(),
        strength in prop_oneof![Just(0.0f32), 0.0f32..0.3, Just(f32::NAN)],
        mask_w in 0u32..20,
        mask_h in 0u32..20,
        mask_value in 0.0f32..1.5,
    ) {
        let data = d.buffer();
        let Ok(input) = FrameRef::new(&data, d.width, d.height, d.stride(), d.format) else { return Ok(()) };
        let background = Frame::from_vec(vec![d.seed; 4 * 3 * 2], 4, 2, PixelFormat::Rgb8).expect("bg");
        let blur = if gaussian { BlurKind::Gaussian } else { BlurKind::Disc };
        let options = Options::default().with_mode(mode).with_blur(blur).with_strength(strength).with_background(background);
        let pipeline = Pipeline::new(segmenter(), options.clone());
        if !(0.0..=Options::MAX_STRENGTH).contains(&strength) {
            prop_assert!(pipeline.is_err());
            return Ok(());
        }
        let mut pipeline = pipeline.expect("valid options");
        let mask = Mask::from_vec(vec![mask_value; (mask_w * mask_h) as usize], mask_w, mask_h)
            .unwrap_or_else(|_| Mask::new(0, 0));
        let out_format = options.output_format(d.format);
        let out_stride = d.width as usize * out_format.bytes_per_pixel() + 5;
        let mut out_buf = vec![0xA5u8; out_stride * d.height as usize];
        let mut out = FrameMut::new(&mut out_buf, d.width, d.height, out_stride, out_format).expect("output layout");
        let result = pipeline.process_with_mask(input, &mask, &mut out);
        prop_assert_eq!(result.is_ok(), mask.width() > 0, "{:?}", result);
        if result.is_ok() {
            let row_bytes = d.width as usize * out_format.bytes_per_pixel();
            let keeps_alpha = matches!(d.format, PixelFormat::Rgba8 | PixelFormat::Bgra8)
                && matches!(mode, Mode::Blur | Mode::Replace);
            for y in 0..d.height as usize {
                // Padding between rows is never written.
                prop_assert!(out_buf[y * out_stride + row_bytes..(y + 1) * out_stride].iter().all(|&b| b == 0xA5));
                for x in (0..d.width as usize).filter(|_| keeps_alpha) {
                    prop_assert_eq!(out_buf[y * out_stride + x * 4 + 3], data[y * d.stride() + x * 4 + 3], "alpha kept");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_whole_pipeline_with_the_model_never_panics(d in descriptor(), mode in mode()) {
        let data = d.buffer();
        let Ok(input) = FrameRef::new(&data, d.width, d.height, d.stride(), d.format) else { return Ok(()) };
        let background = Frame::from_vec(vec![7; 3], 1, 1, PixelFormat::Rgb8).expect("bg");
        let mut pipeline = Pipeline::new(segmenter(), Options::default().with_mode(mode).with_background(background))
            .expect("pipeline");
        let out = pipeline.process(input).expect("any valid frame is processed");
        prop_assert_eq!((out.width(), out.height()), (d.width, d.height));
        prop_assert!(pipeline.mask().data().iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
