"""The pure memory core: types, schemas, prompts and algorithms. No I/O happens here."""
