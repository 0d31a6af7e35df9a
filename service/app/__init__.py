"""Use cases, one package per feature: the only entry points of the API, the console, the CLI and the workers."""
