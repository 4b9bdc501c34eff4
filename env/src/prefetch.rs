//! A cache hint for the hot paths whose tables outgrow the caches (the tabular agents'
//! Q-table, the n-gram prior's rows): start loading what a later step will read.

/// Hints the CPU to start loading `items[index]` into the cache. Does nothing when the index
/// is out of bounds (an untracked visit count, say) or off x86-64.
#[inline(always)]
pub fn prefetch<T>(items: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(item) = items.get(index) {
        // SAFETY: a prefetch is only a hint to the cache and never faults; the address is an
        // element of a live slice anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (item as *const T).cast::<i8>(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (items, index);
}

/// Hints the CPU to start loading every cache line of `items[start..start + len]`: one touch
/// per 64-byte line the run spans, its last element included. Out-of-bounds parts are skipped.
#[inline(always)]
pub fn prefetch_run<T>(items: &[T], start: usize, len: usize) {
    if len == 0 {
        return;
    }
    let per_line = (64 / std::mem::size_of::<T>().max(1)).max(1);
    for i in (start..start + len).step_by(per_line) {
        prefetch(items, i);
    }
    prefetch(items, start + len - 1);
}
