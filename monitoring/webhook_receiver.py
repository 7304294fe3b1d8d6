#!/usr/bin/env python3
"""Tiny local Alertmanager webhook receiver (standard library only).

Appends every notification Alertmanager POSTs to a JSON-lines file, one line per notification
with the path it arrived on (/alert/critical, /alert/warning, /heartbeat), and answers GET /healthz.
It stands in for the pager/e-mail receivers of production so that the local alerting pipeline is
complete and its deliveries can be inspected:

    python3 monitoring/webhook_receiver.py --listen 127.0.0.1:9095 --out .vygoda/monitoring/notifications.jsonl
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20  # Alertmanager batches; 1 MiB is far above a local notification.


def make_handler(out_path: str, lock: threading.Lock):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server naming)
            if not (self.path.startswith("/alert") or self.path == "/heartbeat"):
                self.send_error(404, "POST /alert/<severity> or /heartbeat")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                self.send_error(400, "body missing or larger than 1 MiB")
                return
            try:
                payload = json.loads(self.rfile.read(length))
            except json.JSONDecodeError as error:
                self.send_error(400, f"body is not JSON: {error}")
                return
            line = json.dumps({"received_at": time.time(), "path": self.path, "payload": payload})
            with lock, open(out_path, "a", encoding="utf-8") as out:
                out.write(line + "\n")
            self.send_response(200)
            self.end_headers()

        def do_GET(self):  # noqa: N802
            if self.path != "/healthz":
                self.send_error(404, "GET /healthz")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, *_args):
            # Heartbeats arrive every minute; the JSON-lines file is the record, not stderr.
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9095", help="host:port to listen on")
    parser.add_argument("--out", default="notifications.jsonl", help="JSON-lines file to append to")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), make_handler(args.out, threading.Lock()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
