//! The library's one error type.
//!
//! Every fallible call in `bokeh` returns [`Result`]. Variants say *what* was wrong and carry
//! enough context (sizes, names) for a one-line message a user can act on; tract's errors are
//! wrapped at the `segment` boundary so callers never need to depend on tract themselves.

use std::fmt;

/// Errors returned by the `bokeh` library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame's width, height, stride or buffer length do not describe a valid image.
    #[error("invalid frame: {0}")]
    InvalidFrame(String),
    /// Two frames (or a frame and a mask) that must have the same size do not.
    #[error("size mismatch: {what} is {actual}, expected {expected}")]
    SizeMismatch {
        /// Which buffer had the wrong size.
        what: &'static str,
        /// The size that was expected, as `WxH`.
        expected: Dims,
        /// The size that was given, as `WxH`.
        actual: Dims,
    },
    /// The pixel format is not supported where it was used.
    #[error("unsupported pixel format {format:?} for {context}")]
    UnsupportedFormat {
        /// The format that was given.
        format: crate::PixelFormat,
        /// What it was given to.
        context: &'static str,
    },
    /// A model description ([`crate::ModelSpec`]) could not be parsed or is inconsistent.
    #[error("invalid model spec: {0}")]
    InvalidSpec(String),
    /// An option is out of its documented range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The ONNX model could not be loaded, optimised or run.
    #[error("model error: {context}: {message}")]
    Model {
        /// What was being done (loading, optimising, running …).
        context: String,
        /// tract's own description of the failure, with its cause chain.
        message: String,
    },
    /// An encoded image could not be decoded (empty, truncated, not an image, corrupt).
    #[error("{0}")]
    Decode(String),
    /// Writing an encoded stream failed (a closed pipe, a full disk).
    #[error("{0}")]
    Encode(String),
    /// An image is larger than the decoding limits allow; nothing was allocated for it.
    #[error("{width}x{height} ({:.1} megapixels) is over the limit of {:.1} megapixels", *width as f64 * *height as f64 / 1e6, *max_pixels as f64 / 1e6)]
    TooLarge {
        /// Width from the image header.
        width: u32,
        /// Height from the image header.
        height: u32,
        /// The limit in force, in pixels.
        max_pixels: u64,
    },
    /// The GPU backend could not find an adapter, open a device or run its shaders (or the
    /// library was built without the `gpu` feature).
    #[error("GPU error: {context}: {message}")]
    Gpu {
        /// What was being done (finding an adapter, reading the output back …).
        context: String,
        /// What went wrong, with the adapter where one was chosen.
        message: String,
    },
    /// Reading a model file failed.
    #[error("cannot read {path}: {error}")]
    Io {
        /// The file that could not be read.
        path: String,
        /// The underlying I/O error (already part of the message).
        error: std::io::Error,
    },
}

impl Error {
    /// Wraps a tract error with what we were doing when it happened.
    pub(crate) fn model(context: impl Into<String>, err: impl fmt::Display) -> Self {
        // The alternate form of tract's (anyhow) errors prints the whole cause chain on one line.
        let message = format!("{err:#}").replace('\n', " ");
        Error::Model { context: context.into(), message }
    }
}

/// A `width x height` pair, printed as `WxH` in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims(pub u32, pub u32);

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.0, self.1)
    }
}

/// Shorthand for `std::result::Result<T, bokeh::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
