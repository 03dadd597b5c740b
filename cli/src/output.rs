//! Output formats and atomic writes.

use std::io::{BufWriter, Seek, Write};
use std::path::Path;

use anyhow::{Context, Result};
use clap::ValueEnum;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat};

use bokeh::Frame;

/// An output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// JPEG (no transparency).
    Jpg,
    /// PNG (lossless, transparency).
    Png,
    /// WebP (lossless, transparency).
    Webp,
}

impl Format {
    /// The format a file name's extension asks for.
    pub(crate) fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jpg" | "jpeg" => Some(Format::Jpg),
            "png" => Some(Format::Png),
            "webp" => Some(Format::Webp),
            _ => None,
        }
    }

    /// The usual extension.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::Jpg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
        }
    }

    /// Whether the format stores an alpha channel.
    pub(crate) fn has_alpha(self) -> bool {
        !matches!(self, Format::Jpg)
    }
}

/// Encoder settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Encoding {
    /// JPEG quality, 1..=100.
    pub(crate) quality: u8,
}

fn encode<W: Write + Seek>(frame: Frame, format: Format, encoding: &Encoding, w: &mut W) -> Result<()> {
    let img = frame.into_dynamic_image();
    match format {
        Format::Jpg => {
            // JPEG has no alpha: keep the colour channels.
            let img = if img.color().has_alpha() { DynamicImage::ImageRgb8(img.to_rgb8()) } else { img };
            img.write_with_encoder(JpegEncoder::new_with_quality(w, encoding.quality))?;
        }
        Format::Png => img.write_to(w, ImageFormat::Png)?,
        Format::Webp => img.write_to(w, ImageFormat::WebP)?,
    }
    Ok(())
}

/// Encodes `frame` into `path` atomically: a temporary file in the same folder, flushed and
/// synced, then renamed to `path` (without `overwrite`, only if nothing is there by then). On any
/// error the temporary file is removed and `path` is left as it was.
pub(crate) fn write_atomic(
    frame: Frame,
    path: &Path,
    format: Format,
    encoding: &Encoding,
    overwrite: bool,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".bokeh-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir).with_context(|| format!("cannot create a file in {}", dir.display()))?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        encode(frame, format, encoding, &mut w).context("encoding")?;
        w.flush().context("writing")?;
    }
    tmp.as_file().sync_all().context("writing")?;
    let persisted = if overwrite { tmp.persist(path) } else { tmp.persist_noclobber(path) };
    persisted.map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
