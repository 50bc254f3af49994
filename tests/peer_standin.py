"""A local stand-in for oauth2-mock-server, for the bench's tests (which may not reach the npm registry).

Started as the bench starts its peer (``-a HOST -p PORT``), it prints the line oauth2-mock-server prints and
answers ``POST /token`` with an RS256 token for any client, as the peer does.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = int(time.time())
        token = jwt.encode({"iss": "standin", "iat": now, "exp": now + 3600}, KEY, algorithm="RS256")
        body = json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600}).encode()
        self.send_response(200 if self.path == "/token" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    args = dict(zip(sys.argv[1::2], sys.argv[2::2], strict=False))
    server = ThreadingHTTPServer((args.get("-a", "127.0.0.1"), int(args.get("-p", "0"))), Handler)
    print(f"OAuth 2 server listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
