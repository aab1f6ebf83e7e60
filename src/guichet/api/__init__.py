"""The stateless HTTP functions (FastAPI). Handlers validate, call one library function, return."""
