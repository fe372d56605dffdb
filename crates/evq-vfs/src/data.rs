//! The data pool: fixed-size blocks shared by every regular file.
//!
//! A file holds the blocks covering `0 .. size`, in order. Every byte of a
//! held block past the file's size is zero; keeping that true on every
//! change is what lets a write past the end, or an extension, leave zeros
//! in the gap without touching it.

use heapless::Vec;

use crate::limits::{BLOCK_SIZE, MAX_BLOCKS, MAX_FILE_BLOCKS};

/// A file's blocks, in file order.
pub(crate) type BlockList = Vec<u16, MAX_FILE_BLOCKS>;

/// Blocks needed to hold `size` bytes.
pub(crate) fn blocks_for(size: u64) -> usize {
    // The callers have checked size against MAX_FILE_SIZE, so this fits.
    size.div_ceil(BLOCK_SIZE as u64) as usize
}

pub(crate) struct Pool {
    blocks: [[u8; BLOCK_SIZE]; MAX_BLOCKS],
    free: Vec<u16, MAX_BLOCKS>,
}

impl Pool {
    pub(crate) fn new() -> Self {
        let mut free = Vec::new();
        // Highest first, so blocks are handed out from 0 up: easier to read
        // in a debugger, and nothing depends on it.
        for b in (0..MAX_BLOCKS as u16).rev() {
            let _ = free.push(b);
        }
        Self { blocks: [[0; BLOCK_SIZE]; MAX_BLOCKS], free }
    }

    /// Blocks not held by any file.
    pub(crate) fn free(&self) -> usize {
        self.free.len()
    }

    /// Makes `list` hold exactly `blocks_for(new_size)` blocks, zeroing what
    /// lies past `new_size`. The caller has checked that the pool has the
    /// blocks and that the file may be this large.
    pub(crate) fn resize(&mut self, list: &mut BlockList, old_size: u64, new_size: u64) {
        let want = blocks_for(new_size);
        while list.len() > want {
            if let Some(b) = list.pop() {
                let _ = self.free.push(b);
            }
        }
        if new_size < old_size {
            let in_block = (new_size % BLOCK_SIZE as u64) as usize;
            if in_block != 0 {
                if let Some(&last) = list.last() {
                    self.blocks[usize::from(last)][in_block..].fill(0);
                }
            }
        }
        while list.len() < want {
            let Some(b) = self.free.pop() else { return };
            self.blocks[usize::from(b)].fill(0);
            if let Err(b) = list.push(b) {
                let _ = self.free.push(b);
                return;
            }
        }
    }

    /// Copies `data` into the file at `offset`; the blocks must already be held.
    pub(crate) fn write(&mut self, list: &BlockList, offset: u64, data: &[u8]) {
        let mut pos = offset as usize;
        let mut data = data;
        while !data.is_empty() {
            let Some(&b) = list.get(pos / BLOCK_SIZE) else { return };
            let at = pos % BLOCK_SIZE;
            let n = data.len().min(BLOCK_SIZE - at);
            self.blocks[usize::from(b)][at..at + n].copy_from_slice(&data[..n]);
            data = &data[n..];
            pos += n;
        }
    }

    /// Copies the file's bytes at `offset` into `out`, which the caller has
    /// sized to end within the file.
    pub(crate) fn read(&self, list: &BlockList, offset: u64, out: &mut [u8]) {
        let mut pos = offset as usize;
        let mut out = out;
        while !out.is_empty() {
            let Some(&b) = list.get(pos / BLOCK_SIZE) else { return };
            let at = pos % BLOCK_SIZE;
            let n = out.len().min(BLOCK_SIZE - at);
            let (dst, rest) = out.split_at_mut(n);
            dst.copy_from_slice(&self.blocks[usize::from(b)][at..at + n]);
            out = rest;
            pos += n;
        }
    }

    /// Gives every block of `list` back to the pool.
    pub(crate) fn release(&mut self, list: &mut BlockList) {
        while let Some(b) = list.pop() {
            let _ = self.free.push(b);
        }
    }
}
