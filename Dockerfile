# newsbot: the runtime only (no development tools), as an unprivileged user, with its SQLite
# database in the /data volume. Build: docker build -t newsbot .
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE bot.py ./
COPY newsbot ./newsbot
COPY storage ./storage
COPY adapters ./adapters
# The project itself, with its dependencies bounded in pyproject.toml (DL3013 asks for pins
# that a local directory cannot have).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --prefix=/install ".[postgres]"

FROM python:3.11-slim-bookworm
COPY --from=build /install /usr/local
RUN useradd --system --home-dir /data --create-home --uid 10001 --user-group newsbot
USER 10001:10001
WORKDIR /data
ENV NEWSBOT_DATABASE=/data/newsbot.db \
    NEWSBOT_WEB_HOST=0.0.0.0 \
    NEWSBOT_WEB_PORT=8080 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz/live', timeout=4).status != 200)"]
ENTRYPOINT ["newsbot"]
