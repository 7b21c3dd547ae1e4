//! Batched sends: `sendmmsg`, and UDP GSO trains.

use {
    super::{Control, MAX_BATCH, UDP_SEGMENT},
    std::{
        io,
        mem::{size_of, size_of_val},
        net::SocketAddr,
        os::fd::{AsRawFd, BorrowedFd},
    },
};

/// Most datagrams in one GSO send (the kernel allows 64 or more).
const MAX_SEGMENTS: usize = 64;
/// Most payload bytes in one GSO send (one IP datagram).
const MAX_GSO_BYTES: usize = 65_000;

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
