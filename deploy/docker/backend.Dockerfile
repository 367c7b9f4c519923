# The contribution backend (python -m backend serve): Sanic, SQLAlchemy, Alembic.
#   docker build -f deploy/docker/backend.Dockerfile -t registry.example/shebao-backend:TAG .
FROM python:3.10-slim

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PYTHONPATH=/app
WORKDIR /app
RUN groupadd --system --gid 10001 shebao \
 && useradd --system --uid 10001 --gid shebao --home-dir /app --shell /usr/sbin/nologin shebao

COPY constraints.txt ./
RUN pip install -c constraints.txt sanic SQLAlchemy alembic psycopg2-binary jsonschema aiohttp prometheus-client PyYAML
COPY common/ common/
COPY backend/ backend/

USER 10001
EXPOSE 5100
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5100/health/ready', timeout=4)" || exit 1
# `serve` migrates first (Alembic holds a lock, so replicas may start together).
CMD ["python", "-m", "backend", "serve"]
