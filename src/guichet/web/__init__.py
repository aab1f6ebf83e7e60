"""The advisor's web page: index.html and static/ (app modules, styles; dsfr/ copied by `make web`)."""
