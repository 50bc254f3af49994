"""The Flask application: the control plane under /_mock/, the index, keys and discovery, the OpenAPI
document."""
