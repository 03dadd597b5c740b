//! Model-spec text → `ModelSpec`: never panics; whatever parses prints back to the same spec,
//! and its size rule gives usable sizes for any frame.
#![no_main]

use bokeh::ModelSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(spec) = text.parse::<ModelSpec>() else { return };
    let again: ModelSpec = spec.to_string().parse().expect("a printed spec parses");
    assert_eq!(again, spec, "{text:?} -> {spec}");
    for (w, h) in [(1, 1), (1, 65_535), (65_535, 1), (4000, 3000), (640, 480)] {
        let (mw, mh) = spec.size.for_frame(w, h);
        assert!(mw > 0 && mh > 0 && mw <= 65_536 && mh <= 65_536, "{spec}: {w}x{h} -> {mw}x{mh}");
    }
});
