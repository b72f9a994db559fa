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

/// Raises the open-files limit to its hard maximum, so idle and slow connections cannot use up
/// the 1,024 descriptors many systems start a process with; returns the limit now in force.
#[cfg(unix)]
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

#[cfg(not(unix))]
pub fn raise_fd_limit() -> u64 {
    1024
}
