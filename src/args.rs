//! Command-line helpers shared by the `bokeh` binary and the webcam demo (feature `clap`; the
//! enums [`crate::Mode`], [`crate::BlurKind`], [`crate::Backend`] and [`crate::Schedule`] derive `clap::ValueEnum`
//! with it).

/// Parses a frame size written `WxH` (or `WXH`), each side 1..=16384, for `clap`'s
/// `value_parser`.
///
/// ```
/// assert_eq!(bokeh::args::parse_size("1280x720"), Ok((1280, 720)));
/// assert!(bokeh::args::parse_size("0x720").is_err());
/// ```
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("{s}: expected WxH, e.g. 1280x720"))?;
    let side = |v: &str| v.trim().parse::<u32>().ok().filter(|n| (1..=16384).contains(n));
    match (side(w), side(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!("{s}: width and height must be 1..=16384")),
    }
}
