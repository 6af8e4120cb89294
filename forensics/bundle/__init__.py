"""Bundle format: schemas, writer, manifest and custody log."""
