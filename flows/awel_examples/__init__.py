"""DB-GPT's AWEL example flows (spec section 1.7)."""
