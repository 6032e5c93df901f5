"""The `leads` command: main (parser, score, demo, list), sales, ops (retry, backfill), quality (eval, vocab)."""
