//! Portrait mode through the library API: decode a photo, run the pipeline, save the result.
//!
//! ```sh
//! cargo run --release --example portrait -- examples/data/grace_hopper.jpg /tmp/hopper.png [STRENGTH]
//! ```

use bokeh::{Frame, Options, Pipeline, Segmenter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: portrait INPUT OUTPUT [STRENGTH]".into());
    };
    let strength = match args.next() {
        Some(s) => s.parse()?,
        None => Options::DEFAULT_STRENGTH,
    };

    let segmenter = Segmenter::new()?; // the embedded model, loaded once
    let mut pipeline = Pipeline::new(&segmenter, Options::default().with_strength(strength))?;

    let frame = Frame::from_dynamic_image(image::open(&input)?)?;
    let result = pipeline.process(frame.as_ref())?;
    for (stage, time) in pipeline.timings().stages() {
        println!("{stage:<11} {:6.2} ms", time.as_secs_f64() * 1e3);
    }
    result.into_dynamic_image().save(&output)?;
    println!("wrote {output}");
    Ok(())
}
