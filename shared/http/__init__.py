"""The HTTP layer every trigger shares: declaration, parsing, errors, responses."""
