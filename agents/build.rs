//! Makes the test binaries of this package find libtorch at run time when the `tch` feature is
//! on (see `build-support/libtorch_rpath.rs`).

include!("../build-support/libtorch_rpath.rs");

fn main() {
    emit_libtorch_rpath(std::env::var_os("CARGO_FEATURE_TCH").is_some());
}
