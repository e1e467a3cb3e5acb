"""A blackholed address for the wsdial interop suite's failover tests.

It listens on 127.0.0.1:PORT with a backlog of zero, connects to itself until
the accept queue is full, and never accepts: from then on the kernel drops
every SYN to the port, as a firewall that drops packets does, and a connect
to it times out. It prints "ready" once the queue is full.

    /usr/bin/python3 blackhole.py PORT
"""

import signal
import socket
import sys

HOST = "127.0.0.1"


def main(port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    listener.listen(0)
    queued = []
    while True:
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(0.2)
        try:
            c.connect((HOST, port))
        except OSError:  # the timeout: the queue is full
            c.close()
            break
        queued.append(c)
        if len(queued) > 16:
            sys.exit("blackhole: this kernel accepts connections past a full backlog")
    print(f"ready: {len(queued)} connection(s) fill the queue of {HOST}:{port}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main(int(sys.argv[1]))
