"""Message codecs, one module per Kafka API. Import the request classes from their modules."""

__all__: list[str] = []
