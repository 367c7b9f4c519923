# The staff review console (python -m console serve). Chart.js comes from the
# npm registry through the console's lock file, as in `make console-assets`.
#   docker build -f deploy/docker/console.Dockerfile -t registry.example/shebao-console:TAG .
FROM node:20-slim AS assets
WORKDIR /build
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.10-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PYTHONPATH=/app
WORKDIR /app
RUN groupadd --system --gid 10001 shebao \
 && useradd --system --uid 10001 --gid shebao --home-dir /app --shell /usr/sbin/nologin shebao

COPY constraints.txt ./
RUN pip install -c constraints.txt sanic SQLAlchemy psycopg2-binary Jinja2 argon2-cffi PyYAML prometheus-client
COPY common/ common/
COPY console/ console/
COPY domain.yml ./
COPY --from=assets /build/node_modules/chart.js/dist/ console/static/vendor/

USER 10001
EXPOSE 5200
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5200/health/ready', timeout=4)" || exit 1
CMD ["python", "-m", "console", "serve"]
