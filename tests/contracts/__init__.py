"""Tests of the OpenAPI contract verifier and `harness contract` (the `contracts` package)."""
