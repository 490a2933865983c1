"""The engine console's pages: plain HTML, CSS and ES modules served by engine/console_pages.py."""
