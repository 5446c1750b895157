"""The robustness audit: attack suites judged with and without each defence (suite), and
Master-RM-style training negatives (augment)."""
