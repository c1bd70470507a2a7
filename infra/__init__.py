"""Composition root: settings, storage, application service, runners, auth, web app, CLI."""
