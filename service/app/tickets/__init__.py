"""Filing tickets and acting on them: status moves, approvals, comments, what a caller may see and ask for."""
