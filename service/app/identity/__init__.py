"""Who is calling: users from an identity provider's tokens, staff sign-in to the console."""
