"""Documents: service-public.fr fiches and partner documents, parsed and chunked."""
