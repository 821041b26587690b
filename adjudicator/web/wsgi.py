"""gunicorn entry point: `gunicorn adjudicator.web.wsgi:app`."""

from adjudicator.web import create_app

app = create_app()
