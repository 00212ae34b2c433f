"""The access matrix's world, vocabulary and rows; ``tests/http/test_access_matrix.py`` runs them
(``rows.py`` says where a new route's row goes)."""
