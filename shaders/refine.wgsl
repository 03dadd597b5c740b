// Edge-aware mask refinement (fast guided filter, colour guide): the GPU twin of `src/refine.rs`.
//
// The mask in `mask` (frame size, already upsampled or uploaded) is refined in place with the
// frame as the guide. Per frame, in this order (one dispatch each):
//   row_sums     per frame row and reduced column: the sums of the guide's codes and the mask
//                over the block's `factor` pixels (integers for the codes, as on the CPU)
//   block_stats  per reduced cell (factor x factor frame pixels): those row sums added in row
//                order, then the means of I (sRGB / 255), p, I*p and the upper triangle of
//                I*I^T, 13 floats in 4 vec4s:
//                (I.r, I.g, I.b, p) (Ip.r, Ip.g, Ip.b, II.rr) (II.rg, II.rb, II.gg, II.gb) (II.bb, 0, 0, 0)
//   box_rows     window mean along reduced rows: a direct sum over the window, in order
//   box_cols     window mean along columns, likewise
//   solve     a (3) and b per window: (Sigma + eps) a = cov(I, p), b = mean p - a . mean I
//   box_rows, box_cols  again, over the coefficients (groups = 1)
//   smooth_coefficients  (video) the coefficients smoothed over time with the mask's temporal rule
//   apply     q = a . I + b at every frame pixel, a and b bilinear between reduced cells; then
//             the threshold / feather ramp
// With the guided filter off (radius under a pixel) only `apply` runs, as the ramp alone.
//
// Sums run in the CPU's order so the two backends differ only by float rounding.

struct Params {
    // Frame size, bytes per pixel and where red, green and blue sit in a pixel.
    fw: u32,
    fh: u32,
    bpp: u32,
    off_r: u32,
    off_g: u32,
    off_b: u32,
    // Reduction factor, reduced size and the window radius there.
    factor: u32,
    lw: u32,
    lh: u32,
    radius: u32,
    // vec4s per reduced cell in `src` / `dst` of the box passes: 4 (statistics) or 1 (coefficients).
    groups: u32,
    // 0: no temporal smoothing; 1: first frame (remember it); 2: smooth against the last frame.
    temporal: u32,
    eps: f32,
    threshold: f32,
    inv_feather: f32,
    // Bit 0: the guided filter is on; bit 1: the ramp is on.
    flags: u32,
    // The temporal rule: weight of the new value where nothing changed, and the change in the
    // window's mask mean at which the new value is taken as is (its inverse).
    min_weight: f32,
    inv_full: f32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// The frame's rows, packed without padding, four bytes to a word (little end first).
@group(0) @binding(1) var<storage, read> frame: array<u32>;
@group(0) @binding(2) var<storage, read_write> mask: array<f32>;
@group(0) @binding(3) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> stats: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> coef: array<vec4<f32>>;
// Per reduced cell: the last frame's coefficients, then (window mask mean, 0, 0, 0).
@group(0) @binding(7) var<storage, read_write> prev: array<vec4<f32>>;
// Per frame row and reduced column: (sum r, sum g, sum b, sum mask) over the block's pixels.
@group(0) @binding(8) var<storage, read_write> partial: array<vec4<f32>>;

@compute @workgroup_size(8, 8)
fn row_sums(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.lw || id.y >= p.fh {
        return;
    }
    let x0 = id.x * p.factor;
    let x1 = min(x0 + p.factor, p.fw);
    var r = 0u;
    var g = 0u;
    var b = 0u;
    var m = 0.0;
    for (var x = x0; x < x1; x++) {
        let at = (id.y * p.fw + x) * p.bpp;
        r += frame_byte(at + p.off_r);
        g += frame_byte(at + p.off_g);
        b += frame_byte(at + p.off_b);
        m += mask[id.y * p.fw + x];
    }
    partial[id.y * p.lw + id.x] = vec4<f32>(f32(r), f32(g), f32(b), m);
}

@compute @workgroup_size(8, 8)
fn block_stats(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.lw || id.y >= p.lh {
        return;
    }
    let x0 = id.x * p.factor;
    let x1 = min(x0 + p.factor, p.fw);
    let y0 = id.y * p.factor;
    let y1 = min(y0 + p.factor, p.fh);
    var acc = vec4<f32>(0.0);
    for (var y = y0; y < y1; y++) {
        acc += partial[y * p.lw + id.x];
    }
    let n = f32((y1 - y0) * (x1 - x0));
    let s = 1.0 / (255.0 * n);
    let inv = 1.0 / n;
    let i = acc.xyz * s;
    let pm = acc.w * inv;
    let at = (id.y * p.lw + id.x) * 4u;
    stats[at] = vec4<f32>(i, pm);
    stats[at + 1u] = vec4<f32>(i * pm, i.x * i.x);
    stats[at + 2u] = vec4<f32>(i.x * i.y, i.x * i.z, i.y * i.y, i.y * i.z);
    stats[at + 3u] = vec4<f32>(i.z * i.z, 0.0, 0.0, 0.0);
}

// Window mean of `src` around reduced cell `cell` along one axis, into `dst`: `pos` is the
// cell's position on that axis, `len` the axis' length and `stride` the step between cells on
// it. The window is clipped to the image and summed in order, as on the CPU (`box_mean`).
fn window_mean(cell: u32, pos: u32, len: u32, stride: u32) {
    let lo = select(0u, pos - p.radius, pos >= p.radius);
    let hi = min(pos + p.radius, len - 1u);
    let inv = 1.0 / f32(hi - lo + 1u);
    let first = cell - (pos - lo) * stride;
    for (var k = 0u; k < p.groups; k++) {
        var acc = vec4<f32>(0.0);
        for (var i = 0u; i <= hi - lo; i++) {
            acc += src[(first + i * stride) * p.groups + k];
        }
        dst[cell * p.groups + k] = acc * inv;
    }
}

@compute @workgroup_size(8, 8)
fn box_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < p.lw && id.y < p.lh {
        window_mean(id.y * p.lw + id.x, id.x, p.lw, 1u);
    }
}

@compute @workgroup_size(8, 8)
fn box_cols(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < p.lw && id.y < p.lh {
        window_mean(id.y * p.lw + id.x, id.y, p.lh, p.lw);
    }
}

// The CPU's `solve`: a symmetric 3x3 system by cofactors.
@compute @workgroup_size(8, 8)
fn solve(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.lw || id.y >= p.lh {
        return;
    }
    let cell = id.y * p.lw + id.x;
    let s0 = stats[cell * 4u];
    let s1 = stats[cell * 4u + 1u];
    let s2 = stats[cell * 4u + 2u];
    let s3 = stats[cell * 4u + 3u];
    let i = s0.xyz;
    let pm = s0.w;
    let cov = s1.xyz - i * pm;
    let rr = s1.w - i.x * i.x + p.eps;
    let rg = s2.x - i.x * i.y;
    let rb = s2.y - i.x * i.z;
    let gg = s2.z - i.y * i.y + p.eps;
    let gb = s2.w - i.y * i.z;
    let bb = s3.x - i.z * i.z + p.eps;
    let c00 = gg * bb - gb * gb;
    let c01 = rb * gb - rg * bb;
    let c02 = rg * gb - rb * gg;
    let c11 = rr * bb - rb * rb;
    let c12 = rb * rg - rr * gb;
    let c22 = rr * gg - rg * rg;
    let det = rr * c00 + rg * c01 + rb * c02;
    // `!(|det| > tiny)` is also true for NaN.
    if !(abs(det) > 1e-20) {
        coef[cell] = vec4<f32>(0.0, 0.0, 0.0, pm);
        return;
    }
    let inv = 1.0 / det;
    let a = vec3<f32>(
        (c00 * cov.x + c01 * cov.y + c02 * cov.z) * inv,
        (c01 * cov.x + c11 * cov.y + c12 * cov.z) * inv,
        (c02 * cov.x + c12 * cov.y + c22 * cov.z) * inv,
    );
    coef[cell] = vec4<f32>(a, pm - a.x * i.x - a.y * i.y - a.z * i.z);
}

// Temporal smoothing of the window coefficients (the CPU's step 4b).
@compute @workgroup_size(8, 8)
fn smooth_coefficients(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.lw || id.y >= p.lh {
        return;
    }
    let cell = id.y * p.lw + id.x;
    let mean_p = stats[cell * 4u].w;
    var c = coef[cell];
    if p.temporal == 2u {
        let last = prev[cell * 2u];
        let w = clamp(abs(mean_p - prev[cell * 2u + 1u].x) * p.inv_full, p.min_weight, 1.0);
        c = last + w * (c - last);
        coef[cell] = c;
    }
    prev[cell * 2u] = c;
    prev[cell * 2u + 1u] = vec4<f32>(mean_p, 0.0, 0.0, 0.0);
}

// The CPU's `upsample_tap`: the two reduced cells around full-resolution position `x` and the
// weight of the second.
fn tap(low: u32, x: u32) -> vec3<f32> {
    let u = max((f32(x) + 0.5) / f32(p.factor) - 0.5, 0.0);
    let i0 = min(u32(floor(u)), low - 1u);
    let i1 = min(i0 + 1u, low - 1u);
    return vec3<f32>(f32(i0), f32(i1), min(u - f32(i0), 1.0));
}

@compute @workgroup_size(8, 8)
fn apply(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p.fw || id.y >= p.fh {
        return;
    }
    let at = id.y * p.fw + id.x;
    var q = mask[at];
    if (p.flags & 1u) != 0u {
        let ty = tap(p.lh, id.y);
        let tx = tap(p.lw, id.x);
        let r0 = u32(ty.x) * p.lw;
        let r1 = u32(ty.y) * p.lw;
        let i0 = u32(tx.x);
        let i1 = u32(tx.y);
        // Vertical first, then horizontal, with the coefficients over 255 (the CPU's `apply_row`).
        let a = coef[r0 + i0] + (coef[r1 + i0] - coef[r0 + i0]) * ty.z;
        let b = coef[r0 + i1] + (coef[r1 + i1] - coef[r0 + i1]) * ty.z;
        let s = 1.0 / 255.0;
        let a2 = vec4<f32>(a.xyz * s, a.w);
        let d = vec4<f32>(b.xyz * s, b.w) - a2;
        let c = a2 + d * tx.z;
        let px = at * p.bpp;
        q = c.x * f32(frame_byte(px + p.off_r)) + c.y * f32(frame_byte(px + p.off_g))
            + c.z * f32(frame_byte(px + p.off_b)) + c.w;
        q = clamp(q, 0.0, 1.0);
    }
    if (p.flags & 2u) != 0u {
        q = clamp((q - p.threshold) * p.inv_feather + 0.5, 0.0, 1.0);
    }
    mask[at] = q;
}
