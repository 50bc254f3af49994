"""The request path shared by every face: the transport-neutral request and what is checked of it."""
