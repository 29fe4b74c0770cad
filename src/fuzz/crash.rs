//! Keeps the input that kills the process. An allocation failure or a stack
//! overflow aborts; `catch_unwind` never sees it, yet that input is the one
//! most worth keeping. A SIGABRT handler writes it to the corpus, then lets
//! the abort proceed. The only `unsafe` of the fuzzer lives here.

use std::ffi::CString;
use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use super::mutate::hash;

/// The input being run (pointer and length), null between inputs.
static INPUT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static LEN: AtomicUsize = AtomicUsize::new(0);
/// The corpus directory, `/`-terminated, as a leaked C string.
static DIR: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

/// Aborts from now on save the current input under `dir`.
pub fn arm(dir: &Path) {
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let Ok(path) = CString::new(format!("{}/", dir.display())) else {
        return;
    };
    // One small string per target and run; the handler may read it at any time.
    DIR.store(path.into_raw(), Ordering::SeqCst);
    static HANDLER: Once = Once::new();
    HANDLER.call_once(|| {
        // SAFETY: installs a handler that only calls async-signal-safe
        // functions (open, write, close, signal, raise).
        unsafe {
            libc::signal(libc::SIGABRT, on_abort as *const () as libc::sighandler_t);
        }
    });
}

/// Marks `input` as the one running; `None` once it returned.
pub fn running(input: Option<&[u8]>) {
    let (ptr, len) = input.map_or((std::ptr::null_mut(), 0), |i| {
        (i.as_ptr().cast_mut(), i.len())
    });
    LEN.store(len, Ordering::SeqCst);
    INPUT.store(ptr, Ordering::SeqCst);
}

extern "C" fn on_abort(signal: libc::c_int) {
    let input = INPUT.load(Ordering::SeqCst);
    let dir = DIR.load(Ordering::SeqCst);
    if !input.is_null() && !dir.is_null() {
        // SAFETY: `running` stored a live slice's pointer and length; the
        // abort happens inside the run that borrows it.
        let bytes = unsafe { std::slice::from_raw_parts(input, LEN.load(Ordering::SeqCst)) };
        save(dir, bytes);
    }
    // SAFETY: restores the default action and re-raises, so the process
    // still dies of SIGABRT as it would have.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Writes `bytes` to `<dir><hash>` with no allocation.
fn save(dir: *const libc::c_char, bytes: &[u8]) {
    let mut path = [0u8; 1024];
    // SAFETY: `dir` is a leaked, NUL-terminated CString.
    let dir = unsafe { std::ffi::CStr::from_ptr(dir) }.to_bytes();
    if dir.len() + 17 > path.len() {
        return;
    }
    path[..dir.len()].copy_from_slice(dir);
    let h = hash(bytes);
    for i in 0..16 {
        path[dir.len() + i] = b"0123456789abcdef"[(h >> (60 - 4 * i) & 0xf) as usize];
    }
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
    // SAFETY: `path` is NUL-terminated (zero-filled past the name); the
    // writes are bounded by `bytes`.
    unsafe {
        let fd = libc::open(path.as_ptr().cast(), flags, 0o644);
        if fd >= 0 {
            let mut done = 0;
            while done < bytes.len() {
                let n = libc::write(fd, bytes[done..].as_ptr().cast(), bytes.len() - done);
                if n <= 0 {
                    break;
                }
                done += n as usize;
            }
            libc::close(fd);
        }
        let note = b"tollgate-fuzz: aborted; the input is saved in the corpus\n";
        libc::write(2, note.as_ptr().cast(), note.len());
    }
}
