"""How a reply looks on each wire: REST (WSGI, the documented JSON bodies) and gRPC (status codes, trailers,
protobuf)."""
