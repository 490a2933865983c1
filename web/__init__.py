"""The service's HTTP edge: the app factory, the GitHub webhook and the UI's static files."""
