"""Passwords, JSON Web Tokens and random tokens: the service's cryptography."""
