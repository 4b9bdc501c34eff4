//! This package links `cadenza-agents`, which links libtorch when the workspace is built with
//! `--features tch` (features unify across the workspace, but this package has no `tch`
//! feature of its own to test). So whenever the libtorch directory exists, its test binaries
//! get an rpath to it, as `agents/build.rs` explains; an unused rpath costs nothing.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    let Some(libtorch) = std::env::var_os("LIBTORCH") else {
        return;
    };
    let mut dir = PathBuf::from(libtorch);
    if dir.is_relative() {
        if let Some(manifest) = std::env::var_os("CARGO_MANIFEST_DIR") {
            dir = PathBuf::from(manifest).join(dir);
        }
    }
    let lib = dir.join("lib");
    if lib.is_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
