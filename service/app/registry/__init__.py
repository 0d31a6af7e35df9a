"""The operator's registry: accounts, users, tokens, partner links, environments."""
