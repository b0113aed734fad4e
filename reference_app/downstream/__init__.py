"""A small downstream service ("pricing") that the reference app calls, with fault injection.

It runs as its own process (``uvicorn --factory reference_app.downstream.app:create_pricing_app``)
so that timeouts, retries, the circuit breaker and the bulkhead are exercised over real sockets.
"""
