"""Sends N requests over 4 kept-alive connections, one at a time, and checks each answer is 2xx.

    python3 bench/keepalive_client.py PORT get|post N PATH

For bench/instructions.sh: a client whose own cost does not matter (the server's instructions
are counted), that sends exactly N requests.
"""
import socket
import sys

CREATE_BODY = b'{"name":"created","description":"made by the benchmark","slice":["x"]}'


def request(kind, path):
    if kind == "get":
        return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(CREATE_BODY)}\r\n\r\n"
    )
    return head.encode() + CREATE_BODY


def read_status(conn, pending):
    """Reads one response from conn (pending: bytes already read); returns (status, rest)."""
    while True:
        end = pending.find(b"\r\n\r\n")
        if end >= 0:
            head = pending[:end].decode("latin1").lower().split("\r\n")
            length = 0
            for line in head[1:]:
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(pending) >= end + 4 + length:
                return head[0].split(" ")[1], pending[end + 4 + length:]
        data = conn.recv(65536)
        if not data:
            sys.exit("the server closed the connection")
        pending += data


def main():
    port, kind, count, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    message = request(kind, path)
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    pending = [b""] * len(conns)
    for n in range(count):
        i = n % len(conns)
        conns[i].sendall(message)
        status, pending[i] = read_status(conns[i], pending[i])
        if not status.startswith("2"):
            sys.exit(f"answer {status} to request {n}")


main()
