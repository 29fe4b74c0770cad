//! Owned-buffer reads that append to a `Vec` instead of overwriting it.

use monoio::buf::{IoBufMut, SliceMut};
use monoio::io::AsyncReadRent;

/// Reads once into the spare capacity of `buf` (growing it by `min_spare` when
/// full) and returns the number of bytes appended; 0 means end of stream.
pub async fn read_append<S: AsyncReadRent>(
    stream: &mut S,
    mut buf: Vec<u8>,
    min_spare: usize,
) -> (std::io::Result<usize>, Vec<u8>) {
    if buf.capacity() - buf.len() < min_spare {
        buf.reserve(min_spare);
    }
    let len = buf.len();
    let cap = buf.capacity();
    let slice: SliceMut<Vec<u8>> = buf.slice_mut(len..cap);
    let (res, slice) = stream.read(slice).await;
    (res, slice.into_inner())
}
