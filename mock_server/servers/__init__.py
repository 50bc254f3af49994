"""The HTTP servers: waitress (plain HTTP/1.1) and uvicorn with its ASGI dispatcher (h2c, TLS, gRPC)."""
