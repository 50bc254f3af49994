"""The HTTP servers: waitress (plain HTTP/1.1) and hypercorn with its ASGI dispatcher (h2c, TLS, gRPC)."""
