"""The local vygoda platform: install, start, check and stop every part `make up` brings up."""
