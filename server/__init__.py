"""The aiohttp servers: flows mounted at their routes."""
