#!/usr/bin/env python3
"""DNS test client and server for the kernel tests (no dependencies).

  dns_tool.py query <udp|udp-sendto|tcp> <server> <port> <name> [type]   one query, waits for the answer
  dns_tool.py serve <udp|tcp> <address> <port>                            answers every query until killed

The server answers A queries with a CNAME (cname.<name>) and the address 192.0.2.<n>, AAAA queries
with 2001:db8::<n>, and names starting with "nx-" with NXDOMAIN.
"""
import socket
import struct
import sys

TYPES = {"A": 1, "AAAA": 28, "TXT": 16, "MX": 15}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def build_query(name, qtype, qid=0x1234):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + struct.pack(">HH", qtype, 1)


def answer(query):
    qid, flags, qd = struct.unpack(">HHH", query[:6])
    p = 12
    labels = []
    while query[p]:
        labels.append(query[p + 1 : p + 1 + query[p]].decode())
        p += 1 + query[p]
    qtype, qclass = struct.unpack(">HH", query[p + 1 : p + 5])
    question = query[12 : p + 5]
    name = ".".join(labels)
    n = sum(name.encode()) % 200 + 1
    if name.startswith("nx-"):
        return struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
    rrs = []
    if qtype == 1:
        # CNAME to cname.<qname> (pointer to the question name at offset 12), then the A record
        cname = bytes([5]) + b"cname" + b"\xc0\x0c"
        rrs.append(b"\xc0\x0c" + struct.pack(">HHIH", 5, 1, 300, len(cname)) + cname)
        cname_off = 12 + len(question) + 12
        rrs.append(struct.pack(">H", 0xC000 | cname_off) + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, n]))
    elif qtype == 28:
        rrs.append(b"\xc0\x0c" + struct.pack(">HHIH", 28, 1, 60, 16) + bytes.fromhex("20010db8000000000000000000000000")[:15] + bytes([n]))
    return struct.pack(">HHHHHH", qid, 0x8180, 1, len(rrs), 0, 0) + question + b"".join(rrs)


def query(mode, server, port, name, qtype):
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    q = build_query(name, TYPES.get(qtype, 1))
    if mode == "tcp":
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect((server, port))
        s.sendall(struct.pack(">H", len(q)) + q)
        hdr = s.recv(2)
        (n,) = struct.unpack(">H", hdr)
        data = b""
        while len(data) < n:
            data += s.recv(n - len(data))
        s.close()
        return data
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(3)
    if mode == "udp":
        s.connect((server, port))  # as the C library's resolver does
        s.send(q)
        data = s.recv(4096)
    else:
        s.sendto(q, (server, port))
        data, _ = s.recvfrom(4096)
    s.close()
    return data


def serve(mode, address, port):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    if mode == "udp":
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind((address, port))
        print("ready", flush=True)
        while True:
            data, peer = s.recvfrom(4096)
            s.sendto(answer(data), peer)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, port))
    s.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        (n,) = struct.unpack(">H", c.recv(2))
        q = c.recv(n)
        a = answer(q)
        c.sendall(struct.pack(">H", len(a)) + a)
        c.close()


if __name__ == "__main__":
    if sys.argv[1] == "query":
        data = query(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6] if len(sys.argv) > 6 else "A")
        print(data.hex())
    else:
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
