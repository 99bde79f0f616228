#!/usr/bin/env python3
"""relay.py — the one-process relays of tests/bench/inquiry.sh INQ_RELAY=tcp.

  listen PORT          accept and hold every connection
  relay PORT NEXT_IP   accept; for each, connect to NEXT_IP:PORT and hold both
  client PORT IP       connect to IP:PORT and hold it

Nothing is read or written: each connection only has to exist, so that a chain
runs from the client's host through every relay to the last listener."""
import socket
import sys
import time

mode, port = sys.argv[1], int(sys.argv[2])
held = []
if mode == "client":
    held.append(socket.create_connection((sys.argv[3], port)))
    time.sleep(600)
else:
    ls = socket.create_server(("0.0.0.0", port))
    while True:
        c, _ = ls.accept()
        held.append(c)
        if mode == "relay":
            held.append(socket.create_connection((sys.argv[3], port)))
