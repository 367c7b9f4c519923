# The Rasa server with our plug-ins (bot/), the spaCy pipeline built from code
# and a trained model. Build from the repository root after `make train`
# (CI: train, test, then build), e.g.
#   docker build -f deploy/docker/rasa.Dockerfile -t registry.example/shebao-rasa:$(git rev-parse --short HEAD) .
FROM python:3.10-slim

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=/app
WORKDIR /app
RUN groupadd --system --gid 10001 shebao \
 && useradd --system --uid 10001 --gid shebao --home-dir /app --shell /usr/sbin/nologin shebao

COPY requirements.in constraints.txt ./
RUN pip install -r requirements.in -c constraints.txt \
 && pip uninstall -y playwright schemathesis hypothesis mypy ruff pytest pytest-asyncio kubernetes-validate || true

COPY common/ common/
COPY bot/ bot/
COPY config.yml domain.yml credentials.yml endpoints.yml logging.yml ./
# The jieba + entity-ruler spaCy pipeline is built from code (nothing downloaded).
RUN python -m bot.language.pipeline var/spacy/zh_shebao
# The model trained and tested by CI for this commit (`make train`).
COPY var/models/shebao.tar.gz models/shebao.tar.gz
COPY deploy/docker/rasa-entrypoint.sh /usr/local/bin/rasa-entrypoint
RUN mkdir -p /app/var && chown -R shebao:shebao /app/var

USER 10001
EXPOSE 5005
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:5005/webhooks/ops/ready', timeout=4)" || exit 1
ENTRYPOINT ["/usr/local/bin/rasa-entrypoint"]
