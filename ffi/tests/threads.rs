//! An app that destroys its handles is left with no bokeh thread: the worker pools are joined
//! (`ffi/src/handle.rs`, `bokeh::WorkerPool`), and rayon's global pool is never started. Its own
//! test binary, so no other test's handles are alive meanwhile. Linux only (`/proc`).

#![allow(unsafe_code)] // Calls the C API as C does.

use std::ptr::{null, null_mut};

use bokeh_ffi::*;

/// Names of this process's threads that bokeh or rayon started.
fn library_threads() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| name.starts_with("bokeh") || name.starts_with("rayon"))
        .collect()
}

#[test]
fn no_thread_outlives_the_handles() {
    if !std::path::Path::new("/proc/self/task").is_dir() {
        eprintln!("no /proc: skipped");
        return;
    }
    let (w, h) = (64u32, 48u32);
    let mut input = vec![90u8; (w * h * 4) as usize];
    let mut output = input.clone();
    let frame = |data: &mut Vec<u8>| BokehFrame {
        width: w,
        height: h,
        format: BOKEH_FORMAT_RGBA,
        color: 0,
        planes: [data.as_mut_ptr(), null_mut(), null_mut()],
        strides: [w as usize * 4, 0, 0],
        sizes: [data.len(), 0, 0],
    };
    let (inf, outf) = (frame(&mut input), frame(&mut output));
    // SAFETY: valid pointers throughout; every handle is destroyed before the check.
    unsafe {
        let mut p = null_mut();
        assert_eq!(bokeh_processor_create(null(), &mut p), BokehStatus::Ok);
        let own = BokehSettings { num_threads: 2, ..BokehSettings::default() };
        let mut q = null_mut();
        assert_eq!(bokeh_processor_create(&own, &mut q), BokehStatus::Ok);
        let mut s = null_mut();
        assert_eq!(bokeh_stream_create(null(), &mut s), BokehStatus::Ok);
        let mut written = 0;
        for _ in 0..3 {
            assert_eq!(bokeh_processor_process(p, &inf, &outf), BokehStatus::Ok);
            assert_eq!(bokeh_processor_process(q, &inf, &outf), BokehStatus::Ok);
            assert_eq!(bokeh_stream_push(s, &inf, &outf, &mut written), BokehStatus::Ok);
        }
        assert!(!library_threads().is_empty(), "the handles have worker threads");
        bokeh_processor_destroy(&mut p);
        bokeh_processor_destroy(&mut q);
        bokeh_stream_destroy(&mut s);
    }
    let left = library_threads();
    assert!(left.is_empty(), "threads left after every handle was destroyed: {left:?}");
}
