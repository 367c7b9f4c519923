# The widget and demo page server (python -m web). The socket.io client comes
# from the npm registry through the lock file, as in `make web-assets`.
#   docker build -f deploy/docker/web.Dockerfile -t registry.example/shebao-web:TAG .
FROM node:20-slim AS assets
WORKDIR /build
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund \
 && mkdir -p vendor \
 && cp node_modules/socket.io-client/dist/socket.io.min.js* vendor/

FROM python:3.10-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PYTHONPATH=/app
WORKDIR /app
RUN groupadd --system --gid 10001 shebao \
 && useradd --system --uid 10001 --gid shebao --home-dir /app --shell /usr/sbin/nologin shebao

COPY constraints.txt ./
RUN pip install -c constraints.txt sanic prometheus-client
COPY common/ common/
COPY web/*.py web/
COPY web/widget/ web/widget/
COPY web/demo/ web/demo/
COPY --from=assets /build/vendor/ web/vendor/

USER 10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health/ready', timeout=4)" || exit 1
CMD ["python", "-m", "web"]
