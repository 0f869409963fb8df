"""The payments port: the only code that talks to Stripe (imported lazily: the API's cold start never loads
stripe). Locally it talks to localstripe, extended with the calls it lacks (infrastructure/local/stripe_*.py)."""
