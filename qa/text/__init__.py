"""Pure text functions: normalisation, tokens, splitting. No I/O, no models."""
