"""Load tests: Locust advisor users, load shapes from the capacity model, reports, and the stack."""
