"""The WSGI entry point: `gunicorn ... adjudicator.web.wsgi:app` (adjudicator/launcher.py)."""

from adjudicator.web import create_app

app = create_app()
