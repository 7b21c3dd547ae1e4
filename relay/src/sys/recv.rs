//! Batched receives: `recvmmsg`, with packet types for packet sockets and `UDP_GRO` trains.

use {
    super::{Control, MAX_BATCH, UDP_GRO, setsockopt},
    std::{
        io,
        mem::{offset_of, size_of},
        os::fd::{AsRawFd, BorrowedFd},
    },
};

/// Receive buffers for up to [`MAX_BATCH`] datagrams of at most `slot` bytes each.
#[derive(Debug)]
pub struct RecvBatch {
    buf: Vec<u8>,
    slot: usize,
    lens: [usize; MAX_BATCH],
    truncated: [bool; MAX_BATCH],
    pkttypes: [u8; MAX_BATCH],
    segments: [usize; MAX_BATCH],
    count: usize,
}

impl RecvBatch {
    /// Buffers of `slot` bytes each.
    pub fn new(slot: usize) -> Self {
        Self {
            buf: vec![0; slot * MAX_BATCH],
            slot,
            lens: [0; MAX_BATCH],
            truncated: [false; MAX_BATCH],
            pkttypes: [0; MAX_BATCH],
            segments: [0; MAX_BATCH],
            count: 0,
        }
    }

    /// Datagrams in the batch.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Datagram `i` (cut to the slot size if it was larger).
    pub fn datagram(&self, i: usize) -> &[u8] {
        let start = i * self.slot;
        &self.buf[start..start + self.lens[i].min(self.slot)]
    }

    /// Whether datagram `i` was larger than the slot.
    pub fn truncated(&self, i: usize) -> bool {
        self.truncated[i]
    }

    /// The datagrams in buffer `i`: one, or with `UDP_GRO` several coalesced by the kernel,
    /// each `segment` bytes but the last.
    pub fn segments(&self, i: usize) -> Segments<'_> {
        Segments {
            rest: Some(self.datagram(i)),
            size: self.segments[i],
        }
    }

    /// `sll_pkttype` of datagram `i` (packet sockets only; 0 otherwise).
    pub fn pkttype(&self, i: usize) -> u8 {
        self.pkttypes[i]
    }

    /// Receives up to [`MAX_BATCH`] datagrams: blocks until at least one is there or the
    /// socket's receive timeout passes (then `Ok(0)`). With `packet_names`, reads the
    /// `sockaddr_ll` of each (for its packet type).
    pub fn recv(&mut self, fd: BorrowedFd<'_>, packet_names: bool) -> io::Result<usize> {
        self.count = 0;
        // SAFETY: all-zero is a valid iovec, sockaddr_ll and mmsghdr (null pointers, zero
        // lengths); every pointer stored below is set to live memory before the call.
        let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut names: [libc::sockaddr_ll; MAX_BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        let mut controls: [Control; MAX_BATCH] = [[0; 4]; MAX_BATCH];
        for (i, chunk) in self.buf.chunks_mut(self.slot).enumerate().take(MAX_BATCH) {
            iovs[i].iov_base = chunk.as_mut_ptr().cast();
            iovs[i].iov_len = chunk.len();
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
            hdrs[i].msg_hdr.msg_control = controls[i].as_mut_ptr().cast();
            hdrs[i].msg_hdr.msg_controllen = size_of::<Control>();
            if packet_names {
                hdrs[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_ll).cast();
                hdrs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            }
        }
        // SAFETY: `hdrs` holds MAX_BATCH headers whose iovecs point into `self.buf` chunks
        // (exclusively borrowed), whose names point into `names` and whose control buffers into
        // `controls`; all outlive the call.
        let ret = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                MAX_BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if ret < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(err),
            };
        }
        let count = ret as usize;
        let pkttype_offset = offset_of!(libc::sockaddr_ll, sll_pkttype);
        for i in 0..count {
            self.lens[i] = hdrs[i].msg_len as usize;
            self.truncated[i] =
                hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 || self.lens[i] > self.slot;
            self.pkttypes[i] =
                if packet_names && hdrs[i].msg_hdr.msg_namelen as usize > pkttype_offset {
                    names[i].sll_pkttype
                } else {
                    0
                };
            self.segments[i] = gro_segment(&hdrs[i].msg_hdr);
        }
        self.count = count;
        Ok(count)
    }
}

/// The datagrams of one receive buffer (an empty datagram is one empty slice).
#[derive(Debug)]
pub struct Segments<'a> {
    rest: Option<&'a [u8]>,
    size: usize,
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest.take()?;
        if self.size == 0 || rest.len() <= self.size {
            return Some(rest);
        }
        let (segment, tail) = rest.split_at(self.size);
        self.rest = Some(tail);
        Some(segment)
    }
}

/// The `UDP_GRO` segment size in a received message's control data, or 0.
fn gro_segment(hdr: &libc::msghdr) -> usize {
    if hdr.msg_controllen == 0 || hdr.msg_control.is_null() {
        return 0;
    }
    // SAFETY: `hdr` is a message header the kernel just filled: its control pointer and length
    // describe a live buffer holding well-formed cmsgs, which the CMSG macros walk within it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_UDP && (*cmsg).cmsg_type == UDP_GRO {
                let size = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                return usize::try_from(size).unwrap_or(0);
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
    0
}

/// Asks the kernel to coalesce received datagrams of one flow (`UDP_GRO`): one receive then
/// brings many, see [`RecvBatch::segments`].
pub fn enable_gro(fd: BorrowedFd<'_>) -> io::Result<()> {
    let one: libc::c_int = 1;
    setsockopt(fd, libc::SOL_UDP, UDP_GRO, &one)
}
