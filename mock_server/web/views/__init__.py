"""The mock's HTTP endpoints, one blueprint per module."""
