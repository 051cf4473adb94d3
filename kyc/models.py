"""KYC: onboarding documents, auto-checks, review queue."""
