//! The syscall site: AF_PACKET sockets, the classic BPF filter, `recvmmsg`/`sendmmsg`, UDP GSO
//! and GRO. The only module allowed `unsafe`; everything it exports is safe to call.
#![allow(unsafe_code)]

mod recv;
mod send;

use {
    crate::capture::filter::Insn,
    std::{
        ffi::CString,
        io,
        mem::size_of,
        os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
    },
};
pub use {
    recv::{RecvBatch, Segments, enable_gro},
    send::{RawAddr, SendOutcome, send_batch, send_gso},
};

/// Most datagrams moved per `recvmmsg`/`sendmmsg` call.
pub const MAX_BATCH: usize = 64;
/// `UDP_SEGMENT` (linux/udp.h): a cmsg carrying the GSO segment size of a send.
const UDP_SEGMENT: libc::c_int = 103;
/// `UDP_GRO` (linux/udp.h): a socket option, and the cmsg carrying a received segment size.
const UDP_GRO: libc::c_int = 104;
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

pub(crate) fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub(crate) fn setsockopt<T>(
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
