"""A minimal push service for the fan-out benchmark, in a process of its own (so it does not
share the dispatcher's interpreter lock): accepts every POST with 201 and counts them.

Prints its port on the first line; `GET /count` answers the number received so far.
"""

import http.server
import sys
import threading

count = 0
lock = threading.Lock()

class _Server(http.server.ThreadingHTTPServer):
    # The default listen backlog (5) refuses connections when several dispatchers open their
    # pools at once; a real push service does not.
    request_queue_size = 128



class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's pooled sessions expect

    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            count += 1
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        body = str(count).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main() -> int:
    server = _Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
