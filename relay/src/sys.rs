//! The syscall site: AF_PACKET sockets, the classic BPF filter, `recvmmsg` and `sendmmsg`. The
//! only module allowed `unsafe`; everything it exports is safe to call.
#![allow(unsafe_code)]

use {
    crate::capture::filter::Insn,
    std::{
        ffi::CString,
        io,
        mem::{offset_of, size_of, size_of_val},
        net::SocketAddr,
        os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
    },
};

/// Most datagrams moved per `recvmmsg`/`sendmmsg` call.
pub const MAX_BATCH: usize = 64;
/// `UDP_SEGMENT` (linux/udp.h): a cmsg carrying the GSO segment size of a send.
const UDP_SEGMENT: libc::c_int = 103;
/// `UDP_GRO` (linux/udp.h): a socket option, and the cmsg carrying a received segment size.
const UDP_GRO: libc::c_int = 104;
/// Most datagrams in one GSO send (the kernel allows 64 or more).
const MAX_SEGMENTS: usize = 64;
/// Most payload bytes in one GSO send (one IP datagram).
const MAX_GSO_BYTES: usize = 65_000;
/// Per-message control buffer (room for one `cmsghdr` and an `int`), 8-byte aligned.
type Control = [u64; 4];
/// `sll_pkttype` of the kernel's copy of an outgoing frame.
pub const PACKET_OUTGOING: u8 = libc::PACKET_OUTGOING;

/// An `AF_PACKET`, `SOCK_DGRAM` socket bound to one interface: it reads the network-layer
/// packet (IP header, UDP header, payload) of every frame the filter accepts, like
/// `socat INTERFACE:<if>,type=2`.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

/// Counters from `PACKET_STATISTICS` (reset by each read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketStats {
    /// Frames that passed the filter.
    pub packets: u32,
    /// Frames dropped for lack of buffer space.
    pub drops: u32,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn setsockopt<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of `size_of::<T>()` bytes for the duration of the call;
    // the kernel copies it and keeps no pointer.
    let ret = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    check(ret).map(drop)
}

/// Sets a socket's receive buffer to `size` bytes: past `net.core.rmem_max` when the process has
/// `CAP_NET_ADMIN` (`SO_RCVBUFFORCE`), else up to that cap (`SO_RCVBUF`).
pub fn set_recv_buffer(fd: BorrowedFd<'_>, size: usize) -> io::Result<()> {
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &size).is_ok() {
        return Ok(());
    }
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &size)
}

/// The index of interface `name`.
pub fn interface_index(name: &str) -> io::Result<u32> {
    let c_name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c_name` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(index)
    }
}

impl PacketSocket {
    /// Opens the socket, attaches `filter`, asks the kernel to leave out outgoing frames, sets
    /// the receive buffer and only then binds to `interface` (so that no frame of another
    /// interface, nor an unfiltered one, is ever queued).
    pub fn open(interface: &str, filter: &[Insn], recv_buffer: usize) -> io::Result<Self> {
        let ifindex = interface_index(interface)?;
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = check(unsafe {
            libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
        })?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut program: Vec<libc::sock_filter> = filter
            .iter()
            .map(|insn| libc::sock_filter {
                code: insn.code,
                jt: insn.jt,
                jf: insn.jf,
                k: insn.k,
            })
            .collect();
        let fprog = libc::sock_fprog {
            len: u16::try_from(program.len())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
            filter: program.as_mut_ptr(),
        };
        setsockopt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)?;
        drop(program);
        let one: libc::c_int = 1;
        setsockopt(
            fd.as_fd(),
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            &one,
        )?;
        set_recv_buffer(fd.as_fd(), recv_buffer)?;
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        setsockopt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout)?;
        // SAFETY: all-zero is a valid sockaddr_ll (plain C data).
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex as libc::c_int;
        // SAFETY: `addr` is a live sockaddr_ll and the length passed is its size.
        let ret = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        check(ret)?;
        Ok(Self { fd, ifindex })
    }

    /// The receive buffer the kernel granted, bytes (it reports twice what it accounts).
    pub fn recv_buffer(&self) -> io::Result<usize> {
        let mut size: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `size` and `len` are live and `len` holds the size of `size`.
        let ret = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut size as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        check(ret)?;
        Ok(usize::try_from(size).unwrap_or(0) / 2)
    }

    /// The bound interface's index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Reads and resets the kernel's counters.
    pub fn statistics(&self) -> io::Result<PacketStats> {
        let mut stats = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: `stats` and `len` are live and `len` holds the size of `stats`.
        let ret = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        check(ret)?;
        Ok(PacketStats {
            packets: stats.tp_packets,
            drops: stats.tp_drops,
        })
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

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

/// A socket address in the C layout.
#[derive(Clone, Copy)]
pub struct RawAddr {
    storage: RawAddrStorage,
}

#[derive(Clone, Copy)]
enum RawAddrStorage {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

impl std::fmt::Debug for RawAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawAddr")
    }
}

impl From<SocketAddr> for RawAddr {
    fn from(addr: SocketAddr) -> Self {
        let storage = match addr {
            SocketAddr::V4(v4) => RawAddrStorage::V4(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            }),
            SocketAddr::V6(v6) => RawAddrStorage::V6(libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            }),
        };
        Self { storage }
    }
}

impl RawAddr {
    fn as_ptr_len(&self) -> (*const libc::c_void, libc::socklen_t) {
        match &self.storage {
            RawAddrStorage::V4(a) => (
                (a as *const libc::sockaddr_in).cast(),
                size_of_val(a) as libc::socklen_t,
            ),
            RawAddrStorage::V6(a) => (
                (a as *const libc::sockaddr_in6).cast(),
                size_of_val(a) as libc::socklen_t,
            ),
        }
    }
}

/// What [`send_batch`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SendOutcome {
    /// Datagrams the kernel took.
    pub sent: usize,
    /// Bytes of those.
    pub bytes: usize,
    /// Datagrams refused (skipped after an error).
    pub failed: usize,
}

/// Sends each of `datagrams` to `dest` (`None`: the connected peer) with as few `sendmmsg` calls
/// as possible. A datagram the kernel refuses is skipped and counted; the socket's last error is
/// returned alongside.
pub fn send_batch(
    fd: BorrowedFd<'_>,
    datagrams: &[&[u8]],
    dest: Option<&RawAddr>,
) -> (SendOutcome, Option<io::Error>) {
    let mut outcome = SendOutcome::default();
    let mut last_error = None;
    let (name, namelen) = dest.map_or((std::ptr::null(), 0), RawAddr::as_ptr_len);
    let mut offset = 0;
    let mut retried = None;
    while offset < datagrams.len() {
        let chunk = &datagrams[offset..datagrams.len().min(offset + MAX_BATCH)];
        // SAFETY: all-zero is a valid iovec and mmsghdr; pointers are set below before the call.
        let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for (i, datagram) in chunk.iter().enumerate() {
            iovs[i].iov_base = datagram.as_ptr().cast_mut().cast();
            iovs[i].iov_len = datagram.len();
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
            hdrs[i].msg_hdr.msg_name = name.cast_mut();
            hdrs[i].msg_hdr.msg_namelen = namelen;
        }
        // SAFETY: the first `chunk.len()` headers point at live, borrowed datagrams (which the
        // kernel only reads) and at `dest`, all of which outlive the call.
        let ret = unsafe {
            libc::sendmmsg(
                fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                chunk.len() as libc::c_uint,
                0,
            )
        };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // A connected socket reports an ICMP error of an earlier datagram once, on the next
            // send: that datagram was not sent, so try it again (once).
            if err.kind() == io::ErrorKind::ConnectionRefused && retried != Some(offset) {
                retried = Some(offset);
                last_error = Some(err);
                continue;
            }
            outcome.failed += 1;
            offset += 1;
            last_error = Some(err);
            continue;
        }
        let sent = ret as usize;
        outcome.sent += sent;
        outcome.bytes += chunk[..sent].iter().map(|d| d.len()).sum::<usize>();
        offset += sent;
        if sent == 0 {
            // Nothing taken and no error: skip one to guarantee progress.
            outcome.failed += 1;
            offset += 1;
        }
    }
    (outcome, last_error)
}

/// Whether an error of a GSO send means the path cannot segment (fall back to plain sends).
fn gso_unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOPROTOOPT | libc::EMSGSIZE)
    )
}

/// Sends `datagrams` to the connected peer, each run of equal-sized datagrams (the last of a run
/// may be shorter) as one UDP GSO send: one pass through the stack per run instead of per
/// datagram, the kernel (or the NIC) cuts it into the same datagrams. If the path cannot do
/// GSO, `gso` is turned off and plain [`send_batch`] is used from then on.
pub fn send_gso(
    fd: BorrowedFd<'_>,
    datagrams: &[&[u8]],
    gso: &mut bool,
) -> (SendOutcome, Option<io::Error>) {
    if !*gso || datagrams.len() < 2 {
        return send_batch(fd, datagrams, None);
    }
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    while start < datagrams.len() {
        let size = datagrams[start].len();
        let (mut end, mut total) = (start + 1, size);
        while end < datagrams.len() && end - start < MAX_SEGMENTS {
            let next = datagrams[end].len();
            if next == 0 || next > size || total + next > MAX_GSO_BYTES {
                break;
            }
            total += next;
            end += 1;
            if next < size {
                break;
            }
        }
        runs.push((start, end));
        start = end;
    }
    let mut iovs: Vec<libc::iovec> = datagrams
        .iter()
        .map(|d| libc::iovec {
            iov_base: d.as_ptr().cast_mut().cast(),
            iov_len: d.len(),
        })
        .collect();
    let mut controls: Vec<Control> = vec![[0; 4]; runs.len()];
    let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(runs.len());
    for (k, &(start, end)) in runs.iter().enumerate() {
        // SAFETY: all-zero is a valid mmsghdr; its pointers are set below.
        let mut hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        hdr.msg_hdr.msg_iov = iovs[start..].as_mut_ptr();
        hdr.msg_hdr.msg_iovlen = end - start;
        if end - start > 1 {
            hdr.msg_hdr.msg_control = controls[k].as_mut_ptr().cast();
            // SAFETY: CMSG_SPACE only computes a size.
            hdr.msg_hdr.msg_controllen =
                unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;
            let segment = u16::try_from(datagrams[start].len()).unwrap_or(u16::MAX);
            // SAFETY: msg_control points to `controls[k]`, which is larger than
            // CMSG_SPACE(2) and 8-byte aligned, so the first cmsghdr and its 2 data bytes lie
            // inside it.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&hdr.msg_hdr);
                (*cmsg).cmsg_level = libc::SOL_UDP;
                (*cmsg).cmsg_type = UDP_SEGMENT;
                (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as usize;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment);
            }
        }
        hdrs.push(hdr);
    }
    let mut outcome = SendOutcome::default();
    let mut last_error = None;
    let mut retried = None;
    let mut offset = 0;
    while offset < runs.len() {
        let pending = &mut hdrs[offset..];
        let count = pending.len().min(1024) as libc::c_uint;
        // SAFETY: every header points at iovecs in `iovs` (which point at the borrowed, only
        // read datagrams) and at control data in `controls`; none of these vectors is resized
        // after the pointers were taken, and all outlive the call.
        let ret = unsafe { libc::sendmmsg(fd.as_raw_fd(), pending.as_mut_ptr(), count, 0) };
        if ret < 0 {
            let err = io::Error::last_os_error();
            let (start, end) = runs[offset];
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if err.kind() == io::ErrorKind::ConnectionRefused && retried != Some(offset) {
                retried = Some(offset);
                last_error = Some(err);
                continue;
            }
            if end - start > 1 && gso_unsupported(&err) {
                *gso = false;
                let (rest, error) = send_batch(fd, &datagrams[start..], None);
                outcome.sent += rest.sent;
                outcome.bytes += rest.bytes;
                outcome.failed += rest.failed;
                return (outcome, error.or(Some(err)));
            }
            outcome.failed += end - start;
            offset += 1;
            last_error = Some(err);
            continue;
        }
        let sent = ret as usize;
        for &(start, end) in &runs[offset..offset + sent] {
            outcome.sent += end - start;
            outcome.bytes += datagrams[start..end].iter().map(|d| d.len()).sum::<usize>();
        }
        offset += sent;
        if sent == 0 {
            let (start, end) = runs[offset];
            outcome.failed += end - start;
            offset += 1;
        }
    }
    (outcome, last_error)
}
