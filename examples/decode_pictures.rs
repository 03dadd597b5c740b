//! Writes pictures as bokeh's tests decode them (the `image` crate), losslessly, so another
//! runtime can be fed the very same pixels: JPEG decoders differ by a few codes, and on some
//! frames the model's answer turns on them. `scripts/mediapipe_masks.py` runs it before
//! MediaPipe.
//!
//! ```sh
//! cargo run --release --example decode_pictures -- OUT_DIR PICTURE...
//! ```
//! Each `NAME.jpg` (or any format the `image` crate reads) becomes `OUT_DIR/NAME.png`, 8-bit RGB.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: decode_pictures OUT_DIR PICTURE...")?);
    std::fs::create_dir_all(&out)?;
    let mut count = 0;
    for input in args {
        let input = Path::new(&input);
        let rgb = image::open(input).map_err(|e| format!("{}: {e}", input.display()))?.to_rgb8();
        let stem = input.file_stem().ok_or_else(|| format!("{}: no file name", input.display()))?;
        let path = out.join(stem).with_extension("png");
        rgb.save(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        count += 1;
    }
    println!("wrote {count} pictures to {}", out.display());
    Ok(())
}
