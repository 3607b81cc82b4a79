"""``python loopback_up.py ARGS...``: bring up the loopback interface of this (new, empty) network
namespace, then become ``python ARGS...``. What ``ip link set lo up`` does, without needing
iproute2: test_ray_netns.py runs ``unshare --net python loopback_up.py -m pytest ...``."""
from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
IFREQ = "16sH14s"  # struct ifreq: name, flags, padding


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack(IFREQ, fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0, b"")))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP, b""))


if __name__ == "__main__":
    loopback_up()
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
