"""Conformance drivers shipped with the project: the reference client's driver and deliberately faulty ones."""
