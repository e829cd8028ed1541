#!/usr/bin/python3
# A fixed packet delay for one network namespace, standing in for `tc qdisc ... netem delay`,
# which this machine's kernel does not have (CONFIG_NET_SCH_NETEM is off; NFQUEUE is built in).
# iptables sends the packets to delay to NFQUEUE <queue>; this process takes each one, and
# accepts it (verdict NF_ACCEPT) <delay_ms> after it arrived. The delay is constant, so a FIFO
# keeps the order the packets came in. Plain netlink from the standard library: no
# libnetfilter_queue to install.
#
# Usage: delay.py QUEUE DELAY_MS   (run inside the namespace: ip netns exec NS delay.py 0 50)
# Prints "ready" on stdout once bound; exits on SIGTERM/SIGINT. Without --queue-bypass on the
# rule, packets stop flowing when this process is gone: a missing delay is seen, not hidden.
import collections
import os
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NF_ACCEPT = 1


def attr(kind: int, payload: bytes) -> bytes:
    body = struct.pack('=HH', 4 + len(payload), kind) + payload
    return body + b'\0' * (-len(body) % 4)


def message(msg: int, queue: int, attrs: bytes, flags: int = NLM_F_REQUEST, seq: int = 0) -> bytes:
    nfgen = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(queue))
    payload = nfgen + attrs
    return struct.pack('=IHHII', 16 + len(payload), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, seq, 0) + payload


def check_ack(sock: socket.socket, what: str) -> None:
    data = sock.recv(65536)
    length, kind = struct.unpack_from('=IH', data, 0)
    if kind == NLMSG_ERROR:
        (err,) = struct.unpack_from('=i', data, 16)
        if err != 0:
            sys.stderr.write(f'delay.py: {what}: {os.strerror(-err)}\n')
            sys.exit(1)


def packet_ids(data: bytes):
    off = 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from('=IH', data, off)
        if length < 16:
            return
        if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            a = off + 20  # nlmsghdr (16) + nfgenmsg (4)
            while a + 4 <= off + length:
                alen, akind = struct.unpack_from('=HH', data, a)
                if alen < 4:
                    break
                if (akind & 0x7fff) == NFQA_PACKET_HDR:
                    yield struct.unpack_from('!I', data, a + 4)[0]
                a += (alen + 3) & ~3
        off += (length + 3) & ~3


def main() -> None:
    queue, delay_ms = int(sys.argv[1]), float(sys.argv[2])
    delay = delay_ms / 1000
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((0, 0))
    sock.send(message(NFQNL_MSG_CONFIG, queue, attr(NFQA_CFG_CMD, struct.pack('!BxH', NFQNL_CFG_CMD_BIND, 0)), NLM_F_REQUEST | NLM_F_ACK, 1))
    check_ack(sock, f'bind queue {queue}')
    sock.send(message(NFQNL_MSG_CONFIG, queue, attr(NFQA_CFG_PARAMS, struct.pack('!IB', 0, NFQNL_COPY_META)), NLM_F_REQUEST | NLM_F_ACK, 2))
    check_ack(sock, 'copy mode')
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sys.stdout.write('ready\n')
    sys.stdout.flush()
    held = collections.deque()
    while not stop:
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, pid = held.popleft()
            sock.send(message(NFQNL_MSG_VERDICT, queue, attr(NFQA_VERDICT_HDR, struct.pack('!II', NF_ACCEPT, pid))))
        timeout = max(0.0, held[0][0] - now) if held else 0.5
        try:
            readable, _, _ = select.select([sock], [], [], timeout)
        except InterruptedError:
            continue
        if readable:
            try:
                data = sock.recv(1 << 20)
            except OSError:  # ENOBUFS: the kernel dropped some queued packets (counted as loss)
                continue
            arrived = time.monotonic()
            for pid in packet_ids(data):
                held.append((arrived + delay, pid))


if __name__ == '__main__':
    main()
