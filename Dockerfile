# Production image for the reference app. It cannot be built on the air-gapped CI machine (no registry
# for the python base image); see README. Migrations run in gunicorn's on_starting hook.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reference_app ./reference_app
COPY harness ./harness
COPY contracts ./contracts
COPY load ./load
COPY reports ./reports
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 app && mkdir -p /data && chown app /data
COPY --from=build /install /usr/local
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
CMD ["python", "-m", "gunicorn", "-c", "/usr/local/lib/python3.11/site-packages/reference_app/gunicorn.conf.py"]
