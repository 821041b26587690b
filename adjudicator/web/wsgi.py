"""The WSGI entry point: `waitress-serve adjudicator.web.wsgi:app` (adjudicator/launcher.py)."""

from adjudicator.web import create_app

app = create_app()
