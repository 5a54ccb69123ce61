"""Approvals for payouts and pays: policy, the request lifecycle, cards, fingerprints, results."""
