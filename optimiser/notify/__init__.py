"""Telling a client an async optimisation job finished: signed webhooks and a completion email."""
