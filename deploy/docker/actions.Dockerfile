# The action server (python -m actions): rasa-sdk and our actions only.
#   docker build -f deploy/docker/actions.Dockerfile -t registry.example/shebao-actions:TAG .
FROM python:3.10-slim

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PYTHONPATH=/app
WORKDIR /app
RUN groupadd --system --gid 10001 shebao \
 && useradd --system --uid 10001 --gid shebao --home-dir /app --shell /usr/sbin/nologin shebao

COPY constraints.txt ./
RUN pip install -c constraints.txt rasa-sdk aiohttp prometheus-client PyYAML
COPY common/ common/
COPY actions/ actions/
COPY logging.yml ./

USER 10001
EXPOSE 5055
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5055/health/live', timeout=4)" || exit 1
CMD ["python", "-m", "actions", "--logging-config-file", "logging.yml"]
