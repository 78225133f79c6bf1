"""The sans-IO Kafka protocol: no asyncio, socket, ssl or time imports anywhere below."""

__all__: list[str] = []
