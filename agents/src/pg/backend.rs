//! libtorch's process-wide setup and the device a network lives on.

use super::models;
use crate::agent::{AgentError, DeviceChoice};
use std::sync::Once;
use tch::Device;

/// Prepares libtorch once per process: loads the CUDA backend where there is one and sizes
/// the CPU thread pool. [`build`](super::build) and [`load`](super::load) call it; call it yourself only to ask
/// [`cuda_available`] first.
pub fn init_backend() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: dlopen with a constant, NUL-terminated name; the handle is deliberately
        // kept open for the life of the process (libtorch registers its CUDA backend on load).
        unsafe {
            let name = b"libtorch_cuda.so\0";
            let _ = libc::dlopen(name.as_ptr().cast(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
        }
        // One intra-op thread: the matrices are small, the env steps on the same core, and
        // libtorch's spinning worker threads slow everything down (10x measured) as soon as
        // other processes compete for the cores. CADENZA_TORCH_THREADS overrides.
        let threads: i32 = std::env::var("CADENZA_TORCH_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n >= 1)
            .unwrap_or(1);
        tch::set_num_threads(threads);
    });
}

/// Whether a CUDA GPU is usable by libtorch in this process.
pub fn cuda_available() -> bool {
    init_backend();
    tch::Cuda::is_available()
}

pub(super) fn resolve_device(choice: DeviceChoice) -> Result<Device, AgentError> {
    init_backend();
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        DeviceChoice::Cuda => Err(models::config_error(
            "device",
            "cuda was asked for, but libtorch finds no usable CUDA GPU \
             (no GPU, no driver, or a CPU-only libtorch); use --device cpu or auto",
        )),
    }
}
