#!/usr/bin/env python3
"""Counts the network round trips between the controller and one PC in a packet capture.

Usage: tcpdump -r CAPTURE -nn -tt | round_trips.py CONTROLLER_IP

A round trip is a wait for the other side: each TCP handshake (the controller's SYN), plus, within
each TCP connection, each time the controller sends data and the PC answers with data (a change of
direction of the payload-carrying segments, controller to PC then PC to controller). Connections that
overlap in time (rdplay's SFTP upload beside its first command) are all counted, so the count is an
upper bound of the round trips on the critical path. Prints: connections, handshakes, data turns,
round trips.
"""
import re
import sys

LINE = re.compile(r"^\S+ IP (\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): Flags \[([^\]]*)\].*length (\d+)")


def main():
    controller = sys.argv[1]
    handshakes = 0
    turns = 0
    last = {}  # connection (controller port) -> direction of its last payload segment
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        src, sport, dst, dport, flags, length = m.groups()
        outgoing = src == controller
        conn = sport if outgoing else dport
        if outgoing and flags == "S":
            handshakes += 1
            last.pop(conn, None)
            continue
        if int(length) == 0:
            continue
        direction = "out" if outgoing else "in"
        if direction == "in" and last.get(conn) == "out":
            turns += 1
        last[conn] = direction
    print(f"{len(last)}\t{handshakes}\t{turns}\t{handshakes + turns}")


if __name__ == "__main__":
    main()
