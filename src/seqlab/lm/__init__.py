"""Language-model estimation (n-gram models written as ARPA files for the decoders)."""
