FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY adjudicator adjudicator
COPY tasks tasks
COPY schemas schemas
RUN pip install --no-cache-dir .
USER nobody
EXPOSE 8000
CMD ["waitress-serve", "--listen=0.0.0.0:8000", "--threads=32", "--connection-limit=1000", "--asyncore-use-poll", "--channel-timeout=30", "--cleanup-interval=10", "--max-request-header-size=32768", "--max-request-body-size=1048576", "--no-expose-tracebacks", "--ident=adjudicator", "adjudicator.web.wsgi:app"]
