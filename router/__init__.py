"""The tRPC-like router at /api/trpc: procedures as data, bearer-token auth, tRPC errors."""
