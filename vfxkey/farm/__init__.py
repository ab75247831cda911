"""Running a shot on many cores or machines: chunks, a local process pool, farm job writers."""
