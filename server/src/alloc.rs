//! Allocator tuning for glibc.
//!
//! glibc gives each thread that allocates its own arena (sqlx runs one thread per SQLite
//! connection) and raises its mmap threshold after a large block is freed, such as argon2's
//! 19 MiB working set. Together they keep freed memory resident, so RSS ratchets up under load.
//! Fixing the threshold returns large buffers (big multistatus bodies) to the OS when freed.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() {
    // SAFETY: mallopt only changes allocator parameters; called once at start, before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}
