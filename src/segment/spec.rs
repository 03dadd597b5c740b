//! Model descriptions: everything the pipeline must know about an ONNX segmentation model.
//!
//! A [`ModelSpec`] is declared in one place and drives both preprocessing and the reading of
//! the output, so a new model needs a spec, not code. Presets cover the embedded MediaPipe
//! selfie models and MODNet; other models are described with a short text form parsed by
//! [`ModelSpec::from_str`](std::str::FromStr):
//!
//! ```text
//! modnet                                   a preset
//! modnet,short=256                         a preset with one field changed
//! layout=nchw,short=512,multiple=32,norm=symmetric,output=probability,input=input
//! layout=nhwc,size=256x144,norm=unit
//! ```
//!
//! Keys: `input` (tensor name; the first input if absent), `layout` (`nhwc` | `nchw`), `size`
//! (`WxH`, a fixed input size) or `short` + `multiple` (the short side scaled to `short`, both
//! sides rounded to a multiple of `multiple`), `norm` (`unit`: x/255; `symmetric`:
//! (x/255−0.5)/0.5; `imagenet`: ImageNet mean/std), `output` (`probability` | `logit`),
//! `sampling` (`bilinear`: two taps per axis as MediaPipe's runtime samples; `antialiased`: a
//! triangle filter as wide as the scale, as PIL and `INTER_AREA` shrink).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Memory order of the model's input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// `[1, H, W, 3]`, channels last (TFLite-converted models).
    Nhwc,
    /// `[1, 3, H, W]`, channels first (PyTorch-exported models).
    Nchw,
}

/// How the model's input size is chosen for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputSize {
    /// Always this size; the frame is stretched to it (no letterbox), as MediaPipe does.
    Fixed {
        /// Input width in pixels.
        width: u32,
        /// Input height in pixels.
        height: u32,
    },
    /// Keeps the frame's aspect ratio: the short side becomes `short_side`, and both sides are
    /// rounded to a multiple of `multiple`. The long side is capped at four times the short
    /// one (more extreme frames are stretched).
    ShortSide {
        /// Target length of the frame's shorter side.
        short_side: u32,
        /// Both input sides are multiples of this.
        multiple: u32,
    },
}

impl InputSize {
    /// The model input size (width, height) for a frame of `width × height`.
    pub fn for_frame(&self, width: u32, height: u32) -> (u32, u32) {
        match *self {
            InputSize::Fixed { width, height } => (width, height),
            InputSize::ShortSide { short_side, multiple } => {
                let short = width.min(height).max(1) as f64;
                let scale = short_side as f64 / short;
                let m = multiple as f64;
                let cap = 4.0 * short_side as f64;
                let round = |v: u32| ((v as f64 * scale).min(cap) / m).round().max(1.0) as u32 * multiple;
                (round(width), round(height))
            }
        }
    }
}

/// Pixel normalisation: the model sees `(v / 255 − mean[c]) / std[c]` for channel `c` (RGB).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    /// Per-channel mean subtracted after scaling to 0..1.
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by.
    pub std: [f32; 3],
}

impl Normalization {
    /// `v / 255` (MediaPipe).
    pub const UNIT: Normalization = Normalization { mean: [0.0; 3], std: [1.0; 3] };
    /// `(v / 255 − 0.5) / 0.5`, i.e. −1..1 (MODNet).
    pub const SYMMETRIC: Normalization = Normalization { mean: [0.5; 3], std: [0.5; 3] };
    /// ImageNet mean and standard deviation.
    pub const IMAGENET: Normalization = Normalization { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
}

/// How the frame is sampled down to the model's input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Sampling {
    /// Bilinear interpolation between the two nearest pixels each way, the frame's corners on
    /// the tensor's corners, edges replicated, no antialiasing: what MediaPipe's
    /// `ImageToTensorCalculator` (OpenCV `warpPerspective` with `INTER_LINEAR`) feeds the selfie
    /// models, and what they expect. Fine detail aliases, as it does in the reference runtime.
    #[default]
    Bilinear,
    /// A triangle filter whose support grows with the shrink factor, so every pixel counts
    /// (PIL's `BILINEAR`, OpenCV's `INTER_AREA` in spirit): for models trained on such inputs.
    Antialiased,
}

/// What the model's single-channel output means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputKind {
    /// Person probability (or alpha) in 0..1.
    Probability,
    /// A logit; the sigmoid is applied to get a probability.
    Logit,
}

/// Everything needed to feed a segmentation model and read its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// Name of the input tensor; `None` takes the model's first input.
    pub input: Option<String>,
    /// Memory order of the input tensor.
    pub layout: Layout,
    /// How the input size is chosen.
    pub size: InputSize,
    /// Pixel normalisation.
    pub normalization: Normalization,
    /// Meaning of the output.
    pub output: OutputKind,
    /// How the frame is shrunk to the input size.
    pub sampling: Sampling,
}

impl ModelSpec {
    /// MediaPipe selfie segmentation, general (square 256×256) model.
    pub fn mediapipe_selfie() -> Self {
        ModelSpec {
            input: Some("input".into()),
            layout: Layout::Nhwc,
            size: InputSize::Fixed { width: 256, height: 256 },
            normalization: Normalization::UNIT,
            output: OutputKind::Probability,
            sampling: Sampling::Bilinear,
        }
    }

    /// MediaPipe selfie segmentation, landscape (256×144) model.
    pub fn mediapipe_selfie_landscape() -> Self {
        ModelSpec { size: InputSize::Fixed { width: 256, height: 144 }, ..Self::mediapipe_selfie() }
    }

    /// MODNet portrait matting: NCHW, short side 512, multiples of 32, −1..1 input, antialiased
    /// shrinking (its reference code resizes with `INTER_AREA`).
    pub fn modnet() -> Self {
        ModelSpec {
            input: Some("input".into()),
            layout: Layout::Nchw,
            size: InputSize::ShortSide { short_side: 512, multiple: 32 },
            normalization: Normalization::SYMMETRIC,
            output: OutputKind::Probability,
            sampling: Sampling::Antialiased,
        }
    }

    /// Checks the fields are usable (non-zero sizes, positive standard deviations).
    pub fn validate(&self) -> Result<()> {
        const MAX_SIDE: u32 = 8192;
        match self.size {
            InputSize::Fixed { width, height } => {
                if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
                    return Err(Error::InvalidSpec(format!("input size {width}x{height} must be 1..={MAX_SIDE}")));
                }
            }
            InputSize::ShortSide { short_side, multiple } => {
                if short_side == 0 || short_side > MAX_SIDE || multiple == 0 || multiple > short_side {
                    return Err(Error::InvalidSpec(format!(
                        "short side {short_side} must be 1..={MAX_SIDE} and multiple {multiple} 1..=short side"
                    )));
                }
            }
        }
        if self.normalization.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || self.normalization.mean.iter().any(|m| !m.is_finite())
        {
            return Err(Error::InvalidSpec(format!("normalisation {:?} is not usable", self.normalization)));
        }
        Ok(())
    }
}

fn parse_u32(key: &str, v: &str) -> Result<u32> {
    v.trim().parse().map_err(|_| Error::InvalidSpec(format!("{key}={v}: expected a whole number")))
}

impl FromStr for ModelSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let mut spec = ModelSpec::mediapipe_selfie();
        let mut short = None;
        let mut multiple = None;
        for (i, item) in s.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                return Err(Error::InvalidSpec(format!("empty item in {s:?}")));
            }
            let Some((key, value)) = item.split_once('=') else {
                if i > 0 {
                    return Err(Error::InvalidSpec(format!("{item:?}: expected key=value (a preset must come first)")));
                }
                spec = match item {
                    "mediapipe" | "selfie" => ModelSpec::mediapipe_selfie(),
                    "mediapipe-landscape" | "selfie-landscape" => ModelSpec::mediapipe_selfie_landscape(),
                    "modnet" => ModelSpec::modnet(),
                    _ => {
                        return Err(Error::InvalidSpec(format!(
                            "unknown preset {item:?} (mediapipe, mediapipe-landscape, modnet)"
                        )))
                    }
                };
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "input" if !value.is_empty() => spec.input = Some(value.to_string()),
                "layout" => {
                    spec.layout = match value.to_ascii_lowercase().as_str() {
                        "nhwc" => Layout::Nhwc,
                        "nchw" => Layout::Nchw,
                        _ => return Err(Error::InvalidSpec(format!("layout={value}: expected nhwc or nchw"))),
                    }
                }
                "size" => {
                    let (w, h) = value
                        .split_once(['x', 'X'])
                        .ok_or_else(|| Error::InvalidSpec(format!("size={value}: expected WxH")))?;
                    spec.size = InputSize::Fixed { width: parse_u32(key, w)?, height: parse_u32(key, h)? };
                }
                "short" => short = Some(parse_u32(key, value)?),
                "multiple" => multiple = Some(parse_u32(key, value)?),
                "norm" => {
                    spec.normalization = match value {
                        "unit" => Normalization::UNIT,
                        "symmetric" => Normalization::SYMMETRIC,
                        "imagenet" => Normalization::IMAGENET,
                        _ => {
                            return Err(Error::InvalidSpec(format!(
                                "norm={value}: expected unit, symmetric or imagenet"
                            )))
                        }
                    }
                }
                "output" => {
                    spec.output = match value {
                        "probability" | "prob" | "alpha" => OutputKind::Probability,
                        "logit" | "logits" => OutputKind::Logit,
                        _ => return Err(Error::InvalidSpec(format!("output={value}: expected probability or logit"))),
                    }
                }
                "sampling" => {
                    spec.sampling = match value {
                        "bilinear" => Sampling::Bilinear,
                        "antialiased" | "area" => Sampling::Antialiased,
                        _ => {
                            return Err(Error::InvalidSpec(format!(
                                "sampling={value}: expected bilinear or antialiased"
                            )))
                        }
                    }
                }
                _ => return Err(Error::InvalidSpec(format!("unknown or empty key in {item:?}"))),
            }
        }
        if short.is_some() || multiple.is_some() {
            let (d_short, d_multiple) = match spec.size {
                InputSize::ShortSide { short_side, multiple } => (short_side, multiple),
                InputSize::Fixed { .. } => (512, 32),
            };
            spec.size =
                InputSize::ShortSide { short_side: short.unwrap_or(d_short), multiple: multiple.unwrap_or(d_multiple) };
        }
        spec.validate()?;
        Ok(spec)
    }
}

impl fmt::Display for ModelSpec {
    /// Writes the text form that [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(input) = &self.input {
            write!(f, "input={input},")?;
        }
        let layout = match self.layout {
            Layout::Nhwc => "nhwc",
            Layout::Nchw => "nchw",
        };
        write!(f, "layout={layout},")?;
        match self.size {
            InputSize::Fixed { width, height } => write!(f, "size={width}x{height},")?,
            InputSize::ShortSide { short_side, multiple } => write!(f, "short={short_side},multiple={multiple},")?,
        }
        let norm = match self.normalization {
            n if n == Normalization::SYMMETRIC => "symmetric",
            n if n == Normalization::IMAGENET => "imagenet",
            _ => "unit",
        };
        let output = match self.output {
            OutputKind::Probability => "probability",
            OutputKind::Logit => "logit",
        };
        let sampling = match self.sampling {
            Sampling::Bilinear => "bilinear",
            Sampling::Antialiased => "antialiased",
        };
        write!(f, "norm={norm},output={output},sampling={sampling}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_overrides_parse() {
        assert_eq!("modnet".parse::<ModelSpec>().ok(), Some(ModelSpec::modnet()));
        let s: ModelSpec = "modnet,short=256".parse().expect("valid");
        assert_eq!(s.size, InputSize::ShortSide { short_side: 256, multiple: 32 });
        let s: ModelSpec = "layout=nchw,size=320x192,norm=imagenet,output=logit,input=x".parse().expect("valid");
        assert_eq!(s.layout, Layout::Nchw);
        assert_eq!(s.size, InputSize::Fixed { width: 320, height: 192 });
        assert_eq!(s.output, OutputKind::Logit);
        assert_eq!(s.input.as_deref(), Some("x"));
        assert_eq!(s.sampling, Sampling::Bilinear);
        let s: ModelSpec = "mediapipe,sampling=antialiased".parse().expect("valid");
        assert_eq!(s.sampling, Sampling::Antialiased);
        assert_eq!(ModelSpec::modnet().sampling, Sampling::Antialiased);
    }

    #[test]
    fn display_round_trips() {
        for spec in [ModelSpec::mediapipe_selfie(), ModelSpec::mediapipe_selfie_landscape(), ModelSpec::modnet()] {
            assert_eq!(spec.to_string().parse::<ModelSpec>().ok(), Some(spec));
        }
    }

    #[test]
    fn bad_specs_are_errors_that_name_the_item() {
        for (bad, needle) in [
            ("", "empty item"),
            ("layout=nhcw", "layout=nhcw"),
            ("size=256", "size=256"),
            ("size=0x10", "input size"),
            ("short=abc", "short=abc"),
            ("short=16,multiple=32", "multiple 32"),
            ("colour=red", "colour=red"),
            ("norm=unit,modnet", "preset must come first"),
            ("yolo", "unknown preset"),
            ("sampling=nearest", "sampling=nearest"),
        ] {
            let err = bad.parse::<ModelSpec>().expect_err(bad).to_string();
            assert!(err.contains(needle), "{bad:?} gave {err:?}");
        }
    }

    #[test]
    fn short_side_rule_keeps_aspect_and_multiples() {
        let size = InputSize::ShortSide { short_side: 512, multiple: 32 };
        assert_eq!(size.for_frame(1280, 720), (896, 512));
        assert_eq!(size.for_frame(480, 640), (512, 672));
        // Extreme panoramas are stretched rather than fed to the model at any length.
        assert_eq!(size.for_frame(1, 10_000), (512, 2048));
    }
}
