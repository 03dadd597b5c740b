//! The C API with arbitrary frame descriptions, settings and formats: every call returns a
//! status other than BOKEH_STATUS_INTERNAL (no panic), and AddressSanitizer sees no access
//! outside the buffers the descriptions declare. Each plane is its own allocation of exactly
//! its declared size, so a read or write past `sizes[i]` is caught.
#![no_main]

use std::sync::OnceLock;

use bokeh_ffi::*;
use libfuzzer_sys::fuzz_target;

/// One processor for the whole run (loading the model per input would be 100 ms).
fn processor() -> *mut BokehProcessor {
    static P: OnceLock<usize> = OnceLock::new();
    *P.get_or_init(|| {
        let mut p = std::ptr::null_mut();
        // SAFETY: valid out-pointer; NULL settings mean defaults.
        let status = unsafe { bokeh_processor_create(std::ptr::null(), &mut p) };
        assert_eq!(status, BokehStatus::Ok);
        p as usize
    }) as *mut BokehProcessor
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        self.0 = rest;
        first
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
}

/// A frame description with its planes allocated at exactly the declared sizes.
fn frame(b: &mut Bytes<'_>, planes: &mut Vec<Vec<u8>>) -> BokehFrame {
    let format = (b.u8() % 10) as u32;
    let color = (b.u8() % 5) as u32;
    let dims = b.u8();
    let (width, height) = if dims == 255 {
        (u32::MAX - b.u8() as u32, u32::MAX - b.u8() as u32)
    } else {
        ((b.u8() % 40) as u32, (b.u8() % 40) as u32)
    };
    let mut f = BokehFrame {
        width,
        height,
        format,
        color,
        planes: [std::ptr::null_mut(); 3],
        strides: [0; 3],
        sizes: [0; 3],
    };
    for i in 0..3 {
        let natural = (width as usize % 64) * 4;
        f.strides[i] = natural.saturating_add(b.u8() as usize).saturating_sub(16);
        let size = (f.strides[i] * (height as usize % 64)).saturating_add(b.u16() as usize % 512).saturating_sub(256);
        let size = size.min(64 * 1024);
        let mut plane = vec![b.u8(); size];
        f.planes[i] = if b.u8() == 0 { std::ptr::null_mut() } else { plane.as_mut_ptr() };
        // An empty Vec's pointer is dangling but non-null: a declared size of 0 is still legal.
        f.sizes[i] = size;
        planes.push(plane);
    }
    f
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let p = processor();
    let mut settings = BokehSettings::default();
    // SAFETY: valid pointer.
    unsafe { bokeh_settings_init(&mut settings) };
    settings.mode = (b.u8() % 5) as u32;
    settings.blur = (b.u8() % 3) as u32;
    settings.strength = b.u8() as f32 / 800.0;
    settings.num_threads = (b.u8() % 3) as u32;
    settings.rotation = [0, 90, 180, 270, 45][(b.u8() % 5) as usize];
    settings.mirror = (b.u8() % 3) as u32;
    settings.upright_output = (b.u8() % 2) as u32;
    if b.u8() == 0 {
        // At most the struct's real size: a larger struct_size promises readable bytes beyond it.
        settings.struct_size = b.u8() as u32 % (std::mem::size_of::<BokehSettings>() as u32 + 1);
    }
    // SAFETY: `settings` is a whole struct, whatever struct_size claims up to its size.
    let status = unsafe { bokeh_processor_set_settings(p, &settings) };
    assert_ne!(status, BokehStatus::Internal);
    let mut planes = Vec::new();
    let input = frame(&mut b, &mut planes);
    let output = if b.u8() % 4 == 0 { input } else { frame(&mut b, &mut planes) };
    // SAFETY: every non-null plane pointer is valid for its declared size.
    let status = unsafe { bokeh_processor_process(p, &input, &output) };
    assert_ne!(status, BokehStatus::Internal);
    if b.u8() % 2 == 0 {
        // SAFETY: as above.
        let status = unsafe { bokeh_processor_get_mask(p, &output) };
        assert_ne!(status, BokehStatus::Internal);
    }
    if b.u8() % 3 == 0 {
        // SAFETY: as above.
        let status = unsafe { bokeh_processor_set_background(p, &input) };
        assert_ne!(status, BokehStatus::Internal);
    }
});
