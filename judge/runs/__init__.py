"""Resumable runs over files: reading inputs (inputs), the locked append-only output
(log), resuming only what belongs to the run (resume), judging a file (files) and its
human summary (summary)."""
