"""An embedded, SQLite-backed executor that speaks the Inngest server protocol.

It runs unmodified `inngest` SDK apps: `engine.server.Engine` processes the queue and
`engine.api.create_api` serves the HTTP surface the SDK and the REST clients talk to.
"""
