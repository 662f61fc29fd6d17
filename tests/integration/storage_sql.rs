//! What only the SQL stores do.
