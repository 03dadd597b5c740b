// Compositing: the GPU twin of `src/composite.rs`.
//
// Blending happens in linear light, out = bg + m * (fg - bg), with the same decoding and
// encoding tables as the CPU (uploaded once), so both backends round the same way. Output
// bytes are packed four to a word and every invocation writes whole words, so formats of
// three bytes per pixel need no atomics: an invocation works out, for each of its four bytes,
// which pixel and channel it belongs to.
//
// Entry points: blend_blurred (portrait mode), blend_replaced (new background),
// cutout (RGBA with the mask as alpha) and mask8 (the mask as grey). Replace and cutout can
// decontaminate edge colours against the old background's estimate in `blurred`.

struct Params {
    w: u32,
    h: u32,
    // Bytes per input pixel.
    bpp: u32,
    // For each byte of an input pixel: 0, 1, 2 = red, green, blue; 3 = alpha (copied).
    ch0: u32,
    ch1: u32,
    ch2: u32,
    ch3: u32,
    // Where red, green, blue and alpha sit in an input pixel (alpha: NO_ALPHA if none).
    off_r: u32,
    off_g: u32,
    off_b: u32,
    off_a: u32,
    // The blurred background's size and reduction factor.
    lw: u32,
    lh: u32,
    factor: u32,
    // 1: decontaminate edge colours against `blurred` (replace and cutout).
    decontaminate: u32,
    pad1: u32,
}

const NO_ALPHA: u32 = 0xffffffffu;
const ENCODE_MAX: f32 = 16383.0;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> frame: array<u32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
// luts[0..256]: sRGB code -> linear (f32 bits); luts[256..]: 16384 encoded codes, 4 per word.
@group(0) @binding(3) var<storage, read> luts: array<u32>;
@group(0) @binding(4) var<storage, read> blurred: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> replaced: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> out: array<u32>;

fn encode(l: f32) -> u32 {
    let i = u32(clamp(l * ENCODE_MAX + 0.5, 0.0, ENCODE_MAX));
    return (luts[256u + (i >> 2u)] >> ((i & 3u) * 8u)) & 0xffu;
}

fn channel(c: u32) -> u32 {
    switch c {
        case 0u: { return p.ch0; }
        case 1u: { return p.ch1; }
        case 2u: { return p.ch2; }
        default: { return p.ch3; }
    }
}

// The linear index of this invocation over a 2D grid of 64-wide workgroups.
fn linear_id(id: vec3<u32>, groups: vec3<u32>) -> u32 {
    return id.y * groups.x * 64u + id.x;
}

struct Tap {
    i0: u32,
    i1: u32,
    t: f32,
}

// Where full-resolution pixel `x` falls between two reduced samples (blur::upsample_tap).
fn upsample_tap(low: u32, x: u32) -> Tap {
    let u = max((f32(x) + 0.5) / f32(p.factor) - 0.5, 0.0);
    let i0 = min(u32(floor(u)), low - 1u);
    let i1 = min(i0 + 1u, low - 1u);
    return Tap(i0, i1, min(u - f32(i0), 1.0));
}

// The blurred background at pixel (x, y): vertical, then horizontal interpolation.
fn background(x: u32, y: u32) -> vec3<f32> {
    let ty = upsample_tap(p.lh, y);
    let tx = upsample_tap(p.lw, x);
    let a0 = blurred[ty.i0 * p.lw + tx.i0].xyz;
    let a1 = blurred[ty.i1 * p.lw + tx.i0].xyz;
    let b0 = blurred[ty.i0 * p.lw + tx.i1].xyz;
    let b1 = blurred[ty.i1 * p.lw + tx.i1].xyz;
    let a = a0 + (a1 - a0) * ty.t;
    let b = b0 + (b1 - b0) * ty.t;
    return a + (b - a) * tx.t;
}

// The foreground colour of a mixed pixel (composite::decontaminated).
fn decontaminated(i: f32, m: f32, old: f32) -> f32 {
    if m >= 1.0 / 255.0 {
        return clamp((i - (1.0 - m) * old) / m, 0.0, 1.0);
    }
    return i;
}

// One output word of a blend; `replace` picks the new background over the blurred one (which
// is then the old background's estimate when decontaminating).
fn blend_word(word: u32, replace: bool) {
    let total = p.w * p.h * p.bpp;
    var packed = 0u;
    var last = NO_ALPHA;
    var bg = vec3<f32>(0.0);
    var old = vec3<f32>(0.0);
    var m = 0.0;
    let decon = replace && p.decontaminate == 1u;
    for (var j = 0u; j < 4u; j++) {
        let b = word * 4u + j;
        if b >= total {
            break;
        }
        let pix = b / p.bpp;
        let ch = channel(b - pix * p.bpp);
        let s = frame_byte(b);
        var v = s;
        if ch < 3u {
            if pix != last {
                last = pix;
                m = mask[pix];
                if replace {
                    bg = replaced[pix].xyz;
                    if decon {
                        old = background(pix % p.w, pix / p.w);
                    }
                } else {
                    bg = background(pix % p.w, pix / p.w);
                }
            }
            let g = bg[ch];
            var fg = bitcast<f32>(luts[s]);
            if decon {
                fg = decontaminated(fg, m, old[ch]);
            }
            v = encode(g + m * (fg - g));
        }
        packed |= v << (8u * j);
    }
    out[word] = packed;
}

@compute @workgroup_size(64)
fn blend_blurred(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let word = linear_id(id, groups);
    if word * 4u < p.w * p.h * p.bpp {
        blend_word(word, false);
    }
}

@compute @workgroup_size(64)
fn blend_replaced(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let word = linear_id(id, groups);
    if word * 4u < p.w * p.h * p.bpp {
        blend_word(word, true);
    }
}

fn to_byte(v: f32) -> u32 {
    // Round half away from zero, as Rust's `f32::round` (WGSL's round() goes to even).
    return u32(floor(clamp(v, 0.0, 1.0) * 255.0 + 0.5));
}

@compute @workgroup_size(64)
fn cutout(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let pix = linear_id(id, groups);
    if pix >= p.w * p.h {
        return;
    }
    let px = pix * p.bpp;
    var a = 1.0;
    if p.off_a != NO_ALPHA {
        a = f32(frame_byte(px + p.off_a)) / 255.0;
    }
    let m = mask[pix];
    let alpha = u32(floor(clamp(m, 0.0, 1.0) * a * 255.0 + 0.5));
    var rgb = vec3<u32>(frame_byte(px + p.off_r), frame_byte(px + p.off_g), frame_byte(px + p.off_b));
    // From 1/255 (composite::DECONTAMINATE_FROM): below, the pixel is invisible.
    if p.decontaminate == 1u && m >= 1.0 / 255.0 && m < 1.0 {
        let old = background(pix % p.w, pix / p.w);
        rgb = vec3<u32>(encode(decontaminated(bitcast<f32>(luts[rgb.x]), m, old.x)),
            encode(decontaminated(bitcast<f32>(luts[rgb.y]), m, old.y)),
            encode(decontaminated(bitcast<f32>(luts[rgb.z]), m, old.z)));
    }
    out[pix] = rgb.x | (rgb.y << 8u) | (rgb.z << 16u) | (alpha << 24u);
}

@compute @workgroup_size(64)
fn mask8(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let word = linear_id(id, groups);
    let n = p.w * p.h;
    if word * 4u >= n {
        return;
    }
    var packed = 0u;
    for (var j = 0u; j < 4u; j++) {
        let i = word * 4u + j;
        if i < n {
            packed |= to_byte(mask[i]) << (8u * j);
        }
    }
    out[word] = packed;
}
