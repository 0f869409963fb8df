"""The payments port: the app talks to Stripe only through this package (``stripe_gateway`` imports stripe)."""
