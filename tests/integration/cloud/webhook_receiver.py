#!/usr/bin/env python3
"""A webhook receiver for the alert tests: HTTPS on 127.0.0.1:PORT with CERT and KEY.

Usage: webhook_receiver.py PORT CERT KEY LOG FAIL_FIRST

Answers 500 to the first FAIL_FIRST POSTs and 204 to the rest, and appends one JSON line per
POST to LOG: {"status": <answer>, "signature": <X-Aterm-Signature>, "body": <body text>}.
Checks no signature itself: the test does, with the secret the cloud answered once.
"""
import http.server
import json
import ssl
import sys
import threading

port, cert, key, log_path, fail_first = sys.argv[1:6]
fail_first = int(fail_first)
lock = threading.Lock()
seen = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            seen += 1
            status = 500 if seen <= fail_first else 204
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps({
                    "status": status,
                    "signature": self.headers.get("X-Aterm-Signature", ""),
                    "body": body.decode("utf-8"),
                }) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("receiver: " + (fmt % args) + "\n")


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
sys.stderr.write("receiver: listening\n")
sys.stderr.flush()
server.serve_forever()
