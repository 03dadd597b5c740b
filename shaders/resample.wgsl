// Resampling by tap tables: the GPU twin of `src/resample.rs`.
//
// The filter taps (an antialiased triangle, or MediaPipe's bilinear corner-to-corner sampling for
// the model input: `Sampling`) are computed once on the CPU by the same code the CPU backend uses
// and uploaded as one buffer, so both backends weigh the same source pixels the same way:
//   taps[0 .. dst_w]                                    first source column of each output column
//   taps[dst_w .. dst_w + dst_h]                        first source row of each output row
//   then dst_w * taps_x column weights, dst_h * taps_y row weights (f32 bits)
// A weight of zero marks a tap past the source's edge; it is skipped, never read.
//
// Entry points:
//   frame_to_model  8-bit frame (any packed format) -> the model's normalised float input
//   mask_up         one float plane -> a larger (or smaller) float plane (mask upsampling)

struct Params {
    src_w: u32,
    src_h: u32,
    dst_w: u32,
    dst_h: u32,
    taps_x: u32,
    taps_y: u32,
    // Bytes per pixel of the frame, and where red, green and blue sit in a pixel.
    bpp: u32,
    // 1: planar (NCHW) model input; 0: interleaved (NHWC).
    nchw: u32,
    off_r: u32,
    off_g: u32,
    off_b: u32,
    pad0: u32,
    // value * scale + offset per channel: the model's normalisation.
    scale: vec4<f32>,
    offset: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> taps: array<u32>;
// The frame's rows, packed without padding, four bytes to a word (little end first).
@group(0) @binding(2) var<storage, read> frame: array<u32>;
@group(0) @binding(3) var<storage, read_write> model_in: array<f32>;
@group(0) @binding(4) var<storage, read> plane_src: array<f32>;
@group(0) @binding(5) var<storage, read_write> plane_dst: array<f32>;

fn weight_x(x: u32, k: u32) -> f32 {
    return bitcast<f32>(taps[p.dst_w + p.dst_h + x * p.taps_x + k]);
}

fn weight_y(y: u32, k: u32) -> f32 {
    return bitcast<f32>(taps[p.dst_w + p.dst_h + p.dst_w * p.taps_x + y * p.taps_y + k]);
}

@compute @workgroup_size(8, 8)
fn frame_to_model(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.dst_w || id.y >= p.dst_h {
        return;
    }
    let sx = taps[id.x];
    let sy = taps[p.dst_w + id.y];
    var acc = vec3<f32>(0.0);
    for (var ky = 0u; ky < p.taps_y; ky++) {
        let wy = weight_y(id.y, ky);
        if wy == 0.0 {
            continue;
        }
        let row = (sy + ky) * p.src_w * p.bpp;
        var racc = vec3<f32>(0.0);
        for (var kx = 0u; kx < p.taps_x; kx++) {
            let wx = weight_x(id.x, kx);
            if wx == 0.0 {
                continue;
            }
            let px = row + (sx + kx) * p.bpp;
            racc += wx * vec3<f32>(f32(frame_byte(px + p.off_r)), f32(frame_byte(px + p.off_g)), f32(frame_byte(px + p.off_b)));
        }
        acc += wy * racc;
    }
    let v = acc * p.scale.xyz + p.offset.xyz;
    let i = id.y * p.dst_w + id.x;
    if p.nchw != 0u {
        let plane = p.dst_w * p.dst_h;
        model_in[i] = v.x;
        model_in[plane + i] = v.y;
        model_in[2u * plane + i] = v.z;
    } else {
        model_in[3u * i] = v.x;
        model_in[3u * i + 1u] = v.y;
        model_in[3u * i + 2u] = v.z;
    }
}

@compute @workgroup_size(8, 8)
fn mask_up(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.dst_w || id.y >= p.dst_h {
        return;
    }
    let sx = taps[id.x];
    let sy = taps[p.dst_w + id.y];
    // Rows first, then the column weights, in the CPU's order of summation.
    var acc = 0.0;
    for (var ky = 0u; ky < p.taps_y; ky++) {
        let wy = weight_y(id.y, ky);
        if wy == 0.0 {
            continue;
        }
        let row = (sy + ky) * p.src_w;
        var racc = 0.0;
        for (var kx = 0u; kx < p.taps_x; kx++) {
            let wx = weight_x(id.x, kx);
            if wx != 0.0 {
                racc += wx * plane_src[row + sx + kx];
            }
        }
        acc += wy * racc;
    }
    plane_dst[id.y * p.dst_w + id.x] = acc;
}
