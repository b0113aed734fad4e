"""Containers anywhere: a Docker engine and PostgreSQL/Redis images, even without a registry.

- ``engine``: reuse a reachable engine, or install (apt) and start ``dockerd`` (Debian, root).
- ``images``: the image names the tests request (env overrides, testcontainers' hub prefix).
- ``mirror``: the Debian mirror apt already uses, for debootstrap (no host is hard-coded).
- ``rootfs`` / ``build``: the offline build path (debootstrap → docker import → docker build).
- ``prepare`` / ``status``: the two ``harness containers`` actions; ``runenv``: the test-run env (Ryuk).
"""
