"""The HTTP layer. Calls the manager; never the store."""
