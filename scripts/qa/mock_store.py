"""A hostile profile store on 127.0.0.1 that sends the same response to every request.

Usage: mock_store.py MODE [SECONDS]. Prints the port. Modes:
  retry-after-date  429 with a Retry-After that is not a number or an HTTP date
  retry-after-naive 429 with Retry-After as an HTTP date without a zone
  html-500          500 with an HTML body
  redirect          302 to another loopback port
"""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[1]
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 30


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if MODE == "retry-after-date":
            self.answer(429, b'{"error": {"status": 429, "reason": "slow down"}}', [("Retry-After", "soon")])
        elif MODE == "retry-after-naive":
            self.answer(429, b'{"error": {"status": 429, "reason": "slow down"}}', [("Retry-After", "Wed, 21 Oct 2015 07:28:00 -0000")])
        elif MODE == "html-500":
            self.answer(500, b"<html>oops</html>", [("Content-Type", "text/html")])
        elif MODE == "redirect":
            self.answer(302, b"", [("Location", "http://127.0.0.1:9/")])

    def answer(self, status, body, headers):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Timer(SECONDS, server.shutdown).start()
server.serve_forever()
