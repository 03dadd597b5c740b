//! The window: minifb, one `u32` (0RGB) per pixel, sized by the first frame; keys as [`Key`].

use anyhow::{Context, Result};
use bokeh::{Frame, PixelFormat};
use minifb::{KeyRepeat, Window, WindowOptions};

/// What the keys ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Quit,
    Mode,
    Stronger,
    Weaker,
    Kernel,
    Smoothing,
    Refine,
    Backend,
}

/// The window title before the first statistics.
pub(crate) const TITLE: &str = "bokeh webcam";

pub(crate) struct View {
    window: Option<Window>,
    pixels: Vec<u32>,
}

impl View {
    /// Checks a display is there; the window itself opens with the first frame.
    pub(crate) fn open() -> Result<Self> {
        #[cfg(all(unix, not(target_os = "macos")))]
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            anyhow::bail!(
                "no display (DISPLAY is not set): run under a desktop or Xvfb, or use --no-window with --output -"
            );
        }
        Ok(View { window: None, pixels: Vec::new() })
    }

    /// False once the user closed the window.
    pub(crate) fn is_open(&self) -> bool {
        self.window.as_ref().is_none_or(|w| w.is_open())
    }

    pub(crate) fn set_title(&mut self, title: &str) {
        if let Some(w) = self.window.as_mut() {
            w.set_title(title);
        }
    }

    pub(crate) fn keys(&self) -> Vec<Key> {
        let Some(w) = self.window.as_ref() else { return Vec::new() };
        w.get_keys_pressed(KeyRepeat::No)
            .into_iter()
            .filter_map(|k| match k {
                minifb::Key::Escape | minifb::Key::Q => Some(Key::Quit),
                minifb::Key::M => Some(Key::Mode),
                minifb::Key::Up => Some(Key::Stronger),
                minifb::Key::Down => Some(Key::Weaker),
                minifb::Key::K => Some(Key::Kernel),
                minifb::Key::S => Some(Key::Smoothing),
                minifb::Key::R => Some(Key::Refine),
                minifb::Key::B => Some(Key::Backend),
                _ => None,
            })
            .collect()
    }

    /// Shows `frame` (any output format of the pipeline).
    pub(crate) fn show(&mut self, frame: &Frame) -> Result<()> {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        if self.window.is_none() {
            let options = WindowOptions { resize: true, ..WindowOptions::default() };
            let window = Window::new(TITLE, w, h, options).context("cannot open a window")?;
            self.window = Some(window);
        }
        let rgb = displayable(frame);
        self.pixels.clear();
        self.pixels.extend(
            rgb.data().chunks_exact(3).map(|p| (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2])),
        );
        if let Some(window) = self.window.as_mut() {
            window.update_with_buffer(&self.pixels, w, h).context("cannot draw into the window")?;
        }
        Ok(())
    }
}

/// The frame as opaque RGB: a cut-out over a grey checkerboard (as image editors show
/// transparency), a mask as grey.
pub(crate) fn displayable(frame: &Frame) -> Frame {
    let (w, h) = (frame.width(), frame.height());
    let data = match frame.format() {
        PixelFormat::Rgb8 => return frame.clone(),
        PixelFormat::Gray8 => frame.data().iter().flat_map(|&v| [v, v, v]).collect(),
        PixelFormat::Bgra8 => frame.data().chunks_exact(4).flat_map(|p| [p[2], p[1], p[0]]).collect(),
        _ => frame
            .data()
            .chunks_exact(4)
            .enumerate()
            .flat_map(|(i, p)| {
                let (x, y) = (i as u32 % w, i as u32 / w);
                let check: u32 = if (x / 16 + y / 16) % 2 == 0 { 200 } else { 150 };
                let a = u32::from(p[3]);
                let mix = |c: u8| ((u32::from(c) * a + check * (255 - a) + 127) / 255) as u8;
                [mix(p[0]), mix(p[1]), mix(p[2])]
            })
            .collect(),
    };
    Frame::from_vec(data, w, h, PixelFormat::Rgb8).unwrap_or_else(|_| frame.clone())
}
