// Helpers shared by every stage's shader. The library puts this file in front of each stage's
// source (`bokeh::gpu::shaders::with_common`); each stage declares the `frame` buffer (the
// frame's rows, packed without padding, four bytes to a word, little end first).

// Byte `i` of the frame.
fn frame_byte(i: u32) -> u32 {
    return (frame[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
}
