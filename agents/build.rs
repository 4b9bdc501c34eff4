//! Makes the test binaries of this package find libtorch at run time when the `tch` feature is
//! on: an rpath to `$LIBTORCH/lib` (set by `.cargo/config.toml`). A link-arg from a build script
//! only applies to its own package's targets, hence one build.rs per package that links tch.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    let Some(libtorch) = std::env::var_os("LIBTORCH") else {
        // torch-sys reports the missing libtorch itself, with its own advice.
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
