# Two images from one file:
#   --target harness   the harness with its load extra: `harness load worker` / `harness load run`
#                      (load/deploy/: Kubernetes master Job and worker Deployment, docker-compose)
#   (default)          the reference app, served by gunicorn; migrations run in gunicorn's on_starting hook.
#
# BASE defaults to the official python:3.11-slim. Where no registry answers (air-gapped CI), build
# FROM the Debian image `harness containers prepare` makes locally, with Python from Debian's
# packages: `python -m load.deploy.image build` picks the base and fills wheelhouse/ with the
# wheels this machine's pip can get, so nothing in the build needs PyPI either.
ARG BASE=python:3.11-slim

FROM ${BASE} AS python
ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The official image has Python in /usr/local; Debian's base gets python3 (3.11 in bookworm) from apt.
RUN if ! command -v python3 >/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

FROM python AS build
WORKDIR /src
# wheelhous[e]: the wheelhouse when the builder made one (offline build), nothing otherwise.
COPY pyproject.toml README.md constraints.txt wheelhous[e] /wheels/
COPY pyproject.toml README.md ./
COPY reference_app ./reference_app
COPY harness ./harness
COPY contracts ./contracts
COPY load ./load
COPY reports ./reports
# One venv for both images: a master runs the experiments' servers, and a worker is small next to them.
RUN offline=""; if ls /wheels/*.whl >/dev/null 2>&1; then offline="--no-index"; fi; \
    pip install --no-cache-dir $offline --find-links /wheels -c /wheels/constraints.txt ".[load,reference]"

FROM python AS harness
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --uid 10001 harness 2>/dev/null || adduser --system --uid 10001 harness
WORKDIR /work
USER harness
# Locust's default master port; the worker Deployment connects to the master Job's Service on it.
EXPOSE 5557
ENTRYPOINT ["harness"]
CMD ["--help"]

FROM python AS app
RUN useradd --system --uid 10001 app 2>/dev/null || adduser --system --uid 10001 app; mkdir -p /data && chown app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /data
USER app
ENV REFAPP_ENV=prod \
    REFAPP_DATABASE_URL=sqlite+aiosqlite:////data/refapp.db \
    REFAPP_STORAGE_DIR=/data/files \
    REFAPP_BIND=0.0.0.0:8000
# glibc malloc: argon2's 19 MiB buffers mmapped and returned, few arenas (docs/load.md, "Memory under
# sustained load": RSS +183 MB after 60 logins from 20 threads without these, +11 MB with them).
ENV MALLOC_MMAP_THRESHOLD_=1048576 \
    MALLOC_ARENA_MAX=2
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live').status != 200)"
CMD ["sh", "-c", "exec python -m gunicorn -c \"$(python -c 'import reference_app, os; print(os.path.join(os.path.dirname(reference_app.__file__), \"gunicorn.conf.py\"))')\""]
