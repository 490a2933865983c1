"""The console's static files (HTML, CSS, ES modules), served by web.ui; no build step."""
