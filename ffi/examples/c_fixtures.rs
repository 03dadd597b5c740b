//! Writes the inputs and the Rust API's expected outputs for the C test program
//! (`ffi/tests/c/bokeh_test.c`), so the C API is checked against the Rust API on real photos.
//!
//! Usage: `cargo run -p bokeh-ffi --example c_fixtures -- OUT_DIR`
//!
//! `OUT_DIR/manifest.txt` has one case per line:
//! `name format color width height mode blur strength input_file expected_file output_format`,
//! with formats and modes as the numbers of `bokeh.h`; planes are stored one after another,
//! tightly packed. `background.rgb` (with `background W H` as the first line) is the
//! replacement background. `rotated W H ROTATION MIRROR` is an RGBA frame stored turned
//! (`rotated.in`) with its upright output (`rotated.expected`); `stream W H N` is N RGBA frames
//! (`stream_K.in`) through a stream with temporal smoothing, whose outputs are `stream_K.expected`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bokeh::{
    orient_into, BlurKind, Frame, Mode, Options, Orientation, Pipeline, PixelFormat, Rotation, Segmenter, Stream,
    Temporal, YuvColor, YuvFrame, YuvLayout, YuvMatrix, YuvRange,
};
use bokeh_ffi::*;
use image::imageops::FilterType;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: c_fixtures OUT_DIR")?);
    std::fs::create_dir_all(&out)?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let photo = image::open(root.join("examples/data/grace_hopper.jpg"))?;
    // Small frames: the C test also runs under valgrind and qemu.
    let frame_of = |w: u32, h: u32| {
        Frame::from_dynamic_image(photo.resize_exact(w, h, FilterType::Triangle))
            .and_then(|f| f.as_ref().to_owned_rgb())
    };
    let rgb = frame_of(128, 160)?;
    let odd = frame_of(101, 77)?;
    let background = Frame::from_dynamic_image(image::open(root.join("examples/data/astronaut.png"))?.resize_exact(
        80,
        60,
        FilterType::Triangle,
    ))?
    .as_ref()
    .to_owned_rgb()?;
    std::fs::write(out.join("background.rgb"), background.data())?;

    let segmenter = Segmenter::new()?;
    let mut manifest = format!("background {} {}\n", background.width(), background.height());
    let full601 = YuvColor::new(YuvMatrix::Bt601, YuvRange::Full);
    let lim709 = YuvColor::new(YuvMatrix::Bt709, YuvRange::Limited);
    #[rustfmt::skip]
    let cases: [(&str, &Frame, Input, BokehMode, BokehBlur, f32, PixelFormat); 9] = [
        ("rgba_blur", &rgb, Input::Packed(PixelFormat::Rgba8), BOKEH_MODE_BLUR, BOKEH_BLUR_DISC, 0.03, PixelFormat::Rgba8),
        ("bgra_gauss", &rgb, Input::Packed(PixelFormat::Bgra8), BOKEH_MODE_BLUR, BOKEH_BLUR_GAUSSIAN, 0.05, PixelFormat::Bgra8),
        ("rgb_replace", &rgb, Input::Packed(PixelFormat::Rgb8), BOKEH_MODE_REPLACE, BOKEH_BLUR_DISC, 0.03, PixelFormat::Rgb8),
        ("rgba_cutout", &rgb, Input::Packed(PixelFormat::Rgba8), BOKEH_MODE_CUTOUT, BOKEH_BLUR_DISC, 0.03, PixelFormat::Rgba8),
        ("rgb_mask", &rgb, Input::Packed(PixelFormat::Rgb8), BOKEH_MODE_MASK, BOKEH_BLUR_DISC, 0.03, PixelFormat::Gray8),
        ("nv12_blur", &rgb, Input::Yuv(YuvLayout::Nv12, BOKEH_COLOR_BT601_FULL, full601), BOKEH_MODE_BLUR, BOKEH_BLUR_DISC, 0.03, PixelFormat::Bgra8),
        ("nv21_odd", &odd, Input::Yuv(YuvLayout::Nv21, BOKEH_COLOR_BT601_LIMITED, YuvColor::default()), BOKEH_MODE_BLUR, BOKEH_BLUR_DISC, 0.04, PixelFormat::Rgba8),
        ("i420_odd", &odd, Input::Yuv(YuvLayout::I420, BOKEH_COLOR_BT709_LIMITED, lim709), BOKEH_MODE_BLUR, BOKEH_BLUR_DISC, 0.03, PixelFormat::Rgb8),
        ("yuyv_mask", &rgb, Input::Yuv(YuvLayout::Yuyv, BOKEH_COLOR_BT601_LIMITED, YuvColor::default()), BOKEH_MODE_MASK, BOKEH_BLUR_DISC, 0.03, PixelFormat::Gray8),
    ];
    for (name, src, input, mode, blur, strength, out_format) in cases {
        let (input_bytes, c_format, c_color, pipeline_input) = match input {
            Input::Packed(format) => {
                let f = src.as_ref().to_owned_format(format)?;
                (f.data().to_vec(), c_format_of(format), 0, f)
            }
            Input::Yuv(layout, c_color, color) => {
                let yuv = YuvFrame::from_rgb(src.as_ref(), layout, color)?;
                let keeps = mode == BOKEH_MODE_BLUR || mode == BOKEH_MODE_REPLACE;
                let converted = yuv.as_ref().to_frame(if keeps { out_format } else { PixelFormat::Rgb8 })?;
                (yuv.data().to_vec(), c_yuv_format_of(layout), c_color, converted)
            }
        };
        let options = Options::default()
            .with_mode(match mode {
                BOKEH_MODE_BLUR => Mode::Blur,
                BOKEH_MODE_REPLACE => Mode::Replace,
                BOKEH_MODE_CUTOUT => Mode::Cutout,
                _ => Mode::Mask,
            })
            .with_blur(if blur == BOKEH_BLUR_GAUSSIAN { BlurKind::Gaussian } else { BlurKind::Disc })
            .with_strength(strength)
            .with_background(background.clone());
        let expected = Pipeline::new(&segmenter, options)?.process(pipeline_input.as_ref())?;
        assert_eq!(expected.format(), out_format, "{name}");
        std::fs::write(out.join(format!("{name}.in")), &input_bytes)?;
        std::fs::write(out.join(format!("{name}.expected")), expected.data())?;
        writeln!(
            manifest,
            "{name} {c_format} {c_color} {} {} {mode} {blur} {strength} {name}.in {name}.expected {}",
            src.width(),
            src.height(),
            c_format_of(out_format)
        )?;
    }
    // A frame stored sideways and mirrored (a front camera held upright), turned upright:
    // (90°, mirrored) undoes itself, so the stored frame is the photo turned the same way.
    let o = Orientation::new(Rotation::Cw90, true);
    let rgba = rgb.as_ref().to_owned_format(PixelFormat::Rgba8)?;
    let (sw, sh) = o.upright_size(rgba.width(), rgba.height());
    let mut stored = Frame::new(sw, sh, PixelFormat::Rgba8)?;
    orient_into(rgba.as_ref(), o, &mut stored.as_mut())?;
    let options = Options::default().with_orientation(o).with_upright_output(true);
    let expected = Pipeline::new(&segmenter, options)?.process(stored.as_ref())?;
    std::fs::write(out.join("rotated.in"), stored.data())?;
    std::fs::write(out.join("rotated.expected"), expected.data())?;
    writeln!(manifest, "rotated {sw} {sh} 90 1")?;
    // A short video through a stream (temporal smoothing and tracking on): the photo panning.
    let mut stream = Stream::new(&segmenter, Options::default().with_temporal(Some(Temporal::default())))?;
    let mut frame_out = Frame::new(rgba.width(), rgba.height(), PixelFormat::Rgba8)?;
    let frames = 4;
    let mut written = 0;
    for k in 0..frames {
        let mut data = rgba.data().to_vec();
        for row in data.chunks_mut(rgba.width() as usize * 4) {
            row.rotate_right(4 * 3 * k);
        }
        std::fs::write(out.join(format!("stream_{k}.in")), &data)?;
        let frame = Frame::from_vec(data, rgba.width(), rgba.height(), PixelFormat::Rgba8)?;
        if stream.push(frame.as_ref(), &mut frame_out.as_mut())? {
            std::fs::write(out.join(format!("stream_{written}.expected")), frame_out.data())?;
            written += 1;
        }
    }
    stream.finish(&mut frame_out.as_mut())?;
    std::fs::write(out.join(format!("stream_{written}.expected")), frame_out.data())?;
    writeln!(manifest, "stream {} {} {frames}", rgba.width(), rgba.height())?;
    std::fs::write(out.join("manifest.txt"), manifest)?;
    std::fs::write(out.join("model.onnx"), bokeh::SELFIE_SQUARE_ONNX)?;
    println!("wrote {}", out.display());
    Ok(())
}

#[derive(Clone, Copy)]
enum Input {
    Packed(PixelFormat),
    Yuv(YuvLayout, BokehColorSpace, YuvColor),
}

fn c_format_of(format: PixelFormat) -> BokehPixelFormat {
    match format {
        PixelFormat::Rgb8 => BOKEH_FORMAT_RGB,
        PixelFormat::Rgba8 => BOKEH_FORMAT_RGBA,
        PixelFormat::Bgra8 => BOKEH_FORMAT_BGRA,
        _ => BOKEH_FORMAT_GRAY,
    }
}

fn c_yuv_format_of(layout: YuvLayout) -> BokehPixelFormat {
    match layout {
        YuvLayout::Nv12 => BOKEH_FORMAT_NV12,
        YuvLayout::Nv21 => BOKEH_FORMAT_NV21,
        YuvLayout::I420 => BOKEH_FORMAT_I420,
        _ => BOKEH_FORMAT_YUYV,
    }
}

/// Format conversions between packed RGB orders, for the fixtures only.
trait Reformat {
    fn to_owned_rgb(&self) -> bokeh::Result<Frame>;
    fn to_owned_format(&self, format: PixelFormat) -> bokeh::Result<Frame>;
}

impl Reformat for bokeh::FrameRef<'_> {
    fn to_owned_rgb(&self) -> bokeh::Result<Frame> {
        self.to_owned_format(PixelFormat::Rgb8)
    }

    fn to_owned_format(&self, format: PixelFormat) -> bokeh::Result<Frame> {
        let src = Frame::from_ref(*self);
        let bpp = src.format().bytes_per_pixel();
        let mut data = Vec::with_capacity((src.width() * src.height()) as usize * format.bytes_per_pixel());
        for px in src.data().chunks(bpp) {
            let (r, g, b) = if bpp >= 3 { (px[0], px[1], px[2]) } else { (px[0], px[0], px[0]) };
            let a = if bpp == 4 { px[3] } else { 255 };
            match format {
                PixelFormat::Rgb8 => data.extend_from_slice(&[r, g, b]),
                PixelFormat::Rgba8 => data.extend_from_slice(&[r, g, b, a]),
                PixelFormat::Bgra8 => data.extend_from_slice(&[b, g, r, a]),
                _ => data.push(g),
            }
        }
        Frame::from_vec(data, src.width(), src.height(), format)
    }
}
