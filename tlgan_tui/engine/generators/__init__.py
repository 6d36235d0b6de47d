"""Face generators: the embedded default and the architectures users bring."""
