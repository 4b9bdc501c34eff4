//! This package links `cadenza-agents`, which links libtorch when the workspace is built with
//! `--features tch` (features unify across the workspace, but this package's tests may be built
//! without its own `tch` feature). So whenever the libtorch directory exists, its test binaries
//! get an rpath to it (see `build-support/libtorch_rpath.rs`); an unused rpath costs nothing.

include!("../build-support/libtorch_rpath.rs");

fn main() {
    let libtorch_installed = std::env::var_os("LIBTORCH").is_some_and(|dir| {
        let dir = std::path::PathBuf::from(dir);
        let dir = match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(manifest) if dir.is_relative() => PathBuf::from(manifest).join(dir),
            _ => dir,
        };
        dir.join("lib").is_dir()
    });
    emit_libtorch_rpath(libtorch_installed);
}
