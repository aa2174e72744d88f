"""The admin area: login, the dashboard page, its JSON API, training jobs in their own
processes with their history, and the photo folder's status.
"""
