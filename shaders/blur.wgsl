// Background blur in linear light: the GPU twin of `src/blur/mod.rs`.
//
// 1. downsample: box-average w * gain * linear(rgb) and w = max(1 - mask, PERSON_WEIGHT) over
//    factor x factor blocks (the reduced resolution that keeps the kernel small); gain is the
//    highlight bloom (1 when off).
// 2. disc (or gauss_h + gauss_v): the kernel over the reduced image. The disc is summed directly
//    over its horizontal spans (the CPU uses row prefix sums for the same sums); at most
//    25 spans, since the CPU and GPU both keep the reduced radius at or under 12.
//    With focus falloff each cell has its own aperture: distance_cols + distance_rows compute
//    every cell's exact squared distance (an integer) to the nearest cell that is mostly person
//    (w < 0.5) and look its aperture level up in `table`, made by the CPU's code, so both
//    backends choose the same aperture (the CPU gets the same integers from a lower envelope).
// 3. The same pass divides by the summed weight: `blurred` holds the background's linear RGB.
//
// Pixels outside the image are left out and the kernel renormalises itself, as on the CPU.

struct Params {
    // Frame size, bytes per pixel and where red, green and blue sit in a pixel.
    fw: u32,
    fh: u32,
    bpp: u32,
    off_r: u32,
    off_g: u32,
    off_b: u32,
    // Reduction factor and reduced size.
    factor: u32,
    lw: u32,
    lh: u32,
    // Aperture levels (disc, hexagon) or Gaussian taps in `shape`.
    count: u32,
    // Highlight bloom (1 = none): see `highlight_gain`.
    bloom: f32,
    // 1: weights (1 - mask)^8, the background-only estimate for decontamination.
    background_only: u32,
    // 1: focus falloff (each cell's aperture level in `cell_level`); entries in `table`.
    falloff: u32,
    table_len: u32,
    pad0: u32,
    pad1: u32,
}

// "No person in reach" in the distance transform.
const FAR: u32 = 0x7fffffffu;

const PERSON_WEIGHT: f32 = 1e-3;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> frame: array<u32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
// luts[0..256]: sRGB code -> linear (f32 bits); then the encoding table (unused here).
@group(0) @binding(3) var<storage, read> luts: array<u32>;
@group(0) @binding(4) var<storage, read_write> low: array<vec4<f32>>;
// Apertures: per level (first span's index in `shape`, number of spans), then the span
// half-widths; or the Gaussian taps (f32 bits).
@group(0) @binding(5) var<storage, read> shape: array<u32>;
@group(0) @binding(6) var<storage, read_write> tmp: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> blurred: array<vec4<f32>>;
// Focus falloff: squared vertical distances, then each cell's aperture level, and the level of
// every squared distance below `table_len` (farther: the last level).
@group(0) @binding(8) var<storage, read_write> dist: array<u32>;
@group(0) @binding(9) var<storage, read_write> cell_level: array<u32>;
@group(0) @binding(10) var<storage, read> table: array<u32>;

fn linear(code: u32) -> f32 {
    return bitcast<f32>(luts[code]);
}

// The CPU's `blur::background_weight`.
fn background_weight(m: f32) -> f32 {
    var w = 1.0 - m;
    if p.background_only == 1u {
        let w2 = w * w;
        let w4 = w2 * w2;
        w = w4 * w4;
    }
    return max(w, PERSON_WEIGHT);
}

// The CPU's `blur::highlight_gain`: up to `bloom` times brighter from linear 0.9 to 1.
fn highlight_gain(v: f32) -> f32 {
    let t = clamp((v - 0.9) * 10.0, 0.0, 1.0);
    return 1.0 + (p.bloom - 1.0) * (t * t * (3.0 - 2.0 * t));
}

fn normalised(acc: vec4<f32>) -> vec4<f32> {
    var inv = 0.0;
    if acc.w > 0.0 {
        inv = 1.0 / acc.w;
    }
    return vec4<f32>(acc.xyz * inv, 1.0);
}

@compute @workgroup_size(8, 8)
fn downsample(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.lw || id.y >= p.lh {
        return;
    }
    let x0 = id.x * p.factor;
    let y0 = id.y * p.factor;
    let x1 = min(x0 + p.factor, p.fw);
    let y1 = min(y0 + p.factor, p.fh);
    var acc = vec4<f32>(0.0);
    for (var y = y0; y < y1; y++) {
        for (var x = x0; x < x1; x++) {
            let i = y * p.fw + x;
            let w = background_weight(mask[i]);
            let px = i * p.bpp;
            let rgb = vec3<f32>(linear(frame_byte(px + p.off_r)), linear(frame_byte(px + p.off_g)),
                linear(frame_byte(px + p.off_b)));
            var wg = w;
            if p.bloom > 1.0 {
                wg = w * highlight_gain(max(rgb.x, max(rgb.y, rgb.z)));
            }
            acc += vec4<f32>(wg * rgb.x, wg * rgb.y, wg * rgb.z, w);
        }
    }
    low[id.y * p.lw + id.x] = acc * (1.0 / f32((y1 - y0) * (x1 - x0)));
}

@compute @workgroup_size(8, 8)
fn disc(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.lw || id.y >= p.lh {
        return;
    }
    var level = 0u;
    if p.falloff == 1u {
        level = cell_level[id.y * p.lw + id.x];
    }
    let start = shape[2u * level];
    let count = i32(shape[2u * level + 1u]);
    let reach = count / 2;
    let x = i32(id.x);
    var acc = vec4<f32>(0.0);
    for (var k = 0; k < count; k++) {
        let y = i32(id.y) + k - reach;
        if y < 0 || y >= i32(p.lh) {
            continue;
        }
        let half = i32(shape[start + u32(k)]);
        let row = u32(y) * p.lw;
        let xe = min(x + half, i32(p.lw) - 1);
        for (var xx = max(x - half, 0); xx <= xe; xx++) {
            acc += low[row + u32(xx)];
        }
    }
    blurred[id.y * p.lw + id.x] = normalised(acc);
}

@compute @workgroup_size(8, 8)
fn gauss_h(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.lw || id.y >= p.lh {
        return;
    }
    let reach = i32(p.count / 2u);
    let x = i32(id.x);
    let row = id.y * p.lw;
    var acc = vec4<f32>(0.0);
    let xe = min(x + reach, i32(p.lw) - 1);
    for (var xx = max(x - reach, 0); xx <= xe; xx++) {
        acc += bitcast<f32>(shape[u32(xx + reach - x)]) * low[row + u32(xx)];
    }
    tmp[row + id.x] = acc;
}

@compute @workgroup_size(8, 8)
fn gauss_v(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.lw || id.y >= p.lh {
        return;
    }
    let reach = i32(p.count / 2u);
    let y = i32(id.y);
    var acc = vec4<f32>(0.0);
    let ye = min(y + reach, i32(p.lh) - 1);
    for (var yy = max(y - reach, 0); yy <= ye; yy++) {
        acc += bitcast<f32>(shape[u32(yy + reach - y)]) * tmp[u32(yy) * p.lw + id.x];
    }
    blurred[id.y * p.lw + id.x] = normalised(acc);
}

// Focus falloff, pass 1: one thread per reduced column, the squared vertical distance to the
// nearest cell that is mostly person (FAR when the column has none).
@compute @workgroup_size(64)
fn distance_cols(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    if x >= p.lw {
        return;
    }
    var last = FAR;
    for (var y = 0u; y < p.lh; y++) {
        let i = y * p.lw + x;
        if low[i].w < 0.5 {
            last = y;
        }
        var d = FAR;
        if last != FAR {
            d = (y - last) * (y - last);
        }
        dist[i] = d;
    }
    var next = FAR;
    for (var k = 0u; k < p.lh; k++) {
        let y = p.lh - 1u - k;
        let i = y * p.lw + x;
        if low[i].w < 0.5 {
            next = y;
        }
        if next != FAR {
            dist[i] = min(dist[i], (next - y) * (next - y));
        }
    }
}

// Focus falloff, pass 2: per cell, the squared distance to the nearest person cell (the minimum
// over its row of dx^2 + that column's vertical distance^2) and its aperture level.
@compute @workgroup_size(8, 8)
fn distance_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.lw || id.y >= p.lh {
        return;
    }
    var best = FAR;
    for (var q = 0u; q < p.lw; q++) {
        let v = dist[id.y * p.lw + q];
        if v != FAR {
            let dx = max(q, id.x) - min(q, id.x);
            best = min(best, dx * dx + v);
        }
    }
    var level = p.count - 1u;
    if best < p.table_len {
        level = table[best];
    }
    cell_level[id.y * p.lw + id.x] = level;
}
