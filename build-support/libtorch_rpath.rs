// Shared by the build scripts of the packages whose binaries link libtorch (the root package,
// agents, session), each of which includes this file: a link-arg from a build script applies
// only to its own package's targets, so every such package needs one, and they must agree.

use std::path::PathBuf;

/// When `applies` (the package's own reason to link libtorch), gives the package's binaries an
/// rpath to `$LIBTORCH/lib` (set by `.cargo/config.toml`), so they run with nothing set.
fn emit_libtorch_rpath(applies: bool) {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    if !applies {
        return;
    }
    let Some(libtorch) = std::env::var_os("LIBTORCH") else {
        // torch-sys reports a missing libtorch itself, with its own advice.
        return;
    };
    let mut dir = PathBuf::from(libtorch);
    if dir.is_relative() {
        if let Some(manifest) = std::env::var_os("CARGO_MANIFEST_DIR") {
            dir = PathBuf::from(manifest).join(dir);
        }
    }
    // The path is kept as given (not canonicalised): `.libtorch/torch` is a stable symlink, so
    // reinstalling libtorch under another Python version keeps the binaries working.
    println!(
        "cargo:rustc-link-arg=-Wl,-rpath,{}",
        dir.join("lib").display()
    );
}
