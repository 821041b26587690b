FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY adjudicator adjudicator
COPY tasks tasks
COPY schemas schemas
RUN pip install --no-cache-dir .
USER nobody
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--worker-class", "adjudicator.web.server.WaitressWorker", "adjudicator.web.wsgi:app"]
