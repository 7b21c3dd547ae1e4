//! The classic BPF program the kernel runs on every frame of the capture interface, for an
//! `AF_PACKET` `SOCK_DGRAM` socket (offset 0 is the network header). It accepts only:
//! frames that are not the kernel's copy of an outgoing frame, and are
//! - IPv4, protocol UDP, not a fragment (MF clear, offset 0), UDP destination port = `port`
//!   (the UDP header found through the IHL), or
//! - IPv6 whose next header is UDP (no extension headers), UDP destination port = `port`.
//!
//! User space checks again (`unwrap::strip` and the port), so a filter bug shows up as a
//! counted drop, not as a bad packet on the tunnel.

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

// Opcode parts (linux/filter.h, linux/bpf_common.h).
const BPF_LD: u16 = 0x00;
const BPF_LDX: u16 = 0x01;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_W: u16 = 0x00;
const BPF_H: u16 = 0x08;
const BPF_B: u16 = 0x10;
const BPF_ABS: u16 = 0x20;
const BPF_IND: u16 = 0x40;
const BPF_MSH: u16 = 0xa0;
const BPF_JEQ: u16 = 0x10;
const BPF_JSET: u16 = 0x40;
const BPF_K: u16 = 0x00;
/// Ancillary data offsets (`SKF_AD_OFF + SKF_AD_*`).
const SKF_AD_OFF: u32 = (-0x1000i32) as u32;
const SKF_AD_PROTOCOL: u32 = 0;
const SKF_AD_PKTTYPE: u32 = 4;
const PACKET_OUTGOING: u32 = 4;
const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;
const IPPROTO_UDP: u32 = 17;
/// Accepted frames are passed whole (up to this many bytes).
const SNAPLEN: u32 = 0x0004_0000;

#[derive(Clone, Copy)]
enum To {
    Next,
    Accept,
    Drop,
    Ipv6,
}

struct Asm {
    code: Vec<(u16, To, To, u32)>,
}

impl Asm {
    fn op(&mut self, code: u16, k: u32) {
        self.code.push((code, To::Next, To::Next, k));
    }

    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.code.push((code, jt, jf, k));
    }
}

/// The filter for UDP destination `port`.
pub fn udp_port_filter(port: u16) -> Vec<Insn> {
    let port = u32::from(port);
    let mut asm = Asm { code: Vec::new() };
    asm.op(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE);
    asm.jump(
        BPF_JMP | BPF_JEQ | BPF_K,
        PACKET_OUTGOING,
        To::Drop,
        To::Next,
    );
    asm.op(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL);
    asm.jump(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, To::Next, To::Ipv6);
    // IPv4
    asm.op(BPF_LD | BPF_B | BPF_ABS, 9);
    asm.jump(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, To::Next, To::Drop);
    asm.op(BPF_LD | BPF_H | BPF_ABS, 6);
    asm.jump(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, To::Drop, To::Next);
    asm.op(BPF_LDX | BPF_B | BPF_MSH, 0);
    asm.op(BPF_LD | BPF_H | BPF_IND, 2);
    asm.jump(BPF_JMP | BPF_JEQ | BPF_K, port, To::Accept, To::Drop);
    let ipv6 = asm.code.len();
    // IPv6 (A still holds the protocol)
    asm.jump(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, To::Next, To::Drop);
    asm.op(BPF_LD | BPF_B | BPF_ABS, 6);
    asm.jump(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, To::Next, To::Drop);
    asm.op(BPF_LD | BPF_H | BPF_ABS, 40 + 2);
    asm.jump(BPF_JMP | BPF_JEQ | BPF_K, port, To::Accept, To::Drop);
    let accept = asm.code.len();
    asm.op(BPF_RET | BPF_K, SNAPLEN);
    let drop = asm.code.len();
    asm.op(BPF_RET | BPF_K, 0);
    let resolve = |at: usize, to: To| -> u8 {
        let target = match to {
            To::Next => at + 1,
            To::Accept => accept,
            To::Drop => drop,
            To::Ipv6 => ipv6,
        };
        u8::try_from(target - (at + 1)).expect("short program: offsets fit a u8")
    };
    asm.code
        .iter()
        .enumerate()
        .map(|(at, &(code, jt, jf, k))| Insn {
            code,
            jt: resolve(at, jt),
            jf: resolve(at, jf),
            k,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use {
        super::*,
        crate::unwrap::{wrap_ipv4, wrap_ipv6},
        proptest::prelude::*,
        std::net::Ipv4Addr,
    };

    /// A classic BPF interpreter for the opcodes above, with the kernel's rules: an
    /// out-of-bounds load ends the program with 0.
    fn run(program: &[Insn], packet: &[u8], protocol: u16, pkttype: u32) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let load = |offset: u32, size: usize| -> Option<u32> {
            if offset >= SKF_AD_OFF {
                return match offset - SKF_AD_OFF {
                    SKF_AD_PROTOCOL => Some(u32::from(protocol)),
                    SKF_AD_PKTTYPE => Some(pkttype),
                    _ => None,
                };
            }
            let start = offset as usize;
            let bytes = packet.get(start..start + size)?;
            Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
        };
        loop {
            let insn = program[pc];
            pc += 1;
            let size = match insn.code & 0x18 {
                BPF_W => 4,
                BPF_H => 2,
                _ => 1,
            };
            match insn.code & 0x07 {
                BPF_LD => {
                    let offset = if insn.code & 0xe0 == BPF_IND {
                        x.wrapping_add(insn.k)
                    } else {
                        insn.k
                    };
                    match load(offset, size) {
                        Some(value) => a = value,
                        None => return 0,
                    }
                }
                BPF_LDX => match packet.get(insn.k as usize) {
                    Some(byte) => x = u32::from(byte & 0x0f) * 4,
                    None => return 0,
                },
                BPF_JMP => {
                    let taken = match insn.code & 0xf0 {
                        BPF_JEQ => a == insn.k,
                        BPF_JSET => a & insn.k != 0,
                        other => panic!("opcode {other:#x}"),
                    };
                    pc += usize::from(if taken { insn.jt } else { insn.jf });
                }
                BPF_RET => return insn.k,
                other => panic!("class {other:#x}"),
            }
        }
    }

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn accepts_udp_to_the_port_only() {
        let program = udp_port_filter(20000);
        let v4 = wrap_ipv4((A, 1234), (B, 20000), b"shred");
        assert_eq!(run(&program, &v4, 0x0800, 0), SNAPLEN);
        assert_eq!(
            run(&program, &v4, 0x0800, 3),
            SNAPLEN,
            "other host (mirror)"
        );
        assert_eq!(run(&program, &v4, 0x0800, 4), 0, "outgoing copy");
        let other = wrap_ipv4((A, 1234), (B, 20001), b"shred");
        assert_eq!(run(&program, &other, 0x0800, 0), 0);
        let src_port = wrap_ipv4((A, 20000), (B, 1), b"shred");
        assert_eq!(run(&program, &src_port, 0x0800, 0), 0);
        let mut tcp = v4.clone();
        tcp[9] = 6;
        assert_eq!(run(&program, &tcp, 0x0800, 0), 0);
        let mut fragment = v4.clone();
        fragment[6] = 0x20;
        assert_eq!(run(&program, &fragment, 0x0800, 0), 0);
        let v6 = wrap_ipv6(
            ("fd00::1".parse().unwrap(), 1),
            ("fd00::2".parse().unwrap(), 20000),
            b"x",
        );
        assert_eq!(run(&program, &v6, 0x86dd, 0), SNAPLEN);
        let v6_other = wrap_ipv6(
            ("fd00::1".parse().unwrap(), 1),
            ("fd00::2".parse().unwrap(), 53),
            b"x",
        );
        assert_eq!(run(&program, &v6_other, 0x86dd, 0), 0);
        assert_eq!(run(&program, &v4, 0x0806, 0), 0, "ARP");
    }

    #[test]
    fn follows_the_ihl() {
        let program = udp_port_filter(20000);
        let mut packet = wrap_ipv4((A, 1), (B, 20000), b"payload");
        // 8 bytes of options: the UDP header moves; the port must be read through the IHL.
        packet.splice(20..20, [1u8; 8]);
        packet[0] = 0x47;
        assert_eq!(run(&program, &packet, 0x0800, 0), SNAPLEN);
        packet[0] = 0x45;
        assert_eq!(run(&program, &packet, 0x0800, 0), 0);
    }

    proptest! {
        #[test]
        fn agrees_with_user_space(port in any::<u16>(), dst in any::<u16>(), len in 0usize..64) {
            let program = udp_port_filter(port);
            let packet = wrap_ipv4((A, 1), (B, dst), &vec![0u8; len]);
            let accepted = run(&program, &packet, 0x0800, 0) != 0;
            let user = crate::unwrap::strip(&packet).map(|udp| udp.destination.port() == port).unwrap_or(false);
            prop_assert_eq!(accepted, user);
        }
    }
}
