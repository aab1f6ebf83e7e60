"""The document path: MinIO bucket notifications → the index worker → parse, chunk, embed, upsert."""
