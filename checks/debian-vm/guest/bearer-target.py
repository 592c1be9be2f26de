#!/usr/bin/python3
"""A dummy HTTP target: 200 with the right `Authorization: Bearer` token,
401 without it. The token comes from its own credential, never the command
line. Logs the first authorized request and every refused one (path only,
never headers)."""

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AUTHORIZED = False
TOKEN = open(os.path.join(os.environ["CREDENTIALS_DIRECTORY"], "token")).read().strip()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
        body = b'{"status":"ok"}\n' if ok else b'{"status":"unauthorized"}\n'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        global AUTHORIZED
        if not ok or not AUTHORIZED:
            print(f"{'authorized' if ok else 'unauthorized'} GET {self.path}", flush=True)
        AUTHORIZED = AUTHORIZED or ok

    def log_message(self, *args):
        pass


host, _, port = sys.argv[1].rpartition(":")
ThreadingHTTPServer((host, int(port)), Handler).serve_forever()
