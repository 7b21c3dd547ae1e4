#!/usr/bin/env python3
"""The write-up's unwrapper (shred-unwrap.py), for the benchmark's side-by-side run.

Reads the datagrams socat sends (IPv4 header + UDP header + shred), strips the IPv4 header by its
IHL and the 8-byte UDP header, and sends the rest to the validator's TVU address. No checks, as
in the original. Usage: shred_unwrap.py <listen host> <tvu host> <tvu port> <ready file>
(binds port 0 and writes the bound port to the ready file).
"""
import socket
import sys

listen_host, tvu_host, tvu_port, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
sock.bind((listen_host, 0))
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tvu = (tvu_host, tvu_port)
with open(ready + ".tmp", "w") as f:
    f.write(str(sock.getsockname()[1]))
import os
os.rename(ready + ".tmp", ready)
while True:
    data = sock.recv(65535)
    ihl = (data[0] & 0x0F) * 4
    out.sendto(data[ihl + 8:], tvu)
