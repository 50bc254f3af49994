"""The HTTP server: uvicorn with zttp (``uvicorn_server.py``), its ASGI dispatcher (``asgi.py``), TLS files."""
