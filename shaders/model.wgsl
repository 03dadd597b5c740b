// The segmentation model's operators (twin of tract on the CPU; `src/gpu/model.rs` builds the
// steps from the ONNX graph).
//
// Every tensor lives in one storage buffer of f32 (`data`): the weights, uploaded once, then the
// activations, each at its own offset (NCHW, batch 1, contiguous). One uniform block per step
// says where its operands are and their shapes. Each invocation computes one output element, in
// the CPU's summation order per output (input channel, then kernel row, then column), so the
// two backends differ only by float rounding (and the pooling's tree sum).

struct Step {
    // Offsets (in f32s) and sizes: meaning per entry point, see below.
    a: vec4<u32>,
    b: vec4<u32>,
    c: vec4<u32>,
    d: vec4<u32>,
    e: vec4<u32>,
    f: vec4<u32>,
}

@group(0) @binding(0) var<uniform> s: Step;
@group(0) @binding(1) var<storage, read_write> data: array<f32>;

const NONE: u32 = 0u;
const RELU: u32 = 1u;
const HARD_SWISH: u32 = 2u;
const SIGMOID: u32 = 3u;
const HARD_SIGMOID: u32 = 4u;
const NO_BIAS: u32 = 0xffffffffu;

// `alpha` and `beta` are HardSigmoid's (ONNX defaults 0.2 and 0.5).
fn activate(x: f32, act: u32, alpha: f32, beta: f32) -> f32 {
    switch act {
        case 1u: { return max(x, 0.0); }
        case 2u: { return x * clamp(x / 6.0 + 0.5, 0.0, 1.0); }
        case 3u: { return 1.0 / (1.0 + exp(-x)); }
        case 4u: { return clamp(alpha * x + beta, 0.0, 1.0); }
        default: { return x; }
    }
}

// The element this invocation computes: dispatches are 2-D when one row of workgroups is not
// enough (at most 65535 a side).
fn element(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * 64u;
}

// Convolution, any group count, kernel, stride, padding and dilation.
// a = (input, weights, bias or NO_BIAS, output), b = (C_in, H_in, W_in, C_out),
// c = (H_out, W_out, kernel h, kernel w), d = (stride y, stride x, pad top, pad left),
// e = (dilation y, dilation x, groups, activation), f = (total, alpha bits, beta bits, -).
@compute @workgroup_size(64)
fn conv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= s.f.x { return; }
    let cin = s.b.x; let hin = s.b.y; let win = s.b.z; let cout = s.b.w;
    let hout = s.c.x; let wout = s.c.y; let kh = s.c.z; let kw = s.c.w;
    let ox = i % wout;
    let oy = (i / wout) % hout;
    let oc = i / (wout * hout);
    let cin_g = cin / s.e.z;
    let cout_g = cout / s.e.z;
    let first = (oc / cout_g) * cin_g;
    var acc = 0.0;
    if s.a.z != NO_BIAS { acc = data[s.a.z + oc]; }
    let y0 = i32(oy * s.d.x) - i32(s.d.z);
    let x0 = i32(ox * s.d.y) - i32(s.d.w);
    for (var g = 0u; g < cin_g; g++) {
        let plane = s.a.x + (first + g) * hin * win;
        let wbase = s.a.y + (oc * cin_g + g) * kh * kw;
        for (var ky = 0u; ky < kh; ky++) {
            let iy = y0 + i32(ky * s.e.x);
            if iy < 0 || iy >= i32(hin) { continue; }
            for (var kx = 0u; kx < kw; kx++) {
                let ix = x0 + i32(kx * s.e.y);
                if ix < 0 || ix >= i32(win) { continue; }
                acc += data[plane + u32(iy) * win + u32(ix)] * data[wbase + ky * kw + kx];
            }
        }
    }
    data[s.a.w + i] = activate(acc, s.e.w, bitcast<f32>(s.f.y), bitcast<f32>(s.f.z));
}

// A 1×1 convolution of one group, stride 1, no padding (most of a MobileNet's work): four
// output channels of one pixel per invocation, so each input value is loaded once for four.
// The same blocks as `conv`; f.x = pixels × ceil(C_out / 4).
@compute @workgroup_size(64)
fn pointwise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= s.f.x { return; }
    let cin = s.b.x; let cout = s.b.w;
    let plane = s.b.y * s.b.z;
    let p = i % plane;
    let oc = (i / plane) * 4u;
    let n = min(cout - oc, 4u);
    var acc = vec4<f32>(0.0);
    if s.a.z != NO_BIAS {
        for (var k = 0u; k < n; k++) { acc[k] = data[s.a.z + oc + k]; }
    }
    let w0 = s.a.y + oc * cin;
    if n == 4u {
        for (var c = 0u; c < cin; c++) {
            let v = data[s.a.x + c * plane + p];
            acc += v * vec4<f32>(data[w0 + c], data[w0 + cin + c], data[w0 + 2u * cin + c], data[w0 + 3u * cin + c]);
        }
    } else {
        for (var c = 0u; c < cin; c++) {
            let v = data[s.a.x + c * plane + p];
            for (var k = 0u; k < n; k++) { acc[k] += v * data[w0 + k * cin + c]; }
        }
    }
    let alpha = bitcast<f32>(s.f.y);
    let beta = bitcast<f32>(s.f.z);
    for (var k = 0u; k < n; k++) {
        data[s.a.w + (oc + k) * plane + p] = activate(acc[k], s.e.w, alpha, beta);
    }
}

// Transposed convolution (weights [C_in, C_out / groups, kh, kw]); the same blocks as `conv`,
// the padding being the one ONNX subtracts from the full output.
@compute @workgroup_size(64)
fn conv_transpose(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= s.f.x { return; }
    let cin = s.b.x; let hin = s.b.y; let win = s.b.z; let cout = s.b.w;
    let hout = s.c.x; let wout = s.c.y; let kh = s.c.z; let kw = s.c.w;
    let sy = i32(s.d.x); let sx = i32(s.d.y);
    let ox = i % wout;
    let oy = (i / wout) % hout;
    let oc = i / (wout * hout);
    let cin_g = cin / s.e.z;
    let cout_g = cout / s.e.z;
    let group = oc / cout_g;
    let ocg = oc % cout_g;
    var acc = 0.0;
    if s.a.z != NO_BIAS { acc = data[s.a.z + oc]; }
    // Without dilation only every stride-th kernel row and column meets an input sample: start
    // at the first one (in the same order as the full loop, so the sums agree).
    let ky0 = select(0u, (oy + s.d.z) % u32(sy), s.e.x == 1u);
    let kx0 = select(0u, (ox + s.d.w) % u32(sx), s.e.y == 1u);
    let ky_step = select(1u, u32(sy), s.e.x == 1u);
    let kx_step = select(1u, u32(sx), s.e.y == 1u);
    for (var g = 0u; g < cin_g; g++) {
        let ic = group * cin_g + g;
        let plane = s.a.x + ic * hin * win;
        let wbase = s.a.y + (ic * cout_g + ocg) * kh * kw;
        for (var ky = ky0; ky < kh; ky += ky_step) {
            let ty = i32(oy) + i32(s.d.z) - i32(ky * s.e.x);
            if ty < 0 || ty % sy != 0 { continue; }
            let iy = ty / sy;
            if iy >= i32(hin) { continue; }
            for (var kx = kx0; kx < kw; kx += kx_step) {
                let tx = i32(ox) + i32(s.d.w) - i32(kx * s.e.y);
                if tx < 0 || tx % sx != 0 { continue; }
                let ix = tx / sx;
                if ix >= i32(win) { continue; }
                acc += data[plane + u32(iy) * win + u32(ix)] * data[wbase + ky * kw + kx];
            }
        }
    }
    data[s.a.w + i] = activate(acc, s.e.w, bitcast<f32>(s.f.y), bitcast<f32>(s.f.z));
}

// An activation on its own: a = (input, output, total, activation), b = (alpha bits, beta bits).
@compute @workgroup_size(64)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= s.a.z { return; }
    data[s.a.y + i] = activate(data[s.a.x + i], s.a.w, bitcast<f32>(s.b.x), bitcast<f32>(s.b.y));
}

// Add (op 0) or multiply (op 1) with NumPy broadcasting over (C, H, W): an operand's stride is 0
// along an axis it is broadcast on.
// a = (first, second, output, op), b = (C, H, W, total), c = first's strides (c, h, w),
// d = second's strides (c, h, w).
@compute @workgroup_size(64)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= s.b.w { return; }
    let x = i % s.b.z;
    let y = (i / s.b.z) % s.b.y;
    let c = i / (s.b.z * s.b.y);
    let p = data[s.a.x + c * s.c.x + y * s.c.y + x * s.c.z];
    let q = data[s.a.y + c * s.d.x + y * s.d.y + x * s.d.z];
    var r = p + q;
    if s.a.w == 1u { r = p * q; }
    data[s.a.z + i] = r;
}

var<workgroup> partial: array<f32, 64>;

// Global average pooling, one workgroup per channel: a = (input, output, H·W, -).
@compute @workgroup_size(64)
fn average_pool(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let n = s.a.z;
    let base = s.a.x + wid.x * n;
    var sum = 0.0;
    for (var k = lid.x; k < n; k += 64u) {
        sum += data[base + k];
    }
    partial[lid.x] = sum;
    workgroupBarrier();
    for (var half = 32u; half > 0u; half = half / 2u) {
        if lid.x < half {
            partial[lid.x] += partial[lid.x + half];
        }
        workgroupBarrier();
    }
    if lid.x == 0u {
        data[s.a.y + wid.x] = partial[0] / f32(n);
    }
}

// Padding over (C, H, W): a = (input, output, mode 0 constant / 1 edge / 2 reflect, value bits),
// b = (C_in, H_in, W_in, total), c = (C_out, H_out, W_out, -), d = (before c, h, w, -).
@compute @workgroup_size(64)
fn pad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= s.b.w { return; }
    let w = s.c.z; let h = s.c.y;
    let x = i32(i % w) - i32(s.d.z);
    let y = i32((i / w) % h) - i32(s.d.y);
    let c = i32(i / (w * h)) - i32(s.d.x);
    let dims = vec3<i32>(i32(s.b.x), i32(s.b.y), i32(s.b.z));
    var at = vec3<i32>(c, y, x);
    let inside = all(at >= vec3<i32>(0)) && all(at < dims);
    if !inside {
        if s.a.z == 0u {
            data[s.a.y + i] = bitcast<f32>(s.a.w);
            return;
        }
        if s.a.z == 1u {
            at = clamp(at, vec3<i32>(0), dims - 1);
        } else {
            // Reflect without repeating the edge (as ONNX), for pads smaller than the side.
            let period = max(2 * (dims - 1), vec3<i32>(1));
            var m = abs(at) % period;
            m = select(m, period - m, m >= dims);
            at = m;
        }
    }
    data[s.a.y + i] = data[s.a.x + (u32(at.x) * s.b.y + u32(at.y)) * s.b.z + u32(at.z)];
}
