"""Work that spans several transactions: key rotation, backup and restore.

A service does one operation in its caller's transaction (it flushes, never commits); a job
strings such operations together, opening and committing a transaction for each step itself,
so that what it has done survives an interruption and running it again picks up where it
stopped. The command line (and anything that schedules them) calls the jobs.
"""
