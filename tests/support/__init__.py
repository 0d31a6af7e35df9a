"""What the tests share: the servers they run against, a small world of tenants, fakes for the
collaborators of the use cases, and waiting on a condition."""
