"""The project's own tests use the same fixtures app developers get (``mock_server.pytest_plugin``)."""
