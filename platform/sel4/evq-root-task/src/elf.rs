//! The little of ELF the root task needs: the entry point and the loadable
//! segments of a 64-bit little-endian executable. The images are built with
//! the root task, but they are still parsed with checks, not trusted.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, KnownLayout};

#[derive(FromBytes, KnownLayout, Immutable)]
#[repr(C)]
struct Header {
    ident: [u8; 16],
    ty: U16,
    machine: U16,
    version: U32,
    entry: U64,
    phoff: U64,
    shoff: U64,
    flags: U32,
    ehsize: U16,
    phentsize: U16,
    phnum: U16,
    shentsize: U16,
    shnum: U16,
    shstrndx: U16,
}

#[derive(FromBytes, KnownLayout, Immutable)]
#[repr(C)]
struct ProgramHeader {
    ty: U32,
    flags: U32,
    offset: U64,
    vaddr: U64,
    paddr: U64,
    filesz: U64,
    memsz: U64,
    align: U64,
}

const PT_LOAD: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;

/// A loadable segment.
pub struct Segment<'a> {
    /// Where it goes.
    pub vaddr: usize,
    /// How much address space it takes (the tail past `data` is zero).
    pub memsz: usize,
    /// What it holds.
    pub data: &'a [u8],
    /// `PF_*` flags.
    pub flags: u32,
}

/// A parsed executable.
pub struct Elf<'a> {
    bytes: &'a [u8],
    header: &'a Header,
}

impl<'a> Elf<'a> {
    /// Parses `bytes`; `None` if they are not a 64-bit little-endian executable.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let (header, _) = Header::ref_from_prefix(bytes).ok()?;
        let ok =
            header.ident[..4] == *b"\x7fELF" && header.ident[4] == 2 && header.ident[5] == 1 && header.ty.get() == 2;
        let phsize = usize::from(header.phentsize.get());
        (ok && phsize == core::mem::size_of::<ProgramHeader>()).then_some(Self { bytes, header })
    }

    /// The entry point.
    pub fn entry(&self) -> usize {
        self.header.entry.get() as usize
    }

    /// The loadable segments; `None` for one that runs outside the file.
    pub fn segments(&self) -> impl Iterator<Item = Option<Segment<'a>>> + '_ {
        let bytes = self.bytes;
        let phoff = self.header.phoff.get() as usize;
        (0..usize::from(self.header.phnum.get())).filter_map(move |i| {
            let at = phoff.checked_add(i * core::mem::size_of::<ProgramHeader>())?;
            let Some((ph, _)) = bytes.get(at..).and_then(|b| ProgramHeader::ref_from_prefix(b).ok()) else {
                return Some(None);
            };
            if ph.ty.get() != PT_LOAD {
                return None;
            }
            let (offset, filesz, memsz) = (ph.offset.get() as usize, ph.filesz.get() as usize, ph.memsz.get() as usize);
            let data = offset.checked_add(filesz).and_then(|end| bytes.get(offset..end));
            Some(data.filter(|_| filesz <= memsz).map(|data| Segment {
                vaddr: ph.vaddr.get() as usize,
                memsz,
                data,
                flags: ph.flags.get(),
            }))
        })
    }
}
