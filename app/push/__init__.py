"""Web Push: the server's VAPID keys, each person's browser subscriptions, and sending one
message to one subscription (pywebpush), with what the push service answered."""
