"""Partner drafts that customers submit, and stage changes waiting to be promoted to prod."""
