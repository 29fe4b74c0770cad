use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before the first allocation: a huge page faulted in now would stay.
    tollgate::runtime::use_small_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    tollgate::cli::run(&args)
}
