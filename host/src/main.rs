fn main() {
    agora::cli::tune_allocator();
    if let Err(e) = agora::cli::run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
