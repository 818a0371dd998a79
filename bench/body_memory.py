#!/usr/bin/env python3
"""Peak memory of one big request: starts the release apiserver (SQLite in a temporary
folder) once per body shape, POSTs one body to /externalnetworks, and prints the peak extra
resident memory (VmHWM minus VmRSS before the request, from /proc) as a ratio of the body size,
and the resident memory after the request.

    cargo build --release -p apiserver
    python3 bench/body_memory.py [SIZE_BYTES]      # default 16000000; reads CARGO_TARGET_DIR

Shapes: `tiny` (millions of one-character strings), `budget` (as many values as the body budget
allows, each as long as the size permits), `small` (16,000 one-character strings), `segmented`
(10 kB sent one byte per TCP segment).
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time

BINARY = os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "target")),
    "release",
    "apiserver",
)


def start(store):
    process = subprocess.Popen(
        [BINARY, "--listen", "127.0.0.1:0", "--health", "127.0.0.1:0", "--store", store],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in process.stdout:
        match = re.search(r"address=(\S+)", line)
        if "ReST server listening" in line and match:
            host, port = match.group(1).rsplit(":", 1)
            return process, (host, int(port))
    raise SystemExit("the apiserver did not start")


def kib(pid, key):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def post(addr, body, segment=None):
    with socket.create_connection(addr) as s:
        head = (
            "POST /externalnetworks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        s.sendall(head.encode())
        if segment:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(0, len(body), segment):
                s.send(body[i : i + segment])
        else:
            s.sendall(body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


def entries(count, width):
    values = ",".join(['"' + "a" * width + '"'] * count)
    return ('{"name":"x","entries":[' + values + "]}").encode()


def shapes(size):
    budget = 16384 + int(size * 0.97) // 64
    return {
        "tiny": (entries((size - 40) // 4, 1), None),
        "budget": (entries(budget, max(1, (size - 40) // budget - 3)), None),
        "small": (entries(16000, 1), None),
        "segmented": (entries(2500, 1), 1),
    }


def main():
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 16_000_000
    print("| shape | body | status | peak extra RSS | ratio | RSS after |")
    print("|---|---|---|---|---|---|")
    for name, (body, segment) in shapes(size).items():
        with tempfile.TemporaryDirectory() as folder:
            process, addr = start(f"sqlite:{folder}/bench.db")
            time.sleep(0.3)
            before = kib(process.pid, "VmRSS")
            status = post(addr, body, segment)
            time.sleep(0.3)
            extra = (kib(process.pid, "VmHWM") - before) * 1024
            after = kib(process.pid, "VmRSS") / 1024
            process.terminate()
            process.wait()
        print(
            f"| {name} | {len(body) / 1e6:.2f} MB | {status.split(' ', 1)[1]} | "
            f"{extra / 2**20:.1f} MiB | {extra / len(body):.1f}x | {after:.1f} MiB |"
        )


if __name__ == "__main__":
    main()
