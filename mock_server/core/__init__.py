"""The domain core: clients, clock, keys, tokens, revocations, faults, journal, routes, sample data and
the control plane. No HTTP, no I/O: the servers and faces are layered on top."""
