//! Worker pools whose threads are gone when the pool is.
//!
//! rayon's pools let their threads finish on their own after the pool is dropped, and its
//! global pool lives until the process exits. A library embedded in an app (the C API) should
//! leave nothing running once its handles are destroyed — no thread, no thread-local storage
//! for valgrind to report as possibly lost — so bokeh's own pools are [`WorkerPool`]s: rayon
//! pools whose threads are spawned by bokeh, kept, and joined when the pool is dropped.

use std::sync::Mutex;
use std::thread::JoinHandle;

use crate::error::{Error, Result};

/// A rayon thread pool that joins its threads when dropped.
pub struct WorkerPool {
    pool: Option<rayon::ThreadPool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool").field("threads", &self.current_num_threads()).finish()
    }
}

impl WorkerPool {
    /// A pool of `threads` threads (at least one) named by `name(index)`.
    pub fn new(threads: usize, name: impl Fn(usize) -> String + 'static) -> Result<Self> {
        let mut handles = Vec::new();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(name)
            .spawn_handler(|thread| {
                let mut builder = std::thread::Builder::new();
                if let Some(name) = thread.name() {
                    builder = builder.name(name.to_owned());
                }
                if let Some(size) = thread.stack_size() {
                    builder = builder.stack_size(size);
                }
                handles.push(builder.spawn(|| thread.run())?);
                Ok(())
            })
            .build()
            .map_err(|e| Error::InvalidOption(format!("cannot start {threads} worker threads: {e}")))?;
        Ok(WorkerPool { pool: Some(pool), threads: Mutex::new(handles) })
    }

    /// Runs `op` inside the pool (rayon's `install`): parallel work in it runs on these threads.
    pub fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(op),
            None => op(),
        }
    }

    /// The number of threads.
    pub fn current_num_threads(&self) -> usize {
        self.pool.as_ref().map_or(0, rayon::ThreadPool::current_num_threads)
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        // Dropping rayon's pool tells its threads to finish; then they are waited for (never a
        // thread waiting for itself, should the last owner be one of them).
        drop(self.pool.take());
        let me = std::thread::current().id();
        let threads = std::mem::take(self.threads.get_mut().unwrap_or_else(|p| p.into_inner()));
        for handle in threads {
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn work_runs_on_the_pool_and_its_threads_end_with_it() {
        let pool = WorkerPool::new(3, |i| format!("test-{i}")).expect("pool");
        assert_eq!(pool.current_num_threads(), 3);
        let sum: u64 = pool.install(|| (0..1000u64).into_par_iter().sum());
        assert_eq!(sum, 499_500);
        let name = pool.install(|| rayon::scope(|_| std::thread::current().name().map(str::to_owned)));
        assert!(name.is_some_and(|n| n.starts_with("test-")));
        // Each thread holds a clone of `alive` until it exits.
        let alive = Arc::new(AtomicUsize::new(0));
        let counter = alive.clone();
        pool.install(|| {
            rayon::broadcast(|_| {
                counter.fetch_add(1, Ordering::SeqCst);
            })
        });
        assert_eq!(alive.load(Ordering::SeqCst), 3);
        let handles: Vec<_> = pool.threads.lock().expect("lock").iter().map(|h| h.thread().id()).collect();
        drop(pool);
        assert_eq!(handles.len(), 3, "threads were joined by drop (it returned)");
    }
}
